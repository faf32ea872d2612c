// The engine on a recording made by `isolwatch record` on this project's
// host (CPU 1 watched; membarrier x20 from CPU 0 and 2 stat_refresh writes).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/commands/report.js';
import { CLASSES, type InterruptionRecord } from '../../src/types.js';

const ROOT = join(import.meta.dirname, '../..');
const FIXTURE = join(ROOT, 'test/fixtures/recordings/host-membarrier.rec.ndjson');

describe('replay of a host recording', () => {
  const r = replay(readFileSync(FIXTURE, 'utf8'), FIXTURE);
  const ints = r.records.filter((x): x is InterruptionRecord => x.type === 'interruption');

  it('attributes every membarrier IPI to the sending thread on CPU 0', () => {
    const mb = ints.filter((i) => i.func === 'ipi_mb');
    expect(mb).toHaveLength(20);
    const senders = new Set(mb.map((i) => i.cause.tid));
    expect(senders.size).toBe(1);
    for (const i of mb) {
      expect(i).toMatchObject({ cpu: 1, class: 'ipi', kind: 'call_function_single' });
      expect(i.cause).toMatchObject({ self: false, context: 'task', cpu: 0, comm: 'membarrier' });
      expect(i.cause.callsite).toMatch(/^membarrier_private_expedited\+0x/);
      expect(i.victim.comm).toBe('membarrier');
      expect(i.victim.tid).not.toBe(i.cause.tid);
      expect(i.chain.map((e) => e.kind)).toEqual(['call_function_single', 'csd']);
    }
  });

  it('charges refresh_vm_stats work to the writer, one record per write', () => {
    const work = ints.filter((i) => i.class === 'workqueue' && i.func === 'refresh_vm_stats');
    expect(work).toHaveLength(2);
    for (const w of work) expect(w.cause).toMatchObject({ context: 'task', cpu: 0, comm: 'statrefresh' });
  });

  it('summarizes exactly what it reported, with the kernel totals beside it', () => {
    const cpu1 = r.summary.cpus['1'];
    const total = Object.values(cpu1.by_class).reduce((a, b) => a + (b ?? 0), 0);
    // what isolwatch caused itself is counted apart, never in a CPU's numbers
    const mine = ints.filter((i) => i.cpu === 1 && i.cause.origin === 'isolwatch');
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((i) => !i.violation)).toBe(true);
    expect(r.summary.self_caused).toBe(mine.length);
    expect(total).toBe(ints.filter((i) => i.cpu === 1).length - mine.length);
    for (const k of Object.keys(cpu1.by_class)) expect(CLASSES).toContain(k);
    expect(r.summary.kernel_counts?.['1']).toBeDefined();
    expect(r.summary.lost_events).toBe(0);
    expect(r.start.watched_cpus).toEqual([1]);
  });

  it('rejects what is not a recording with a clear message', () => {
    expect(() => replay('{"type":"start"}\n', 'x.ndjson')).toThrow(/not an isolwatch recording.*isolwatch record/);
    expect(() => replay('garbage\n', 'y.ndjson')).toThrow(/y.ndjson:1: not JSON/);
  });
});
