// Enforcement end to end through the CLI (real BPF, real processes, real
// signals): shipped policies on a victim pinned to CPU 1, dry-run vs
// --enforce, strict killing and saying why, a cause in another process, and
// exit codes (DESIGN.md: 0 clean, 1 failed, 2 usage/configuration).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ActionRecord, InterruptionRecord, OutputRecord, SummaryRecord } from '../../src/types.js';
import { BIN, CLI, interruptions, requireRoot, Sigcount, startWatch } from './harness.js';
import { scratchDir } from '../helpers/scratch.js';

const dir = scratchDir('iw-enforce-cli-');
beforeAll(requireRoot);

afterEach(Sigcount.killStarted);

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

const signalActions = (recs: InterruptionRecord[]): ActionRecord[] => recs.flatMap((r) => (r.actions ?? []).filter((a) => a.kind === 'signal'));
const count = (as: ActionRecord[], result: string) => as.filter((a) => a.result === result).length;

describe('policies through the CLI', () => {
  it('notify.yaml --enforce: the victim counts exactly the SIGUSR1s reported delivered; the rest are rate-limited', async () => {
    const v = await Sigcount.start(['spin'], { cpu: 1 });
    const w = startWatch(['--pid', String(v.pid), '--cpus', '1', '--policy', 'policies/notify.yaml', '--enforce', '--duration', '2']);
    await w.ready;
    const code = await new Promise<number | null>((r) => w.proc.on('exit', r));
    expect(code, 'notify has no fail action: exit 0').toBe(0);
    await new Promise((r) => setImmediate(r));
    const mine = interruptions(w.records).filter((r) => r.victim.pid === v.pid && r.violation);
    const sigs = signalActions(mine);
    expect(sigs.length).toBe(mine.length); // one signal action per violation, each with a result
    for (const r of mine) expect(r.actions?.map((a) => a.kind)).toEqual(['log', 'signal']);
    for (const a of sigs) expect(a).toMatchObject({ signal: 'SIGUSR1', target: 'victim', pid: v.pid, rule: 'notify-app' });
    const delivered = count(sigs, 'delivered');
    // 'pending': the previous SIGUSR1 was not handled yet (the victim shares CPU 1), a second one would merge with it
    expect(delivered + count(sigs, 'rate-limited') + count(sigs, 'pending')).toBe(sigs.length);
    expect(delivered).toBeGreaterThan(0);
    expect(count(sigs, 'rate-limited')).toBeGreaterThan(0); // timer ticks alone hit a CPU-1 spinner more than 10x per second
    expect(delivered).toBeLessThanOrEqual(10 * 3); // 10 per 1 s window over a 2 s watch: at most 3 windows
    console.info(`notify: ${mine.length} violations in 2 s, ${delivered} SIGUSR1 delivered, ${count(sigs, 'rate-limited')} rate-limited, ${count(sigs, 'pending')} pending`);
    await new Promise((r) => setTimeout(r, 300)); // the last kill(2) reaches the handler
    expect(await v.received()).toBe(delivered);
  });

  it('notify.yaml without --enforce: dry-run, the NDJSON lists every would-be action with its result, nothing is sent', async () => {
    const v = await Sigcount.start(['spin'], { cpu: 1 });
    const w = startWatch(['--pid', String(v.pid), '--cpus', '1', '--policy', 'policies/notify.yaml', '--duration', '1.5']);
    await w.ready;
    expect(await new Promise<number | null>((r) => w.proc.on('exit', r))).toBe(0);
    await new Promise((r) => setImmediate(r));
    const mine = interruptions(w.records).filter((r) => r.victim.pid === v.pid && r.violation);
    const summary = w.records.find((r) => r.type === 'summary');
    // a policy gets every record; the kernel says when the ring could not hold them
    expect(summary?.type === 'summary' && summary.lost_events, 'the ring buffer dropped records (something floods CPU 1)').toBe(0);
    expect(mine.length).toBeGreaterThan(0); // timer ticks at least
    for (const r of mine) {
      expect(r.actions?.[0]).toMatchObject({ kind: 'log', result: 'delivered', rule: 'notify-app' });
      expect(['dry-run', 'rate-limited']).toContain(r.action?.result);
      expect(r.action).toMatchObject({ kind: 'signal', signal: 'SIGUSR1', mode: 'user', pid: v.pid });
      expect(r.action?.reason).toContain(`hit sigcount[${v.pid}] while isolation declared`);
    }
    expect(count(signalActions(mine), 'dry-run')).toBeGreaterThan(0);
    expect(count(signalActions(mine), 'delivered')).toBe(0);
    expect(await v.received()).toBe(0);
  });

  it('strict.yaml --enforce (watch, text): SIGKILLs the victim, exits 1, and says which interruption and rule', async () => {
    const v = await Sigcount.start(['spin'], { cpu: 1 });
    const r = await cli(['watch', '--pid', String(v.pid), '--cpus', '1', '--policy', 'policies/strict.yaml', '--enforce', '--duration', '10']);
    expect(await v.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(r.code, r.stderr).toBe(1); // strict's fail action; watch stops when --pid is gone
    const kill = r.stdout.split('\n').find((l) => / => SIGKILL to victim \d+ \((user|in-kernel), rule any-entry\): delivered/.test(l));
    expect(kill, r.stdout).toBeDefined();
    expect(kill).toContain(`sigcount/${v.pid}`);
    expect(r.stdout).toContain('verdict: FAIL');
    expect(r.stdout).toMatch(new RegExp(`isolwatch sent SIGKILL \\((user|in-kernel), policy 'strict' rule 'any-entry'\\): rule 'any-entry': .* on CPU 1 hit sigcount\\[${v.pid}\\] while isolation declared`));
    expect(r.stdout).toContain("policy 'strict' rule 'any-entry' failed the run: the isolated task entered the kernel (strict mode)");
  });

  it('strict.yaml --enforce (run --report): the command dies of SIGKILL, exit 1, the NDJSON report says why', async () => {
    const report = dir('strict.ndjson');
    const r = await cli(['run', '--cpus', '1', '--policy', 'policies/strict.yaml', '--enforce', '--warmup', '0.3', '--report', report, '--', BIN('sigcount'), 'spin']);
    expect(r.code, r.stderr).toBe(1);
    const recs = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as OutputRecord);
    const summary = recs.find((x): x is SummaryRecord => x.type === 'summary')!;
    expect(summary.verdict).toMatchObject({ pass: false, signal: 'SIGKILL' });
    const reasons = summary.verdict!.reasons;
    const at = reasons.indexOf('command was killed by SIGKILL');
    expect(at, JSON.stringify(reasons)).toBeGreaterThanOrEqual(0);
    expect(reasons[at + 1]).toMatch(/^isolwatch sent SIGKILL \((user|in-kernel), policy 'strict' rule 'any-entry'\): rule 'any-entry': .* on CPU 1 hit sigcount\[\d+\] while isolation declared/);
    // the interruption that earned it, with every action and its result
    const killer = interruptions(recs).find((x) => x.action?.signal === 'SIGKILL' && x.action.result === 'delivered')!;
    expect(killer).toBeDefined();
    expect(killer.actions?.map((a) => `${a.kind}:${a.result}`)).toEqual(['log:delivered', 'signal:delivered', 'fail:delivered']);
    expect(killer.action?.reason).toBe(reasons[at + 1].replace(/^isolwatch sent SIGKILL \([^)]*\): /, ''));
    if (killer.action?.mode === 'in-kernel') expect(killer.flags).toContain('signal_sent');
    // text on stderr says the same
    expect(r.stderr).toContain('command was killed by SIGKILL');
    expect(r.stderr).toContain("policy 'strict' rule 'any-entry'");
  });

  it("target: cause signals the sender in another process (global membarrier IPIs), never the victim", async () => {
    const policy = dir('blame.yaml');
    writeFileSync(
      policy,
      `name: blame
scope:
  processes:
    - comm: sigcount
rules:
  - name: blame-sender
    match: { class: ipi, func: ipi_mb, self: false }
    actions:
      - log
      - signal: { name: SIGUSR1, target: cause }
`,
    );
    const N = 20;
    const victim = await Sigcount.start(['spin-mb'], { cpu: 1 });
    const sender = await Sigcount.start(['mb-sender', String(N)], { cpu: 0 });
    const w = startWatch(['--pid', String(victim.pid), '--cpus', '1', '--policy', policy, '--enforce']);
    await w.ready;
    sender.child.stdin!.write('go\n');
    const done = await sender.waitFor((l) => l.startsWith('done '), 90_000);
    const { code, records } = await w.stop();
    expect(code).toBe(0);
    const [, received, timeouts] = /received=(\d+) timeouts=(\d+)/.exec(done)!.map(Number);
    console.info(`target cause: ${N} membarriers, sender received ${received} SIGUSR1, ${timeouts} calls sent no IPI to the spinner (it was switched out)`);
    const blamed = interruptions(records).filter((r) => r.victim.pid === victim.pid && r.func === 'ipi_mb' && r.cause.pid === sender.pid);
    const sigs = signalActions(blamed);
    for (const a of sigs) expect(a).toMatchObject({ signal: 'SIGUSR1', target: 'cause', pid: sender.pid, mode: 'user' });
    for (const r of blamed) expect(r.action?.reason).toContain(`sent by sigcount[${sender.pid}] on CPU 0`);
    // the sender waits for each signal before its next call: what it counted is exactly what was delivered to it
    expect(received).toBe(count(sigs, 'delivered'));
    expect(received).toBeGreaterThan(0);
    expect(received + timeouts).toBe(N);
    // nothing signalled the victim
    expect(signalActions(interruptions(records)).filter((a) => a.pid === victim.pid)).toEqual([]);
    sender.child.stdin!.end();
    expect(await victim.received()).toBe(0);
  });

  it('a malformed policy is a configuration error: exit 2 with file:line:col, for watch and run alike', async () => {
    const bad = dir('bad.yaml');
    writeFileSync(bad, 'rules:\n  - name: r\n    actions:\n      - signal: { name: SIGUSR1, mode: in-kernel }\n');
    for (const args of [
      ['watch', '--cpus', '1', '--duration', '1', '--policy', bad, '--enforce'],
      ['run', '--cpus', '1', '--policy', bad, '--enforce', '--', 'true'],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${bad}:4:40: rules[0].actions[0].signal.mode: an 'in-kernel' SIGUSR1 without cooldown or rate_limit`);
    }
  });
});
