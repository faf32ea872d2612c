// What each of isolwatch's hard-path programs costs per run, as the kernel
// measures it (kernel.bpf_stats_enabled: run_time_ns / run_cnt of each
// program), for the current build and a base built from an earlier revision,
// in one run: rounds alternate between the two objects, each loaded with the
// default probes on CPU 1 while cyclictest's timers (every 50 us) and soft
// hrtimers (test/fixtures/bpf/soft_timers.bpf.c, every 40 us) run there. Also
// the runs the kernel skipped (recursion_misses) per round.
//
//   node dist/bench/probecost.js [--base-rev REV (bd5afbf)] [--rounds N (4)] [--seconds S (3)] [--no-write]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../src/live/session.js';
import { DEFAULT_PROBES_WATCH } from '../src/live/probes.js';
import { flags, requireRoot, requireTool, sleep, stop } from './lib/proc.js';
import { REPO, commandLine, machine, machineLines, writeResults } from './lib/results.js';
import { mdTable, median } from './lib/stats.js';

const USAGE = 'node dist/bench/probecost.js [--base-rev REV (bd5afbf)] [--rounds N (4)] [--seconds S (3)] [--no-write]';
const CPU = 1;
/** The programs of the hard path (hard_enter / hard_exit), by the probe they attach to. */
const PROBES = ['local_timer_entry', 'local_timer_exit', 'hrtimer_expire_entry', 'hrtimer_expire_exit', 'softirq_entry', 'softirq_exit', 'timer_expire_entry', 'timer_expire_exit'];

/** The BPF object of `rev`, compiled as scripts/Makefile compiles the current one (same flags, this machine's vmlinux.h). */
function buildBase(rev: string, dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'build'), { recursive: true });
  execFileSync('sh', ['-c', `git -C '${REPO}' archive '${rev}' bpf | tar -x -C '${src}'`]);
  writeFileSync(join(src, 'build/vmlinux.h'), readFileSync(join(REPO, 'build/vmlinux.h')));
  const out = join(dir, 'base.bpf.o');
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, '-Wall', '-Ibuild', '-Ibpf', '-c', 'bpf/isolwatch.bpf.c', '-o', out], { cwd: src, stdio: 'inherit' });
  execFileSync('llvm-strip', ['-g', out]);
  return out;
}

interface Round {
  perRun: Record<string, number>;
  runs: Record<string, number>;
  misses: number;
}

async function measure(objPath: string | undefined, seconds: number): Promise<Round> {
  const session = Session.open({ cpus: [CPU], probes: new Set(DEFAULT_PROBES_WATCH), objPath });
  const timers = spawn('cyclictest', ['-a', String(CPU), '-t', '1', '-i', '50', '-p', '50', '-q', '-D', String(seconds + 5)], { stdio: 'ignore' });
  const soft = spawn('taskset', ['-c', String(CPU), process.execPath, join(REPO, 'test/helpers/soft-timers.mjs'), join(REPO, 'build/fixtures/soft_timers.bpf.o'), String(seconds), '40000', '0'], { stdio: 'ignore' });
  try {
    await new Promise((r) => soft.on('exit', r));
    session.detach();
    const stats = session.probeStats();
    const out: Round = { perRun: {}, runs: {}, misses: 0 };
    for (const [probe, s] of Object.entries(stats)) {
      out.misses += s.misses;
      if (PROBES.includes(probe) && s.runs) {
        out.perRun[probe] = s.runNs / s.runs;
        out.runs[probe] = s.runs;
      }
    }
    return out;
  } finally {
    await stop(timers, 'SIGINT');
    session.close();
  }
}

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2), { 'base-rev': 'string', rounds: 'number', seconds: 'number', 'no-write': 'bool' }, USAGE);
  const rev = (f['base-rev'] as string) ?? 'bd5afbf';
  const rounds = (f.rounds as number) ?? 4;
  const seconds = (f.seconds as number) ?? 3;
  requireRoot();
  requireTool('cyclictest', 'rt-tests');
  execFileSync('make', ['-s', '-f', 'scripts/Makefile', 'build/fixtures/soft_timers.bpf.o'], { cwd: REPO, stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'iw-probecost-'));
  const statsWas = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  const res: Record<'base' | 'current', Round[]> = { base: [], current: [] };
  try {
    const base = buildBase(rev, dir);
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
    for (let r = 0; r < rounds; r++) {
      for (const which of r % 2 ? (['current', 'base'] as const) : (['base', 'current'] as const)) {
        const m = await measure(which === 'base' ? base : undefined, seconds);
        res[which].push(m);
        process.stderr.write(`round ${r + 1}/${rounds} ${which}: ${JSON.stringify(Object.fromEntries(Object.entries(m.perRun).map(([k, v]) => [k, Math.round(v)])))} misses ${m.misses}\n`);
        await sleep(500);
      }
    }
  } finally {
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsWas);
    rmSync(dir, { recursive: true, force: true });
  }
  const head = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const med = (which: 'base' | 'current', p: string) => median(res[which].map((m) => m.perRun[p]).filter((x) => x !== undefined));
  const rows = PROBES.filter((p) => res.current.some((m) => m.perRun[p] !== undefined)).map((p) => {
    const b = med('base', p);
    const c = med('current', p);
    const runs = median(res.current.map((m) => m.runs[p] ?? 0));
    return [p, Math.round(runs), b.toFixed(0), c.toFixed(0), `${(c / b).toFixed(2)}x`];
  });
  const body = [
    machineLines(machine(), commandLine()),
    `- ${rounds} rounds, base (${rev}) and current (${head}, the working tree's build) alternating; each loads the default probes on CPU ${CPU} for ${seconds} s of cyclictest (50 us) and soft hrtimers (40 us) there; ns per run = run_time_ns / run_cnt of the program (kernel.bpf_stats_enabled), median over rounds`,
    `- probe runs the kernel skipped (recursion_misses, all programs), median a round: base ${median(res.base.map((m) => m.misses))}, current ${median(res.current.map((m) => m.misses))}`,
    '',
    mdTable(['probe', 'runs a round (current)', `ns per run, base ${rev}`, 'ns per run, current', 'current / base'], rows),
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Hard-path probe cost', body);
}

main().catch((e) => {
  process.stderr.write(`probecost: ${(e as Error).message}\n`);
  process.exit(1);
});
