// The osnoise comparison's model of a sample's start (test/vm/osnoise-compare.mjs, sampledTime),
// on an excerpt of a kept run of test/vm/osnoise.test.ts (6.1 PREEMPT_RT guest, CPU 2): the
// workload thread osnoise/2 was switched out to the disturber right after its interface_lock
// unlock, before run_osnoise() set its sampling flag, by a reschedule IPI that entered inside
// the function tracer's callback on that unlock. osnoise counted neither (80 disturber runs
// against the kernel's 81 in the sample's span, taken from the unlock).
import { describe, expect, it } from 'vitest';
import { parseSamples, parseTrace, sampledTime } from '../vm/osnoise-compare.mjs';

const EVENTS = `
       osnoise/2-211     [002] .......   244.402745: mutex_unlock <-osnoise_main
       osnoise/2-211     [002] dn.h1..   244.615425: irq_noise: reschedule:253 start 245.795396489 duration 45581 ns
       osnoise/2-211     [002] d...2..   244.615503: sched_switch: prev_comm=osnoise/2 prev_pid=211 prev_prio=120 prev_state=R+ ==> next_comm=osnoise-disturb next_pid=190 next_prio=79
 osnoise-disturb-190     [002] d...2..   244.615722: sched_switch: prev_comm=osnoise-disturb prev_pid=190 prev_prio=79 prev_state=S ==> next_comm=osnoise/2 next_pid=211 next_prio=120
 osnoise-disturb-190     [002] d...3..   244.615729: thread_noise: osnoise-disturb:190 start 245.795536931 duration 217970 ns
       osnoise/2-211     [002] dn.h1..   244.907916: irq_noise: reschedule:253 start 246.087898523 duration 36855 ns
       osnoise/2-211     [002] d...2..   245.009977: sched_switch: prev_comm=osnoise/2 prev_pid=211 prev_prio=120 prev_state=R+ ==> next_comm=osnoise-disturb next_pid=190 next_prio=79
 osnoise-disturb-190     [002] d...2..   245.010245: sched_switch: prev_comm=osnoise-disturb prev_pid=190 prev_prio=79 prev_state=S ==> next_comm=osnoise/2 next_pid=211 next_prio=120
 osnoise-disturb-190     [002] d...3..   245.010254: thread_noise: osnoise-disturb:190 start 246.190021768 duration 256186 ns
       osnoise/2-211     [002] .......   245.524218: mutex_unlock <-osnoise_main
       osnoise/2-211     [002] d...2..   245.524299: sched_switch: prev_comm=osnoise/2 prev_pid=211 prev_prio=120 prev_state=R+ ==> next_comm=osnoise-disturb next_pid=190 next_prio=79
 osnoise-disturb-190     [002] d...2..   245.524561: sched_switch: prev_comm=osnoise-disturb prev_pid=190 prev_prio=79 prev_state=S ==> next_comm=osnoise/2 next_pid=211 next_prio=120
       osnoise/2-211     [002] dn.h1..   245.932165: irq_noise: reschedule:253 start 247.112140909 duration 41225 ns
       osnoise/2-211     [002] d...2..   245.932271: sched_switch: prev_comm=osnoise/2 prev_pid=211 prev_prio=120 prev_state=R+ ==> next_comm=osnoise-disturb next_pid=190 next_prio=79
 osnoise-disturb-190     [002] d...2..   245.932470: sched_switch: prev_comm=osnoise-disturb prev_pid=190 prev_prio=79 prev_state=S ==> next_comm=osnoise/2 next_pid=211 next_prio=120
 osnoise-disturb-190     [002] d...3..   245.932476: thread_noise: osnoise-disturb:190 start 247.112304170 duration 197276 ns
       osnoise/2-211     [002] dn.h3..   246.350878: irq_noise: reschedule:253 start 247.530820804 duration 75958 ns
       osnoise/2-211     [002] d...2..   246.350936: sched_switch: prev_comm=osnoise/2 prev_pid=211 prev_prio=120 prev_state=R+ ==> next_comm=osnoise-disturb next_pid=190 next_prio=79
 osnoise-disturb-190     [002] d...2..   246.351147: sched_switch: prev_comm=osnoise-disturb prev_pid=190 prev_prio=79 prev_state=S ==> next_comm=osnoise/2 next_pid=211 next_prio=120
 osnoise-disturb-190     [002] d...3..   246.351154: thread_noise: osnoise-disturb:190 start 247.530968372 duration 209896 ns
       osnoise/2-211     [002] dn.h1..   246.548872: irq_noise: reschedule:253 start 247.728850130 duration 40883 ns
       osnoise/2-211     [002] d...2..   246.548960: sched_switch: prev_comm=osnoise/2 prev_pid=211 prev_prio=120 prev_state=R+ ==> next_comm=osnoise-disturb next_pid=190 next_prio=79
 osnoise-disturb-190     [002] d...2..   246.549135: sched_switch: prev_comm=osnoise-disturb prev_pid=190 prev_prio=79 prev_state=S ==> next_comm=osnoise/2 next_pid=211 next_prio=120
 osnoise-disturb-190     [002] d...3..   246.549142: thread_noise: osnoise-disturb:190 start 247.728992747 duration 173761 ns
`;
// the tracer's sample records ending the two samples (irq 2, thread 2; irq 3, thread 3)
const SAMPLES = `
       osnoise/2-211     [002] .......   245.427467: 1024638     890527  13.08862  202243    445      0      2      0      2
       osnoise/2-211     [002] .......   246.549208: 1024572     691546  32.50391  120717   1458      0      3      0      3
`;
// isolwatch's reschedule IPI on CPU 2 (sent by the disturber's waker on CPU 0)
const IPI = {
  type: 'interruption',
  ts_ns: 245524115070,
  cpu: 2,
  duration_ns: 29340,
  class: 'ipi',
  kind: 'reschedule',
  victim: { pid: 211, tid: 211, comm: 'osnoise/2' },
  chain: [{ class: 'ipi', kind: 'reschedule', duration_ns: 29340, depth: 0 }],
};

