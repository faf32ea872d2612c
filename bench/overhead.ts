// Overhead on the system: ns added per syscall (getppid loop) and per context
// switch (pipe ping-pong), on the watched CPU and on an unwatched one, for
// each isolwatch probe group and for bpftrace, perf and libbpf-tools on the
// same tracepoints. Every round measures each configuration right after its
// own no-tracing baseline (A B A B ...); the added cost is the paired
// difference, reported as median (25th–75th percentile) over the rounds.
//
//   node dist/bench/overhead.js [--rounds N] [--only REGEX] [--watched C] [--unwatched C] [--no-write]
import { buildHelper, flags, tracingPrograms, requireRoot, requireTool, runSync, sleep } from './lib/proc.js';
import { commandLine, machine, machineLines, writeResults } from './lib/results.js';
import { fmtSpread, mdTable, pairedDiffs, pct, summarize } from './lib/stats.js';
import { bpftrace, command, isolwatch, isolwatchTracepoints, type Tracer } from './lib/tracers.js';

const USAGE = 'node dist/bench/overhead.js [--rounds N (5)] [--only REGEX] [--watched CPU (1)] [--unwatched CPU (0)] [--syscalls N (100000)] [--switches N (20000)] [--reps N (5)] [--no-write]';

interface Point {
  sysW: number;
  sysU: number;
  swW: number;
  swU: number;
}

