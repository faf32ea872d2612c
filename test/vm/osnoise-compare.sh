#!/usr/bin/env bash
# test/vm/osnoise-compare.sh — the kernel's osnoise tracer (rtla osnoise top) and isolwatch
# side by side, on the same CPUs and the same window, inside a PREEMPT_RT quiet-CPU guest:
#
#   test/vm/run --kernel rt|6.12-rt --out DIR -- test/vm/osnoise-compare.sh [options]
#
#   --cpus LIST          CPUs both tools measure (default 2,3: the guest's isolated CPUs)
#   --disturb-cpu C      the CPU that gets the known disturbance (default 2; the others stay quiet)
#   --timer-wakes N      wake-ups of a SCHED_FIFO thread on C by its own timer (default 40)
#   --remote-wakes M     wake-ups of it from CPU 0 (futex: reschedule IPI) (default 40)
#   --interval-ms MS     between wake-ups (default 50)
#   --timer-migration    leave kernel.timer_migration as it is (default: 0 for the run, so the
#                        thread's sleep timer expires on C itself, not on a housekeeping CPU)
#   --probes SPEC        isolwatch probe groups (default: "default", all but syscalls)
#   --obj FILE           isolwatch BPF object (default build/ARCH/isolwatch.bpf.o)
#   --out DIR            raw data + comparison (default $ISOLWATCH_VM_OUT/osnoise, else /tmp/osnoise)
#   --disturber FILE     prebuilt test/vm/osnoise-disturb (else compiled with gcc into DIR)
#   --collect-only       write the raw files, skip the analysis (the caller runs it: the test does,
#                        on the host, where node is not slowed down by emulation)
#
# Order: disturber started and blocked; isolwatch attached (watch --json); a tracefs instance
# records the osnoise:* per-noise events, sched_switch and (function tracer) mutex_unlock on the
# measured CPUs, with trace_clock=mono (the clock of isolwatch's ts_ns); settle; rtla osnoise top
# starts its workload threads; a second instance runs the osnoise tracer too, for its per-sample
# records; settle; the disturbance; settle; the second instance stopped, rtla stopped (SIGINT),
# then isolwatch. Where each sample begins and ends (docs/osnoise-comparison.md, Method 7):
# osnoise counts nothing between two samples, and its workload thread unlocks interface_lock
# (osnoise_sleep) just before the next sample starts, and writes a sample record as one ends.
# Inside the window the script uses only bash built-ins (no fork: process churn reaches the
# isolated CPUs, see test/vm/README.md). Then test/vm/osnoise-compare.mjs matches the records
# and prints the table; its exit status is this script's (0 agree, 1 disagree, 3 environment).
set -euo pipefail

cpus=2,3 dcpu=2 timer_wakes=40 remote_wakes=40 interval_ms=50 probes="default" obj="" out="" disturber="" keep_tm=0 collect_only=0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
die() { local rc=$1; shift; echo "osnoise-compare: error: $*" >&2; exit "$rc"; }
say() { echo "osnoise-compare: $* (${SECONDS} s)" >&2; }
while [ $# -gt 0 ]; do
  case $1 in
    --cpus) cpus=${2:?}; shift 2 ;;
    --disturb-cpu) dcpu=${2:?}; shift 2 ;;
    --timer-wakes) timer_wakes=${2:?}; shift 2 ;;
    --remote-wakes) remote_wakes=${2:?}; shift 2 ;;
    --interval-ms) interval_ms=${2:?}; shift 2 ;;
    --timer-migration) keep_tm=1; shift ;;
    --probes) probes=${2:?}; shift 2 ;;
    --obj) obj=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --disturber) disturber=${2:?}; shift 2 ;;
    --collect-only) collect_only=1; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown option '$1' (see --help)" ;;
  esac
done
[[ $cpus =~ ^[0-9]+(,[0-9]+)*$ ]] || die 2 "--cpus wants a comma-separated CPU list, not '$cpus'"
[[ ",$cpus," == *",$dcpu,"* ]] || die 2 "--disturb-cpu $dcpu is not one of --cpus $cpus"
out=${out:-${ISOLWATCH_VM_OUT:+$ISOLWATCH_VM_OUT/osnoise}}
out=${out:-/tmp/osnoise}