const events = parseTrace(EVENTS);
const samples = parseSamples(SAMPLES);
const win = { start: 244400000000, end: 246549220000 };
const second = (records: unknown[], ev = events) => sampledTime(ev, samples, 2, win, records).samples[1];

describe('osnoise sample start: preempted at the unlock, before sampling began', () => {
  it('the sample begins when osnoise/2 is back, when the IPI that preempted it entered before the unlock', () => {
    const st = sampledTime(events, samples, 2, win, [IPI]);
    expect(st.problems).toEqual([]);
    expect(st.samples.map((s) => s.from)).toEqual([244402745000, 245524561000]);
    expect(st.preemptedAtStart).toEqual([
      { unlock_ns: 245524218000, irq_ns: 245524115070, irq: 'ipi reschedule', switch_ns: 245524299000, next: 'osnoise-disturb', from_ns: 245524561000 },
    ]);
    // the record counted 3 thread runs: the 3 disturber runs after the return, not the one before
    const s = st.samples[1];
    expect(events.filter((e) => e.name === 'thread_noise' && e.ts_ns >= s.from && e.ts_ns <= s.to)).toHaveLength(samples[1].thread);
  });

  it('the sample still begins at the unlock when nothing shows the reschedule was pending there', () => {
    // no isolwatch record of the interrupt
    expect(second([]).from).toBe(245524218000);
    // the interrupt entered after the unlock, or within its printed microsecond: inside the sample
    expect(second([{ ...IPI, ts_ns: 245524228000 }]).from).toBe(245524218000);
    expect(second([{ ...IPI, ts_ns: 245524218500 }]).from).toBe(245524218000);
    // the interrupt came in the previous sample (before its record): something else set need-resched
    expect(second([{ ...IPI, ts_ns: 245427000000 }]).from).toBe(245524218000);
    // osnoise wrote an event between the unlock and the switch: it was sampling by then
    const irqNoise = parseTrace('       osnoise/2-211     [002] dn.h1..   245.524250: irq_noise: reschedule:253 start 246.704 duration 30000 ns\n');
    expect(second([IPI], [...events, ...irqNoise].sort((a, b) => a.ts_ns - b.ts_ns)).from).toBe(245524218000);
  });

  it('a preemption after an irq_noise in the sample leaves its start at the unlock (the first sample)', () => {
    expect(sampledTime(events, samples, 2, win, [IPI, { ...IPI, ts_ns: 244615380000 }]).samples[0].from).toBe(244402745000);
  });
});
