// What `isolwatch serve` costs.
//
// 1. On the watched CPU, in steady state: rounds of three configurations in
//    rotating order, each a window of --window seconds: no isolwatch; serve
//    attached and not scraped; serve scraped every --scrape-ms (10x a 1 s
//    Prometheus interval by default). In each window: what a spinner on the
//    watched CPU gets done per second of its CPU time (bench/spinrate.c), the
//    kernel's own interrupt counters for that CPU (/proc/interrupts and
//    /proc/softirqs: no tracer involved), and with serve its own counts and
//    what it says it caused itself. Target: scraping changes nothing there.
// 2. What a scrape costs as the events and the series grow: serve's CPU time
//    and the wall time per scrape, fresh; after --events membarrier IPIs from
//    one sender (many events, no new series); after K senders of distinct
//    names (K new cause series each, --causes). Target: proportional to the
//    series, not the events.
//
//   node dist/bench/serve.js [--rounds N] [--window S] [--scrape-ms MS] [--events N] [--causes K,K] [--scrapes N] [--watched C] [--no-write]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHelper, cpuSeconds, CLI, flags, memoryKb, requireRoot, runSync, sleep, stop } from './lib/proc.js';
import { commandLine, machine, machineLines, REPO, writeResults } from './lib/results.js';
import { fmtSpread, mdTable, pairedDiffs, summarize } from './lib/stats.js';

const USAGE =
  'node dist/bench/serve.js [--rounds N (5)] [--window S (5)] [--scrape-ms MS (100)] [--events N (20000)] [--causes K,K (100,400)] [--scrapes N (40)] [--watched C (1)] [--housekeeping C (0)] [--no-write]';

const log = (s: string) => process.stderr.write(`${s}\n`);
const MEMBARRIER = join(REPO, 'test/workloads/bin/membarrier');

/** Per-CPU sums of /proc/interrupts or /proc/softirqs rows: the kernel's own counts, no tracer involved. */
function procCounts(file: string, cpu: number): { total: number; rows: Record<string, number> } {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const col = lines[0].trim().split(/\s+/).indexOf(`CPU${cpu}`);
  if (col < 0) throw new Error(`${file}: no column CPU${cpu}`);
  const rows: Record<string, number> = {};
  let total = 0;
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    const v = Number(f[col + 1]);
    if (!Number.isFinite(v)) continue;
    rows[f[0].replace(/:$/, '')] = v;
    total += v;
  }
  return { total, rows };
}

/** Sum of the samples of one metric family in exposition text, filtered by labels. */
function sumOf(text: string, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

interface Serve {
  child: ChildProcess;
  url: string;
}

async function startServe(watched: number, top: number): Promise<Serve> {
  const child = spawn(process.execPath, [CLI, 'serve', '--cpus', String(watched), '--listen', '127.0.0.1:0', '--top', String(top)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    let up = false;
    const t = setTimeout(() => reject(new Error(`serve did not attach in 60 s: ${err}`)), 60_000);
    const early = (c: number | null) => reject(new Error(`serve exited (${c}): ${err}`));
    child.once('exit', early);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /metrics on (http:\/\/\S+)\/metrics/.exec(err);
      if (!m || up) return;
      up = true;
      clearTimeout(t);
      child.off('exit', early);
      resolve({ child, url: m[1] });
    });
  });
}

async function scrape(s: Serve): Promise<string> {
  const r = await fetch(`${s.url}/metrics`);
  if (!r.ok) throw new Error(`scrape: HTTP ${r.status}`);
  return r.text();
}

/** A spinner on `cpu` for `seconds` (the event loop keeps scraping meanwhile): iterations per microsecond of its CPU time, and the share of the wall time it ran. */
function spin(helper: string, cpu: number, seconds: number): Promise<{ rate: number; share: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(helper, [String(cpu), String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`spinrate exited ${code}: ${err}`));
      const r = JSON.parse(out) as { iterations: number; wall_ns: number; cpu_ns: number };
      resolve({ rate: r.iterations / (r.cpu_ns / 1000), share: r.cpu_ns / r.wall_ns });
    });
  });
}

type Config = 'none' | 'idle' | 'scraped';
interface Window {
  config: Config;
  rate: number;
  share: number;
  irqPerS: number;
  softirqPerS: number;
  /** serve's count of interruptions on the watched CPU, per second */
  countedPerS?: number;
  selfCaused?: number;
  scrapes?: number;
}

