// A real Prometheus server for the serve tests (Debian's `prometheus`,
// installed by scripts/setup.sh): started on 127.0.0.1 with a temporary
// configuration and storage directory, scraping the given targets every
// second, pinned to a housekeeping CPU; queried through its HTTP API; ended
// by its pid. And `isolwatch serve` started on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './harness.js';

/** A port free on 127.0.0.1 right now (the kernel picks it; a race with another binder is possible but unlikely). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ends a child by its pid (SIGTERM, SIGKILL after `graceMs`) and waits for it. */
export async function endChild(p: ChildProcess, graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (p.exitCode !== null || p.signalCode !== null) return { code: p.exitCode, signal: p.signalCode };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => p.once('exit', (code, signal) => res({ code, signal })));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  const r = await exited;
  clearTimeout(t);
  return r;
}

export interface Sample {
  labels: Record<string, string>;
  /** unix seconds */
  ts: number;
  value: number;
}

export interface Prometheus {
  url: string;
  proc: ChildProcess;
  /** An instant query (at `timeS`, unix seconds; default now): one sample per series. */
  query(q: string, timeS?: number): Promise<Sample[]>;
  /** Raw samples of a range selector (e.g. `up[30s]`) at `timeS`. */
  samples(q: string, timeS?: number): Promise<Sample[][]>;
  /** Waits until every target has been scraped successfully since `afterS` (unix seconds): returns that scrape's time. */
  scrapedAfter(afterS: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
  log(): string;
}

export async function startPrometheus(targets: string[], opts: { cpu?: number } = {}): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'iwt-prometheus-'));
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: isolwatch',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const argv = ['prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'];
  const proc = spawn('taskset', ['-c', String(opts.cpu ?? 0), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await endChild(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  const api = async (path: string): Promise<{ resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] }> => {
    const r = await fetch(`${url}${path}`);
    const body = (await r.json()) as { status: string; error?: string; data: never };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  const at = (timeS?: number) => (timeS === undefined ? '' : `&time=${timeS.toFixed(3)}`);
  const p: Prometheus = {
    url,
    proc,
    log: () => log,
    stop,
    async query(q, timeS) {
      const d = await api(`/api/v1/query?query=${encodeURIComponent(q)}${at(timeS)}`);
      return d.result.map((x) => ({ labels: x.metric, ts: x.value![0], value: Number(x.value![1]) }));
    },
    async samples(q, timeS) {
      const d = await api(`/api/v1/query?query=${encodeURIComponent(q)}${at(timeS)}`);
      return d.result.map((x) => x.values!.map(([ts, v]) => ({ labels: x.metric, ts, value: Number(v) })));
    },
    async scrapedAfter(afterS, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // an instant query's timestamps are the query's: the scrape's own time is what timestamp() of the
        // selector itself gives (of an expression over it, the query's again); `and` keeps those values
        const at = await p.query('timestamp(up{job="isolwatch"}) and up{job="isolwatch"} == 1');
        if (at.length === targets.length && at.every((s) => s.value > afterS)) return Math.min(...at.map((s) => s.value));
        if (Date.now() > deadline) throw new Error(`prometheus did not scrape ${targets.join(', ')} after ${afterS} within ${timeoutMs} ms: ${JSON.stringify(at)}\n${log}`);
        await sleep(200);
      }
    },
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}): ${log}`);
      try {
        if ((await fetch(`${url}/-/ready`)).ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s: ${log}`);
      await sleep(200);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return p;
}

export interface Serve {
  proc: ChildProcess;
  /** host:port it said it listens on */
  address: string;
  url: string;
  stderr(): string;
  /** SIGTERM; its exit */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `isolwatch serve --listen 127.0.0.1:0 ARGS`; resolves once it says where its metrics are (= attached). */
export function startServe(args: string[]): Promise<Serve> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    let attached = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`isolwatch serve did not attach within 60 s: ${stderr}`));
    }, 60_000);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`isolwatch serve exited (${code}) before attaching: ${stderr}`));
    };
    proc.once('exit', early);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /metrics on http:\/\/([^/\s]+)\/metrics/.exec(stderr);
      if (!m || attached) return;
      attached = true;
      clearTimeout(timer);
      proc.off('exit', early);
      resolve({
        proc,
        address: m[1],
        url: `http://${m[1]}`,
        stderr: () => stderr,
        stop: () => endChild(proc, 10_000),
      });
    });
  });
}

/** The value of one series in exposition text (undefined when absent). */
export function valueIn(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const got: Record<string, string> = {};
    for (const p of (m[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[p[1]] = p[2];
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return undefined;
}
