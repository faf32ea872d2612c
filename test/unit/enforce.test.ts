// Enforcer without real signals: a fake /proc tree and an injected kill() spy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Enforcer, IN_KERNEL_SIGNAL_HELD, IN_KERNEL_SIGNAL_SENT, newLimitState, parseProcCgroup, parseProcStat, readProcFacts, tryTake, type InKernelSignaller } from '../../src/enforce/index.js';
import { loadPolicy, parsePolicy } from '../../src/policy/index.js';
import type { InterruptionRecord } from '../../src/types.js';

let proc: string;
const SELF = 4242;

function fakeTask(pid: number, comm: string, flags = 0x400100, cgroup = '/user.slice') {
  mkdirSync(join(proc, String(pid)), { recursive: true });
  writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 ${flags} 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0\n`);
  writeFileSync(join(proc, String(pid), 'cgroup'), `0::${cgroup}\n`);
}

beforeAll(() => {
  proc = mkdtempSync(join(tmpdir(), 'iw-proc-'));
  fakeTask(1, 'systemd');
  fakeTask(2, 'kthreadd', 0x208040);
  fakeTask(100, 'app');
  fakeTask(200, 'mapper');
  fakeTask(300, 'outsider', 0x400100, '/other.slice');
  fakeTask(SELF, 'node');
});
afterAll(() => rmSync(proc, { recursive: true, force: true }));

function rec(pid: number, over: Partial<InterruptionRecord> = {}): InterruptionRecord {
  return {
    type: 'interruption',
    ts_ns: 0,
    cpu: 3,
    duration_ns: 1000,
    class: 'ipi',
    kind: 'call_function_single',
    func: 'flush_tlb_func',
    victim: { pid, tid: pid, comm: 'app' },
    cause: { self: false, cpu: 0, pid: 200, tid: 200, comm: 'mapper', context: 'task' },
    isol: { state: 'active' },
    violation: false,
    chain: [],
    ...over,
  };
}

function enforcer(policyText: string, enforce = true, extra: { signaller?: InKernelSignaller } = {}) {
  const sent: [number, string][] = [];
  const e = new Enforcer(parsePolicy(policyText, 'p.yaml'), {
    enforce,
    procRoot: proc,
    selfPid: SELF,
    kill: (pid, sig) => void sent.push([pid, sig]),
    ...extra,
  });
  return { e, sent };
}

const USR1 = 'rules:\n  - name: n\n    actions:\n      - log\n      - signal: {name: SIGUSR1}\n';

describe('/proc parsing', () => {
  it('stat with spaces and parentheses in comm; PF_KTHREAD', () => {
    expect(parseProcStat('77 (a (b) c) R 1 77 77 0 -1 2129984 0 0')).toEqual({ comm: 'a (b) c', state: 'R', flags: 2129984 });
    expect(readProcFacts(2, proc)).toMatchObject({ exists: true, kthread: true, comm: 'kthreadd' });
    expect(readProcFacts(100, proc)).toEqual({ exists: true, kthread: false, comm: 'app', state: 'S', cgroup: '/user.slice' });
    expect(readProcFacts(99999, proc)).toEqual({ exists: false, kthread: false });
    expect(parseProcCgroup('1:name=systemd:/x\n0::/a/b\n')).toBe('/a/b');
  });
  it('the real kthreadd is a kernel thread', () => {
    expect(readProcFacts(2)).toMatchObject({ exists: true, kthread: true });
    expect(readProcFacts(process.pid)).toMatchObject({ exists: true, kthread: false });
  });
});

describe('Enforcer', () => {
  it('delivers, with the reason, and log records', () => {
    const { e, sent } = enforcer(USR1);
    const { evaluation, records } = e.handle(rec(100), 0);
    expect(evaluation.violation).toBe(true);
    expect(sent).toEqual([[100, 'SIGUSR1']]);
    expect(records).toEqual([
      { kind: 'log', result: 'delivered', rule: 'n', reason: expect.stringContaining("rule 'n': ipi/call_function_single") },
      { kind: 'signal', signal: 'SIGUSR1', target: 'victim', pid: 100, mode: 'user', result: 'delivered', rule: 'n', reason: expect.any(String) },
    ]);
  });

  it('dry-run by default: nothing sent, every would-be action recorded', () => {
    const sent: unknown[] = [];
    const e = new Enforcer(parsePolicy(USR1, 'p.yaml'), { procRoot: proc, selfPid: SELF, kill: (...a) => void sent.push(a) });
    expect(e.enforce).toBe(false);
    expect(e.handle(rec(100), 0).records[1].result).toBe('dry-run');
    expect(sent).toEqual([]);
  });

  it.each([
    [1, 'refused:pid-1'],
    [2, 'refused:kernel-thread'],
    [SELF, 'refused:isolwatch-itself'],
    [99999, 'ESRCH'],
  ])('refuses pid %i: %s', (pid, result) => {
    const { e, sent } = enforcer(USR1);
    expect(e.handle(rec(pid), 0).records[1]).toMatchObject({ pid, result });
    expect(sent).toEqual([]);
  });

  it('refuses tasks outside scope (checked on /proc, not only on the record), and non-task causes', () => {
    const scoped = 'scope:\n  processes:\n    - cgroup: /user.slice\nrules:\n  - name: n\n    actions:\n      - signal: {name: SIGUSR1, target: cause}\n';
    const { e, sent } = enforcer(scoped);
    expect(e.handle(rec(100, { cause: { self: false, pid: 300, tid: 300, comm: 'mapper' } }), 0).records[0].result).toBe('refused:out-of-scope');
    expect(e.handle(rec(100, { cause: { self: false, cpu: 3, context: 'hardirq' } }), 0).records[0]).toMatchObject({ result: 'refused:no-task', target: 'cause' });
    expect(e.handle(rec(100), 0).records[0]).toMatchObject({ pid: 200, result: 'delivered' });
    expect(sent).toEqual([[200, 'SIGUSR1']]);
    expect(e.handle(rec(300), 0).evaluation.violation).toBe(false); // victim outside scope: not judged at all
  });

  it('rate limit and cooldown per process, in dry-run too', () => {
    const p = 'rules:\n  - name: n\n    actions:\n      - signal: {name: SIGUSR1, rate_limit: {count: 3, window: 1s}, cooldown: 10ms}\n';
    for (const enforce of [true, false]) {
      const { e } = enforcer(p, enforce);
      const res = (t: number, pid = 100) => e.handle(rec(pid), t).records[0].result;
      const ok = enforce ? 'delivered' : 'dry-run';
      expect([res(0), res(5e6), res(10e6), res(20e6), res(30e6)]).toEqual([ok, 'rate-limited', ok, ok, 'rate-limited']);
      expect(res(30e6, 200)).toBe(ok); // another process has its own limiter
      expect(res(1.001e9)).toBe(ok); // t=0 left the window
    }
  });

  it('EPERM and ESRCH from kill(2) are recorded', () => {
    for (const code of ['EPERM', 'ESRCH']) {
      const e = new Enforcer(parsePolicy(USR1, 'p.yaml'), {
        enforce: true,
        procRoot: proc,
        selfPid: SELF,
        kill: () => {
          throw Object.assign(new Error(code), { code });
        },
      });
      expect(e.handle(rec(100), 0).records[1].result).toBe(code);
    }
  });

  it('in-kernel: arms the victim tid, reports kernel delivery, falls back to user space otherwise', () => {
    const calls: string[] = [];
    const signaller: InKernelSignaller = { arm: (t, a) => void calls.push(`arm ${t} ${a.signo} ${a.onSyscall} ${a.onFault}`), disarm: (t) => void calls.push(`disarm ${t}`) };
    const sent: [number, string][] = [];
    const e = new Enforcer(loadPolicy('policies/strict.yaml'), { enforce: true, procRoot: proc, selfPid: SELF, kill: (p, s) => void sent.push([p, s]), signaller });
    expect(e.updateTask({ pid: 100, tid: 100, comm: 'app' }, 'inactive')).toEqual({ armed: false, refused: undefined });
    expect(e.updateTask({ pid: 100, tid: 100, comm: 'app' }, 'active')).toEqual({ armed: true, signal: 'SIGKILL', rule: 'any-entry' });
    expect(e.updateTask({ pid: 100, tid: 100, comm: 'app' }, 'active').armed).toBe(true);
    expect(e.updateTask({ pid: 2, tid: 2, comm: 'kthreadd' }, 'active')).toEqual({ armed: false, refused: 'refused:kernel-thread' });
    expect(calls).toEqual(['arm 100 9 true true']);
    const own = rec(100, { class: 'syscall', kind: 'getpid', cause: { self: true }, flags: [IN_KERNEL_SIGNAL_SENT] });
    expect(e.handle(own, 0).records[1]).toMatchObject({ kind: 'signal', signal: 'SIGKILL', mode: 'in-kernel', result: 'delivered', pid: 100 });
    expect(sent).toEqual([]);
    // the kernel's SIGKILL is on its way: a later external hit of the same process sends nothing more
    expect(e.handle(rec(100), 1).records[1]).toMatchObject({ mode: 'user', result: 'pending' });
    // An external IPI on another task: the kernel side did not signal; user space does, once.
    expect(e.handle(rec(300), 2).records[1]).toMatchObject({ mode: 'user', result: 'delivered', pid: 300 });
    expect(e.handle(rec(300), 3).records[1]).toMatchObject({ mode: 'user', result: 'pending' });
    expect(sent).toEqual([[300, 'SIGKILL']]);
    expect(e.handle(rec(300), 4).records[2]).toMatchObject({ kind: 'fail', result: 'delivered' });
    e.close();
    e.close();
    expect(calls).toEqual(['arm 100 9 true true', 'arm 300 9 true true', 'disarm 100', 'disarm 300']); // 300 armed by its first record
    expect(e.armedTasks().size).toBe(0);
  });

  it('in-kernel: the kernel side held it back (cooldown / rate limit) -> rate-limited, nothing from user space', () => {
    const calls: string[] = [];
    const p = 'scope:\n  processes: [{comm: app}]\nrules:\n  - name: n\n    match: {class: syscall, self: true}\n    actions:\n      - signal: {name: SIGUSR1, mode: in-kernel, cooldown: 5ms, rate_limit: {count: 2, window: 1s}}\n';
    const sent: [number, string][] = [];
    const e = new Enforcer(parsePolicy(p, 'n.yaml'), {
      enforce: true, procRoot: proc, selfPid: SELF, kill: (pid, sig) => void sent.push([pid, sig]),
      signaller: { arm: (t, a) => void calls.push(JSON.stringify([t, a])), disarm: (t) => void calls.push(`disarm ${t}`) },
    });
    // comm '' is read from /proc (app): in scope
    expect(e.updateTask({ pid: 100, tid: 100, comm: '' }, 'declared')).toEqual({ armed: true, signal: 'SIGUSR1', rule: 'n' });
    expect(calls).toEqual([JSON.stringify([100, { signo: 10, onSyscall: true, onFault: false, cooldownNs: 5e6, rateLimit: { count: 2, windowNs: 1e9 } }])]);
    const own = (flags: string[]) => rec(100, { class: 'syscall', kind: 'getppid', cause: { self: true }, isol: { state: 'declared' }, flags });
    expect(e.handle(own([IN_KERNEL_SIGNAL_SENT]), 0).records[0]).toMatchObject({ mode: 'in-kernel', result: 'delivered' });
    expect(e.handle(own([IN_KERNEL_SIGNAL_HELD]), 1e6).records[0]).toMatchObject({ mode: 'in-kernel', result: 'rate-limited' });
    // not signalled in the kernel: user space, under the same limits, which saw the kernel's send (cooldown 5 ms)
    expect(e.handle(own([]), 2e6).records[0]).toMatchObject({ mode: 'user', result: 'rate-limited' });
    expect(e.handle(own([]), 10e6).records[0]).toMatchObject({ mode: 'user', result: 'delivered' });
    expect(e.handle(own([]), 20e6).records[0]).toMatchObject({ mode: 'user', result: 'rate-limited' }); // 2 per window used
    expect(sent).toEqual([[100, 'SIGUSR1']]);
  });

  it('in-kernel SIGKILL already sent by the kernel is reported delivered even when the process is gone', () => {
    fakeTask(700, 'app');
    const e = new Enforcer(loadPolicy('policies/strict.yaml'), { enforce: true, procRoot: proc, selfPid: SELF, kill: () => undefined, signaller: { arm: () => undefined, disarm: () => undefined } });
    expect(e.updateTask({ pid: 700, tid: 700, comm: 'app' }, 'declared').armed).toBe(true);
    rmSync(join(proc, '700'), { recursive: true });
    const own = rec(700, { class: 'syscall', kind: 'getppid', cause: { self: true }, isol: { state: 'declared' }, flags: [IN_KERNEL_SIGNAL_SENT] });
    expect(e.handle(own, 0).records[1]).toMatchObject({ mode: 'in-kernel', result: 'delivered', signal: 'SIGKILL' });
    // without the kernel's flag the same record is ESRCH: nothing left to signal
    expect(e.handle({ ...own, flags: [] }, 1).records[1]).toMatchObject({ result: 'ESRCH' });
    expect(e.sweep()).toEqual([700]);
    expect(e.armedTasks().size).toBe(0);
  });

  it("a standard signal still pending in the process is not sent again (it would merge): result 'pending'", () => {
    fakeTask(800, 'app');
    const status = (shd: string) => writeFileSync(join(proc, '800', 'status'), `Name:\tapp\nSigPnd:\t0000000000000000\nShdPnd:\t${shd}\n`);
    const { e, sent } = enforcer(USR1);
    status('0000000000000200'); // bit 10 - 1: SIGUSR1 pending
    expect(e.handle(rec(800), 0).records[1]).toMatchObject({ result: 'pending', mode: 'user' });
    status('0000000000004000'); // SIGTERM pending only
    expect(e.handle(rec(800), 1).records[1]).toMatchObject({ result: 'delivered' });
    expect(sent).toEqual([[800, 'SIGUSR1']]);
  });

  it("limitClock 'wall': user-space limits run on delivery time; dry-run in-kernel own entries on the record's (kernel) time", () => {
    let wall = 0;
    const p = (mode: string) => `rules:\n  - name: n\n    actions:\n      - signal: {name: SIGUSR1, mode: ${mode}, cooldown: 50ms}\n`;
    const make = (mode: string, enforce: boolean) =>
      new Enforcer(parsePolicy(p(mode), 'w.yaml'), { enforce, procRoot: proc, selfPid: SELF, kill: () => undefined, limitClock: 'wall', now: () => wall });
    const own = (ts: number) => rec(100, { ts_ns: ts, class: 'syscall', kind: 'getppid', cause: { self: true }, isol: { state: 'declared' } });
    // two records 100 ms apart in kernel time, drained in one batch (same wall time)
    const user = make('user', true);
    expect([user.handle(own(0), 0).records[0].result, user.handle(own(100e6), 100e6).records[0].result]).toEqual(['delivered', 'rate-limited']);
    const dry = make('in-kernel', false);
    expect([dry.handle(own(0), 0).records[0].result, dry.handle(own(100e6), 100e6).records[0].result]).toEqual(['dry-run', 'dry-run']);
    wall = 60e6; // a later batch: the cooldown has passed on the wall clock
    expect(user.handle(own(200e6), 200e6).records[0].result).toBe('delivered');
  });

  it('in-kernel arming needs every watched CPU in scope.cpus', () => {
    const p = 'scope:\n  cpus: "3"\nrules:\n  - name: k\n    actions:\n      - signal: {name: SIGKILL, mode: in-kernel}\n';
    const make = (watchedCpus?: number[]) => new Enforcer(parsePolicy(p, 'k.yaml'), { enforce: true, procRoot: proc, selfPid: SELF, watchedCpus, signaller: { arm: () => undefined, disarm: () => undefined } });
    expect(make([3]).updateTask({ pid: 100, tid: 100, comm: 'app' }, 'declared').armed).toBe(true);
    expect(make([2, 3]).updateTask({ pid: 100, tid: 100, comm: 'app' }, 'declared').armed).toBe(false);
    expect(make().updateTask({ pid: 100, tid: 100, comm: 'app' }, 'declared').armed).toBe(false);
  });

  it('in-kernel arming is off in dry-run', () => {
    const calls: string[] = [];
    const e = new Enforcer(loadPolicy('policies/strict.yaml'), { procRoot: proc, selfPid: SELF, signaller: { arm: () => void calls.push('arm'), disarm: () => void calls.push('disarm') } });
    expect(e.updateTask({ pid: 100, tid: 100, comm: 'app' }, 'active').armed).toBe(false);
    expect(e.handle(rec(100), 0).records[1]).toMatchObject({ result: 'dry-run', mode: 'in-kernel' });
    expect(calls).toEqual([]);
  });
});

describe('limits (the rule the BPF side keeps too)', () => {
  it('cooldown and fixed windows that start at the first signal after the previous window', () => {
    const st = newLimitState();
    const spec = { cooldownNs: 10, rateLimit: { count: 2, windowNs: 100 } };
    const at = (t: number) => tryTake(st, spec, t);
    expect([at(0), at(5), at(10), at(20), at(99)]).toEqual([true, false, true, false, false]);
    expect([at(100), at(105), at(110), at(120)]).toEqual([true, false, true, false]);
    expect([at(250), at(260)]).toEqual([true, true]); // the window restarted at 250, not at 200
  });
});
