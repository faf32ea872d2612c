// A reader of `watch --json` that falls behind must not make isolwatch queue
// every record in memory: past the backlog limit records are counted and not
// written, the summary (written last, in full) says how many, and the counts
// stay whole. Real BPF, a real pipe whose reader stops reading.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { STDOUT_BACKLOG_BYTES } from '../../src/commands/watch.js';
import type { OutputRecord, SummaryRecord } from '../../src/types.js';
import { CLI, requireRoot, startWorkload } from './harness.js';

beforeAll(requireRoot);

describe('watch with a reader that falls behind', () => {
  it('drops records from the output past the backlog limit, counts them, and writes the summary', async () => {
    const proc = spawn(process.execPath, [CLI, 'watch', '--json', '--cpus', '1', '--probes', 'default,+syscalls'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    // read up to the start record (attached), then stop reading: the pipe and the stream's buffer fill up
    let text = '';
    let started = false;
    let attached!: () => void;
    const ready = new Promise<void>((res) => (attached = res));
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      text += d;
      if (!started && text.includes('\n')) {
        started = true;
        proc.stdout!.pause();
        attached();
      }
    });
    await Promise.race([ready, exited.then((c) => Promise.reject(new Error(`isolwatch exited (${c}) before attaching: ${stderr}`)))]);

    // ~40 k getppid records a second for 3 s (~0.5 KB of NDJSON each): several times the backlog
    // limit, at a pace the ring buffer's drain keeps up with, so the output is what falls behind
    const wl = await startWorkload('spin', ['--cpu', '1', '--ms', '3000', '--syscalls-per-sec', '40000']);
    const done = await wl.go();
    expect(Number(done.syscalls)).toBeGreaterThan(60_000);
    await wl.finish();
    await new Promise((r) => setTimeout(r, 500)); // two more drain periods
    proc.kill('SIGINT');

    // now read everything: what was queued, then the summary
    const ended = new Promise<void>((res) => proc.stdout!.on('end', () => res()));
    proc.stdout!.resume();
    const code = await exited;
    await ended;
    expect(code, stderr).toBe(0);

    const lines = text.trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l) as OutputRecord);
    const summary = records.at(-1) as SummaryRecord;
    expect(summary.type).toBe('summary');
    expect(records[0].type).toBe('start');
    const written = records.filter((r) => r.type === 'interruption').length;
    // the summary's CPU counts leave out what isolwatch caused itself (self_caused)
    const correlated = Object.values(summary.cpus).reduce((n, c) => n + Object.values(c.by_class).reduce((a, b) => a + (b ?? 0), 0), 0) + summary.self_caused;
    expect(summary.output_dropped).toBeGreaterThan(0);
    // nothing vanished: each correlated record was written or counted as dropped
    expect(written + summary.output_dropped!).toBe(correlated);
    // what was queued: past the limit by at most one record, plus what the pipe and the paused stream held
    const queuedBytes = lines.slice(1, -1).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    expect(queuedBytes).toBeGreaterThan(STDOUT_BACKLOG_BYTES);
    expect(queuedBytes).toBeLessThan(STDOUT_BACKLOG_BYTES + 2 ** 20);
    expect(stderr).toMatch(/the reader of stdout is 16 MiB behind: records are dropped from the output \(still counted\)/);
    expect(stderr.match(/reader of stdout/g)).toHaveLength(1);
  }, 60_000);
});
