#!/bin/sh
# wait-for-peers.sh ADDR N [SECONDS]
# Waits until the ashita node at ADDR has at least N peers, then prints its peer list as JSON.
# Exits with ashita's own status if the node cannot be asked (69 unreachable, 64 bad address),
# or 1 if N peers have not arrived within SECONDS (default 30).
set -u
addr=$1
want=$2
deadline=$(( $(date +%s) + ${3:-30} ))
while :; do
    doc=$(ashita peers "$addr" --json) || exit $?
    have=$(printf '%s' "$doc" | grep -o '"since"' | wc -l)
    if [ "$have" -ge "$want" ]; then
        printf '%s\n' "$doc"
        exit 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "wait-for-peers: $addr has $have of $want peers after ${3:-30}s" >&2
        exit 1
    fi
    sleep 0.2
done