async function main(): Promise<void> {
  const f = flags(
    process.argv.slice(2),
    { rounds: 'number', window: 'number', 'scrape-ms': 'number', events: 'number', causes: 'string', scrapes: 'number', watched: 'number', housekeeping: 'number', 'no-write': 'bool' },
    USAGE,
  );
  const rounds = (f.rounds as number) ?? 5;
  const windowS = (f.window as number) ?? 5;
  const scrapeMs = (f['scrape-ms'] as number) ?? 100;
  const events = (f.events as number) ?? 20_000;
  const causeLevels = ((f.causes as string) ?? '100,400').split(',').map(Number);
  const nScrapes = (f.scrapes as number) ?? 40;
  const W = (f.watched as number) ?? 1;
  const H = (f.housekeeping as number) ?? 0;
  requireRoot();
  const helper = buildHelper('spinrate');
  const host = machine(); // before pinning: nproc counts the CPUs this process may use
  // this process (and the scrapes it makes) stays off the watched CPU, as serve does itself
  runSync('taskset', ['-a', '-p', '-c', String(H), String(process.pid)]);

  // ---- 1. the watched CPU in steady state
  const windows: Window[][] = [];
  let serve: Serve | undefined;
  const ensure = async (want: boolean) => {
    if (want && !serve) serve = await startServe(W, 20);
    if (!want && serve) {
      await stop(serve.child, 'SIGTERM');
      serve = undefined;
    }
    await sleep(1500); // programs attach or leave (~0.5 s after close); the first drain settles
  };
  const configs: Config[] = ['none', 'idle', 'scraped'];
  try {
    for (let r = 0; r < rounds; r++) {
      const row: Window[] = [];
      for (let i = 0; i < configs.length; i++) {
        const config = configs[(i + r) % configs.length];
        await ensure(config !== 'none');
        const before = serve ? await scrape(serve) : '';
        const irq0 = procCounts('/proc/interrupts', W).total;
        const soft0 = procCounts('/proc/softirqs', W).total;
        let scrapes = 0;
        let scraping = config === 'scraped';
        const scraper = (async () => {
          while (scraping) {
            await scrape(serve!);
            scrapes++;
            await sleep(scrapeMs);
          }
        })();
        const t0 = Date.now();
        const s = await spin(helper, W, windowS);
        const secs = (Date.now() - t0) / 1000;
        scraping = false;
        await scraper;
        const irq1 = procCounts('/proc/interrupts', W).total;
        const soft1 = procCounts('/proc/softirqs', W).total;
        const w: Window = { config, rate: s.rate, share: s.share, irqPerS: (irq1 - irq0) / secs, softirqPerS: (soft1 - soft0) / secs };
        if (serve) {
          const after = await scrape(serve);
          w.countedPerS = (sumOf(after, 'isolwatch_interruptions_total', { cpu: String(W) }) - sumOf(before, 'isolwatch_interruptions_total', { cpu: String(W) })) / secs;
          w.selfCaused = sumOf(after, 'isolwatch_self_interruptions_total') - sumOf(before, 'isolwatch_self_interruptions_total');
          w.scrapes = scrapes;
        }
        row.push(w);
        log(
          `round ${r + 1}/${rounds} ${config}: ${s.rate.toFixed(1)} it/us, ran ${(s.share * 100).toFixed(1)}% of the window; ` +
            `CPU ${W}: ${w.irqPerS.toFixed(0)} irq/s, ${w.softirqPerS.toFixed(0)} softirq/s` +
            (w.countedPerS !== undefined ? `; serve counted ${w.countedPerS.toFixed(0)}/s, caused ${w.selfCaused}, ${scrapes} scrapes` : ''),
        );
      }
      windows.push(row);
    }
  } finally {
    await ensure(false);
  }
  const pick = (c: Config) => windows.map((row) => row.find((w) => w.config === c)!);
  const ratio = (c: Config) => summarize(pick(c).map((w, i) => w.rate / pick('none')[i].rate));
  const fmtR = (s: ReturnType<typeof summarize>) => `${s.median.toFixed(4)} (${s.p25.toFixed(4)}–${s.p75.toFixed(4)})`;
  const steadyRows = configs.map((c) => {
    const ws = pick(c);
    return [
      c === 'none' ? 'no isolwatch' : c === 'idle' ? 'serve, not scraped' : `serve, scraped every ${scrapeMs} ms`,
      c === 'none' ? '1 (baseline)' : fmtR(ratio(c)),
      fmtSpread(summarize(ws.map((w) => w.irqPerS))),
      fmtSpread(summarize(ws.map((w) => w.softirqPerS))),
      c === 'none' ? '–' : fmtSpread(summarize(ws.map((w) => w.countedPerS!))),
      c === 'none' ? '–' : String(Math.max(...ws.map((w) => w.selfCaused!))),
    ];
  });
  const scrapedVsIdle = {
    rate: summarize(pick('scraped').map((w, i) => w.rate / pick('idle')[i].rate)),
    irq: summarize(pairedDiffs(pick('scraped').map((w) => w.irqPerS), pick('idle').map((w) => w.irqPerS))),
    counted: summarize(pairedDiffs(pick('scraped').map((w) => w.countedPerS!), pick('idle').map((w) => w.countedPerS!))),
  };

  // ---- 2. what a scrape costs as events and series grow
  log('scrape cost: starting serve --top 100000');
  const s = await startServe(W, 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'iw-bench-serve-'));
  const stages: (string | number)[][] = [];
  const perSeries: number[] = [];
  let scaling = '';
  try {
    await sleep(2000);
    const measure = async (stage: string) => {
      // serve's own CPU between scrapes (its drain timer), to take out of the scrapes' share
      const i0 = cpuSeconds(s.child.pid!);
      await sleep(2000);
      const idlePerS = (cpuSeconds(s.child.pid!) - i0) / 2;
      const c0 = cpuSeconds(s.child.pid!);
      const t0 = Date.now();
      const walls: number[] = [];
      let text = '';
      for (let i = 0; i < nScrapes; i++) {
        const a = process.hrtime.bigint();
        text = await scrape(s);
        walls.push(Number(process.hrtime.bigint() - a) / 1e6);
      }
      const secs = (Date.now() - t0) / 1000;
      const cpuMs = (((cpuSeconds(s.child.pid!) - c0) - idlePerS * secs) / nScrapes) * 1000;
      const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
      const causes = text.split('\n').filter((l) => l.startsWith('isolwatch_cause_interruptions_total{')).length;
      const counted = sumOf(text, 'isolwatch_interruptions_total', { cpu: String(W) });
      const rss = memoryKb(s.child.pid!)?.rss ?? NaN;
      const wall = summarize(walls);
      stages.push([stage, counted, causes, series, Math.round(text.length / 1024), fmtSpread(wall, 1), cpuMs.toFixed(2), Math.round(rss / 1024)]);
      log(`${stage}: ${counted} interruptions counted on CPU ${W}, ${causes} cause series, ${series} series, ${text.length} bytes; scrape ${wall.median.toFixed(1)} ms wall, ${cpuMs.toFixed(2)} ms CPU; RSS ${Math.round(rss / 1024)} MB`);
      return { cpuMs, series, counted };
    };
    const fresh = await measure('fresh (seconds after attach)');
    const mb = (argv0: string, n: number) => {
      const r = spawnSync(argv0, ['--spin-cpu', String(W), '--sender-cpu', String(H), '--count', String(n), '--no-wait'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 300_000 });
      if (r.status !== 0) throw new Error(`${argv0} failed (${r.status}): ${r.stderr}`);
    };
    mb(MEMBARRIER, events);
    const afterEvents = await measure(`+ ${events} membarrier IPIs from one sender`);
    mb(MEMBARRIER, events * 4);
    const afterMore = await measure(`+ ${events * 4} more from another (same name)`);
    let made = 0;
    const levels = [fresh, afterEvents, afterMore];
    for (const k of causeLevels) {
      for (; made < k; made++) {
        const link = join(dir, `mb${String(made).padStart(5, '0')}`);
        symlinkSync(MEMBARRIER, link);
        mb(link, 3);
      }
      const m = await measure(`+ ${k} senders of distinct names in all (3 IPIs each)`);
      levels.push(m);
      perSeries.push(((m.cpuMs - afterMore.cpuMs) / (m.series - afterMore.series)) * 1000);
    }
    const last = levels[levels.length - 1];
    scaling =
      `- events: ${(afterMore.counted / Math.max(1, fresh.counted)).toFixed(1)}x the interruptions counted, ${(afterMore.cpuMs / fresh.cpuMs).toFixed(2)}x the CPU per scrape; ` +
      `series: ${(last.series / afterMore.series).toFixed(1)}x the series, ${(last.cpuMs / afterMore.cpuMs).toFixed(2)}x the CPU per scrape ` +
      `(${perSeries.map((u) => u.toFixed(1)).join(', ')} us per added series)`;
  } finally {
    await stop(s.child, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }

  const body = [
    machineLines({ ...host, load: machine().load, date: machine().date }, commandLine()),
    `- watched CPU ${W}; this process, its scrapes and serve on CPU ${H}. ${rounds} rounds of three ${windowS} s windows in rotating order; serve started for its windows and stopped for the others (1.5 s to settle each way)`,
    `- spinner: \`bench/spinrate.c\` on CPU ${W}, loop iterations per microsecond of its own CPU time (interrupts are charged to the task they interrupt), relative to the same round's window without isolwatch`,
    `- /proc/interrupts, /proc/softirqs: the kernel's own counters for CPU ${W} (every row), per second; serve: what it counted on CPU ${W} (isolwatch_interruptions_total) and what it says it caused (isolwatch_self_interruptions_total), from its /metrics at the window's ends`,
    '',
    mdTable(['configuration', `spinner rate vs no isolwatch`, `/proc/interrupts CPU ${W} per s`, `/proc/softirqs CPU ${W} per s`, `serve: counted on CPU ${W} per s`, 'serve: caused itself (max per window)'], steadyRows),
    '',
    `- scraped vs not scraped, paired by round: spinner rate ${fmtR(scrapedVsIdle.rate)}; /proc/interrupts ${fmtSpread(scrapedVsIdle.irq, 1)} per s; serve's count ${fmtSpread(scrapedVsIdle.counted, 1)} per s`,
    '',
    `Scrape cost (serve --top 100000, so every cause has a series; ${nScrapes} scrapes back to back per row; CPU: serve's user+system time over the scrapes minus its idle rate, per scrape; RSS after the row):`,
    '',
    mdTable(['state', `interruptions counted on CPU ${W}`, 'cause series', 'series', 'KiB', 'wall ms per scrape', 'CPU ms per scrape', 'RSS MB'], stages),
    '',
    scaling,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Serve: the watched CPU and the cost of a scrape', body);
}

main().catch((e) => {
  process.stderr.write(`serve bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