const METRICS: (keyof Point)[] = ['sysW', 'sysU', 'swW', 'swU'];

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2), { rounds: 'number', only: 'string', watched: 'number', unwatched: 'number', syscalls: 'number', switches: 'number', reps: 'number', 'no-write': 'bool' }, USAGE);
  const rounds = (f.rounds as number) ?? 5;
  const W = (f.watched as number) ?? 1;
  const U = (f.unwatched as number) ?? 0;
  const nSys = (f.syscalls as number) ?? 100_000;
  const nSw = (f.switches as number) ?? 20_000;
  const reps = (f.reps as number) ?? 5;
  requireRoot();
  for (const [c, p] of [['bpftrace', 'bpftrace'], ['perf', 'linux-perf'], ['syscount', 'libbpf-tools']]) requireTool(c, p);
  const micro = buildHelper('micro');

  /** min over reps of one micro run (robust to the odd preemption) */
  const one = (mode: string, cpu: number, n: number): number => {
    const r = JSON.parse(runSync(micro, [mode, String(cpu), String(Math.max(1000, Math.round(n))), String(reps)])) as { ns_per_op: number[] };
    return Math.min(...r.ns_per_op);
  };
  // A slow tracer (perf trace: ~15-40 us per event) gets fewer operations, in its baseline too.
  // The unwatched CPU is measured first: the switch storm on the watched CPU fills the ring
  // buffer, and isolwatch decoding that backlog on the unwatched CPU would be counted there.
  const measure = (scale = 1): Point => {
    const sysU = one('syscall', U, nSys * scale);
    const swU = one('switch', U, nSw * scale);
    const sysW = one('syscall', W, nSys * scale);
    const swW = one('switch', W, nSw * scale);
    return { sysW, sysU, swW, swU };
  };

  // bpftrace gets exactly the tracepoints isolwatch attaches for the same selection
  const tps = async (p: string) => (await isolwatchTracepoints(p, W)).attached;
  const missingCt = (await isolwatchTracepoints('core,ctxtrack', W)).missing.filter((t) => t.startsWith('user_'));
  const groups = ['vectors', 'timers', 'ipi', 'work', 'wakeup', 'faults', 'nmi', 'syscalls', ...(missingCt.length ? [] : ['ctxtrack'])];
  const all: Tracer[] = [
    isolwatch('core', W),
    ...groups.map((g) => isolwatch(`core,${g}`, W)),
    isolwatch('default', W),
    isolwatch('all', W),
    bpftrace('bpftrace core', await tps('core')),
    bpftrace('bpftrace core,syscalls', await tps('core,syscalls')),
    bpftrace('bpftrace default', await tps('default')),
    bpftrace('bpftrace all', await tps('all')),
    command('perf stat syscalls', 'perf stat -a -e raw_syscalls:sys_enter,raw_syscalls:sys_exit (in-kernel counting)', ['perf', 'stat', '-a', '-e', 'raw_syscalls:sys_enter,raw_syscalls:sys_exit'], 1500),
    command('perf trace -s', 'perf trace -s -a (every syscall to user space, summary)', ['perf', 'trace', '-s', '-a'], 3000, 0.1),
    command('syscount (libbpf-tools)', 'syscount: raw_syscalls sys_enter/sys_exit, count per syscall', ['stdbuf', '-oL', 'syscount'], /^Tracing/),
    command('runqlat (libbpf-tools)', 'runqlat: sched_wakeup/wakeup_new/switch, latency histogram', ['stdbuf', '-oL', 'runqlat'], /^Tracing/),
  ];
  const only = f.only ? new RegExp(f.only as string) : undefined;
  const tracers = all.filter((t) => !only || only.test(t.name));
  if (tracers.length === 0) throw new Error(`--only '${f.only}' matches none of: ${all.map((t) => t.name).join(', ')}`);

  const base = new Map<string, Point[]>();
  const withT = new Map<string, Point[]>();
  const dirty = new Map<string, boolean[]>();
  const lost = new Map<string, number[]>();
  const notes = new Map<string, string>();
  const foreignSeen = new Set<string>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  /** programs loaded now that are not in `ours` (ids) */
  const foreign = (ours: Set<number> = new Set()) => {
    const now = [...tracingPrograms()].filter(([id]) => !ours.has(id));
    now.forEach(([, name]) => foreignSeen.add(name));
    return now.length > 0;
  };
  /** a tracer's programs linger ~0.5 s after it exits: wait (at most 3 s) for the kernel to drop them */
  const settle = async () => {
    for (let i = 0; i < 30 && tracingPrograms().size > 0; i++) await sleep(100);
  };
  for (let r = 0; r < rounds; r++) {
    // rotate the order so no configuration always follows the same one
    const order = tracers.map((_, i) => tracers[(i + r) % tracers.length]);
    for (const t of order) {
      const t0 = Date.now();
      await settle();
      let contaminated = foreign();
      const b = measure(t.scale);
      contaminated ||= foreign();
      let run;
      try {
        run = await t.start();
      } catch (e) {
        notes.set(t.name, `failed to start: ${(e as Error).message.split('\n')[0]}`);
        log(`round ${r + 1}: ${t.name}: ${notes.get(t.name)}`);
        continue;
      }
      const t1 = Date.now();
      const ours = new Set(tracingPrograms().keys()); // loaded by the tracer just started (or by someone at the same moment)
      let p: Point;
      try {
        p = measure(t.scale);
        contaminated ||= foreign(ours);
      } finally {
        const fin = await run.finish();
        if (fin.lost !== undefined) push(lost, t.name, fin.lost);
        if (fin.note) notes.set(t.name, fin.note);
      }
      push(base, t.name, b);
      push(withT, t.name, p);
      push(dirty, t.name, contaminated);
      log(
        `round ${r + 1}/${rounds} ${t.name}: syscall +${(p.sysW - b.sysW).toFixed(0)} ns (cpu ${W}) +${(p.sysU - b.sysU).toFixed(0)} ns (cpu ${U}); ` +
          `switch +${(p.swW - b.swW).toFixed(0)} / +${(p.swU - b.swU).toFixed(0)} ns${contaminated ? ' [foreign tracers loaded]' : ''} ` +
          `(start ${((t1 - t0) / 1000).toFixed(1)} s, total ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
  }

  // pairs measured while someone else's tracing programs were loaded are left out when
  // at least 3 clean pairs remain for that tracer
  const pick = (name: string): { b: Point[]; w: Point[]; used: number; of: number } => {
    const d = dirty.get(name)!;
    const clean = d.map((x, i) => (x ? -1 : i)).filter((i) => i >= 0);
    const idx = clean.length >= 3 ? clean : d.map((_, i) => i);
    return { b: idx.map((i) => base.get(name)![i]), w: idx.map((i) => withT.get(name)![i]), used: idx.length, of: d.length };
  };
  const allBase = tracers.filter((t) => base.has(t.name)).flatMap((t) => pick(t.name).b);
  const baseS = (k: keyof Point) => summarize(allBase.map((p) => p[k]));
  const rows = tracers
    .filter((t) => withT.has(t.name))
    .map((t) => {
      const { b, w, used, of } = pick(t.name);
      const cells = METRICS.map((k) => {
        const d = summarize(pairedDiffs(w.map((p) => p[k]), b.map((p) => p[k])));
        const b0 = summarize(b.map((p) => p[k])).median;
        return `${fmtSpread(d)} (${pct(d.median + b0, b0)})`;
      });
      const l = lost.get(t.name);
      return [t.name, ...cells, l ? String(Math.max(...l)) : '–', `${used}/${of}`];
    });
  const table = mdTable(
    ['tracer', `syscall, watched CPU ${W}`, `syscall, unwatched CPU ${U}`, `switch, watched CPU ${W}`, `switch, unwatched CPU ${U}`, 'lost (max)', 'pairs used'],
    [['no tracing (ns, absolute)', ...METRICS.map((k) => fmtSpread(baseS(k))), '–', '–'], ...rows],
  );
  const about = tracers.map((t) => `- ${t.name}: ${t.about}`).join('\n');
  const body = [
    machineLines(machine(), commandLine()),
    `- ${rounds} rounds; in each, every tracer right after its own no-tracing baseline; a value is the minimum over ${reps} repetitions of ${nSys} getppid() calls or ${nSw} pipe round trips (2 switches each, each with a write, a read and a wakeup); CPU time of the process, not wall time`,
    `- cells: ns added per operation, median (25th–75th percentile) of the paired differences, and that median relative to the baseline`,
    ...(missingCt.length ? [`- ctxtrack: not measured here, this kernel has no ${missingCt.join('/')} tracepoints (no nohz_full)`] : []),
    `- pairs used: rounds in which nobody else's tracing BPF programs were loaded during the baseline, or appeared while the tracer was measured (another session with syscall probes puts every task on the slow syscall path); all rounds when fewer than 3 were clean.${foreignSeen.size ? ` Seen: ${[...foreignSeen].slice(0, 8).join(', ')}` : ''}`,
    `- lost: the largest lost_events of isolwatch's summary in a round (records dropped when the ring buffer was full; the kernel counters still count them)`,
    ...[...notes].map(([n, s]) => `- ${n}: ${s}`),
    '',
    table,
    '',
    'Tracers:',
    about,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Overhead on the system', body);
}

main().catch((e) => {
  process.stderr.write(`overhead: ${(e as Error).message}\n`);
  process.exit(1);
});
