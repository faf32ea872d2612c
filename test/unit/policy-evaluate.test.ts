// Pure evaluation: scope, rule order, isolation states, budgets over windows, planned actions.
import { describe, expect, it } from 'vitest';
import { createPolicyState, evaluate, inKernelSignalFor, loadPolicy, parsePolicy } from '../../src/policy/index.js';
import type { InterruptionRecord } from '../../src/types.js';

function rec(over: Partial<InterruptionRecord> = {}): InterruptionRecord {
  return {
    type: 'interruption',
    ts_ns: 1_000,
    cpu: 3,
    duration_ns: 2_000,
    class: 'ipi',
    kind: 'call_function_single',
    func: 'flush_tlb_func',
    victim: { pid: 100, tid: 101, comm: 'app' },
    cause: { self: false, cpu: 0, pid: 200, tid: 200, comm: 'mapper', context: 'task', callsite: 'flush_tlb_mm_range+0x1' },
    isol: { state: 'active' },
    violation: false,
    chain: [],
    ...over,
  };
}
const syscall = (over: Partial<InterruptionRecord> = {}) =>
  rec({ class: 'syscall', kind: 'read', func: undefined, cause: { self: true, context: 'self' }, ...over });

describe('isolation state', () => {
  const p = loadPolicy('policies/observe.yaml');
  it.each([
    ['active', true],
    ['declared', true],
    ['inactive', false],
    ['none', false],
  ] as const)('observe: state %s -> violation %s', (state, v) => {
    const e = evaluate(p, rec({ isol: { state } }), createPolicyState(), 0);
    expect(e.violation).toBe(v);
    expect(e.actions.map((a) => a.kind)).toEqual(v ? ['log'] : []);
  });
  it('a rule may opt into other states', () => {
    const q = parsePolicy('rules:\n  - name: all\n    match: {isol: [inactive, none]}\n    actions: [log]\n', 'q.yaml');
    expect(evaluate(q, rec({ isol: { state: 'none' } }), createPolicyState(), 0).violation).toBe(true);
    expect(evaluate(q, rec({ isol: { state: 'active' } }), createPolicyState(), 0).violation).toBe(false);
  });
  it('interruptions isolwatch caused itself never count', () => {
    expect(evaluate(p, rec({ cause: { self: false, origin: 'isolwatch' } }), createPolicyState(), 0).violation).toBe(false);
  });
});

describe('matchers', () => {
  const p = parsePolicy(
    `rules:
  - name: tlb-from-cpu0
    match: { class: ipi, func: "flush_tlb_*", sender: { cpu: "0", comm: "map*", context: task } }
    actions: [log]
  - name: timers
    match: { class: [timer, softirq], kind: [TIMER, local_timer] }
    actions: [log]
  - name: own
    match: { self: true }
    actions: [log]
  - name: external
    match: { self: false }
    actions: [log]
`,
    'm.yaml',
  );
  const rule = (r: InterruptionRecord) => evaluate(p, r, createPolicyState(), 0).rule;
  it('first matching rule owns the interruption', () => {
    expect(rule(rec())).toBe('tlb-from-cpu0');
    expect(rule(rec({ cause: { ...rec().cause, cpu: 1 } }))).toBe('external');
    expect(rule(rec({ cause: { ...rec().cause, comm: 'ksmd' } }))).toBe('external');
    expect(rule(rec({ cause: { self: false, cpu: 0, context: 'softirq' } }))).toBe('external');
    expect(rule(rec({ func: 'ipi_mb' }))).toBe('external');
    expect(rule(rec({ class: 'softirq', kind: 'TIMER', func: undefined }))).toBe('timers');
    expect(rule(rec({ class: 'softirq', kind: 'NET_RX', func: undefined }))).toBe('external');
    expect(rule(syscall())).toBe('own');
  });
});

