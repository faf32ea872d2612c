// The CLI contract end to end as root: exit codes, error messages, `run`
// reports, and nothing left attached afterwards.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, CLI, requireRoot, runAsUser } from './harness.js';
import { scratchDir } from '../helpers/scratch.js';

const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

const ourPrograms = () =>
  (JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { name?: string }[]).filter((p) =>
    (p.name ?? '').startsWith('handle_'),
  ).length;

beforeAll(() => requireRoot());
const scratch = scratchDir('iw-cli-');
/** a directory of its own for one test's files */
const testDir = (name: string) => {
  mkdirSync(scratch(name));
  return scratch(name);
};

describe('isolwatch CLI as root', () => {
  it('usage errors exit 2 and say what to do', () => {
    const r = cli(['watch', '--cpus', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--cpus.*bad CPU list/);
    const p = cli(['watch', '--pid', '999999999', '--duration', '1']);
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/no such process/);
  });

  it('a malformed policy exits 2 with file:line:col', () => {
    const dir = testDir('bad-policy');
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'version: 1\nname: bad\nrules:\n  - name: r\n    match:\n      class: ipis\n    actions: [log]\n');
    const r = cli(['watch', '--cpus', '1', '--duration', '1', '--json', '--policy', f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${f}:6:\\d+: .*class`));
  });

  it('without privileges it exits 3 and names the remedy', () => {
    const r = runAsUser('nobody', (co) => [process.execPath, join(co, 'dist/src/cli.js'), 'watch', '--cpus', '1', '--duration', '1', '--json']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/root|CAP_BPF/);
  });

  it('run judges the declared command: its own syscalls fail the syscall budget, reports are written', () => {
    const dir = testDir('run-self');
    const junit = join(dir, 'j.xml');
    const report = join(dir, 'r.ndjson');
    const summary = join(dir, 's.md');
    const r = cli(['run', '--cpus', '1', '--warmup', '0.3', '--junit', junit, '--report', report, '--summary', summary, '--',
      BIN('spin'), '--cpu', '1', '--seconds', '1', '--syscalls-per-sec', '2000', '--timer-cpu', '0', '--no-wait']);
    expect(r.status).toBe(1);
    const recs = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(recs[0].type).toBe('start');
    const sum = recs.at(-1);
    expect(sum.type).toBe('summary');
    expect(sum.verdict.pass).toBe(false);
    expect(sum.verdict.reasons.join(' ')).toMatch(/syscall/);
    // every one of them is counted (the aggregate totals), a few are records
    const totals = recs.find((x) => x.type === 'aggregate' && x.scope === 'total');
    const declared = totals.rows.filter((x: { isol: string; class: string; kind: string; phase: string }) => x.isol === 'declared' && x.class === 'syscall' && x.kind === 'getppid' && x.phase === 'judged');
    const diag = JSON.stringify(totals.rows.filter((x: { class: string; kind: string }) => x.class === 'syscall' && x.kind === 'getppid').map((x: { isol: string; phase: string; count: number; victim: { tid: number } }) => [x.victim.tid, x.isol, x.phase, x.count]));
    expect(declared.reduce((n: number, x: { count: number }) => n + x.count, 0), `${diag}\n${r.stderr}`).toBeGreaterThan(1000);
    expect(recs.some((x) => x.type === 'interruption' && x.isol.state === 'declared' && x.class === 'syscall' && x.kind === 'getppid')).toBe(true);
    expect(readFileSync(junit, 'utf8')).toMatch(/<testsuite[^>]*failures="[1-9]/);
    expect(readFileSync(summary, 'utf8')).toMatch(/FAIL/);
  });

  it('run with a failing command exits 1 and reports its status', () => {
    const dir = testDir('run-failing');
    const report = join(dir, 'r.ndjson');
    const r = cli(['run', '--cpus', '1', '--warmup', '0', '--budget', 'total=100000', '--allow-self', '--report', report, '--', 'sh', '-c', 'exit 3']);
    expect(r.status).toBe(1);
    const sum = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    expect(sum.verdict.exit_status).toBe(3);
  });

  it('run with a command that cannot be executed: one line, exit 2, nothing attached or started', () => {
    const r = cli(['run', '--cpus', '1', '--', '/nonexistent/cmd', 'arg']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("isolwatch run: cannot run the command: '/nonexistent/cmd' does not exist\n");
    expect(r.stdout).toBe('');
    // checked before the BPF object is even opened: a missing object (exit 3) is never reached
    const first = cli(['run', '--cpus', '1', '--obj', '/nonexistent/isolwatch.bpf.o', '--', '/nonexistent/cmd']);
    expect(first.status).toBe(2);
    expect(first.stderr).toMatch(/cannot run the command/);
  });

  it('nothing stays attached after the commands above', async () => {
    for (let i = 0; i < 20 && ourPrograms() > 0; i++) await new Promise((r) => setTimeout(r, 250));
    expect(ourPrograms()).toBe(0);
  });
});
