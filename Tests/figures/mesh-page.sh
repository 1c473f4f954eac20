#!/usr/bin/env bash
# The README's picture of the page: N release nodes on 127.0.0.1 (each joins a random earlier one), one then
# killed with SIGKILL and one stopped with SIGTERM, and the first node's page in headless Chromium.
#   swift build -c release && bash Tests/figures/mesh-page.sh Tests/figures/mesh-page.png [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1
n=${2:-40}
bin=.build/release/ashita
[ -x "$bin" ] || { echo "mesh-page.sh: no $bin: run swift build -c release first" >&2; exit 2; }
chromium=${CHROMIUM:-/usr/bin/chromium}
dir=$(mktemp -d)
pids=()
cleanup() {
    [ "${#pids[@]}" -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    wait || true
    rm -rf "$dir"
}
trap cleanup EXIT

# A base port below the ephemeral range (32768 up); each node takes the next.
base=$((20000 + RANDOM % 10000))
start() {
    local port=$1
    shift
    "$bin" serve "$port" --data-dir "$dir/$port" --log-level error "$@" >"$dir/$port.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q listening "$dir/$port.out" && return 0; sleep 0.05; done
    echo "mesh-page.sh: the node on $port did not start: $(cat "$dir/$port.out")" >&2
    exit 1
}
start "$base"
for i in $(seq 1 $((n - 1))); do start $((base + i)) --join "127.0.0.1:$((base + RANDOM % i))"; done

alive() { "$bin" peers "127.0.0.1:$base" --mesh --json | grep -o '"state":"alive"' | wc -l; }
for _ in $(seq 120); do [ "$(alive)" -eq "$n" ] && break; sleep 0.25; done
echo "mesh-page.sh: $(alive) of $n members alive on 127.0.0.1:$base"

# One killed, one leaving: both states show on the page.
kill -KILL "${pids[$((n - 1))]}"
kill -TERM "${pids[$((n - 2))]}"
for _ in $(seq 120); do [ "$(alive)" -eq $((n - 2)) ] && break; sleep 0.25; done

# --timeout stops the page's loading after 8 s (its event stream never ends) and then takes the picture.
timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1420 \
    --timeout=8000 --screenshot="$out" "http://127.0.0.1:$base/" 2>/dev/null
echo "mesh-page.sh: wrote $out"