describe('scope', () => {
  const p = parsePolicy(
    'scope:\n  cpus: "2-3"\n  processes:\n    - comm: "ap?"\n    - pid: 7\n    - cgroup: /rt.slice\nrules:\n  - name: all\n    actions: [log]\n',
    's.yaml',
  );
  const cg = new Map([[300, '/rt.slice/job.scope'], [301, '/rt.slicex']]);
  const st = () => createPolicyState({ cgroupOf: (pid) => cg.get(pid) });
  it.each([
    ['comm glob', rec(), true],
    ['cpu outside', rec({ cpu: 5 }), false],
    ['comm mismatch', rec({ victim: { pid: 8, tid: 8, comm: 'other' } }), false],
    ['pid', rec({ victim: { pid: 7, tid: 9, comm: 'other' } }), true],
    ['cgroup below', rec({ victim: { pid: 300, tid: 300, comm: 'x' } }), true],
    ['cgroup prefix is not a parent', rec({ victim: { pid: 301, tid: 301, comm: 'x' } }), false],
  ])('%s', (_n, r, v) => {
    expect(evaluate(p, r, st(), 0).violation).toBe(v);
  });
});

describe('budgets', () => {
  const p = parsePolicy(
    `rules:
  - name: b
    budget: { count: 2, stolen: 10us, window: 1s }
    actions: [log, fail]
`,
    'b.yaml',
  );
  it('count per sliding window, per task', () => {
    const st = createPolicyState();
    const v = (t: number, tid = 101) => evaluate(p, rec({ duration_ns: 100, victim: { pid: 100, tid, comm: 'app' } }), st, t).violation;
    expect([v(0), v(1e8), v(2e8)]).toEqual([false, false, true]);
    expect(v(2e8, 555)).toBe(false); // another task has its own budget
    expect(v(1.05e9)).toBe(true); // 0 expired; 1e8, 2e8, 1.05e9 in window
    expect(v(1.15e9)).toBe(true); // 1e8 expired; 2e8, 1.05e9, 1.15e9
    expect(v(2.5e9)).toBe(false); // all expired
  });
  it('stolen time', () => {
    const st = createPolicyState();
    const e1 = evaluate(p, rec({ duration_ns: 6_000 }), st, 0);
    const e2 = evaluate(p, rec({ duration_ns: 6_000 }), st, 1);
    expect([e1.violation, e2.violation]).toEqual([false, true]);
    expect(e2.reason).toContain('budget exceeded: stolen 12us > 10us per 1s');
    expect(e2.actions.map((a) => a.kind)).toEqual(['log', 'fail']);
  });
  it('no budget: every match; no window: the whole run; per cpu', () => {
    const q = parsePolicy('rules:\n  - name: r\n    budget: {count: 1, per: cpu}\n    actions: [log]\n', 'q.yaml');
    const st = createPolicyState();
    const v = (cpu: number, t: number) => evaluate(q, rec({ cpu, victim: { pid: t, tid: t, comm: 'a' } }), st, t * 1e12).violation;
    expect([v(1, 1), v(1, 2), v(2, 3), v(1, 4)]).toEqual([false, true, false, true]);
  });
});

