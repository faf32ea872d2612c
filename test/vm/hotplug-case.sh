#!/usr/bin/env bash
# CPU hotplug of a watched CPU, inside the quiet-CPU guest (run by
# test/vm/hotplug.test.ts:  test/vm/run -- test/vm/hotplug-case.sh).
#
# watch: `watch --cpus 2,3` while CPU 3 goes offline and comes back; around
# that, vm.stat_refresh is written from CPU 0 three times before, three times
# while CPU 3 is offline and three times after (each write runs the work item
# refresh_vm_stats once on every online CPU): CPU 2 must count 9 of them,
# CPU 3 6, and the output must say when CPU 3 left and came back.
#
# run: `run --cpus 3` of a command that takes CPU 3 offline and back in the
# judged window: the verdict names it.
#
# Outputs in $ISOLWATCH_VM_OUT: watch.ndjson, watch.err, run.ndjson,
# run.err, steps (what the script did, one line each).
set -u
cd "$(dirname "$0")/../.."
out=${ISOLWATCH_VM_OUT:-/tmp/vm-out}
online=/sys/devices/system/cpu/cpu3/online
iw() { taskset -c 0 node dist/src/cli.js "$@"; }
step() { echo "$*" >>"$out/steps"; }
refresh() { # N writes of vm.stat_refresh from CPU 0
	local i
	for i in $(seq "$1"); do taskset -c 0 sh -c 'echo 1 > /proc/sys/vm/stat_refresh' || step "refresh failed"; done
}
wait_for() { # FILE PATTERN SECONDS
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

: >"$out/steps"
# taskset execs node: $! is isolwatch's pid (a function or subshell put in the
# background here would ignore the SIGINT below: no job control)
taskset -c 0 node dist/src/cli.js watch --cpus 2,3 --json --interval 1 >"$out/watch.ndjson" 2>"$out/watch.err" &
pid=$!
if ! wait_for "$out/watch.ndjson" '"type":"start"' 180; then
	step "watch did not start"
	kill -KILL $pid
	wait $pid
	echo "watch exit=$?"
	exit 1
fi
refresh 3
step "refresh 3 online"
echo 0 >$online
step "offline rc=$?"
# the poll sees it (it runs with the drain, every 100 ms): wait for the record
wait_for "$out/watch.ndjson" '"type":"cpu","ts_ns":[0-9]*,"cpu":3,"online":false' 30 || step "no offline record"
refresh 3
step "refresh 3 offline"
sleep 1.5 # an interval record (every 1 s) falls while CPU 3 is offline
echo 1 >$online
step "online rc=$?"
wait_for "$out/watch.ndjson" '"type":"cpu","ts_ns":[0-9]*,"cpu":3,"online":true' 30 || step "no online record"
refresh 3
step "refresh 3 back"
sleep 2
kill -INT $pid
for i in $(seq 120); do kill -0 $pid 2>/dev/null || break; sleep 1; done
if kill -0 $pid 2>/dev/null; then # say where it hangs, then end it
	for t in /proc/$pid/task/*; do step "hung: $(cat $t/comm) $(cat $t/wchan) $(grep State $t/status)"; done
	kill -KILL $pid
fi
wait $pid
echo "watch exit=$?"

# run: the command takes CPU 3 away for a second inside the judged window
# (from CPU 0: run pins its command to CPU 3, the command moves itself)
iw run --cpus 3 --warmup 1 --report "$out/run.ndjson" -- taskset -c 0 \
	sh -c "sleep 2; echo 0 > $online; sleep 1; echo 1 > $online; sleep 2" 2>"$out/run.err" >/dev/null
echo "run exit=$?"
cat $online >>"$out/steps"
