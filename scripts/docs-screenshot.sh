#!/usr/bin/env bash
# Regenerates docs/html-report.png, the README's picture of the HTML report,
# from a real run on this machine (as root): `isolwatch run --html` around
# the membarrier workload (a spinner on CPU $1, default 1; 100 membarrier()
# calls from CPU $2, default 0), then headless Chromium's screenshot of the
# page opened on its judged window. The Perfetto trace of the same run is
# left next to it in $3 when given (a directory), for a look in its UI.
#   usage: bash scripts/docs-screenshot.sh [WATCHED_CPU [SENDER_CPU [KEEP_DIR]]]
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=${1:-1}
sender=${2:-0}
keep=${3:-}
bash scripts/setup.sh --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
node test/vm/drive-run.mjs "$tmp/run.err" 0.3 -- --cpus "$cpu" --warmup 300 \
  --html "$tmp/report.html" --perfetto "$tmp/trace.json" -- \
  test/workloads/bin/membarrier --spin-cpu "$cpu" --sender-cpu "$sender" --main-cpu "$sender" \
  --count 100 --interval-us 200 >/dev/null || status=$?
# 1: the run failed its budget, which is the point of the picture
if [ "$status" != 0 ] && [ "$status" != 1 ]; then cat "$tmp/run.err" >&2; exit "$status"; fi
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --disable-crash-reporter --disable-breakpad --hide-scrollbars \
  --user-data-dir="$tmp/profile" --window-size=1280,1400 \
  --screenshot=docs/html-report.png "file://$tmp/report.html#judged" 2>/dev/null
# Chromium's helpers exit with it; any that did not are ours (they name our fresh profile)
for pid in $(pgrep -f -- "--user-data-dir=$tmp/profile" || true); do kill -9 "$pid" 2>/dev/null || true; done
if [ -n "$keep" ]; then cp "$tmp/report.html" "$tmp/trace.json" "$keep"/; fi
echo "docs/html-report.png: $(stat -c %s docs/html-report.png) bytes ($(grep -c '"cat":"interruption"' "$tmp/trace.json") interruptions in the run)"
