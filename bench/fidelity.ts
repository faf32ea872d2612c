// Fidelity over time: isolwatch's counts against independent counters, and
// its stall coverage against a spinning ground truth, over one long run.
//   ground truth  bench/stallspin.c on the watched CPU: every gap > --threshold
//                 between two vDSO clock reads (time taken from it), and an
//                 exact count of its own getppid() calls
//   isolwatch     `watch --pid P --json` (syscall probes on), records in the
//                 spinner's window [open, close] from its own clock reads
//   bpftrace      per-class counts for the spinner's tid, gated in the kernel
//                 by the spinner's marker syscalls (the same window)
//   perf stat -p  per-task tracepoint counts (counts while the task runs,
//                 interrupts included; a slightly wider window)
//
//   node dist/bench/fidelity.js [--duration S (600)] [--cpu C (1)] [--rate R (200)] [--threshold NS (3000)] [--no-write]
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHelper, CLI, flags, requireRoot, requireTool, sleep, startAndWait, stop } from './lib/proc.js';
import { commandLine, machine, machineLines, writeResults } from './lib/results.js';
import { mdTable } from './lib/stats.js';
import { coverage, type Interval } from './lib/coverage.js';

const USAGE = 'node dist/bench/fidelity.js [--duration S (600)] [--cpu C (1)] [--rate R getppid/s (200)] [--threshold NS (3000)] [--no-write]';

interface Rec {
  type: string;
  ts_ns: number;
  cpu: number;
  duration_ns: number;
  class: string;
  flags?: string[];
  chain: { class: string; kind: string }[];
}

