// `isolwatch demo`: how the workload's ready line becomes the header's labels.
// The real demo on a terminal is in test/integration/tui-live.test.ts.
import { describe, expect, it } from 'vitest';
import { demoNotes, parseDisturbReady } from '../../src/commands/demo.js';

describe('demo labels', () => {
  it('names the spinner, the sender and what each disturber causes', () => {
    const d = parseDisturbReady('ready pid=968 tid=970 sender_tid=970 spinner_tid=969 target_cpu=1 from_cpu=0 kinds=membarrier,munmap,stat_refresh');
    expect(d).toEqual({ pid: 968, senderTid: 970, spinnerTid: 969, targetCpu: 1, fromCpu: 0, kinds: ['membarrier', 'munmap', 'stat_refresh'], errors: [] });
    expect(demoNotes(d)).toEqual([
      'demo: spinner disturb/969 on CPU 1 (declared isolated)',
      '  disturber disturb/970 on CPU 0, 20/s each: membarrier -> IPI ipi_mb,',
      '  munmap -> IPI flush_tlb_func, stat_refresh -> workqueue refresh_vm_stats',
    ]);
    // 80 columns hold them even with 7-digit thread ids
    const big = demoNotes({ ...d, spinnerTid: 4194303, senderTid: 4194304, targetCpu: 127, fromCpu: 126 });
    for (const n of big) expect(n.length).toBeLessThanOrEqual(80);
  });

  it("the spinner's own syscalls are said on the spinner's line", () => {
    const d = parseDisturbReady('ready pid=5 tid=7 sender_tid=7 spinner_tid=6 target_cpu=3 from_cpu=0 kinds=membarrier,munmap,stat_refresh,syscalls');
    const notes = demoNotes(d);
    expect(notes[0]).toBe('demo: spinner disturb/6 on CPU 3 (declared isolated), 20/s own getppid');
    expect(notes.join('\n')).not.toContain('syscalls');
    expect(demoNotes({ ...d, spinnerTid: 4194303, targetCpu: 127 })[0].length).toBeLessThanOrEqual(80);
  });

  it('says which kinds the workload had to switch off', () => {
    const d = parseDisturbReady('ready pid=5 tid=7 sender_tid=7 spinner_tid=6 target_cpu=3 from_cpu=0 kinds=membarrier,munmap', [
      'disturb kind=stat_refresh error=EACCES',
    ]);
    expect(d.errors).toEqual(['stat_refresh: EACCES']);
    expect(demoNotes(d)[2]).toBe('  munmap -> IPI flush_tlb_func (off: stat_refresh: EACCES)');
    expect(demoNotes(parseDisturbReady('ready pid=5 tid=7 sender_tid=7 spinner_tid=6 target_cpu=3 from_cpu=0 kinds=none'))).toEqual([
      'demo: spinner disturb/6 on CPU 3 (declared isolated)',
      '  disturber disturb/7 on CPU 0, 20/s each: none could start',
    ]);
  });
});

describe('demo labels and the TLB flush of this kernel', () => {
  const d = parseDisturbReady('ready pid=968 tid=970 sender_tid=970 spinner_tid=969 target_cpu=1 from_cpu=0 kinds=membarrier,munmap,stat_refresh');
  it('promises no flush_tlb_func IPI where the hypervisor flushes remote TLBs', () => {
    const notes = demoNotes(d, 'hypervisor');
    expect(notes.join('\n')).not.toContain('flush_tlb_func');
    expect(notes).toEqual([
      'demo: spinner disturb/969 on CPU 1 (declared isolated)',
      '  disturber disturb/970 on CPU 0, 20/s each: membarrier -> IPI ipi_mb,',
      '  munmap -> TLB flush via hypervisor (no IPI),',
      '  stat_refresh -> workqueue refresh_vm_stats',
    ]);
    for (const n of demoNotes({ ...d, spinnerTid: 4194303, senderTid: 4194304, targetCpu: 127, fromCpu: 126 }, 'hypervisor')) expect(n.length).toBeLessThanOrEqual(80);
  });
  it('KVM paravirt flushes are IPIs to running vCPUs: the demo still names flush_tlb_func', () => {
    expect(demoNotes(d, 'pv-ipi')).toEqual(demoNotes(d, 'ipi'));
  });
});
