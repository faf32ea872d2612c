// Policy parsing: strict schema, positioned errors (file:line:col + key path), shipped policies.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPolicy, parsePolicy, PolicyError } from '../../src/policy/index.js';

const FIX = 'test/fixtures/policies';

function fail(path: string): PolicyError {
  try {
    loadPolicy(path);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return e as PolicyError;
  }
  throw new Error(`${path} was accepted`);
}

describe('malformed policies report file:line:col and the key path', () => {
  it('unknown key, with a suggestion', () => {
    const e = fail(join(FIX, 'unknown-key.yaml'));
    expect([e.file, e.line, e.col, e.path]).toEqual([join(FIX, 'unknown-key.yaml'), 6, 7, 'rules[0].match.clas']);
    expect(e.message).toBe(
      `${FIX}/unknown-key.yaml:6:7: rules[0].match.clas: unknown key 'clas' (expected one of class, kind, func, self, sender, isol); did you mean 'class'? Rename it or remove it.`,
    );
    expect(e.exitCode).toBe(2);
  });

  it('bad class', () => {
    const e = fail(join(FIX, 'bad-class.yaml'));
    expect([e.line, e.col, e.path]).toEqual([6, 14, 'rules[0].match.class']);
    expect(e.message).toContain(`${FIX}/bad-class.yaml:6:14: rules[0].match.class: unknown class 'ipis' (expected one of syscall, page_fault, exception,`);
    expect(e.message).toContain("did you mean 'ipi'?");
  });

  it('bad duration (no unit)', () => {
    const e = fail(join(FIX, 'bad-duration.yaml'));
    expect([e.line, e.col, e.path]).toEqual([7, 15, 'rules[0].budget.stolen']);
    expect(e.message).toContain("'50' needs a unit (e.g. 50us");
  });

  it('bad signal name', () => {
    const e = fail(join(FIX, 'bad-signal.yaml'));
    expect([e.line, e.col, e.path]).toEqual([8, 17, 'rules[0].actions[1].signal.name']);
    expect(e.message).toContain("unknown signal 'SIGUSR3'");
  });

  it('YAML syntax error', () => {
    const e = fail(join(FIX, 'syntax-error.yaml'));
    expect(e.path).toBe('');
    expect(e.line).toBe(6);
    expect(e.col).toBe(3);
    expect(e.message).toMatch(/^test\/fixtures\/policies\/syntax-error\.yaml:6:3: YAML syntax error: .*fix the YAML/);
  });

  it('in-kernel signals cannot target the cause', () => {
    const e = fail(join(FIX, 'in-kernel-cause.yaml'));
    expect([e.line, e.col, e.path]).toEqual([7, 55, 'rules[0].actions[0].signal.mode']);
    expect(e.message).toContain('use target: victim');
  });

  it('in-kernel signals other than SIGKILL need a cooldown or rate limit', () => {
    const text = 'rules:\n  - name: r\n    actions:\n      - signal: { name: SIGUSR1, mode: in-kernel }\n';
    let err: PolicyError | undefined;
    try {
      parsePolicy(text, 'loop.yaml');
    } catch (e) {
      err = e as PolicyError;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect([err!.line, err!.col, err!.path]).toEqual([4, 40, 'rules[0].actions[0].signal.mode']);
    expect(err!.message).toContain("without cooldown or rate_limit would be sent again at every kernel entry, including the handler's own rt_sigreturn");
    expect(err!.exitCode).toBe(2);
    expect(parsePolicy(text.replace('in-kernel }', 'in-kernel, cooldown: 1ms }'), 'ok.yaml').rules[0].actions[0]).toMatchObject({ mode: 'in-kernel', cooldownNs: 1e6 });
    expect(parsePolicy(text.replace('SIGUSR1', 'SIGKILL'), 'kill.yaml').rules[0].actions[0]).toMatchObject({ mode: 'in-kernel', signo: 9 });
  });

  it('collects every problem, first one in the message', () => {
    const e = fail(join(FIX, 'many-errors.yaml'));
    const got = e.issues.map((i) => `${i.line}:${i.col} ${i.path}`);
    expect(got).toEqual([
      '1:10 version',
      '3:9 scope.cpus',
      '5:12 scope.processes[0].pid',
      '10:18 rules[0].match.sender.context',
      '12:15 rules[0].budget.window',
      '11:5 rules[0].budget',
      '14:9 rules[0].actions[0]',
      '16:14 rules[1].actions',
    ]);
    expect(e.report().split('\n')).toHaveLength(got.length);
    expect(e.issues[3].message).toContain("unknown sender context 'irq' (expected one of task, hardirq, softirq, nmi, self, timer_early, unknown)");
  });

  it('duplicate rule names, duplicate keys, wrong shapes, empty and unreadable files', () => {
    expect(() => parsePolicy('rules:\n  - name: a\n    actions: [log]\n  - name: a\n    actions: [log]\n', 'd.yaml')).toThrow(/d\.yaml:4:5: rules\[1\]\.name: duplicate rule name 'a'/);
    expect(() => parsePolicy('rules: []\nrules: []\n', 'k.yaml')).toThrow(/k\.yaml:2:1: YAML syntax error: Map keys must be unique/);
    expect(() => parsePolicy('- a\n', 's.yaml')).toThrow(/s\.yaml:1:1: expected a mapping \(the policy document\)/);
    expect(() => parsePolicy('', 'e.yaml')).toThrow(/e\.yaml:1:1: the policy file is empty/);
    expect(() => parsePolicy('name: x\n', 'r.yaml')).toThrow(/r\.yaml:1:1: missing required key 'rules'/);
    expect(() => loadPolicy('/nonexistent/p.yaml')).toThrow(/cannot read the policy file \(ENOENT\)/);
    expect(() => parsePolicy('rules:\n  - name: a\n    actions: [signal]\n', 'x.yaml')).toThrow(/x\.yaml:3:15: rules\[0\]\.actions\[0\]: 'signal' needs settings/);
    expect(() => parsePolicy('rules:\n  - name: a\n    actions:\n      - signal: {name: usr1}\n', 'y.yaml')).toThrow(/did you mean 'SIGUSR1'\?/);
    expect(() => parsePolicy('rules:\n  - name: a\n    match: {self: true, sender: {comm: x}}\n    actions: [log]\n', 'z.yaml')).toThrow(/'sender' never matches with 'self: true'/);
    expect(() => parsePolicy('rules:\n  - name: a\n    actions: [log]\n    budget: {count: 1, window: 1 sec}\n', 'w.yaml')).toThrow(/w\.yaml:4:32: rules\[0\]\.budget\.window: unknown unit 'sec'/);
  });
});

describe('valid policies', () => {
  it('parses every feature into typed values', () => {
    const p = parsePolicy(
      `version: 1
name: full
scope:
  cpus: "2-3,6"
  processes:
    - pid: 42
    - comm: "dpdk-*"
    - cgroup: /isolated.slice/
rules:
  - name: tlb
    match:
      class: [ipi]
      kind: call_function*
      func: [flush_tlb_func]
      sender: { comm: "kworker/*", cpu: "0-1", context: [task, softirq] }
      isol: any
    budget: { count: 2, stolen: 1.5us, window: 100ms, per: cpu }
    actions:
      - log
      - signal: { name: SIGUSR2, target: cause, rate_limit: { count: 3, window: 1s }, cooldown: 5ms }
      - fail: { message: no shootdowns }
`,
      'full.yaml',
    );
    expect(p.name).toBe('full');
    expect(p.scope).toEqual({ cpus: [2, 3, 6], processes: [{ pid: 42 }, { comm: 'dpdk-*' }, { cgroup: '/isolated.slice' }] });
    const r = p.rules[0];
    expect(r.match).toEqual({
      class: ['ipi'],
      kind: ['call_function*'],
      func: ['flush_tlb_func'],
      sender: { comm: ['kworker/*'], cpus: [0, 1], context: ['task', 'softirq'] },
      isol: ['active', 'declared', 'inactive', 'none'],
    });
    expect(r.budget).toEqual({ count: 2, stolenNs: 1500, windowNs: 100e6, per: 'cpu' });
    expect(r.actions).toEqual([
      { kind: 'log' },
      { kind: 'signal', signal: 'SIGUSR2', signo: 12, target: 'cause', mode: 'user', rateLimit: { count: 3, windowNs: 1e9 }, cooldownNs: 5e6 },
      { kind: 'fail', message: 'no shootdowns' },
    ]);
  });

  it('defaults: name from the file, isol active+declared, target victim, mode user', () => {
    const p = parsePolicy('rules:\n  - name: a\n    actions:\n      - signal: {name: SIGTERM}\n', 'dir/mine.yml');
    expect(p.name).toBe('mine');
    expect(p.scope).toEqual({ cpus: undefined, processes: [] });
    expect(p.rules[0].match).toEqual({ isol: ['active', 'declared'] });
    expect(p.rules[0].actions[0]).toMatchObject({ target: 'victim', mode: 'user', signo: 15 });
  });

  it.each(['observe', 'strict', 'ci-zero', 'notify'])('shipped policies/%s.yaml validates', (name) => {
    const p = loadPolicy(`policies/${name}.yaml`);
    expect(p.name).toBe(name);
    expect(p.rules.length).toBeGreaterThan(0);
  });
});
