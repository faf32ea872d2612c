// Soft hrtimers on the CPU this process starts on (start it under `taskset -c CPU`):
// loads build/fixtures/soft_timers.bpf.o, arms its timer there (pinned: it restarts
// itself on that CPU every PERIOD_NS), moves itself to AWAY_CPU so as not to compete
// with the timers, and keeps them running for SECONDS.
// Prints "ready" once armed and "done fired=N" when it stops.
//   node test/helpers/soft-timers.mjs OBJECT SECONDS PERIOD_NS AWAY_CPU
import { execFileSync } from 'node:child_process';
import { BpfObject } from '../../dist/src/libbpf/object.js';

const [file, seconds, period, away] = process.argv.slice(2);
const obj = BpfObject.open(file);
const ns = new Uint8Array(8);
new DataView(ns.buffer).setBigUint64(0, BigInt(period), true);
obj.setRodata('period_ns', ns);
obj.load();
const rc = obj.testRun('arm', new Uint8Array(0));
if (rc !== 0) {
  console.error(`soft-timers: arm returned ${rc}`);
  obj.close();
  process.exit(1);
}
execFileSync('taskset', ['-a', '-p', '-c', away, String(process.pid)], { stdio: 'ignore' });
console.log('ready');
const stop = () => {
  const bss = obj.mapNames().find((n) => n.endsWith('.bss'));
  const v = obj.map(bss).lookup(new Uint8Array(4));
  console.log(`done fired=${new DataView(v.buffer).getBigUint64(0, true)}`);
  obj.close(); // frees the map, and with it the timer
  process.exit(0);
};
setTimeout(stop, Number(seconds) * 1000);
