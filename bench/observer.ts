// Observer effect: interruptions isolwatch itself causes on a watched
// nohz_full CPU in steady state, in the quiet-CPU guest (test/vm, Debian 6.1,
// CPUs 2-3 nohz_full). bench/observer-guest.sh runs there: isolwatch watches
// CPU 3, then an independent bpftrace count (test/vm/quiet-baseline.sh) of
// every kernel entry on each CPU over --window seconds while a syscall-free
// spinner runs on CPU 3. Target: 0 on CPU 3, by both counts.
//
// The control (--probes none) is the same run without isolwatch: what the
// guest does to CPU 3 by itself over that window.
//
//   node dist/bench/observer.js [--window S (60)] [--probes LIST (none;default;all)] [--kernel generic|rt] [--no-write]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { flags } from './lib/proc.js';
import { commandLine, machine, machineLines, REPO, writeResults } from './lib/results.js';
import { mdTable } from './lib/stats.js';

const USAGE = 'node dist/bench/observer.js [--window S (60)] [--probes SEL;SEL (none;default;all)] [--kernel generic|rt (generic)] [--no-write]';

interface GuestResult {
  probes: string;
  kernel: string;
  attached: string[];
  bpftrace: { window_ms: number; spin_cpu: number; counts: Record<string, Record<string, number>> };
  isolwatch: { in_window: number; by_class: Record<string, number>; records: unknown[] };
  isolwatch_summary: { lost_events?: number; self_caused?: number; kernel_counts?: Record<string, Record<string, number>> };
}

function guest(kernel: string, probes: string, window: number): Promise<GuestResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(REPO, 'test/vm/run'), ['--kernel', kernel, '--timeout', String(600 + window), '--', 'env', `OBS_PROBES=${probes}`, `QUIET_WINDOW=${window}`, 'bench/observer-guest.sh'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`guest run failed (exit ${code}):\n${err.slice(-3000)}`));
      try {
        resolve(JSON.parse(line) as GuestResult);
      } catch {
        reject(new Error(`no result line from the guest:\n${out.slice(-2000)}\n${err.slice(-2000)}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2), { window: 'number', probes: 'string', kernel: 'string', 'no-write': 'bool' }, USAGE);
  const window = (f.window as number) ?? 60;
  const kernel = (f.kernel as string) ?? 'generic';
  const sels = ((f.probes as string) ?? 'none;default;all').split(';');
  const rows: (string | number)[][] = [];
  const details: string[] = [];
  for (const sel of sels) {
    process.stderr.write(`observer: guest run, --probes ${sel}, ${window} s window ...\n`);
    const r = await guest(kernel, sel, window);
    process.stderr.write(`observer: ${JSON.stringify({ probes: sel, bpftrace: r.bpftrace, isolwatch: r.isolwatch.by_class })}\n`);
    const cpu = String(r.bpftrace.spin_cpu);
    const bt = Object.entries(r.bpftrace.counts)
      .map(([cls, per]) => [cls, per[cpu] ?? 0] as const)
      .filter(([, n]) => n > 0);
    const btTotal = bt.reduce((a, [, n]) => a + n, 0);
    const hk = Object.values(r.bpftrace.counts.local_timer ?? {}).reduce((a, b) => a + b, 0) - (r.bpftrace.counts.local_timer?.[cpu] ?? 0);
    rows.push([
      sel === 'none' ? 'none (control: no isolwatch)' : sel,
      (r.bpftrace.window_ms / 1000).toFixed(1),
      btTotal,
      bt.length ? bt.map(([c, n]) => `${c} ${n}`).join(', ') : '–',
      sel === 'none' ? '–' : r.isolwatch.in_window,
      Object.keys(r.isolwatch.by_class).length ? JSON.stringify(r.isolwatch.by_class) : '–',
      r.isolwatch_summary.lost_events ?? 'n/a',
      hk,
    ]);
    if (sel !== 'none') details.push(`- \`--probes ${sel}\` on ${r.kernel}: ${r.attached?.length ?? 0} tracepoints attached; first records in the window: ${JSON.stringify(r.isolwatch.records.slice(0, 3))}`);
  }
  const body = [
    machineLines(machine(), commandLine()),
    `- guest: \`test/vm/run --kernel ${kernel}\` (qemu TCG, Debian 6.1, CPUs 2-3 isolcpus + nohz_full); isolwatch \`watch --cpus 3 --json --probes SEL\` (pinned to CPUs 0-2 by itself), attached first; then \`test/vm/quiet-baseline.sh\` (bpftrace; the spinner \`test/workloads/bin/vm-spin\` on CPU 3 started after both tracers, 3 s settle, then the window)`,
    '- target: 0 interruptions on CPU 3 in the window, by both counts',
    '',
    mdTable(['--probes', 'window (s, guest clock)', 'bpftrace: kernel entries on CPU 3', 'by class', 'isolwatch: records on CPU 3', 'by class', 'lost', 'ticks on the other CPUs (for scale)'], rows),
    '',
    ...details,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Observer effect', body);
}

main().catch((e) => {
  process.stderr.write(`observer: ${(e as Error).message}\n`);
  process.exit(1);
});
