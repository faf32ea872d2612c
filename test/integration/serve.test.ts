// `isolwatch serve` scraped by a real Prometheus (root, real BPF): while the
// membarrier workload sends N IPIs from CPU 0 to a spinner on CPU 1,
// Prometheus's query API shows exactly the increase the kernel ran (counted
// independently by bpftrace, per csd the workload's sender queued) on the
// cause series, and at least that on CPU 1's ipi class. Plus: the exposition
// passes `promtool check metrics` (live, run --metrics, report --metrics),
// HTTP endpoints, a port in use or a bad address (one line, exit 2, nothing
// attached), and SIGTERM (detach, exit 0).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OutputRecord } from '../../src/types.js';
import { BIN, bpftraceCount, CLI, requireRoot, ROOT, startBpftrace, startWorkload, totals, type Bpftrace, type Workload } from './harness.js';
import { endChild, startPrometheus, startServe, valueIn, type Prometheus, type Serve } from './prometheus.js';
import { parse } from 'yaml';
import { concreteQuery, dashboardExprs, DEPLOY, readDeploy } from '../helpers/deploy.js';

const N = 100;

beforeAll(() => {
  requireRoot();
  for (const tool of ['prometheus', 'promtool', 'bpftrace']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: run 'npm run setup' (scripts/setup.sh installs it)`);
  }
});

// everything a test starts, ended by pid (or handle) whatever happens
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The ids of the BPF programs a process holds (its fds, /proc/PID/fdinfo). */
function progIdsOf(pid: number): number[] {
  const ids: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-prog') continue;
      const m = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.push(Number(m[1]));
    } catch {
      /* closed meanwhile */
    }
  }
  return ids;
}

async function metricsOf(s: Serve): Promise<string> {
  const r = await fetch(`${s.url}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return r.text();
}

/** The value of a single-series query at a time; 0 when the series did not exist then. */
async function valueAt(p: Prometheus, q: string, timeS: number): Promise<number> {
  const r = await p.query(q, timeS);
  if (r.length > 1) throw new Error(`${q}: ${r.length} series, expected one: ${JSON.stringify(r)}`);
  return r[0]?.value ?? 0;
}

describe('isolwatch serve, scraped by Prometheus', () => {
  it(`shows exactly the ${N} membarrier IPIs the kernel ran on CPU 1, by cause and in the ipi class`, { timeout: 180_000 }, async () => {
    const serve = await startServe(['--cpus', '1', '--top', '1000']);
    cleanups.push(() => serve.stop());
    const prom = await startPrometheus([serve.address]);
    cleanups.push(() => prom.stop());
    await prom.scrapedAfter(0);

    const wl: Workload = await startWorkload('membarrier', ['--spin-cpu', '1', '--sender-cpu', '0', '--count', String(N), '--interval-us', '200']);
    cleanups.push(() => wl.finish());
    const sender = Number(wl.ready.sender_tid);
    // Ground truth from the kernel's own tracepoints: every ipi_mb that ran on CPU 1 from a csd our
    // sender queued; and any other task named membarrier doing the same (another session's workload).
    const bt: Bpftrace = await startBpftrace(`
      tracepoint:csd:csd_queue_cpu /args->cpu == 1 && args->func == kaddr("ipi_mb")/ { @q[args->csd] = tid == ${sender} ? 1 : (comm == "membarrier" ? 2 : 3); }
      tracepoint:csd:csd_function_entry /cpu == 1 && args->func == kaddr("ipi_mb") && @q[args->csd] == 1/ { @ours = count(); delete(@q[args->csd]); }
      tracepoint:csd:csd_function_entry /cpu == 1 && args->func == kaddr("ipi_mb") && @q[args->csd] == 2/ { @foreign = count(); delete(@q[args->csd]); }`);
    cleanups.push(() => bt.stop());

    const cause = 'isolwatch_cause_interruptions_total{cpu="1",class="ipi",func="ipi_mb",sender="membarrier"}';
    const ipi = 'isolwatch_interruptions_total{cpu="1",class="ipi"}';
    // serve's own numbers before the window (read before the scrape that opens it) ...
    const directBefore = await metricsOf(serve);
    const t0 = await prom.scrapedAfter(Date.now() / 1000);
    const done = await wl.go();
    // ... and after the scrape that closes it
    const t1 = await prom.scrapedAfter(Date.now() / 1000 + 0.2);
    const directAfter = await metricsOf(serve);
    const out = await bt.stop();
    await wl.finish();

    expect(done.sent).toBe(String(N));
    const ours = bpftraceCount(out, 'ours');
    const foreign = bpftraceCount(out, 'foreign');
    const switches = Number(done.spinner_switches ?? 0);
    // one IPI per call while the spinner runs on CPU 1; a call while it was switched out sends none
    expect(ours).toBeLessThanOrEqual(N);
    expect(ours).toBeGreaterThanOrEqual(N - switches);

    const dCause = (await valueAt(prom, cause, t1)) - (await valueAt(prom, cause, t0));
    const dIpi = (await valueAt(prom, ipi, t1)) - (await valueAt(prom, ipi, t0));
    if (foreign === 0) expect(dCause, `bpftrace: ${out}`).toBe(ours);
    else {
      // another process named membarrier IPI'd CPU 1 meanwhile: bpftrace's window holds Prometheus's
      expect(dCause).toBeGreaterThanOrEqual(ours);
      expect(dCause).toBeLessThanOrEqual(ours + foreign);
    }
    // every one of them is an ipi of CPU 1; other IPIs happen there too on a shared machine, and what
    // Prometheus stored lies within serve's own counts over a window that holds the scrapes'
    expect(dIpi).toBeGreaterThanOrEqual(dCause);
    const direct = (t: string) => valueIn(t, 'isolwatch_interruptions_total', { cpu: '1', class: 'ipi' })!;
    expect(dIpi).toBeLessThanOrEqual(direct(directAfter) - direct(directBefore));
    const directCause = (t: string) => valueIn(t, 'isolwatch_cause_interruptions_total', { cpu: '1', class: 'ipi', func: 'ipi_mb', sender: 'membarrier' }) ?? 0;
    const dDirect = directCause(directAfter) - directCause(directBefore);
    if (foreign === 0) expect(dDirect).toBe(ours);
    else expect(dDirect).toBeGreaterThanOrEqual(dCause);

    // the histogram counts them too, and every bucket series is there
    const hist = await prom.query('isolwatch_interruption_duration_seconds_bucket{cpu="1",class="ipi"}', t1);
    expect(hist.length).toBe(32);
    const inf = hist.find((s) => s.labels.le === '+Inf')!.value;
    expect(inf).toBe(await valueAt(prom, ipi, t1));
    // the contract's info metrics, as Prometheus stored them
    const build = await prom.query('isolwatch_build_info', t1);
    expect(build[0].labels).toMatchObject({ version: expect.any(String), kernel: expect.any(String), pr_isol: expect.stringMatching(/^(kernel|absent)$/) });
    expect((await prom.query('isolwatch_watched_cpu_info', t1)).map((s) => s.labels.cpu)).toEqual(['1']);
    expect((await prom.query('isolwatch_probes{state="attached"}', t1))[0].value).toBeGreaterThan(10);

    const { code } = await serve.stop();
    expect(code).toBe(0);
    expect(serve.stderr()).toMatch(/stopped \(signal\): detached/);
  });
});

describe('deploy/ with a real Prometheus', () => {
  it("every query of the Grafana dashboard and every alert rule evaluates on serve's metrics; promtool checks the configuration", { timeout: 120_000 }, async () => {
    const serve = await startServe(['--cpus', '1']);
    cleanups.push(() => serve.stop());
    const prom = await startPrometheus([serve.address]);
    cleanups.push(() => prom.stop());
    const t0 = await prom.scrapedAfter(0);
    await prom.scrapedAfter(t0 + 1.5);
    const rules = parse(readDeploy('isolwatch-rules.yml')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const queries = [...dashboardExprs().map((q) => ({ what: `dashboard: ${q.panel}`, expr: concreteQuery(q.expr, '1m') })), ...rules.groups.flatMap((g) => g.rules.map((r) => ({ what: `rule ${r.alert}`, expr: r.expr })))];
    let answered = 0;
    for (const q of queries) {
      const r = await prom.query(q.expr); // throws with Prometheus's error on a bad query
      if (r.length > 0) answered++;
    }
    // queries over what every serve exports (not violations or policy actions, which need isolated tasks or --policy)
    expect(answered, 'queries that returned data').toBeGreaterThanOrEqual(queries.length / 2);
    for (const [args, file] of [[['check', 'config'], 'prometheus.yml'], [['check', 'rules'], 'isolwatch-rules.yml']] as const) {
      const r = spawnSync('promtool', [...args, join(DEPLOY, file)], { encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    }
  });
});

describe('the exposition', () => {
  it('live /metrics passes promtool check metrics; /healthz, 404 and 405', async () => {
    const serve = await startServe(['--cpus', '1']);
    cleanups.push(() => serve.stop());
    const text = await metricsOf(serve);
    const check = promtool(text);
    expect(check.out).toBe('');
    expect(check.status).toBe(0);
    for (const name of ['isolwatch_interruptions_total', 'isolwatch_lost_events_total', 'isolwatch_self_interruptions_total', 'isolwatch_build_info']) expect(text).toContain(`# TYPE ${name} `);
    expect(text).not.toMatch(/\b(pid|tid)="/);
    const health = await fetch(`${serve.url}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    expect((await fetch(`${serve.url}/nope`)).status).toBe(404);
    const post = await fetch(`${serve.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await serve.stop()).code).toBe(0);
  });

  it('run --metrics FILE: the run\'s metrics, written whole, what its report counts; promtool passes', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iwt-serve-run-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const metrics = join(dir, 'run.prom');
    const report = join(dir, 'run.ndjson');
    const r = spawnSync(
      process.execPath,
      [CLI, 'run', '--cpus', '1', '--warmup', '0', '--metrics', metrics, '--report', report, '--allow-cmd-failure', '--', BIN('membarrier'), '--spin-cpu', '1', '--sender-cpu', '0', '--count', '50', '--start-ms', '300', '--linger-ms', '200'],
      { encoding: 'utf8', timeout: 90_000, cwd: ROOT },
    );
    expect(r.stderr).toMatch(/isolwatch run/);
    expect(existsSync(metrics)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['run.ndjson', 'run.prom']); // no temporary file left behind
    const text = readFileSync(metrics, 'utf8');
    const check = promtool(text);
    expect(check.out).toBe('');
    expect(check.status).toBe(0);
    const recs = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as OutputRecord);
    const rows = totals(recs).filter((x) => x.cpu === 1 && x.func === 'ipi_mb' && x.cause.comm === 'membarrier' && x.cause.context === 'task');
    const want = rows.reduce((n, x) => n + x.count, 0);
    expect(want).toBeGreaterThan(0);
    // the 20 costliest causes get series; on a busy shared CPU 1, 50 IPIs may not be among them
    const own = valueIn(text, 'isolwatch_cause_interruptions_total', { cpu: '1', class: 'ipi', func: 'ipi_mb', sender: 'membarrier' });
    if (own !== undefined) expect(own).toBe(want);
    else expect(valueIn(text, 'isolwatch_cause_interruptions_total', { cpu: '1', class: 'ipi', func: 'other', sender: 'other' })).toBeGreaterThanOrEqual(want);
    // read after the run detached: the causes add up to the class counts exactly
    const all = text.split('\n').filter((l) => l.startsWith('isolwatch_cause_interruptions_total{cpu="1",class="ipi",'));
    expect(all.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)).toBe(valueIn(text, 'isolwatch_interruptions_total', { cpu: '1', class: 'ipi' }));
  });

  it('report FILE --metrics FILE of a recording passes promtool', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iwt-serve-report-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'rec.prom');
    const r = spawnSync(process.execPath, [CLI, 'report', join(ROOT, 'test/fixtures/recordings/host-membarrier.rec.ndjson'), '--metrics', out], { encoding: 'utf8' });
    expect([0, 1]).toContain(r.status);
    const check = promtool(readFileSync(out, 'utf8'));
    expect(check.out).toBe('');
    expect(check.status).toBe(0);
  });
});

describe('serve refuses what it cannot listen on: one line, exit 2, nothing attached', () => {
  const refuse = (listen: string) => spawnSync(process.execPath, [CLI, 'serve', '--cpus', '1', '--listen', listen], { encoding: 'utf8', timeout: 30_000 });

  it('a port in use', async () => {
    const taken: Server = createServer();
    await new Promise<void>((res) => taken.listen(0, '127.0.0.1', res));
    cleanups.push(() => new Promise((res) => taken.close(res)));
    const port = (taken.address() as { port: number }).port;
    const t0 = Date.now();
    const r = refuse(`127.0.0.1:${port}`);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`isolwatch serve: cannot listen on 127.0.0.1:${port}: the port is in use (another isolwatch serve?): pick another with --listen HOST:PORT (EADDRINUSE)\n`);
    expect(Date.now() - t0, 'it fails before loading BPF (which takes about a second)').toBeLessThan(3000);
  });

  it('an address this machine does not have', () => {
    const r = refuse('192.0.2.1:9476'); // TEST-NET-1: never local
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^isolwatch serve: cannot listen on 192\.0\.2\.1:9476: this machine has no such address.*\(EADDRNOTAVAIL\)$/)]);
  });
});

