// Enforcement with real processes: test/workloads/sigcount counts the SIGUSR1s it gets.
// No BPF needed: the Enforcer is fed synthetic interruptions naming real pids.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { Enforcer } from '../../src/enforce/index.js';
import { loadPolicy, parsePolicy } from '../../src/policy/index.js';
import type { InterruptionRecord } from '../../src/types.js';
import { BIN, Sigcount } from './harness.js';

beforeAll(() => {
  if (!existsSync(BIN('sigcount'))) throw new Error(`${BIN('sigcount')} missing: run npm run build (it builds the workloads)`);
});
afterEach(Sigcount.killStarted);

/** sigcount in MODE (sleep or spin), lines waited for up to 5 s. */
const startVictim = (mode: 'sleep' | 'spin' = 'sleep') => Sigcount.start([mode], { waitMs: 5000 });

function interruption(victimPid: number, over: Partial<InterruptionRecord> = {}): InterruptionRecord {
  return {
    type: 'interruption',
    ts_ns: 0,
    cpu: 0,
    duration_ns: 3000,
    class: 'ipi',
    kind: 'call_function_single',
    func: 'flush_tlb_func',
    victim: { pid: victimPid, tid: victimPid, comm: 'sigcount' },
    cause: { self: false, cpu: 1, context: 'softirq' },
    isol: { state: 'declared', source: 'declared' },
    violation: false,
    chain: [],
    ...over,
  };
}

const NOTIFY3 = `scope:
  processes:
    - comm: sigcount
rules:
  - name: notify
    actions:
      - log
      - signal: { name: SIGUSR1, target: victim, mode: user, rate_limit: { count: 3, window: 1s } }
`;

/** Feeds K interruptions 1 ms apart; waits for each delivered SIGUSR1 to be counted (standard signals coalesce). */
async function feed(e: Enforcer, v: Sigcount, k: number, stepNs = 1e6) {
  const results: string[] = [];
  let delivered = 0;
  for (let i = 0; i < k; i++) {
    const r = e.handle(interruption(v.pid, { ts_ns: i * stepNs }), i * stepNs).records.find((x) => x.kind === 'signal')!;
    results.push(r.result);
    if (r.result === 'delivered') {
      delivered++;
      await v.waitFor((l) => l === `usr1 ${delivered}`);
    }
  }
  return results;
}

const count = (xs: string[], s: string) => xs.filter((x) => x === s).length;

