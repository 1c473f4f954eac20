#!/usr/bin/env bash
# Runs the libFuzzer target for a given time: bash Tests/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
# Builds `ashita-fuzz` with -sanitize=fuzzer,address into .build-fuzz and starts from Tests/fuzz/corpus; new
# inputs go to a temporary directory (named at the end). A crashing input is left as Tests/fuzz/crash-*: add
# it to Tests/fuzz/corpus, where FuzzCorpusTests replays every file on each `swift test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
swift build -c debug --scratch-path .build-fuzz --product ashita-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING
work="$(mktemp -d)"
cp Tests/fuzz/corpus/* "$work/" 2>/dev/null || true
.build-fuzz/debug/ashita-fuzz "$work" Tests/fuzz/corpus -max_total_time="$seconds" -max_len=512 \
    -artifact_prefix=Tests/fuzz/crash- -print_final_stats=1 "$@"
echo "new inputs: $work (keep a small set with: .build-fuzz/debug/ashita-fuzz -merge=1 Tests/fuzz/corpus $work)"