describe('planned actions', () => {
  it('strict: SIGKILL in-kernel to the victim, with the reason', () => {
    const p = loadPolicy('policies/strict.yaml');
    const e = evaluate(p, syscall(), createPolicyState(), 5);
    expect(e).toMatchObject({ violation: true, rule: 'any-entry' });
    const sig = e.actions.find((a) => a.kind === 'signal')!;
    expect(sig).toMatchObject({ signal: 'SIGKILL', signo: 9, target: 'victim', mode: 'in-kernel', pid: 100, tid: 101, comm: 'app' });
    expect(sig.reason).toBe("rule 'any-entry': syscall/read on CPU 3 hit app[100/101] while isolation active, caused by itself; budget exceeded: count 1 > 0 for the run");
  });
  it('target cause resolves to the sender, or to nothing for non-task causes', () => {
    const p = parsePolicy('rules:\n  - name: r\n    actions:\n      - signal: {name: SIGUSR2, target: cause}\n', 'c.yaml');
    const a = evaluate(p, rec(), createPolicyState(), 0).actions[0];
    expect(a).toMatchObject({ pid: 200, tid: 200, comm: 'mapper', target: 'cause' });
    expect(a.reason).toContain('sent by mapper[200] on CPU 0');
    const b = evaluate(p, rec({ cause: { self: false, cpu: 3, context: 'hardirq' } }), createPolicyState(), 0).actions[0];
    expect(b.pid).toBeUndefined();
    const own = evaluate(p, syscall(), createPolicyState(), 0).actions[0];
    expect(own.pid).toBe(100); // a self-caused entry's cause is the victim
  });
  it('ci-zero: external always, own syscalls only when isolation is declared, faults always', () => {
    const p = loadPolicy('policies/ci-zero.yaml');
    const ev = (r: InterruptionRecord) => evaluate(p, r, createPolicyState(), 0);
    expect(ev(rec())).toMatchObject({ violation: true, rule: 'external' });
    expect(ev(syscall({ isol: { state: 'active' } })).violation).toBe(false);
    expect(ev(syscall({ isol: { state: 'declared' } }))).toMatchObject({ violation: true, rule: 'own-syscall-declared' });
    expect(ev(syscall({ class: 'page_fault', kind: 'user', isol: { state: 'active' } }))).toMatchObject({ violation: true, rule: 'own-faults' });
    expect(ev(rec({ isol: { state: 'inactive' } })).violation).toBe(false);
    expect(ev(rec()).actions.map((a) => a.kind)).toEqual(['log', 'fail']);
  });
  it('inKernelSignalFor: only for tasks in scope, states the rule covers', () => {
    const p = loadPolicy('policies/strict.yaml');
    expect(inKernelSignalFor(p, { pid: 5, comm: 'x' }, 'active')).toEqual({ rule: 'any-entry', actionIndex: 1, signal: 'SIGKILL', signo: 9, onSyscall: true, onFault: true });
    expect(inKernelSignalFor(p, { pid: 5, comm: 'x' }, 'inactive')).toBeUndefined();
    expect(inKernelSignalFor(loadPolicy('policies/notify.yaml'), { pid: 5, comm: 'x' }, 'active')).toBeUndefined();
  });
  it('inKernelSignalFor: arms only what the kernel can decide exactly as evaluate() would', () => {
    const plan = (rules: string) => inKernelSignalFor(parsePolicy(`rules:\n${rules}`, 'k.yaml'), { pid: 5, comm: 'x' }, 'declared');
    const sig = '    actions:\n      - signal: { name: SIGUSR1, mode: in-kernel, cooldown: 2ms, rate_limit: { count: 5, window: 1s } }\n';
    // class syscall only: syscalls armed, faults not; limits passed through
    expect(plan(`  - name: sys\n    match: { class: syscall, self: true }\n${sig}`)).toEqual({
      rule: 'sys', actionIndex: 0, signal: 'SIGUSR1', signo: 10, onSyscall: true, onFault: false, cooldownNs: 2e6, rateLimit: { count: 5, windowNs: 1e9 },
    });
    // a kind matcher: only user space can tell which syscalls it owns
    expect(plan(`  - name: some\n    match: { class: syscall, kind: getppid }\n${sig}`)).toBeUndefined();
    // a budget with room: the first entries are not violations
    expect(plan(`  - name: b\n    budget: { count: 3 }\n${sig}`)).toBeUndefined();
    // external-only rules never own the task's own entries; the next rule does
    expect(plan(`  - name: ext\n    match: { self: false }\n    actions: [log]\n  - name: own\n${sig}`)).toMatchObject({ rule: 'own', onSyscall: true, onFault: true });
    // an earlier rule that owns syscalls without an in-kernel signal keeps them; faults go to the later rule
    expect(plan(`  - name: logsys\n    match: { class: syscall }\n    actions: [log]\n  - name: all\n${sig}`)).toMatchObject({ rule: 'all', onSyscall: false, onFault: true });
    // a user-mode signal is not armed
    expect(plan(`  - name: u\n    actions:\n      - signal: { name: SIGUSR1 }\n`)).toBeUndefined();
  });
});
