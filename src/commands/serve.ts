// `isolwatch serve`: the node agent of a fleet (Prometheus is the distributed
// system, DESIGN.md). Headless: it traces the watched CPUs, logs to stderr,
// and answers /metrics from the kernel's class counters and aggregates, read
// at each scrape (nothing is computed between scrapes but draining the ring),
// and /healthz. The address is bound before anything is attached: a port in
// use costs one line and exit 2. SIGTERM/SIGINT detach and exit 0.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command, ListenAddress } from '../cli-args.js';
import { UsageError } from '../errors.js';
import type { RawAggKey, RawAggregate } from '../contract/aggregate.js';
import type { Live } from '../live/pipeline.js';
import { RetiredAggregates } from '../live/retire.js';
import { EXPOSITION_CONTENT_TYPE } from '../output/exposition.js';
import { actionResult, classesFromAccounts, MetricsState, toMetrics } from '../output/metrics.js';
import { formatCpuList } from '../system/cpus.js';
import type { InterruptionRecord, IsolRecord } from '../types.js';

export type ServeOptions = Extract<Command, { cmd: 'serve' }>['opts'];

const err = (s: string) => process.stderr.write(`isolwatch serve: ${s}\n`);

/** How often the ring is drained: records are not what serve counts, but left alone they fill the ring. */
const PUMP_MS = 250;

/** How often the aggregates of exited tasks are moved out of the kernel's table (src/live/retire.ts). */
export const SWEEP_MS = 10_000;

/** "127.0.0.1:9476", "[::1]:9476". */
export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (another isolwatch serve?): pick another with --listen HOST:PORT',
  EADDRNOTAVAIL: 'this machine has no such address: give one of its own, or 0.0.0.0 for every IPv4 interface',
  EACCES: 'not permitted (ports below 1024 need CAP_NET_BIND_SERVICE): use a higher port',
  ENOTFOUND: 'no such host name',
  EAI_AGAIN: 'the host name does not resolve now',
  EAFNOSUPPORT: 'this machine does not support that address family',
};

/** Binds the server; what keeps it from listening there is a UsageError (exit 2) of one line. */
export function bind(server: Server, at: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = (e.code && LISTEN_ERRORS[e.code]) ?? e.message;
      reject(new UsageError(`isolwatch serve: cannot listen on ${formatAddress(at)}: ${why}${e.code && LISTEN_ERRORS[e.code] ? ` (${e.code})` : ''}`));
    };
    const onListening = () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve({ host: at.host, port: a.port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: at.host, port: at.port, exclusive: true });
  });
}

/** What the exporter reads from a live session. */
export type ExporterSource = Pick<Live, 'start' | 'counts' | 'rows' | 'aggregates' | 'enforcer'> & Partial<Pick<Live, 'steal' | 'probeMisses'>> & {
  /** read and remove aggregates from the kernel's table (session.takeAggregates) */
  take(keys: readonly RawAggKey[]): RawAggregate[];
};

/**
 * What /metrics answers: the metrics of this moment, with the series state
 * kept between scrapes, from the kernel's aggregates and those of exited
 * tasks moved out of its table.
 */
export class Exporter {
  private readonly state: MetricsState;
  private readonly actions = new Map<string, { rule: string; action: string; result: string; count: number }>();
  readonly retired = new RetiredAggregates();

  constructor(
    private readonly live: ExporterSource,
    top: number,
  ) {
    this.state = new MetricsState(top);
  }

  /** Moves the aggregates of exited tasks out of the kernel's table (it would fill, and new causes go unnamed). */
  sweep(): number {
    return this.retired.sweep({ aggregates: () => this.live.aggregates(), take: (k) => this.live.take(k), rows: (a) => this.live.rows(a) });
  }

  /** Counts what the policy did with each record (serve --policy). */
  onRecords(recs: readonly (InterruptionRecord | IsolRecord)[]): void {
    for (const r of recs) {
      if (r.type !== 'interruption') continue;
      for (const a of r.actions ?? (r.action ? [r.action] : [])) {
        const rule = a.rule ?? '';
        const result = actionResult(a.result);
        const key = `${rule}\u0000${a.kind}\u0000${result}`;
        const t = this.actions.get(key);
        if (t) t.count++;
        else this.actions.set(key, { rule, action: a.kind, result, count: 1 });
      }
    }
  }

