// Start-up: from exec to attached. isolwatch: until its `start` record is
// printed (written after every program is attached). bpftrace, on exactly the
// tracepoints isolwatch attaches for the same --probes selection: until its
// BEGIN probe prints (BEGIN runs after all probes are attached). Rounds are
// interleaved; median (25th–75th percentile).
//
//   node dist/bench/startup.js [--rounds N] [--cpu C] [--no-write]
import { spawnSync } from 'node:child_process';
import { CLI, flags, requireRoot, requireTool, sleep, startAndWait, stop } from './lib/proc.js';
import { commandLine, machine, machineLines, writeResults } from './lib/results.js';
import { fmtSpread, mdTable, summarize } from './lib/stats.js';
import { bpftraceCountScript, isolwatchTracepoints } from './lib/tracers.js';

const USAGE = 'node dist/bench/startup.js [--rounds N (7)] [--cpu C (1)] [--no-write]';

interface Contender {
  name: string;
  argv: string[];
  ready: RegExp;
}

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2), { rounds: 'number', cpu: 'number', 'no-write': 'bool' }, USAGE);
  const rounds = (f.rounds as number) ?? 7;
  const cpu = (f.cpu as number) ?? 1;
  requireRoot();
  requireTool('bpftrace', 'bpftrace');
  const contenders: Contender[] = [{ name: 'node -e 0 (the runtime alone, for scale)', argv: ['node', '-e', 'console.log("ready")'], ready: /^ready$/ }];
  for (const p of ['default', 'all']) {
    const tps = await isolwatchTracepoints(p, cpu);
    contenders.push({ name: `isolwatch watch --probes ${p} (${tps.attached.length} tracepoints)`, argv: ['node', CLI, 'watch', '--cpus', String(cpu), '--json', '--probes', p], ready: /"type":"start"/ });
    contenders.push({ name: `bpftrace, the same ${tps.attached.length} tracepoints`, argv: ['bpftrace', '-B', 'line', '-e', bpftraceCountScript(tps.attached)], ready: /^ready$/ });
  }
  const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length];
      const s = await startAndWait(c.argv[0], c.argv.slice(1), c.ready, 120_000);
      times.get(c.name)!.push(s.readyMs);
      await stop(s.child, 'SIGINT');
      await sleep(500); // programs leave the kernel ~0.5 s after close
      process.stderr.write(`round ${r + 1}/${rounds} ${c.name}: ${s.readyMs.toFixed(0)} ms\n`);
    }
  }
  const rows = contenders.map((c) => {
    const s = summarize(times.get(c.name)!);
    return [c.name, fmtSpread(s), s.min.toFixed(0), s.max.toFixed(0)];
  });

  // whole commands, exec to exit, interleaved with an empty node start: what they cost on top of the runtime
  const whole: { name: string; argv: string[] }[] = [
    { name: 'node -e 0', argv: ['-e', '0'] },
    { name: 'isolwatch --version', argv: [CLI, '--version'] },
    { name: 'isolwatch --help', argv: [CLI, '--help'] },
    { name: `isolwatch watch --cpus ${cpu} --duration 0.01 --json`, argv: [CLI, 'watch', '--cpus', String(cpu), '--duration', '0.01', '--json'] },
  ];
  const wholeMs = new Map<string, number[]>(whole.map((w) => [w.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < whole.length; i++) {
      const w = whole[(i + r) % whole.length];
      const t0 = process.hrtime.bigint();
      const res = spawnSync(process.execPath, w.argv, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      if (res.status !== 0) throw new Error(`${w.name} failed (${res.status}): ${res.stderr}`);
      wholeMs.get(w.name)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sleep(300);
    }
  }
  const nodeMs = summarize(wholeMs.get('node -e 0')!).median;
  const wholeRows = whole.map((w) => {
    const s = summarize(wholeMs.get(w.name)!);
    return [w.name, fmtSpread(s), w.name === 'node -e 0' ? '–' : `+${(s.median - nodeMs).toFixed(0)}`];
  });
  const body = [
    machineLines(machine(), commandLine()),
    `- ${rounds} rounds, contenders interleaved; ms from spawn to "attached": isolwatch's \`start\` record on stdout, bpftrace's BEGIN printf (\`-B line\`); each one stopped with SIGINT before the next`,
    '- target: isolwatch <= 500 ms',
    '',
    mdTable(['command', 'ms to attached, median (p25–p75)', 'min', 'max'], rows),
    '',
    `Whole commands, exec to exit, ${rounds} rounds interleaved with an empty node start (targets: watch within 250 ms of it, --version and --help within 50 ms):`,
    '',
    mdTable(['command', 'ms, median (p25–p75)', 'ms more than node -e 0'], wholeRows),
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Start-up', body);
}

main().catch((e) => {
  process.stderr.write(`startup: ${(e as Error).message}\n`);
  process.exit(1);
});
