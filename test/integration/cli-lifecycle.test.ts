// How commands begin and end, as a user meets them (issue: what a new user
// hit): output paths checked before anything starts, SIGHUP like SIGTERM on
// every path (summary written, nothing left running), a recording's policy
// replayed to the same verdict, --summary appended, exit codes by verdict.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutputRecord, SummaryRecord } from '../../src/types.js';
import { BIN, CLI, requireRoot, ROOT } from './harness.js';

let dir = '';
beforeAll(() => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'iwt-lifecycle-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const records = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as OutputRecord);

describe('output paths are checked before anything starts', () => {
  it('run, record and report: one line, exit 2, the command never started', () => {
    const marker = join(dir, 'started');
    const run = cli(['run', '--cpus', '1', '--junit', '/nonexistent/x.xml', '--', 'sh', '-c', `touch ${marker}`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('isolwatch run: --junit /nonexistent/x.xml: the directory /nonexistent does not exist (create it first)\n');
    expect(existsSync(marker)).toBe(false);
    const rec = cli(['record', '-o', '/nonexistent/x', '--cpus', '1', '--duration', '1']);
    expect(rec.status).toBe(2);
    expect(rec.stderr.trim().split('\n')).toHaveLength(1);
    expect(rec.stderr).toMatch(/record: -o \/nonexistent\/x: the directory/);
    const fixture = join(ROOT, 'test/fixtures/recordings/host-membarrier.rec.ndjson');
    const rep = cli(['report', fixture, '--junit', '/nonexistent/dir/x.xml']);
    expect(rep.status).toBe(2);
    expect(rep.stderr).toMatch(/^isolwatch report: --junit \/nonexistent\/dir\/x\.xml: the directory/);
    expect(cli(['run', '--cpus', '1', '--summary', dir, '--', 'true']).stderr).toMatch(/--summary .*: is a directory/);
  });
});

describe('SIGHUP ends a command on its normal path', () => {
  it('watch --json: the summary is written, exit 0, nothing left attached by it', async () => {
    const p = spawn(process.execPath, [CLI, 'watch', '--json', '--cpus', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((res) => p.on('exit', (c) => res(c)));
    try {
      let out = '';
      p.stdout!.on('data', (d) => (out += d));
      await until(() => out.includes('"type":"start"'), p);
      p.kill('SIGHUP');
      expect(await exited).toBe(0);
      expect(records(out).at(-1)!.type).toBe('summary');
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); // a failed expectation leaves nothing attached
    }
  });

  it('run: the command gets the signal, run waits for it and reports; no orphan', async () => {
    const report = join(dir, 'hup.ndjson');
    const p = spawn(process.execPath, [CLI, 'run', '--cpus', '1', '--warmup', '0.2', '--report', report, '--', 'sleep', '600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let sleeper = 0;
    try {
      await hupRun(p, (pid) => (sleeper = pid), report);
    } finally {
      // a failed expectation must not leave run (attached) and sleep 600 behind: end both by pid
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
      if (sleeper && alive(sleeper)) process.kill(sleeper, 'SIGKILL');
    }
  });
});

async function until(cond: () => boolean, p: ChildProcess, ms = 30_000): Promise<void> {
  for (let t = 0; !cond(); t += 50) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`isolwatch exited (${p.exitCode ?? p.signalCode}) first`);
    if (t > ms) throw new Error(`gave up after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function hupRun(p: ChildProcess, onSleeper: (pid: number) => void, report: string): Promise<void> {
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((res) => p.on('exit', (c) => res(c)));
  await until(() => err.includes('warm-up over'), p);
  // taskset execs the command: run's child becomes sleep itself (once taskset has exec'd)
  let sleeper = 0;
  for (let i = 0; i < 200 && !sleeper; i++) {
    sleeper = Number(spawnSync('pgrep', ['-P', String(p.pid), '-x', 'sleep'], { encoding: 'utf8' }).stdout.trim());
    if (!sleeper) await new Promise((r) => setTimeout(r, 50));
  }
  onSleeper(sleeper);
  expect(sleeper, spawnSync('ps', ['-o', 'pid,ppid,comm', '--ppid', String(p.pid)], { encoding: 'utf8' }).stdout + err).toBeGreaterThan(0);
  p.kill('SIGHUP');
  expect(await exited).toBe(1); // interrupted: not a pass
  expect(alive(sleeper)).toBe(false);
  const summary = records(readFileSync(report, 'utf8')).at(-1) as SummaryRecord;
  expect(summary.verdict!.reasons).toEqual(expect.arrayContaining(['command was killed by SIGHUP', 'run was interrupted by SIGHUP before the command ended']));
}

describe('report replays a recording to the verdict it was recorded with', () => {
  it("a recording made with strict.yaml fails in replay by the recorded policy; --policy observe passes; --summary appends", async () => {
    const rec = join(dir, 'strict.rec.ndjson');
    // a spinner on CPU 1, declared with --pid: the tick hits it, strict's fail action fires (dry-run: no kill)
    const spin = spawn(BIN('spin'), ['--cpu', '1', '--seconds', '0', '--no-wait'], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((res) => spin.stdout!.once('data', () => res()));
      const r = cli(['record', '-o', rec, '--pid', String(spin.pid), '--cpus', '1', '--policy', join(ROOT, 'policies/strict.yaml'), '--duration', '1']);
      expect(r.status, r.stderr).toBe(1); // the policy's fail action
    } finally {
      spin.kill('SIGKILL');
    }
    const replayed = cli(['report', rec, '--json']);
    expect(replayed.status).toBe(1);
    const summary = records(replayed.stdout).at(-1) as SummaryRecord;
    expect(summary.verdict!.pass).toBe(false);
    expect(summary.verdict!.reasons.join('\n')).toMatch(/policy 'strict' rule 'any-entry' failed the run/);
    const observe = cli(['report', rec, '--policy', join(ROOT, 'policies/observe.yaml'), '--json']);
    expect(observe.status).toBe(0);
    const md = join(dir, 'steps.md');
    writeFileSync(md, '# earlier step\n');
    expect(cli(['report', rec, '--summary', md]).status).toBe(1);
    expect(cli(['report', rec, '--policy', join(ROOT, 'policies/observe.yaml'), '--summary', md]).status).toBe(0);
    const text = readFileSync(md, 'utf8');
    expect(text.startsWith('# earlier step\n')).toBe(true);
    expect(text.match(/^## isolwatch: /gm)).toHaveLength(2);
  });
});