T=/sys/kernel/tracing
[ "$(id -u)" = 0 ] || die 3 "needs root (tracefs, BPF, SCHED_FIFO)"
[ -d "$T/osnoise" ] && grep -qw osnoise "$T/available_tracers" ||
  die 3 "this kernel has no osnoise tracer ($T/available_tracers): run it in an RT guest (test/vm/run --kernel rt or 6.12-rt)"
command -v rtla >/dev/null || die 3 "rtla not found: apt-get install rtla"
[ -f "$repo/dist/src/cli.js" ] || die 3 "dist/src/cli.js missing: run 'bash scripts/build.sh' on the host first"
mkdir -p "$out"
rm -f "$out"/{isolwatch.ndjson,isolwatch.err,rtla.txt,events.txt,samples.txt,disturb.txt,meta.txt,comparison.json}

if [ -z "$disturber" ]; then
  disturber=$out/osnoise-disturb
  gcc -O2 -Wall -pthread -o "$disturber" "$here/osnoise-disturb.c" -lrt || die 3 "cannot build $here/osnoise-disturb.c"
fi

inst=$T/instances/iwcmp-$$ smp=$T/instances/iwsmp-$$
pids=() rt="" tm_saved=""
cleanup() {
  local p
  # the sample instance first: while it holds the osnoise tracer, rtla's stop would not end the workload
  [ -d "$smp" ] && { echo 0 >"$smp/tracing_on"; echo nop >"$smp/current_tracer"; rmdir "$smp"; } 2>/dev/null || true
  # rtla stops its tracer on SIGINT (on SIGTERM it would leave the workload threads spinning)
  [ -n "$rt" ] && kill -INT "$rt" 2>/dev/null || true
  for p in "${pids[@]}"; do [ "$p" = "$rt" ] || kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -d "$inst" ] && { echo 0 >"$inst/tracing_on"; echo 0 >"$inst/events/enable"; echo nop >"$inst/current_tracer"; rmdir "$inst"; } 2>/dev/null || true
  [ -n "$tm_saved" ] && echo "$tm_saved" >/proc/sys/kernel/timer_migration
  exec 8>&- 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# a fork-free sleep: read with a timeout from a FIFO nobody writes to
mkfifo "/tmp/.osnoise-nap-$$" && exec 8<>"/tmp/.osnoise-nap-$$" && rm -f "/tmp/.osnoise-nap-$$"
nap() { read -r -t "$1" -u 8 _ || true; }

if [ "$keep_tm" = 0 ]; then
  read -r tm_saved </proc/sys/kernel/timer_migration
  echo 0 >/proc/sys/kernel/timer_migration
fi

# 1. the disturbance, blocked until "go"
coproc DIST { exec "$disturber" --cpu "$dcpu" --timer-wakes "$timer_wakes" --remote-wakes "$remote_wakes" \
  --interval-ms "$interval_ms" --waker-cpu 0 --main-cpu 0; }
pids+=("$DIST_PID")
read -r -t 60 ready <&"${DIST[0]}" || die 3 "the disturber did not start"
echo "$ready" >"$out/disturb.txt"

# 2. isolwatch, attached before the window
# shellcheck disable=SC2086
# --kthreads: osnoise's workload is a kernel thread; its preemptions are the THREAD class
node "$repo/dist/src/cli.js" watch --cpus "$cpus" --json --kthreads --records all --probes "$probes" ${obj:+--obj "$obj"} \
  >"$out/isolwatch.ndjson" 2>"$out/isolwatch.err" &
iw=$!
pids+=("$iw")
for _ in $(seq 600); do
  [ -s "$out/isolwatch.ndjson" ] && break
  kill -0 "$iw" 2>/dev/null || { cat "$out/isolwatch.err" >&2; die 3 "isolwatch failed to start (above)"; }
  nap 0.2
done
[ -s "$out/isolwatch.ndjson" ] || die 3 "isolwatch did not attach within 120 s"
say "isolwatch attached"

