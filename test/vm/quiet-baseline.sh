#!/usr/bin/env bash
# quiet-baseline.sh — run INSIDE the quiet-CPU guest (test/vm/run -- test/vm/quiet-baseline.sh).
# An independent check (bpftrace, not isolwatch) that a nohz_full CPU is really quiet: a
# syscall-free spinner is pinned to CPU $QUIET_CPU (3) while bpftrace counts kernel entries per
# CPU. The window is gated in the kernel by marker syscalls (kill -0 on pids that cannot exist):
#   arm marker (re-sent until answered): probes attached; the spinner starts, then
#               $QUIET_SETTLE s for the attach noise (code-patching IPIs) to die down;
#   open marker: counting starts;  close marker after $QUIET_WINDOW s: counting stops, bpftrace exits.
# Prints one JSON line on stdout; a CPU missing from a class had 0 entries of it:
#   {"window_ms":5086,"spin_cpu":3,"attaching_line_s":11,"armed_s":12,
#    "counts":{"local_timer":{"0":1260,"1":40},"call_function":{..},"softirq":{..},"syscall":{..},..}}
# Classes: local_timer, call_function (incl. single), reschedule, irq_work, irq (device), softirq,
# syscall, user_exit (context_tracking: any kernel entry from user mode on a nohz_full CPU).
# Senders of multi-CPU call-function IPIs (the kind seen now and then on CPUs 2-3) are counted
# with their stacks in @broadcast_ipi_sender: shown with QUIET_RAW=1.
# QUIET_WINDOW (5 s), QUIET_SETTLE (3 s), QUIET_CPU (3); argument: the spinner binary.
# Diagnosis: QUIET_EXTRA='bpftrace probes' are added (use the /@on/ filter to count in the window
# only), QUIET_RAW=1 copies bpftrace's raw output to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
win=${QUIET_WINDOW:-5} settle=${QUIET_SETTLE:-3} cpu=${QUIET_CPU:-3}
spin=${1:-test/workloads/bin/vm-spin}
marker=3999991   # kill(PID, 0) for PID 3999991..3: ESRCH, no side effect; only this script does it
[ -x "$spin" ] || { echo "quiet-baseline: spinner '$spin' not built (gcc -O2 -o $spin test/workloads/vm-spin.c)" >&2; exit 2; }
[ "${ISOLWATCH_GUEST:-}" = 1 ] || echo "quiet-baseline: warning: not in the quiet-CPU guest (test/vm/run)" >&2
tmp=$(mktemp -d)
spid="" bpid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; [ -n "$bpid" ] && kill "$bpid" 2>/dev/null; rm -rf "$tmp"' EXIT

t0=$SECONDS
# the marker probe comes last: bpftrace attaches in program order
taskset -c 0 bpftrace -B none -e '
tracepoint:irq_vectors:local_timer_entry /@on/ { @local_timer[cpu] = count(); }
tracepoint:irq_vectors:call_function_entry,tracepoint:irq_vectors:call_function_single_entry /@on/ { @call_function[cpu] = count(); }
tracepoint:irq_vectors:reschedule_entry /@on/ { @reschedule[cpu] = count(); }
tracepoint:irq_vectors:irq_work_entry /@on/ { @irq_work[cpu] = count(); }
tracepoint:irq:irq_handler_entry /@on/ { @irq[cpu] = count(); }
tracepoint:irq:softirq_entry /@on/ { @softirq[cpu] = count(); }
tracepoint:raw_syscalls:sys_enter /@on/ { @syscall[cpu] = count(); }
tracepoint:context_tracking:user_exit /@on/ { @user_exit[cpu] = count(); }
kprobe:native_send_call_func_ipi /@on/ { @broadcast_ipi_sender[comm, kstack(10)] = count(); }
'"${QUIET_EXTRA:-}"'
tracepoint:syscalls:sys_enter_kill /args->sig == 0 && args->pid >= '"$marker"' && args->pid <= '"$((marker + 2))"'/ {
  if (args->pid == '"$marker"') { printf("armed\n"); }
  if (args->pid == '"$((marker + 1))"') { @t0 = nsecs; @on = 1; printf("open\n"); }
  if (args->pid == '"$((marker + 2))"') { @on = 0; printf("window_ms %d\n", (nsecs - @t0) / 1000000); clear(@t0); clear(@on); exit(); }
}' >"$tmp/bt" 2>"$tmp/bt.err" & bpid=$!

exec 7<> <(:)
nap() { read -r -t "$1" -u 7 || true; }  # a sleep without fork/exec (no process churn in the window)
seen() { local l; while IFS= read -r l; do [[ $l == $1* ]] && return 0; done <"$tmp/bt"; return 1; }
wait_for() { # PREFIX SECONDS [marker pid to re-send]
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    seen "$1" && return 0
    kill -0 "$bpid" 2>/dev/null || { echo "quiet-baseline: bpftrace exited:" >&2; cat "$tmp/bt" "$tmp/bt.err" >&2; exit 3; }
    [ -n "${3:-}" ] && { kill -0 "$3" 2>/dev/null || true; }
    nap 0.25
  done
  echo "quiet-baseline: no '$1' from bpftrace within $2 s" >&2; cat "$tmp/bt" "$tmp/bt.err" >&2; exit 3
}
wait_for 'Attaching' 240
attaching_s=$((SECONDS - t0))
wait_for 'armed' 240 "$marker"   # re-sent until the marker probe (attached last) answers
attach_s=$((SECONDS - t0))
# The spinner starts only now: under TCG a spinning vCPU delays the other vCPUs (round-robin
# slices), which makes bpftrace's start-up (thousands of 9p reads) crawl if it spins already.
taskset -c "$cpu" "$spin" & spid=$!
for ((i = 0; i < 40; i++)); do
  read -r -a st <"/proc/$spid/stat" 2>/dev/null || true
  [ "${st[38]:-}" = "$cpu" ] && [ "${st[1]:-}" = "(${spin##*/})" ] && break
  nap 0.25
done
[ "${st[38]:-}" = "$cpu" ] || { echo "quiet-baseline: spinner did not start on CPU $cpu" >&2; exit 3; }
nap "$settle"
kill -0 "$((marker + 1))" 2>/dev/null || true
wait_for 'open' 10
nap "$win"
kill -0 "$((marker + 2))" 2>/dev/null || true
wait_for 'window_ms' 30
wait "$bpid" || { echo "quiet-baseline: bpftrace failed:" >&2; cat "$tmp/bt.err" >&2; exit 3; }
bpid=""
kill "$spid"; wait "$spid" 2>/dev/null || true; spid=""
[ -n "${QUIET_RAW:-}" ] && cat "$tmp/bt" >&2   # QUIET_RAW=1: bpftrace's own output on stderr

awk -v cpu="$cpu" -v attach="$attach_s" -v attaching="$attaching_s" '
/^window_ms / { ms = $2 }
/^@[a-z_]+\[[0-9]+\]: [0-9]+$/ {
  split($1, a, /[@\[\]]/); name = a[2]; c = a[3]; v = $2
  if (!(name in seen)) { seen[name] = 1; order[++n] = name }
  m[name] = m[name] (m[name] == "" ? "" : ",") "\"" c "\":" v
}
END {
  printf "{\"window_ms\":%d,\"spin_cpu\":%d,\"attaching_line_s\":%d,\"armed_s\":%d,\"counts\":{", ms, cpu, attaching, attach
  for (i = 1; i <= n; i++) printf "%s\"%s\":{%s}", (i > 1 ? "," : ""), order[i], m[order[i]]
  print "}}"
}' "$tmp/bt"
