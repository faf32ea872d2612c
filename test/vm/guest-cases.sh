#!/usr/bin/env bash
# The CI-mode cases of the quiet-CPU lab, run inside the guest by
# test/vm/isolwatch-guest.test.ts:  test/vm/run -- test/vm/guest-cases.sh CASE..
#
# Each case is one `isolwatch run` on nohz_full CPU 3 with a workload from
# test/workloads; housekeeping work (senders, timers, the workload's main
# thread) stays on CPU 0. Outputs go to $ISOLWATCH_VM_OUT (the host's --out
# directory): CASE.ndjson (--report), CASE.xml (--junit), CASE.md
# (--summary), CASE.out (the workload's stdout: its ready/done lines) and
# CASE.err (isolwatch's stderr). One line per case on stdout: "CASE exit=N".
#
# Timing: drive-run.mjs drives `run` and the workload from each other's
# progress lines. The warm-up lasts until the workload has printed "ready"
# (its threads are pinned and warmed up) plus 2 s for the CPU to settle
# (SIGUSR2 to run); then the workload gets "go" on stdin; when it prints
# "done", the judged window ends (SIGUSR1 to run; the quiet case instead
# judges --duration 20); then its stdin is closed and it exits. So the judged
# window holds exactly the workload's measured work, however slowly the
# emulated guest runs, and its own start-up and exit path are reported, not
# judged. The workloads keep their victim thread spinning from before
# "ready" until EOF.
set -u
cd "$(dirname "$0")/../.."
out=${ISOLWATCH_VM_OUT:-/tmp/vm-out}
W=test/workloads/bin

iw_run() { # CASE [run options..] -- CMD..
	local name=$1
	shift
	node test/vm/drive-run.mjs "$out/$name.err" 2 -- --cpus 3 --report "$out/$name.ndjson" \
		--junit "$out/$name.xml" --summary "$out/$name.md" "$@" >"$out/$name.out"
	echo "$name exit=$?"
}

for c in "$@"; do
	case $c in
	quiet) # a pure user-space spin loop: 20 s judged after a 2 s warm-up; --wait: drive-run ends it (EOF)
		iw_run quiet --warmup 300 --duration 20 --wait -- $W/spin --cpu 3 --seconds 0 --main-cpu 0 ;;
	syscalls) # 1000 getppid by the task itself: the syscall class fails the run
		iw_run syscalls --warmup 300 -- $W/syscalls --cpu 3 --count 1000 --main-cpu 0 ;;
	syscalls-allowed) # the same with --allow-self: passes, the calls are listed as allowed
		iw_run syscalls-allowed --warmup 300 --allow-self -- \
			$W/syscalls --cpu 3 --count 1000 --main-cpu 0 ;;
	membarrier) # 100 membarrier(PRIVATE_EXPEDITED) from CPU 0: 100 ipi_mb on CPU 3
		iw_run membarrier --warmup 300 -- \
			$W/membarrier --spin-cpu 3 --sender-cpu 0 --main-cpu 0 --count 100 --interval-us 5000 ;;
	unmap) # 100 munmaps of memory the spinner on CPU 3 uses: 100 TLB shootdowns
		iw_run unmap --warmup 300 -- $W/tlb --spin-cpu 3 --unmap-cpu 0 --main-cpu 0 --count 100 ;;
	stat_refresh) # 5 writes of vm.stat_refresh from CPU 0: refresh_vm_stats runs on CPU 3 each time
		iw_run stat_refresh --warmup 300 -- \
			$W/statrefresh --cpu 0 --spin-cpu 3 --count 5 --main-cpu 0 ;;
	timer_early) # the machine-check poll back on (the init turns it off; 6.12): CPU 3's next timer is
		# then 300 s away, further than its lapic timer can count (34.4 s), so the device fires
		# early once in the 40 s judged. Turned on by the workload's command, during the warm-up,
		# so that the 34.4 s start there; /proc/timer_list (what the device is set for) and the
		# doctor's findings are read after the run, then the poll is off again.
		mc=/sys/devices/system/machinecheck/machinecheck0/check_interval
		iw_run timer_early --warmup 300 --duration 40 --wait -- \
			bash -c "echo 300 > $mc && exec $W/spin --cpu 3 --seconds 0 --main-cpu 0"
		cat /proc/timer_list >"$out/timer_early.timer_list"
		node dist/src/cli.js doctor --cpus 3 --json >"$out/timer_early.doctor.json"
		echo 0 >"$mc" ;;
	*)
		echo "guest-cases: unknown case '$c'" >&2
		exit 2 ;;
	esac
done
