// CPU hotplug of a watched CPU, in the quiet-CPU guest (6.1 generic, CPUs 2-3
// nohz_full): CPU 3 goes offline and comes back while `watch --cpus 2,3` runs
// and inside `run --cpus 3`'s judged window (test/vm/hotplug-case.sh, one
// boot). watch says so in `cpu` records and on stderr, keeps CPU 2's counts,
// counts CPU 3 again when it is back and loses nothing: vm.stat_refresh
// written 3 times before, 3 while CPU 3 is offline and 3 after runs the work
// item refresh_vm_stats 9 times on CPU 2 and 6 times on CPU 3, and the
// kernel's aggregate totals say exactly that. run fails naming CPU 3 and how
// long it was offline. Never skipped.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootGuest } from './guest.js';


interface Row {
  cpu: number;
  class: string;
  func?: string;
  count: number;
}

describe('CPU hotplug of a watched CPU (6.1 guest, CPU 3 offline and back)', () => {
  const out = mkdtempSync(join(tmpdir(), 'iw-hotplug-'));
  let exits: Record<string, number> = {};
  const read = (f: string) => readFileSync(join(out, f), 'utf8');
  const records = (f: string) =>
    read(f)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  const why = () => `steps:\n${read('steps')}\nwatch.err:\n${read('watch.err')}`;

  beforeAll(async () => {
    exits = await bootGuest('generic', out, 600, ['test/vm/hotplug-case.sh']);
  }, 660_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('took CPU 3 offline and back (the guest kernel allowed it)', () => {
    const steps = read('steps');
    expect(steps, why()).toContain('offline rc=0');
    expect(steps, why()).toContain('online rc=0');
    expect(steps, why()).not.toMatch(/did not start|refresh failed/);
    expect(steps.trim().split('\n').at(-1)).toBe('1'); // online again at the end
  });

  it('watch: cpu records, a line on stderr, and it keeps running (exit 0)', () => {
    expect(exits.watch, why()).toBe(0);
    const cpu = records('watch.ndjson').filter((r) => r.type === 'cpu');
    expect(cpu.map((r) => [r.cpu, r.online])).toEqual([
      [3, false],
      [3, true],
    ]);
    expect(cpu[1].ts_ns).toBeGreaterThan(cpu[0].ts_ns);
    expect(read('watch.err')).toMatch(/CPU 3.*offline/);
    const summary = records('watch.ndjson').find((r) => r.type === 'summary');
    // offline from one poll to another: at least the 3 refreshes and waits in between, less than the session
    const span = cpu[1].ts_ns - cpu[0].ts_ns;
    expect(summary.offline_ns).toEqual({ '3': span });
    expect(summary.offline_ns['2']).toBeUndefined();
  });

  it('watch: no count lost, CPU 3 counted again after its return (refresh_vm_stats 9 on CPU 2, 6 on CPU 3)', () => {
    const all = records('watch.ndjson');
    const total = all.find((r) => r.type === 'aggregate' && r.scope === 'total');
    const count = (cpu: number) =>
      (total.rows as Row[]).filter((r) => r.cpu === cpu && r.class === 'workqueue' && r.func === 'refresh_vm_stats').reduce((n, r) => n + r.count, 0);
    expect(count(2), why()).toBe(9);
    expect(count(3), why()).toBe(6);
    // the per-interval aggregates add up to the total for CPU 3 (nothing dropped around the gap)
    const intervals = all.filter((r) => r.type === 'aggregate' && r.scope === 'interval');
    const inIntervals = intervals
      .flatMap((r) => r.rows as Row[])
      .filter((r) => r.cpu === 3 && r.class === 'workqueue' && r.func === 'refresh_vm_stats')
      .reduce((n, r) => n + r.count, 0);
    expect(inIntervals).toBe(6);
    // 3 before it left and 3 after it came back: an interval record falls while it is offline
    // (the script waits 1.5 s there), so no interval holds counts from both sides
    const [gone, back] = all.filter((r) => r.type === 'cpu').map((r) => r.ts_ns as number);
    const cpu3In = (keep: (r: { from_ns: number; to_ns: number }) => boolean) =>
      intervals
        .filter(keep)
        .flatMap((r) => r.rows as Row[])
        .filter((r) => r.cpu === 3 && r.func === 'refresh_vm_stats')
        .reduce((n, r) => n + r.count, 0);
    expect(intervals.some((r) => r.to_ns > gone && r.to_ns < back)).toBe(true);
    expect(cpu3In((r) => r.to_ns <= back)).toBe(3);
    expect(cpu3In((r) => r.to_ns > back)).toBe(3);
  });

  it('run: fails naming CPU 3 offline in the judged window, the report has both cpu records', () => {
    expect(exits.run, read('run.err')).toBe(1);
    const all = records('run.ndjson');
    expect(all.filter((r) => r.type === 'cpu').map((r) => [r.cpu, r.online])).toEqual([
      [3, false],
      [3, true],
    ]);
    const verdict = all.at(-1).verdict;
    expect(verdict.pass).toBe(false);
    expect(verdict.reasons.join('\n')).toMatch(/CPU 3 was offline \(CPU hotplug\) for [\d.]+ ?m?s of the judged window/);
    expect(read('run.err')).toMatch(/CPU 3/);
  });
});
