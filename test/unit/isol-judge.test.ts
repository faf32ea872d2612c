// judge(): violations only while active or declared, with the notes users need.
import { describe, expect, it } from 'vitest';
import { judge } from '../../src/isol/judge.js';
import type { IsolInfo } from '../../src/types.js';

const active: IsolInfo = { state: 'active', source: 'prctl', active_mask: '0x1', quiesce_mask: '0x1', conf_mask: '0x1' };
const activeNoVmstat: IsolInfo = { ...active, quiesce_mask: '0x0' };
const declared: IsolInfo = { state: 'declared', source: 'declared' };
const self = { self: true };
const remote = { self: false };

describe('judge', () => {
  it('no violation while none or inactive, whatever happens', () => {
    for (const isol of [{ state: 'none' } as IsolInfo, { ...active, state: 'inactive' } as IsolInfo]) {
      expect(judge(isol, { class: 'ipi', kind: 'call_function_single', cause: remote })).toEqual({ violation: false });
      expect(judge(isol, { class: 'workqueue', kind: 'vmstat_update', cause: remote })).toEqual({ violation: false });
    }
  });

  it('own syscall inside an active window: shown, not a violation', () => {
    expect(judge(active, { class: 'syscall', kind: 'write', cause: self })).toEqual({
      violation: false,
      note: 'own syscall: the kernel quiesces on return by design',
    });
  });

  it('own syscall while only declared: a violation (no quiesce on return)', () => {
    const j = judge(declared, { class: 'syscall', kind: 'write', cause: self });
    expect(j.violation).toBe(true);
    expect(j.note).toMatch(/own syscall while declared isolated/);
  });

  it('vmstat_update with ISOL_F_QUIESCE_VMSTATS active: quiesce failure with the mlockall hint', () => {
    for (const i of [
      { class: 'workqueue' as const, kind: 'vmstat_update', cause: remote },
      { class: 'workqueue' as const, kind: 'mm_percpu_wq', func: 'vmstat_update', cause: remote },
    ]) {
      const j = judge(active, i);
      expect(j).toMatchObject({ violation: true, finding: 'quiesce_failure' });
      expect(j.note).toMatch(/^quiesce failure: vmstat_update ran .*ISOL_F_QUIESCE_VMSTATS active/);
      expect(j.note).toMatch(/mlockall\(MCL_CURRENT\|MCL_FUTURE\)/);
    }
  });

  it('vmstat_update without the vmstats quiesce bit, or when declared: a plain violation', () => {
    expect(judge(activeNoVmstat, { class: 'workqueue', kind: 'vmstat_update', cause: remote })).toEqual({ violation: true });
    expect(judge(declared, { class: 'workqueue', kind: 'vmstat_update', cause: remote })).toEqual({ violation: true });
  });

  it('other interruptions of active or declared tasks are violations; own page faults carry the mlockall hint', () => {
    expect(judge(active, { class: 'ipi', kind: 'call_function', cause: remote })).toEqual({ violation: true });
    expect(judge(declared, { class: 'timer', kind: 'local_timer', cause: remote })).toEqual({ violation: true });
    const pf = judge(active, { class: 'page_fault', kind: 'user', cause: self });
    expect(pf.violation).toBe(true);
    expect(pf.note).toMatch(/mlockall/);
  });
});
