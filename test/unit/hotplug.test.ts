// CPU hotplug of the watched CPUs (src/live/hotplug.ts): the records of a CPU
// going offline and back, how long it was offline in all and inside a window,
// and run's verdict naming it (src/verdict/judge.ts).
import { describe, expect, it } from 'vitest';
import { CpuHotplug } from '../../src/live/hotplug.js';
import { formatCpu } from '../../src/output/text.js';
import { toNdjsonLine } from '../../src/output/ndjson.js';
import { judge } from '../../src/verdict/index.js';

function machine(online: number[]) {
  const m = { online, t: 1_000 };
  const h = new CpuHotplug([1, 3], () => m.online, () => m.t);
  return { m, h };
}

describe('CpuHotplug', () => {
  it('says when a watched CPU goes offline and comes back, once each', () => {
    const { m, h } = machine([0, 1, 2, 3]);
    expect(h.poll()).toEqual([]);
    m.t = 2_000;
    m.online = [0, 1, 2]; // CPU 3 offline
    expect(h.poll()).toEqual([{ type: 'cpu', ts_ns: 2_000, cpu: 3, online: false }]);
    expect(h.poll()).toEqual([]);
    expect(h.offline()).toEqual([3]);
    m.online = [0, 1, 3]; // 2 is not watched: nothing said; 3 back
    m.t = 5_000;
    expect(h.poll()).toEqual([{ type: 'cpu', ts_ns: 5_000, cpu: 3, online: true }]);
    expect(h.offline()).toEqual([]);
  });

  it('adds up the time offline, in all and inside a window (run\'s judged one)', () => {
    const { m, h } = machine([0, 1, 3]);
    m.t = 2_000;
    m.online = [0, 1];
    h.poll();
    m.t = 5_000;
    m.online = [0, 1, 3];
    h.poll();
    m.t = 9_000;
    m.online = [0, 3];
    h.poll(); // CPU 1 offline from 9000, still offline
    m.t = 10_000;
    expect(h.offlineNs()).toEqual({ '1': 1_000, '3': 3_000 });
    expect(h.offlineNs(4_000, 9_500)).toEqual({ '1': 500, '3': 1_000 });
    expect(h.offlineNs(5_000, 9_000)).toEqual({});
  });

  it('a CPU offline from the start counts from the start; an unreadable sysfs changes nothing', () => {
    let fail = false;
    const m = { online: [0, 1], t: 100 };
    const h = new CpuHotplug([1, 3], () => {
      if (fail) throw new Error('EIO');
      return m.online;
    }, () => m.t);
    m.t = 600;
    expect(h.offlineNs()).toEqual({ '3': 500 });
    fail = true;
    expect(h.poll()).toEqual([]);
  });
});

describe('the cpu record and the verdict', () => {
  it('writes the record in contract order and says it in text', () => {
    expect(toNdjsonLine({ type: 'cpu', ts_ns: 7, cpu: 3, online: false })).toBe('{"type":"cpu","ts_ns":7,"cpu":3,"online":false}');
    expect(formatCpu({ type: 'cpu', ts_ns: 1_500_000_000, cpu: 3, online: false }, { timeZeroNs: 0 })).toMatch(/1\.5\d* +3 +cpu offline \(CPU hotplug\): nothing can be seen on it until it returns/);
  });

  it('run fails when a watched CPU was offline during the judged window, naming it', () => {
    const j = judge({ rows: [], watchedCpus: [3], offlineNs: { '3': 1_200_000_000 } });
    expect(j.pass).toBe(false);
    expect(j.reasons).toEqual(['CPU 3 was offline (CPU hotplug) for 1.2s of the judged window: nothing could be seen on it then']);
  });
});
