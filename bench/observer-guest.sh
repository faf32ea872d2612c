#!/usr/bin/env bash
# observer-guest.sh — run INSIDE the quiet-CPU guest (bench/observer.js starts it through
# test/vm/run). Measures isolwatch's observer effect on a nohz_full CPU: isolwatch watches
# CPU $QUIET_CPU (3) with --probes $OBS_PROBES (none: the control, no isolwatch), then test/vm/quiet-baseline.sh runs its
# independent bpftrace count of every kernel entry on the CPUs while the syscall-free spinner
# spins on CPU 3 for $QUIET_WINDOW (60) s. The window's bounds (bpf_ktime_get_ns, the clock of
# isolwatch's records) come from two extra bpftrace probes on the baseline's marker syscalls.
# Prints one JSON line: {"probes":..,"window_ms":..,"bpftrace":{counts..},"isolwatch":{"in_window":N,
#   "by_class":{..},"records":[first 20]},"isolwatch_summary":{..}}
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=${QUIET_CPU:-3} probes=${OBS_PROBES:-default}
export QUIET_WINDOW=${QUIET_WINDOW:-60} QUIET_CPU=$cpu QUIET_RAW=1
tmp=$(mktemp -d)
ipid=""
trap '[ -n "$ipid" ] && kill "$ipid" 2>/dev/null; rm -rf "$tmp"' EXIT

exec 7<> <(:)
if [ "$probes" = none ]; then
  echo '{"type":"start"}' >"$tmp/iw.ndjson"
else
  node dist/src/cli.js watch --cpus "$cpu" --json --probes "$probes" >"$tmp/iw.ndjson" 2>"$tmp/iw.err" & ipid=$!
fi
for ((i = 0; i < 1200; i++)); do  # up to 5 minutes under emulation
  IFS= read -r first <"$tmp/iw.ndjson" 2>/dev/null || true
  [[ ${first:-} == *'"type":"start"'* ]] && break
  [ -z "$ipid" ] || kill -0 "$ipid" 2>/dev/null || { echo "observer: isolwatch exited:" >&2; cat "$tmp/iw.err" >&2; exit 3; }
  read -r -t 0.25 -u 7 || true
done
[[ ${first:-} == *'"type":"start"'* ]] || { echo "observer: isolwatch did not start" >&2; exit 3; }

# marker pids of quiet-baseline.sh: 3999992 opens the window, 3999993 closes it
QUIET_EXTRA='
tracepoint:syscalls:sys_enter_kill /args->sig == 0 && args->pid == 3999992/ { printf("open_ns %llu\n", nsecs); }
tracepoint:syscalls:sys_enter_kill /args->sig == 0 && args->pid == 3999993/ { printf("close_ns %llu\n", nsecs); }' \
  test/vm/quiet-baseline.sh >"$tmp/baseline.json" 2>"$tmp/baseline.err" || { echo "observer: quiet-baseline failed:" >&2; cat "$tmp/baseline.err" >&2; exit 3; }

if [ -n "$ipid" ]; then
  kill -INT "$ipid"
  wait "$ipid" || true
  ipid=""
fi
open=$(grep -m1 '^open_ns ' "$tmp/baseline.err" | cut -d' ' -f2)
close=$(grep -m1 '^close_ns ' "$tmp/baseline.err" | cut -d' ' -f2)
node -e '
const fs = require("fs");
const [file, base, open, close, cpu, probes] = process.argv.slice(1);
const lines = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const inWin = lines.filter((r) => r.type === "interruption" && r.cpu === Number(cpu) && r.ts_ns >= Number(open) && r.ts_ns <= Number(close));
const byClass = {};
for (const r of inWin) byClass[r.class] = (byClass[r.class] || 0) + 1;
const summary = lines.find((r) => r.type === "summary") || {};
const start = lines.find((r) => r.type === "start") || {};
console.log(JSON.stringify({
  probes, kernel: start.kernel, attached: (start.probes || {}).attached, window_ns: [Number(open), Number(close)],
  bpftrace: JSON.parse(fs.readFileSync(base, "utf8")),
  isolwatch: { in_window: inWin.length, by_class: byClass, records: inWin.slice(0, 20) },
  isolwatch_summary: { kernel_counts: summary.kernel_counts, lost_events: summary.lost_events, self_caused: summary.self_caused, cpus: summary.cpus },
}));
' "$tmp/iw.ndjson" "$tmp/baseline.json" "$open" "$close" "$cpu" "$probes"