describe("the aggregates of exited tasks leave the kernel's table (what keeps a long-lived serve's table from filling)", () => {
  it('taken in one step with every count: the same numbers from user space, the keys gone from the map', { timeout: 120_000 }, async () => {
    const { openLive } = await import('../../src/live/pipeline.js');
    const { RetiredAggregates } = await import('../../src/live/retire.js');
    const live = await openLive({ cpus: [1], probeDefaults: 'watch', exemplarsPerS: 0 });
    cleanups.push(() => live.close());
    const timer = setInterval(() => live.pump(() => {}), 100);
    cleanups.push(() => clearInterval(timer));
    const wl = await startWorkload('membarrier', ['--spin-cpu', '1', '--sender-cpu', '0', '--count', '50']);
    const sender = Number(wl.ready.sender_tid);
    await wl.go();
    await wl.finish(); // exited: its keys can count no more
    const mine = (rows: { cause: { tid?: number; comm?: string }; func?: string; count: number }[]) => rows.filter((r) => r.func === 'ipi_mb' && r.cause.comm === 'membarrier');
    const before = live.aggregates();
    const senderKeys = before.filter((a) => a.key.cause_tid === sender);
    expect(senderKeys.length).toBeGreaterThan(0);
    const counted = mine(live.rows(before).filter((r) => r.cause.tid === sender)).reduce((n, r) => n + r.count, 0);
    expect(counted).toBeGreaterThan(0);
    const classBefore = live.counts().byCpu['1']?.ipi ?? 0;

    const retired = new RetiredAggregates();
    const n = retired.sweep({ aggregates: () => live.aggregates(), take: (k) => live.session.takeAggregates(k), rows: (x) => live.rows(x) });
    expect(n).toBeGreaterThanOrEqual(senderKeys.length);
    const after = live.aggregates();
    expect(after.filter((a) => a.key.cause_tid === sender)).toEqual([]);
    // what the sender caused is in user space now, exactly, without its thread id
    expect(mine(retired.rows()).reduce((x, r) => x + r.count, 0)).toBeGreaterThanOrEqual(counted);
    expect(retired.rows().every((r) => r.victim.tid === 0 && r.cause.tid === undefined)).toBe(true);
    // the class counters are another map: untouched
    expect(live.counts().byCpu['1']?.ipi ?? 0).toBeGreaterThanOrEqual(classBefore);
    live.detach();
  });
});

describe('serve ends on SIGTERM and SIGINT', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig}: detaches, stops listening and exits 0`, async () => {
      const serve = await startServe(['--cpus', '1']);
      cleanups.push(() => endChild(serve.proc));
      const ours = progIdsOf(serve.proc.pid!);
      expect(ours.length).toBeGreaterThan(10);
      const exited = new Promise<number | null>((res) => serve.proc.once('exit', (c) => res(c)));
      serve.proc.kill(sig);
      expect(await exited, serve.stderr()).toBe(0);
      expect(serve.stderr()).toMatch(/stopped \(signal\): detached\n$/);
      await expect(fetch(`${serve.url}/healthz`)).rejects.toThrow();
      // the kernel drops closed programs about 0.5 s after their last fd
      let left = ours;
      for (let i = 0; i < 30 && left.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const loaded = new Set((JSON.parse(spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' }).stdout) as { id: number }[]).map((p) => p.id));
        left = ours.filter((id) => loaded.has(id));
      }
      expect(left, 'programs still loaded after serve exited').toEqual([]);
    });
  }
});