describe('Enforcer with real processes', () => {
  it('notify-like policy: K=10, rate limit 3 -> received 3, 7 rate-limited records', async () => {
    const v = await startVictim('spin');
    const e = new Enforcer(parsePolicy(NOTIFY3, 'notify3.yaml'), { enforce: true });
    const results = await feed(e, v, 10);
    expect(count(results, 'delivered')).toBe(3);
    expect(count(results, 'rate-limited')).toBe(7);
    expect(results.slice(0, 3)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(await v.received()).toBe(3);
  });

  it('shipped notify.yaml: 10 per second and 10 ms cooldown', async () => {
    const v = await startVictim();
    const e = new Enforcer(loadPolicy('policies/notify.yaml'), { enforce: true });
    const results = await feed(e, v, 25, 5e6); // one every 5 ms: the cooldown drops every other one, the limit stops at 10
    expect(count(results, 'delivered')).toBe(10);
    expect(count(results, 'rate-limited')).toBe(15);
    expect(await v.received()).toBe(10);
  });

  it('dry-run sends nothing', async () => {
    const v = await startVictim();
    const e = new Enforcer(parsePolicy(NOTIFY3, 'notify3.yaml'));
    const results = await feed(e, v, 10);
    expect(count(results, 'dry-run')).toBe(3);
    expect(count(results, 'rate-limited')).toBe(7);
    await new Promise((r) => setTimeout(r, 100));
    expect(await v.received()).toBe(0);
  });

  it('strict.yaml kills the victim with SIGKILL and says why', async () => {
    const v = await startVictim('spin');
    const e = new Enforcer(loadPolicy('policies/strict.yaml'), { enforce: true });
    const { evaluation, records } = e.handle(
      interruption(v.pid, { class: 'syscall', kind: 'getppid', func: undefined, cause: { self: true, context: 'self' }, isol: { state: 'active', source: 'kernel' } }),
      0,
    );
    expect(evaluation).toMatchObject({ violation: true, rule: 'any-entry' });
    const sig = records.find((r) => r.kind === 'signal')!;
    // No BPF signaller here: the in-kernel action falls back to user space.
    expect(sig).toMatchObject({ kind: 'signal', signal: 'SIGKILL', target: 'victim', pid: v.pid, mode: 'user', result: 'delivered', rule: 'any-entry' });
    expect(sig.reason).toContain(`syscall/getppid on CPU 0 hit sigcount[${v.pid}] while isolation active, caused by itself`);
    expect(records.map((r) => r.kind)).toEqual(['log', 'signal', 'fail']);
    expect(await v.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('target cause signals the sender process, not the victim', async () => {
    const victim = await startVictim();
    const sender = await startVictim();
    const policy = parsePolicy(
      `scope:
  processes:
    - comm: sigcount
rules:
  - name: blame
    match: { class: ipi, self: false }
    actions:
      - signal: { name: SIGUSR1, target: cause }
`,
      'blame.yaml',
    );
    const e = new Enforcer(policy, { enforce: true });
    const r = e.handle(interruption(victim.pid, { cause: { self: false, cpu: 1, pid: sender.pid, tid: sender.pid, comm: 'sigcount', context: 'task', callsite: 'flush_tlb_mm_range+0x1' } }), 0).records[0];
    expect(r).toMatchObject({ target: 'cause', pid: sender.pid, result: 'delivered' });
    expect(r.reason).toContain(`sent by sigcount[${sender.pid}] on CPU 1`);
    await sender.waitFor((l) => l === 'usr1 1');
    expect(await sender.received()).toBe(1);
    expect(await victim.received()).toBe(0);
  });

  it('refuses PID 1, a kernel thread (kthreadd), isolwatch itself, and tasks outside scope', async () => {
    const v = await startVictim();
    const kills: number[] = [];
    const guard = (pid: number) => {
      kills.push(pid);
      throw new Error(`must not signal ${pid}`);
    };
    const any = 'rules:\n  - name: r\n    match: {isol: any}\n    actions:\n      - signal: {name: SIGUSR1}\n';
    const e = new Enforcer(parsePolicy(any, 'any.yaml'), { enforce: true, kill: guard });
    const result = (pid: number) => e.handle(interruption(pid), 0).records[0].result;
    expect(result(1)).toBe('refused:pid-1');
    expect(result(2)).toBe('refused:kernel-thread');
    expect(result(process.pid)).toBe('refused:isolwatch-itself');
    expect(kills).toEqual([]);

    const other = new Enforcer(parsePolicy(any.replace('rules:', 'scope:\n  processes:\n    - comm: "not-sigcount*"\nrules:'), 'o.yaml'), { enforce: true });
    // The record names the victim "sigcount*" but /proc decides: fake a record comm that matches the scope.
    const forged = interruption(v.pid, { victim: { pid: v.pid, tid: v.pid, comm: 'not-sigcount' } });
    expect(other.handle(forged, 0).records[0].result).toBe('refused:out-of-scope');
    expect(await v.received()).toBe(0);
  });

  it('a process that is gone is ESRCH', async () => {
    const v = await startVictim();
    await v.received();
    const e = new Enforcer(parsePolicy(NOTIFY3, 'n.yaml'), { enforce: true });
    expect(e.handle(interruption(v.pid), 0).records[1].result).toBe('ESRCH');
  });
});
