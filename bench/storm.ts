// The syscall storm: getppid() as fast as one thread can on the watched CPU
// (build/bench/micro: COUNT calls per repetition, CPU time per call), with no
// tracing and under each tracer, paired in every round (each tracer right
// after its own baseline). For each: the ns a call costs more, how many of
// the task's calls the tracer counted against the exact number the workload
// made, and (isolwatch) its peak RSS during the storm.
//
//   node dist/bench/storm.js [--rounds N (3)] [--cpu C (1)] [--calls N (2000000)] [--reps N (3)] [--only REGEX] [--no-write]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHelper, CLI, flags, memoryKb, requireRoot, requireTool, sleep, stop } from './lib/proc.js';
import { commandLine, machine, machineLines, writeResults } from './lib/results.js';
import { fmtSpread, mdTable, pairedDiffs, summarize } from './lib/stats.js';

const USAGE = 'node dist/bench/storm.js [--rounds N (3)] [--cpu C (1)] [--calls N (2000000)] [--reps N (3)] [--only REGEX] [--no-write]';
const GETPPID = 110; // x86_64

interface Outcome {
  /** ns per call, min over the repetitions (CPU time of the workload) */
  ns: number;
  /** getppid() calls of the workload the tracer counted (undefined: it does not count them) */
  counted?: number;
  /** the tracer's peak RSS during the storm, kB */
  hwmKb?: number;
  note?: string;
}

interface Config {
  name: string;
  about: string;
  run(micro: string, cpu: number, calls: number, reps: number, dir: string): Promise<Outcome>;
}

/** The workload's output line: {"mode":"syscall","ns_per_op":[...]} */
function nsOf(out: string): number {
  const m = /^\{"mode":"syscall".*$/m.exec(out);
  if (!m) throw new Error(`micro printed no result: ${out.slice(-500)}`);
  return Math.min(...(JSON.parse(m[0]) as { ns_per_op: number[] }).ns_per_op);
}

/**
 * micro behind a gate: `sh -c 'read; exec micro ...'` has the pid micro will
 * run as before it starts, so a tracer can be told about it (and attach) first.
 */
function gated(micro: string, cpu: number, calls: number, reps: number): { child: ChildProcess; pid: number; go(): Promise<string> } {
  const child = spawn('sh', ['-c', `read _; exec "$0" syscall ${cpu} ${calls} ${reps}`, micro], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<string>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`micro exited ${code}: ${out}`)))));
  return {
    child,
    pid: child.pid!,
    go() {
      child.stdin!.end('go\n');
      return exited;
    },
  };
}

/** Polls a process's VmHWM until `until` settles; returns the last value seen (kB). */
function hwmWhile(pid: number, until: Promise<unknown>): Promise<number> {
  let hwm = 0;
  const t = setInterval(() => {
    const m = memoryKb(pid);
    if (m) hwm = Math.max(hwm, m.hwm);
  }, 50);
  return until.then(
    () => {
      clearInterval(t);
      const m = memoryKb(pid);
      return Math.max(hwm, m?.hwm ?? 0);
    },
    (e) => {
      clearInterval(t);
      throw e;
    },
  );
}

/** The workload's getppid() calls in an isolwatch NDJSON report or stream (the aggregate totals). */
function countedIn(ndjson: string, match: (victim: { pid: number; tid: number; comm: string }) => boolean): number {
  let n = 0;
  for (const line of ndjson.split('\n')) {
    if (!line.startsWith('{"type":"aggregate","scope":"total"')) continue;
    const rec = JSON.parse(line) as { rows: { class: string; kind: string; count: number; victim: { pid: number; tid: number; comm: string } }[] };
    for (const r of rec.rows) if (r.class === 'syscall' && r.kind === 'getppid' && match(r.victim)) n += r.count;
  }
  return n;
}

const baseline: Config = {
  name: 'no tracing',
  about: 'the workload alone',
  async run(micro, cpu, calls, reps) {
    const g = gated(micro, cpu, calls, reps);
    return { ns: nsOf(await g.go()) };
  },
};

