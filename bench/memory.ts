// Memory: the loader's RSS while it correlates a steady stream of records.
// `isolwatch watch --json --probes default,+syscalls` on the watched CPU while
// the spin workload makes --rate getppid() calls per second there (one record
// each). VmRSS is sampled every 5 s. Its stdout goes to
//   --output null  /dev/null (a file: Node writes it synchronously, so the
//                  loader itself is measured; no summary line to read)
//   --output pipe  a pipe into `tail -n 1` (what `isolwatch ... | consumer`
//                  does; the summary gives records correlated and lost)
//
// With --duration 3600 or more it is the soak (section "Soak"; run once, not in CI).
//
//   node dist/bench/memory.js [--duration S (600)] [--rate R (100000)] [--cpu C (1)] [--output null|pipe] [--no-write]
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cpuSeconds, flags, memoryKb, requireRoot, sleep, tracingPrograms } from './lib/proc.js';
import { commandLine, machine, machineLines, REPO, writeResults } from './lib/results.js';
import { mdTable } from './lib/stats.js';

const USAGE = 'node dist/bench/memory.js [--duration S (600)] [--rate R (100000)] [--cpu C (1)] [--probes P (default,+syscalls)] [--output null|pipe (null)] [--no-write]';

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2), { duration: 'number', rate: 'number', cpu: 'number', probes: 'string', output: 'string', 'no-write': 'bool' }, USAGE);
  const duration = (f.duration as number) ?? 600;
  const rate = (f.rate as number) ?? 100_000;
  const cpu = (f.cpu as number) ?? 1;
  const probes = (f.probes as string) ?? 'default,+syscalls';
  const output = (f.output as string) ?? 'null';
  if (output !== 'null' && output !== 'pipe') {
    process.stderr.write(`error: --output '${output}': null or pipe\nusage: ${USAGE}\n`);
    process.exit(2);
  }
  requireRoot();
  const log = (s: string) => process.stderr.write(`${s}\n`);

  let spin: ReturnType<typeof spawn> | undefined;
  const tail = spawn('tail', ['-n', '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let last = '';
  tail.stdout.setEncoding('utf8').on('data', (d: string) => (last += d));
  const argv = [CLI, 'watch', '--cpus', String(cpu), '--json', '--probes', probes, '--duration', String(duration + 30)];
  const before = new Set(tracingPrograms().keys());
  const nodeFlags = process.env.BENCH_NODE_OPTIONS ? process.env.BENCH_NODE_OPTIONS.split(' ') : [];
  const spawnedAt = Date.now();
  const iw = spawn('node', [...nodeFlags, ...argv], { stdio: ['ignore', output === 'pipe' ? tail.stdin : openSync('/dev/null', 'w'), 'inherit'] });
  const pid = iw.pid!;
  // on any failure: leave nothing running (by pid)
  process.on('exit', () => {
    for (const c of [iw, spin, tail]) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  // attached = its sched_switch program is
  // loaded; its stdout goes to tail, not to us. Programs attach right after loading.
  const t0 = Date.now();
  while (![...tracingPrograms()].some(([id, name]) => !before.has(id) && name === 'handle_sched_switch')) {
    if (iw.exitCode !== null) throw new Error(`isolwatch exited (${iw.exitCode}) before attaching`);
    if (Date.now() - t0 > 60_000) throw new Error('isolwatch did not attach within 60 s');
    await sleep(200);
  }
  // the idle footprint: 5 s after the command started, before the workload does
  while (Date.now() - spawnedAt < 5000) await sleep(50);
  const rss5 = memoryKb(pid)!.rss / 1024;
  log(`RSS 5 s after start: ${rss5.toFixed(1)} MB`);
  const startCpu = cpuSeconds(pid);
  spin = spawn(join(REPO, 'test/workloads/bin/spin'), ['--cpu', String(cpu), '--seconds', String(duration), '--syscalls-per-sec', String(rate), '--no-wait'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let spinOut = '';
  spin.stdout!.setEncoding('utf8').on('data', (d: string) => (spinOut += d));
  const samples: { s: number; rssMb: number }[] = [];
  const tStart = Date.now();
  while (!/^done /m.test(spinOut)) {
    if (spin.exitCode !== null) throw new Error(`spin exited (${spin.exitCode}): ${spinOut}`);
    const m = memoryKb(pid);
    if (!m) throw new Error('isolwatch exited during the run');
    const s = (Date.now() - tStart) / 1000;
    samples.push({ s, rssMb: m.rss / 1024 });
    if (samples.length % 12 === 1) log(`t=${s.toFixed(0)} s rss=${(m.rss / 1024).toFixed(1)} MB`);
    await sleep(duration >= 3600 ? 30_000 : 5000);
  }
  const end = memoryKb(pid)!;
  const usedCpu = cpuSeconds(pid) - startCpu;
  spin.stdin!.end();
  iw.kill('SIGINT');
  await new Promise((r) => iw.once('exit', r));
  tail.stdin.end();
  await new Promise((r) => tail.once('exit', r));
  const done = /^done .*$/m.exec(spinOut)![0];
  const calls = Number(/syscalls=(\d+)/.exec(done)?.[1]);
  const elapsed = Number(/elapsed_ms=(\d+)/.exec(done)?.[1]) / 1000;
  let summary: { cpus?: Record<string, { by_class: Record<string, number> }>; lost_events?: number; kernel_counts?: Record<string, Record<string, number>> } = {};
  try {
    summary = JSON.parse(last.trim());
  } catch {
    if (output === 'pipe') log(`no summary line from isolwatch: ${last.slice(0, 200)}`);
  }
  const correlated = Object.values(summary.cpus?.[String(cpu)]?.by_class ?? {}).reduce((a, b) => a + b, 0);
  const at = (sec: number) => samples.filter((x) => x.s <= sec).at(-1)?.rssMb;
  const points = [60, 120, 300, 600, 1800, 3600, duration].filter((x, i, a) => x <= duration && a.indexOf(x) === i);
  const rssMax = Math.max(...samples.map((x) => x.rssMb));
  const body = [
    machineLines(machine(), commandLine()),
    `- \`node ${argv.join(' ').replace(`${REPO}/`, '')}${output === 'pipe' ? ' | tail -n 1' : ' > /dev/null'}\`; workload \`test/workloads/bin/spin --cpu ${cpu} --seconds ${duration} --syscalls-per-sec ${rate}\`; VmRSS every ${duration >= 3600 ? 30 : 5} s`,
    `- getppid() calls made: ${calls.toLocaleString('en')} in ${elapsed.toFixed(0)} s = ${Math.round(calls / elapsed).toLocaleString('en')}/s (target ${rate.toLocaleString('en')}/s; the spinner shares CPU ${cpu} with the machine's other work)`,
    `- ${output === 'pipe' ? `records correlated on CPU ${cpu}: ${correlated.toLocaleString('en')} (${Math.round(correlated / elapsed).toLocaleString('en')}/s); lost (ring buffer full): ${summary.lost_events?.toLocaleString('en') ?? 'n/a'}` : 'output to /dev/null: no summary to read (records correlated and lost: see "Pipeline throughput")'}; isolwatch CPU time: ${usedCpu.toFixed(1)} s over ${elapsed.toFixed(0)} s (${((usedCpu / elapsed) * 100).toFixed(0)}% of one core)`,
    `- RSS 5 s after the command started (attached, before the workload): ${rss5.toFixed(1)} MB (target <= 80 MB)`,
    `- targets: RSS bounded over the run, <= 150 MB`,
    '',
    mdTable(['after', ...points.map((p) => `${p} s`), 'max', 'VmHWM at the end'], [['RSS (MB)', ...points.map((p) => at(p)?.toFixed(1) ?? 'n/a'), rssMax.toFixed(1), (end.hwm / 1024).toFixed(1)]]),
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults(output === 'pipe' ? 'Memory (stdout to a pipe)' : duration >= 3600 ? 'Soak' : 'Memory', body);
}

main().catch((e) => {
  process.stderr.write(`memory: ${(e as Error).message}\n`);
  process.exit(1);
});