/** The classes compared, and how each side names them. */
const ROWS: { name: string; iw: (e: { class: string; kind: string }) => boolean; bt: string; perf?: string }[] = [
  { name: 'local timer', iw: (e) => e.class === 'timer' && e.kind === 'local_timer', bt: 'local_timer', perf: 'irq_vectors:local_timer_entry' },
  { name: 'call-function IPIs', iw: (e) => e.class === 'ipi' && /^call_function/.test(e.kind), bt: 'call_function', perf: 'irq_vectors:call_function_single_entry' },
  { name: 'reschedule IPIs', iw: (e) => e.class === 'ipi' && e.kind === 'reschedule', bt: 'reschedule', perf: 'irq_vectors:reschedule_entry' },
  { name: 'irq_work', iw: (e) => e.class === 'ipi' && e.kind === 'irq_work', bt: 'irq_work' },
  { name: 'device IRQs', iw: (e) => e.class === 'irq', bt: 'irq', perf: 'irq:irq_handler_entry' },
  { name: 'softirqs', iw: (e) => e.class === 'softirq', bt: 'softirq', perf: 'irq:softirq_entry' },
  { name: 'syscalls (the spinner\'s)', iw: (e) => e.class === 'syscall', bt: 'syscall', perf: 'raw_syscalls:sys_enter' },
  { name: 'page faults', iw: (e) => e.class === 'page_fault', bt: 'page_fault', perf: 'exceptions:page_fault_user' },
];

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2), { duration: 'number', cpu: 'number', rate: 'number', threshold: 'number', 'no-write': 'bool' }, USAGE);
  const duration = (f.duration as number) ?? 600;
  const cpu = (f.cpu as number) ?? 1;
  const rate = (f.rate as number) ?? 200;
  const threshold = (f.threshold as number) ?? 3000;
  requireRoot();
  requireTool('bpftrace', 'bpftrace');
  requireTool('perf', 'linux-perf');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const spinBin = buildHelper('stallspin');
  const dir = mkdtempSync(join(tmpdir(), 'isolwatch-fidelity-'));
  const kids: { kill(s?: NodeJS.Signals): boolean; exitCode: number | null }[] = [];
  process.on('exit', () => {
    for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const steal0 = stealTicks(cpu);
  const spin = await startAndWait(spinBin, [String(cpu), String(duration), String(rate), String(threshold), join(dir, 'gaps')], /^ready /, 30_000, { stdin: 'pipe' });
  kids.push(spin.child);
  const pid = Number(/pid=(\d+)/.exec(spin.line)![1]);
  const tid = Number(/tid=(\d+)/.exec(spin.line)![1]);
  const T = `tid == ${tid}`;
  // The window is the spinner's own [open, close] (clock reads right after its kill(MARK_OPEN, 0)
  // returns and right before kill(MARK_CLOSE, 0)): bpftrace counts from the open marker's return
  // to the close marker's entry, so neither marker syscall, nor what interrupts it, is counted.
  // (Gated at the open marker's entry instead, bpftrace counted an irq_work that ran inside that
  // syscall, before the window, in the 6.12 guest: nohz_full_kick_func.)
  const SYS_KILL = 62; // x86_64
  const MARK_OPEN = 3999981;
  const MARK_CLOSE = 3999982;
  const bt = await startAndWait(
    'taskset',
    [
      '-c', '0', 'bpftrace', '-B', 'line', '-e',
      `tracepoint:irq_vectors:local_timer_entry /@on && ${T}/ { @c["local_timer"] = count(); }
tracepoint:irq_vectors:call_function_entry,tracepoint:irq_vectors:call_function_single_entry /@on && ${T}/ { @c["call_function"] = count(); }
tracepoint:irq_vectors:reschedule_entry /@on && ${T}/ { @c["reschedule"] = count(); }
tracepoint:irq_vectors:irq_work_entry /@on && ${T}/ { @c["irq_work"] = count(); }
tracepoint:irq:irq_handler_entry /@on && ${T}/ { @c["irq"] = count(); }
tracepoint:irq:softirq_entry /@on && ${T}/ { @c["softirq"] = count(); }
tracepoint:raw_syscalls:sys_enter /${T}/ { if (args->id == ${SYS_KILL} && args->args[0] == ${MARK_CLOSE}) { @on = 0; } if (@on) { @c["syscall"] = count(); } if (args->id == ${SYS_KILL} && args->args[0] == ${MARK_OPEN}) { @opening = 1; } }
tracepoint:raw_syscalls:sys_exit /${T} && @opening/ { @opening = 0; @on = 1; }
tracepoint:exceptions:page_fault_user /@on && ${T}/ { @c["page_fault"] = count(); }
tracepoint:sched:sched_switch /@on && args->prev_pid == ${tid}/ { @c["switched_out"] = count(); }
BEGIN { printf("ready\\n"); }`,
    ],
    /^ready$/,
    120_000,
  );
  kids.push(bt.child);
  const iwOut = join(dir, 'isolwatch.ndjson');
  const iw = spawn('node', [CLI, 'watch', '--pid', String(pid), '--cpus', String(cpu), '--json', '--records', 'all'], { stdio: ['ignore', openSync(iwOut, 'w'), 'inherit'] });
  kids.push(iw);
  for (let i = 0; !readFileSync(iwOut, 'utf8').includes('"type":"start"'); i++) {
    if (iw.exitCode !== null || i > 600) throw new Error(`isolwatch did not start (exit ${iw.exitCode})`);
    await sleep(100);
  }
  const perfEvents = ROWS.filter((r) => r.perf).map((r) => r.perf!);
  const perf = await startAndWait('taskset', ['-c', '0', 'perf', 'stat', '-x', ',', '-p', String(pid), '-e', perfEvents.join(',')], 1500);
  kids.push(perf.child);
  await sleep(2000); // attach noise settles before the window
  log(`window: ${duration} s on CPU ${cpu}, spinner pid ${pid}`);
  spin.child.stdin!.write('go\n');
  let doneLine = '';
  for (;;) {
    const m = /^done (.*)$/m.exec(spin.stdout());
    if (m) {
      doneLine = m[1];
      break;
    }
    if (spin.child.exitCode !== null) throw new Error(`stallspin exited (${spin.child.exitCode}) without 'done'`);
    await sleep(1000);
  }
  const truth = JSON.parse(doneLine) as { open_ns: number; close_ns: number; syscalls: number; gaps: number; gap_ns: number; overflow: number };
  await stop(perf.child, 'SIGINT');
  await stop(bt.child, 'SIGINT');
  spin.child.stdin!.end();
  await new Promise((r) => (iw.exitCode !== null ? r(null) : iw.once('exit', r))); // exits when the pid is gone
  const stealS = (stealTicks(cpu) - steal0) / 100;

  // ---- counts
  const btCounts: Record<string, number> = {};
  for (const m of bt.stdout().matchAll(/^@c\[(\w+)\]: (\d+)$/gm)) btCounts[m[1]] = Number(m[2]);
  const perfCounts: Record<string, number> = {};
  for (const line of perf.stderr().split('\n')) {
    const c = line.split(',');
    if (c.length > 3 && perfEvents.includes(c[2])) perfCounts[c[2]] = Number(c[0]);
  }
  const lines = readFileSync(iwOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec & { kernel_counts?: Record<string, Record<string, number>>; lost_events?: number });
  const summary = lines.find((l) => l.type === 'summary');
  const inWin = lines.filter((r) => r.type === 'interruption' && r.cpu === cpu && r.ts_ns >= truth.open_ns && r.ts_ns <= truth.close_ns);
  const entries = inWin.flatMap((r) => r.chain);
  const rows = ROWS.map((r) => {
    const iwN = entries.filter(r.iw).length;
    const b = btCounts[r.bt] ?? 0;
    const diff = b === 0 ? (iwN === 0 ? '0' : 'n/a') : `${(((iwN - b) / b) * 100).toFixed(1)}%`;
    return [r.name, iwN, b, diff, r.perf ? (perfCounts[r.perf] ?? 0) : '–'];
  });
  rows.push(['preemptions / switched out', inWin.filter((r) => r.class === 'preempt').length, btCounts.switched_out ?? 0, '', '–']);

  // ---- coverage
  const gaps: Interval[] = readFileSync(join(dir, 'gaps'), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [s, d] = l.split(' ').map(Number);
      return { start: s, end: s + d };
    });
  const recs: Interval[] = inWin.map((r) => ({ start: r.ts_ns, end: r.ts_ns + r.duration_ns }));
  const cov = coverage(gaps, recs, [3_000, 10_000, 100_000, 1_000_000]);
  const covRows = cov.buckets.map((b) => [`> ${b.minNs >= 1e6 ? `${b.minNs / 1e6} ms` : `${b.minNs / 1e3} us`}`, b.gaps, b.covered, b.gaps ? `${((b.covered / b.gaps) * 100).toFixed(1)}%` : 'n/a']);

  const win = (truth.close_ns - truth.open_ns) / 1e9;
  const body = [
    machineLines(machine(), commandLine()),
    `- window ${win.toFixed(1)} s on CPU ${cpu}: \`build/bench/stallspin ${cpu} ${duration} ${rate} ${threshold} GAPS\` (vDSO clock loop, gaps > ${threshold} ns recorded; ${truth.syscalls.toLocaleString('en')} getppid() calls made, exactly counted); \`isolwatch watch --pid P --cpus ${cpu} --json --records all\` (every record: the counts and the stall coverage are per record; default probes for --pid: syscalls on); bpftrace gated in the kernel from the return of the spinner's open-marker syscall to the entry of its close-marker syscall; \`perf stat -p P\` from before the window to after it`,
    `- isolwatch: ${inWin.length.toLocaleString('en')} interruption records in the window; lost events (whole run): ${summary?.lost_events ?? 'n/a'}; kernel counters for CPU ${cpu} (whole run): ${JSON.stringify(summary?.kernel_counts?.[String(cpu)] ?? {})}`,
    `- host steal time on CPU ${cpu} during the run: ${stealS.toFixed(1)} s (/proc/stat): a vCPU the hypervisor deschedules stalls the spinner with no kernel entry in the guest, which no in-guest tracer can see`,
    '',
    'Counts in the window (isolwatch: chain entries of the spinner\'s interruptions, any depth):',
    '',
    mdTable(['class', 'isolwatch', 'bpftrace', 'isolwatch vs bpftrace', 'perf stat -p (wider window)'], rows),
    '',
    `Stall coverage: a gap the spinner saw is covered when an isolwatch record of it overlaps it in time. ${truth.gaps.toLocaleString('en')} gaps, ${(truth.gap_ns / 1e6).toFixed(1)} ms in all (${((truth.gap_ns / 1e9 / win) * 100).toFixed(2)}% of the window)${truth.overflow ? ', gap table overflowed' : ''}; time covered: ${(cov.coveredNs / 1e6).toFixed(1)} ms (${cov.totalNs ? ((cov.coveredNs / cov.totalNs) * 100).toFixed(1) : 'n/a'}%).`,
    '',
    mdTable(['gap length', 'gaps', 'covered', 'coverage'], covRows),
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Fidelity over time', body);
}

/** steal ticks (USER_HZ) of one CPU from /proc/stat */
function stealTicks(cpu: number): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  return Number(line?.trim().split(/\s+/)[8] ?? 0);
}

main().catch((e) => {
  process.stderr.write(`fidelity: ${(e as Error).message}\n`);
  process.exit(1);
});
