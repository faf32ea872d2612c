// Side by side on the PREEMPT_RT guests (Debian's 6.1 and 6.12): the kernel's osnoise tracer (rtla osnoise top, plus its
// per-noise osnoise:* events and per-sample records on isolwatch's clock) and isolwatch watch, on
// CPUs 2-3, in the same window, with a known disturbance on CPU 2 (a SCHED_FIFO thread woken 40
// times by its own timer and 40 times from CPU 0) and CPU 3 left quiet. One boot
// per kernel (test/vm/osnoise-compare.sh). Compared in osnoise's sampled time only; the class
// mapping, the sample bounds and the tolerances: docs/osnoise-comparison.md. Never skipped.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers/scratch.js';
import { type Kernel, vmKernels } from './kernels.js';
// a plain ES module with JSDoc types: it also runs inside the guest, without a build step
import { compare, formatTable, loadRun, TOLERANCE } from './osnoise-compare.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const TIMER_WAKES = 40;
const REMOTE_WAKES = 40;

// the PREEMPT_RT kernels of test/vm/run; both have the osnoise and timerlat tracers
const KERNELS: { kernel: Kernel; title: string; release: RegExp }[] = [
  { kernel: 'rt', title: '6.1 PREEMPT_RT', release: /^6\.1\.0-\d+-rt-amd64$/ },
  { kernel: '6.12-rt', title: '6.12 PREEMPT_RT', release: /^6\.12\.\d+\+deb12-rt-amd64$/ },
];