  scrape(): string {
    const rows = [...this.live.rows(), ...this.retired.rows()]; // the kernel's aggregates, read now, and those taken out
    const k = this.live.counts();
    return toMetrics(
      {
        start: this.live.start,
        classes: classesFromAccounts(k.accounts),
        rows,
        selfCaused: k.selfCaused,
        lost: k.lost,
        ...(this.live.probeMisses ? { probeMisses: this.live.probeMisses() } : {}),
        ...(this.live.enforcer ? { actions: this.actions } : {}),
        // the hypervisor's share since serve started, read at the scrape as everything else
        ...(this.live.steal ? { steal: { clock: this.live.steal.info.clock, source: this.live.steal.info.source, byCpu: this.live.steal.total() } } : {}),
      },
      this.state,
    );
  }
}

export async function serve(o: ServeOptions): Promise<number> {
  let exporter: Exporter | undefined;
  let stopping = false;
  let lastError = '';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET or HEAD\n', undefined, { Allow: 'GET, HEAD' });
    switch (path) {
      case '/metrics': {
        if (!exporter) return send(503, 'not attached yet\n');
        try {
          return send(200, exporter.scrape(), EXPOSITION_CONTENT_TYPE);
        } catch (e) {
          const msg = (e as Error).message;
          if (msg !== lastError) err(`a scrape failed: ${msg}`); // once per distinct failure, not once per scrape
          lastError = msg;
          return send(500, `isolwatch serve: ${msg}\n`);
        }
      }
      case '/healthz':
        if (stopping) return send(503, 'stopping\n');
        return exporter ? send(200, 'ok\n') : send(503, 'not attached yet\n');
      case '/':
        return send(200, 'isolwatch serve: /metrics (Prometheus text format), /healthz\n');
      default:
        return send(404, 'not found: /metrics or /healthz\n');
    }
  });
  server.keepAliveTimeout = 65_000; // longer than a scrape interval: a scraper keeps one connection
  const at = await bind(server, o.listen);

  const { openLive, untilStopped } = await import('../live/pipeline.js');
  // the signals are ours from here on: one that comes while the programs load ends serve once they
  // are attached, on the normal path (detach, exit 0), and none can come after the line that says
  // serve is up (what a supervisor or a test waits for) without being handled
  let cancel = () => {};
  const stopped = untilStopped(o.duration, (stop) => (cancel = stop));
  let live: Live;
  try {
    live = await openLive({
      cpus: o.cpus,
      probes: o.probes,
      probeDefaults: 'watch',
      policy: o.policy,
      enforce: o.enforce,
      obj: o.obj,
      kthreads: o.kthreads,
      // the counts are the kernel's: serve needs no exemplars (a policy gets every record, as in watch)
      exemplarsPerS: 0,
    });
  } catch (e) {
    cancel();
    server.close();
    throw e;
  }
  try {
    for (const w of live.warnings) err(`warning: ${w}`);
    const ex = new Exporter({ ...live, take: (keys) => live.session.takeAggregates(keys) }, o.top);
    const pump = () => live.pump((recs) => ex.onRecords(recs));
    const timer = setInterval(pump, PUMP_MS);
    const sweeper = setInterval(() => {
      try {
        ex.sweep();
      } catch (e) {
        err(`moving the aggregates of exited tasks out of the kernel failed: ${(e as Error).message}`);
      }
    }, SWEEP_MS);
    exporter = ex;
    err(
      `watching CPU ${formatCpuList(live.watched.cpus)} (${live.start.probes.attached.length} tracepoints); ` +
        `metrics on http://${formatAddress(at)}/metrics${live.enforcer ? `; policy ${live.enforcer.policy.name}${o.enforce ? ' (enforced)' : ' (dry-run)'}` : ''}`,
    );
    const why = await stopped;
    clearInterval(timer);
    clearInterval(sweeper);
    stopping = true;
    live.detach();
    pump();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    err(`stopped (${why === 'signal' ? 'signal' : 'duration over'}): detached`);
    return 0;
  } finally {
    server.close();
    live.close();
  }
}