# 3. the osnoise events, on the measured CPUs only, on isolwatch's clock
mkdir "$inst"
echo mono >"$inst/trace_clock"
mask=0
for c in ${cpus//,/ }; do mask=$((mask | (1 << c))); done
printf '%x\n' "$mask" >"$inst/tracing_cpumask"
echo 8192 >"$inst/buffer_size_kb"
# each sample's start: the workload thread's mutex_unlock in osnoise_sleep (a function-tracer
# callback, no trap; patched in here, before the window, like the events below)
{ echo mutex_unlock >"$inst/set_ftrace_filter" && echo function >"$inst/current_tracer"; } ||
  die 3 "cannot trace mutex_unlock in $inst (function tracer): the sample starts would be unknown"
for e in osnoise/irq_noise osnoise/softirq_noise osnoise/thread_noise osnoise/nmi_noise sched/sched_switch; do
  echo 1 >"$inst/events/$e/enable"
done
echo 1 >"$inst/tracing_on"
nap 2

# 4. rtla osnoise top: its workload threads run on every CPU of --cpus until SIGINT
rtla osnoise top -c "$cpus" -q >"$out/rtla.txt" 2>&1 &
rt=$!
pids+=("$rt")
# its workload threads are up when every measured CPU has an osnoise/C (bash built-ins only);
# they are created after rtla, so only the next pids are read (reading all of /proc took
# 6-10 s per round while osnoise spins on the emulated CPUs)
ncpus=$(tr , ' ' <<<"$cpus" | wc -w)
started() {
  local p comm n=0
  for ((p = rt + 1; p <= rt + 500; p++)); do
    { read -r comm <"/proc/$p/comm"; } 2>/dev/null || continue
    [[ $comm == osnoise/* ]] && n=$((n + 1))
  done
  [ "$n" -ge "$ncpus" ]
}
for _ in $(seq 1200); do
  started && break
  kill -0 "$rt" 2>/dev/null || { cat "$out/rtla.txt" >&2; die 3 "rtla osnoise top failed (above)"; }
  nap 0.2
done
started || die 3 "rtla osnoise top did not start its workload threads on CPUs $cpus within 240 s"
say "rtla osnoise top: workload threads running"
# each sample's end: the osnoise tracer writes one record per sample to every instance that runs
# it; this one joins rtla's (the workload is already running, so nothing restarts) and only
# collects them. Its own new-maximum notification (an irq_work on the measured CPU) is muted.
mkdir "$smp"
echo mono >"$smp/trace_clock"
printf '%x\n' "$mask" >"$smp/tracing_cpumask"
echo osnoise >"$smp/current_tracer" || die 3 "cannot run the osnoise tracer in a second instance ($smp)"
[ -w "$smp/tracing_max_latency" ] && echo 3600000000 >"$smp/tracing_max_latency"
nap 2

# 5. the window: the disturbance runs, everything else waits in built-ins
echo go >&"${DIST[1]}"
read -r -t $(((timer_wakes + remote_wakes) * interval_ms / 100 + 120)) done_line <&"${DIST[0]}" ||
  die 3 "the disturber did not finish ($timer_wakes + $remote_wakes wake-ups of ${interval_ms} ms)"
echo "$done_line" >>"$out/disturb.txt"
nap 2
say "disturbance done ($done_line), stopping rtla"
# stopping the sample instance unregisters it from the tracer (its records stay readable)
echo 0 >"$smp/tracing_on"
kill -INT "$rt"
wait "$rt" || die 3 "rtla osnoise top exited with status $? ($(tail -n 3 "$out/rtla.txt"))"
rt=""
echo 0 >"$inst/tracing_on"
kill -TERM "$iw"
wait "$iw" || die 3 "isolwatch watch exited with status $? ($(tail -n 3 "$out/isolwatch.err"))"
eval "exec ${DIST[1]}>&-"
wait "$DIST_PID" || true
pids=()
cp "$inst/trace" "$out/events.txt"
cp "$smp/trace" "$out/samples.txt"
{
  echo "kernel=$(uname -r)"
  echo "cpus=$cpus disturb_cpu=$dcpu timer_wakes=$timer_wakes remote_wakes=$remote_wakes interval_ms=$interval_ms probes=$probes timer_migration=$(cat /proc/sys/kernel/timer_migration)"
} >"$out/meta.txt"
[ "$collect_only" = 1 ] && exit 0
node "$here/osnoise-compare.mjs" "$out"
