// isolwatch itself inside the quiet-CPU guest (Debian 6.1, nohz_full=2-3):
// the object built on the host loads unchanged (CO-RE portability), a
// syscall-free spinner on CPU 3 sees no external interruption while declared
// isolated (exit 0), and membarrier IPIs from CPU 0 fail the run (exit 1).
// Both runs share one boot. Never skipped.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'iw-guest-'));

const script = [
  'cd "$PWD"',
  'node dist/src/cli.js run --cpus 3 --warmup 3 --allow-self --report /tmp/vm-out/quiet.ndjson --junit /tmp/vm-out/quiet.xml --' +
    ' test/workloads/bin/spin --cpu 3 --seconds 8 --timer-cpu 0 --main-cpu 0 --no-wait > /dev/null 2>/tmp/vm-out/quiet.err',
  'echo "quiet_exit=$?"',
  'node dist/src/cli.js run --cpus 3 --warmup 1 --allow-self --report /tmp/vm-out/noisy.ndjson --junit /tmp/vm-out/noisy.xml --' +
    ' test/workloads/bin/membarrier --spin-cpu 3 --sender-cpu 0 --main-cpu 0 --count 150 --interval-us 20000 --no-wait > /dev/null 2>/tmp/vm-out/noisy.err < /dev/null',
  'echo "noisy_exit=$?"',
].join('\n');

let stdout = '';
let code: number | null = null;

beforeAll(async () => {
  await new Promise<void>((resolve, reject) => {
    const p = spawn(join(here, 'run'), ['--kernel', 'generic', '--timeout', '400', '--out', out, '--', 'bash', '-c', script], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (c) => {
      code = c;
      if (c !== 0) reject(new Error(`guest run failed (${c}): ${err}`));
      else resolve();
    });
  });
}, 480_000);

const records = (f: string) => readFileSync(join(out, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('isolwatch in the quiet-CPU guest (6.1 generic, CPU 3 nohz_full)', () => {
  it('loads the host-built CO-RE object and attaches the core probes', () => {
    expect(code).toBe(0);
    const start = records('quiet.ndjson')[0];
    expect(start.type).toBe('start');
    expect(start.kernel).toMatch(/^6\.1\./);
    expect(start.nohz_full).toEqual([2, 3]);
    expect(start.probes.attached).toEqual(expect.arrayContaining(['sched_switch', 'local_timer_entry', 'irq_handler_entry']));
    // 6.1 predates csd_* (6.5) and ipi_send_* (6.4): listed, not fatal
    expect(start.probes.missing).toEqual(expect.arrayContaining(['csd_queue_cpu', 'ipi_send_cpu']));
  });

  it('a syscall-free spinner on CPU 3 sees zero external interruptions while isolated: exit 0', () => {
    expect(stdout).toMatch(/quiet_exit=0/);
    const recs = records('quiet.ndjson');
    const external = recs.filter((r) => r.type === 'interruption' && r.violation && !r.cause.self);
    expect(external).toEqual([]);
    expect(recs.at(-1).verdict.pass).toBe(true);
  });

  it('membarrier IPIs from CPU 0 fail the run and are counted on CPU 3: exit 1', () => {
    expect(stdout).toMatch(/noisy_exit=1/);
    const recs = records('noisy.ndjson');
    const ipis = recs.filter((r) => r.type === 'interruption' && r.violation && r.cpu === 3 && r.class === 'ipi');
    expect(ipis.length).toBeGreaterThanOrEqual(20);
    expect(ipis.length).toBeLessThanOrEqual(150);
    expect(readFileSync(join(out, 'noisy.xml'), 'utf8')).toMatch(/<failure/);
  });
});
