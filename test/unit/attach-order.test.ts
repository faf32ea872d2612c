// The order the programs are attached in (src/live/probes.ts attachRank):
// every interrupt-context exit before any entry, the senders before what
// sees their interruptions. Detach goes in reverse.
import { describe, expect, it } from 'vitest';
import { attachRank, PROGRAM_GROUPS } from '../../src/live/probes.js';

const programs = Object.keys(PROGRAM_GROUPS);

describe('attach order', () => {
  it('attaches each exit before its entry (an interrupt in flight cannot leave a nesting count up)', () => {
    const pairs = programs.filter((p) => p.endsWith('_entry')).map((p) => [p, p.replace(/_entry$/, '_exit')]);
    expect(pairs.length).toBeGreaterThan(10);
    for (const [entry, exit] of pairs) {
      if (!programs.includes(exit)) continue;
      expect(attachRank(exit), `${exit} before ${entry}`).toBeLessThan(attachRank(entry));
    }
    // context tracking's names are the other way round: user_enter leaves the kernel
    expect(attachRank('handle_ct_user_enter')).toBeLessThan(attachRank('handle_ct_user_exit'));
    expect(attachRank('handle_raw_syscalls_sys_exit')).toBeLessThan(attachRank('handle_raw_syscalls_sys_enter'));
  });

  it('attaches the senders before what sees the interruptions they cause', () => {
    const seeing = ['handle_vec_call_function_entry', 'handle_csd_function_entry', 'handle_workqueue_execute_start', 'handle_sched_switch'];
    const senders = programs.filter((p) => /csd_queue_cpu|ipi_send_|ipi_fallback_|workqueue_queue_work|sched_waking/.test(p));
    expect(senders.length).toBeGreaterThanOrEqual(8);
    for (const s of senders) for (const v of seeing) expect(attachRank(s), `${s} before ${v}`).toBeLessThan(attachRank(v));
  });
});