const configs: Config[] = [
  {
    name: 'isolwatch run --allow-self',
    about: 'isolwatch run --cpus C --allow-self --report F -- micro ... (syscalls traced: run\'s default probes; sampled records)',
    async run(micro, cpu, calls, reps, dir) {
      const report = join(dir, 'run.ndjson');
      const p = spawn(process.execPath, [CLI, 'run', '--cpus', String(cpu), '--warmup', '0', '--allow-self', '--report', report, '--', micro, 'syscall', String(cpu), String(calls), String(reps)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      const done = new Promise<void>((resolve) => p.on('exit', () => resolve()));
      const hwm = await hwmWhile(p.pid!, done);
      if (!/^\{"mode":"syscall"/m.test(out)) throw new Error(`isolwatch run failed: ${err.slice(-1500)}`);
      return { ns: nsOf(out), counted: countedIn(readFileSync(report, 'utf8'), (v) => v.comm === 'micro'), hwmKb: hwm };
    },
  },
  {
    name: 'isolwatch watch --pid',
    about: 'isolwatch watch --pid P --cpus C --json (syscalls traced for --pid; sampled records)',
    async run(micro, cpu, calls, reps) {
      const g = gated(micro, cpu, calls, reps);
      const w = spawn(process.execPath, [CLI, 'watch', '--pid', String(g.pid), '--cpus', String(cpu), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      w.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      w.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      for (let i = 0; !out.includes('"type":"start"'); i++) {
        if (w.exitCode !== null || i > 600) throw new Error(`isolwatch watch did not start: ${err}`);
        await sleep(50);
      }
      const done = g.go();
      const hwm = await hwmWhile(w.pid!, done);
      const ns = nsOf(await done);
      await stop(w, 'SIGINT'); // it also ends by itself when the pid is gone
      return { ns, counted: countedIn(out, (v) => v.pid === g.pid), hwmKb: hwm };
    },
  },
  {
    name: 'syscount (libbpf-tools)',
    about: 'syscount -p P: counts at sys_exit (one tracepoint), in the kernel',
    run: (micro, cpu, calls, reps) => syscount(micro, cpu, calls, reps, []),
  },
  {
    name: 'syscount -L (libbpf-tools)',
    about: 'syscount -L -p P: counts and latency (sys_enter and sys_exit), in the kernel',
    run: (micro, cpu, calls, reps) => syscount(micro, cpu, calls, reps, ['-L']),
  },
  {
    name: 'bpftrace count()',
    about: `bpftrace: count() on raw_syscalls sys_enter and sys_exit for CPU C (getppid exits counted apart)`,
    async run(micro, cpu, calls, reps) {
      const g = gated(micro, cpu, calls, reps);
      const script = `BEGIN { printf("ready\\n"); } tracepoint:raw_syscalls:sys_enter /cpu == ${cpu}/ { @enter = count(); } tracepoint:raw_syscalls:sys_exit /cpu == ${cpu}/ { @exit = count(); if (args->id == ${GETPPID} && pid == ${g.pid}) { @getppid = count(); } }`;
      const b = spawn('bpftrace', ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      b.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      for (let i = 0; !out.includes('ready'); i++) {
        if (b.exitCode !== null || i > 600) throw new Error('bpftrace did not start');
        await sleep(50);
      }
      const ns = nsOf(await g.go());
      await stop(b, 'SIGINT');
      return { ns, counted: Number(/@getppid: (\d+)/.exec(out)?.[1] ?? 0) };
    },
  },
];

async function syscount(micro: string, cpu: number, calls: number, reps: number, extra: string[]): Promise<Outcome> {
  const g = gated(micro, cpu, calls, reps);
  const s = spawn('stdbuf', ['-oL', 'syscount', ...extra, '-p', String(g.pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  s.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  for (let i = 0; !/^Tracing/m.test(out); i++) {
    if (s.exitCode !== null || i > 600) throw new Error(`syscount did not start: ${out}`);
    await sleep(50);
  }
  const ns = nsOf(await g.go());
  await stop(s, 'SIGINT');
  const m = /^getppid\s+(\d+)/m.exec(out);
  return { ns, counted: m ? Number(m[1]) : 0 };
}

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2), { rounds: 'number', cpu: 'number', calls: 'number', reps: 'number', only: 'string', 'no-write': 'bool' }, USAGE);
  const rounds = (f.rounds as number) ?? 3;
  const cpu = (f.cpu as number) ?? 1;
  const calls = (f.calls as number) ?? 2_000_000;
  const reps = (f.reps as number) ?? 3;
  requireRoot();
  requireTool('bpftrace', 'bpftrace');
  requireTool('syscount', 'libbpf-tools');
  const micro = buildHelper('micro');
  const only = f.only ? new RegExp(f.only as string) : undefined;
  const chosen = configs.filter((c) => !only || only.test(c.name));
  // the exact number of getppid() calls micro makes: a tenth of COUNT to warm up, then COUNT per repetition
  const made = Math.max(1, Math.floor(calls / 10)) + calls * reps;
  const dir = mkdtempSync(join(tmpdir(), 'iw-storm-'));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const base = new Map<string, number[]>();
  const traced = new Map<string, Outcome[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  try {
    for (let r = 0; r < rounds; r++) {
      const order = chosen.map((_, i) => chosen[(i + r) % chosen.length]);
      for (const c of order) {
        await sleep(500); // the previous tracer's programs are gone
        const b = await baseline.run(micro, cpu, calls, reps, dir);
        const o = await c.run(micro, cpu, calls, reps, dir);
        push(base, c.name, b.ns);
        push(traced, c.name, o);
        log(`round ${r + 1}/${rounds} ${c.name}: ${b.ns.toFixed(0)} -> ${o.ns.toFixed(0)} ns/call (+${(o.ns - b.ns).toFixed(0)}), counted ${o.counted ?? '-'} of ${made}${o.hwmKb ? `, peak RSS ${(o.hwmKb / 1024).toFixed(0)} MB` : ''}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const added = (name: string) => summarize(pairedDiffs(traced.get(name)!.map((o) => o.ns), base.get(name)!));
  const ref = base.has('syscount (libbpf-tools)') ? added('syscount (libbpf-tools)').median : undefined;
  const rows = chosen.map((c) => {
    const os = traced.get(c.name)!;
    const d = added(c.name);
    const counts = os.map((o) => o.counted).filter((x): x is number => x !== undefined);
    const hwm = os.map((o) => o.hwmKb).filter((x): x is number => x !== undefined);
    return [
      c.name,
      fmtSpread(summarize(base.get(c.name)!)),
      fmtSpread(summarize(os.map((o) => o.ns))),
      fmtSpread(d),
      ref && ref > 0 ? `${(d.median / ref).toFixed(1)}x` : '–',
      counts.length ? `${Math.min(...counts).toLocaleString('en')}–${Math.max(...counts).toLocaleString('en')} of ${made.toLocaleString('en')}${counts.every((n) => n === made) ? ' (exact)' : ''}` : '–',
      hwm.length ? `${(Math.max(...hwm) / 1024).toFixed(0)}` : '–',
    ];
  });
  const body = [
    machineLines(machine(), commandLine()),
    `- workload: \`build/bench/micro syscall ${cpu} ${calls} ${reps}\`: ${calls.toLocaleString('en')} raw getppid() calls per repetition on CPU ${cpu} (plus ${Math.floor(calls / 10).toLocaleString('en')} to warm up: ${made.toLocaleString('en')} in all), CPU time per call, the minimum of the ${reps} repetitions`,
    `- ${rounds} rounds; in each, every tracer right after its own no-tracing baseline (order rotated); "added" is the paired difference, median (25th–75th percentile) over the rounds; "vs syscount" divides it by syscount's`,
    '- counted: the calls of the workload the tracer counted (isolwatch: the aggregate totals of its report; syscount: its getppid line for the pid; bpftrace: exits of getppid by the pid)',
    '- peak RSS: VmHWM of the isolwatch process, sampled every 50 ms through the storm',
    '',
    mdTable(['tracer', 'ns/call untraced', 'ns/call traced', 'added ns/call', 'vs syscount', 'calls counted', 'peak RSS (MB)'], rows),
    '',
    'Tracers:',
    ...chosen.map((c) => `- ${c.name}: ${c.about}`),
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Syscall storm', body);
}

main().catch((e) => {
  process.stderr.write(`storm: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