describe.each(KERNELS.filter((k) => vmKernels().includes(k.kernel)).map((k) => [k.title, k] as const))('osnoise (rtla) and isolwatch side by side on %s, CPU 2 disturbed, CPU 3 quiet', (_title, { kernel, release }) => {
  // the raw files: kept, with their path printed, when a check failed
  const out = scratchDir(`iw-osnoise-${kernel}-`);
  let stdout = '';
  let stderr = '';
  let code: number | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let result: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let run: any;

  beforeAll(async () => {
    // the disturber is built here (a second or two) rather than under emulation in the guest
    const cc = spawnSync('gcc', ['-O2', '-Wall', '-pthread', '-o', out('osnoise-disturb'), join(here, 'osnoise-disturb.c'), '-lrt'], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`building test/vm/osnoise-disturb.c failed: ${cc.stderr}`);
    const args = ['--kernel', kernel, '--timeout', '540', '--out', out(), '--', 'test/vm/osnoise-compare.sh', '--out', '/tmp/vm-out', '--collect-only'];
    args.push('--disturber', '/tmp/vm-out/osnoise-disturb', '--timer-wakes', String(TIMER_WAKES), '--remote-wakes', String(REMOTE_WAKES));
    await new Promise<void>((resolve, reject) => {
      const p = spawn(join(here, 'run'), args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('error', reject);
      p.on('close', (c) => {
        code = c;
        // 0: agree, 1: disagree (judged below, check by check); anything else: the run itself failed
        if (c !== 0 && c !== 1) reject(new Error(`osnoise comparison in the ${kernel} guest failed (exit ${c}):\n${stdout}\n${stderr}`));
        else resolve();
      });
    });
    run = loadRun(out());
    result = compare(run);
    // eslint-disable-next-line no-console
    console.log(formatTable(result));
  }, 600_000);

  const check = (cpu: number, name: string) => result.checks.find((c: { cpu: number; check: string }) => c.cpu === cpu && c.check === name);

  it('isolwatch loads and attaches on the RT kernel; the tracer ran its workload on both CPUs', () => {
    expect(code === 0 || code === 1).toBe(true);
    expect(result.kernel).toMatch(release);
    expect(result.probes.attached).toEqual(expect.arrayContaining(['sched_switch', 'local_timer_entry', 'reschedule_entry', 'irq_handler_entry', 'softirq_entry']));
    expect(Object.keys(result.cpus).sort()).toEqual(['2', '3']);
    expect(result.checks.filter((c: { check: string }) => c.check === 'input')).toEqual([]);
  });

  it("osnoise's sample bounds are right: each sample's counters equal its events, no event between samples", () => {
    for (const cpu of [2, 3]) {
      expect(check(cpu, 'samples'), check(cpu, 'samples').detail).toMatchObject({ ok: true });
      expect(result.cpus[String(cpu)].samples).toBeGreaterThanOrEqual(5);
    }
  });

  it('both see exactly the disturbance the test caused on CPU 2', () => {
    const c = result.cpus['2'].caused;
    // the kernel woke the thread once per wake-up plus the one that released it ("go"), all of
    // them inside the compared window (a run after RT throttling or a lock wait is no wake-up;
    // a sleep whose timer fired before the thread blocked ends without one, and so does a remote
    // wake-up whose FUTEX_WAKE found the thread not yet asleep: the disturber counts those, seen
    // once in 10 runs when a stalled guest vCPU held the thread past the waker's 50 ms)
    const unslept = Number(run.disturb.remote_unslept);
    expect(Number.isInteger(unslept), `no remote_unslept in ${JSON.stringify(run.disturb)}`).toBe(true);
    expect(c.kernel_disturber_wakeups + c.disturber_timer_wakes_while_running + unslept).toBe(TIMER_WAKES + REMOTE_WAKES + 1);
    // osnoise counted exactly the runs in its sampled time
    expect(c.osnoise_disturber_runs).toBe(c.kernel_disturber_runs_sampled);
    // its own sleep timer: one local-timer interrupt with hrtimer_wakeup per timer wake-up
    expect(c.isolwatch_hrtimer_wakeup).toBe(TIMER_WAKES);
    // the reschedule IPIs in sampled time: the same ones in both
    expect(c.isolwatch_reschedule).toBe(c.osnoise_reschedule);
    // ... and isolwatch names who sent them: the waker thread (and the main thread's "go") on
    // CPU 0, and a disturber thread that released a lock the worker waited for (PREEMPT_RT).
    // A remote wake-up sends no IPI when CPU 2 already has a reschedule pending: seen for 2 of
    // the 41 in 1 of 20 runs (irq_work/2 woken between two samples, not yet run)
    expect(c.isolwatch_reschedule_from_disturber).toBeLessThanOrEqual(REMOTE_WAKES + 1 + c.kernel_disturber_lock_resumes);
    expect(c.isolwatch_reschedule_from_disturber).toBeGreaterThanOrEqual(REMOTE_WAKES + 1 - 3);
    expect(result.cpus['3'].caused.kernel_disturber_runs).toBe(0);
  });

  it('agree on which CPU was noisy: CPU 2 noisy, CPU 3 quiet in the window (osnoise events and isolwatch), rtla as its tracer over the whole run', () => {
    for (const cpu of [2, 3]) expect(check(cpu, 'noisy verdict'), check(cpu, 'noisy verdict').detail).toMatchObject({ ok: true });
    expect(result.cpus['2'].noisy).toMatchObject({ osnoise: true, isolwatch: true, rtla: true });
    expect(result.cpus['3'].noisy).toMatchObject({ osnoise: false, isolwatch: false });
  });

  it('IRQ class: every osnoise IRQ is an isolwatch irq/timer/ipi record of the same kind, and isolwatch has no others in sampled time', () => {
    for (const cpu of [2, 3]) {
      expect(check(cpu, 'irq'), check(cpu, 'irq').detail).toMatchObject({ ok: true });
      expect(check(cpu, 'irq kinds'), check(cpu, 'irq kinds').detail).toMatchObject({ ok: true });
      expect(result.cpus[String(cpu)].unmatched_osnoise.length).toBeLessThanOrEqual(TOLERANCE.unpairedOsnoise);
    }
    expect(result.cpus['2'].isolwatch.irq).toBeGreaterThanOrEqual(TIMER_WAKES + REMOTE_WAKES);
  });

  it('NMI class equal; softirqs (threads on PREEMPT_RT, osnoise SIRQ 0) each inside a run of their own thread', () => {
    for (const cpu of [2, 3]) {
      expect(check(cpu, 'nmi'), check(cpu, 'nmi').detail).toMatchObject({ ok: true });
      expect(result.cpus[String(cpu)].osnoise.softirq).toBe(0);
      expect(check(cpu, 'softirq in threads'), check(cpu, 'softirq in threads').detail).toMatchObject({ ok: true });
    }
  });

  it('the comparison fails when isolwatch misses IRQs, sees IRQs osnoise did not count, or calls a quiet CPU noisy (same data, altered)', () => {
    const w = result.cpus['2'].window;
    const inWin2 = (r: { type: string; cpu: number; ts_ns: number; class: string }) =>
      r.type === 'interruption' && r.cpu === 2 && r.ts_ns >= w.start_ns && r.ts_ns <= w.end_ns && ['irq', 'timer', 'ipi'].includes(r.class);
    // drop isolwatch's local-timer interrupts there: at least the disturber's 40 timer wakes that
    // osnoise counted too
    const drop = new Set(run.records.filter((r: { kind: string } & Parameters<typeof inWin2>[0]) => inWin2(r) && r.kind === 'local_timer'));
    expect(drop.size).toBeGreaterThanOrEqual(40);
    const missing = compare({ ...run, records: run.records.filter((r: never) => !drop.has(r)) });
    expect(missing.checks.find((c: { cpu: number; check: string }) => c.cpu === 2 && c.check === 'irq').ok).toBe(false);
    // records on the quiet CPU 3, in the middle of its samples' sampled time (spread evenly over
    // the window, some fell between two samples, where nothing is compared, and the check rightly
    // passed): 2 are more than osnoise's sampled time allows isolwatch alone to see; 40 make it noisy
    const s3: { start_ns: number; end_ns: number }[] = result.cpus['3'].sampled;
    expect(s3.length).toBeGreaterThan(0);
    const fake = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        type: 'interruption',
        cpu: 3,
        ts_ns: Math.round((s3[i % s3.length].start_ns + s3[i % s3.length].end_ns) / 2) + Math.floor(i / s3.length) * 1000,
        duration_ns: 1000,
        class: 'ipi',
        kind: 'reschedule',
        victim: { pid: 0, tid: 0, comm: 'x' },
        chain: [{ class: 'ipi', kind: 'reschedule', duration_ns: 1000, depth: 0 }],
      }));
    const extra3 = compare({ ...run, records: [...run.records, ...fake(1 + TOLERANCE.extraIsolwatch)] });
    expect(extra3.checks.find((c: { cpu: number; check: string }) => c.cpu === 3 && c.check === 'irq').ok).toBe(false);
    const noisy3 = compare({ ...run, records: [...run.records, ...fake(40)] });
    expect(noisy3.checks.find((c: { cpu: number; check: string }) => c.cpu === 3 && c.check === 'noisy verdict').ok).toBe(false);
  });

  it("rtla's summary is the same tracer's count: never more than its event stream", () => {
    for (const cpu of [2, 3]) expect(check(cpu, 'rtla vs events'), check(cpu, 'rtla vs events').detail).toMatchObject({ ok: true });
  });

  // By default isolwatch opens a preemption record only when a user task is switched out while
  // runnable; the comparison runs it with --kthreads, so the tasks that preempt osnoise's
  // kernel-thread workload are counted too.
  it('THREAD class: isolwatch names the tasks that preempted the osnoise kernel thread (--kthreads)', () => {
    for (const cpu of [2, 3]) {
      expect(check(cpu, 'thread'), check(cpu, 'thread').detail).toMatchObject({ ok: true });
      // against the kernel's own switches, in sampled time or not
      expect(check(cpu, 'preempt names'), check(cpu, 'preempt names').detail).toMatchObject({ ok: true });
    }
    // every run of the disturber, except any that came after the 3 tasks one record names
    const c = result.cpus['2'].caused;
    expect(c.isolwatch_disturber_runs + c.disturber_runs_beyond_names).toBe(c.kernel_disturber_runs);
  });
});
