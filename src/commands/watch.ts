// `isolwatch watch` (and `--pid`, `record`): live records as NDJSON, a text
// log, the TUI, or a raw recording.
import { closeSync, openSync, writeSync } from 'node:fs';
import { encodeLine } from '../events/recording.js';
import { toNdjsonLine } from '../output/ndjson.js';
import { formatInterruption, formatStart, formatSummary } from '../output/text.js';
import type { OutputRecord } from '../types.js';
import { openLive, untilStopped } from './live.js';

export interface WatchOptions {
  cpus?: number[];
  pids: number[];
  duration?: number;
  json: boolean;
  probes?: string;
  policy?: string;
  enforce: boolean;
  obj?: string;
  /** record: raw stream to this file */
  output?: string;
}

const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');

/** Stops when every --pid has exited. */
function whenPidsGone(pids: number[], stop: () => void): void {
  if (!pids.length) return;
  const t = setInterval(() => {
    const alive = pids.some((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    });
    if (!alive) {
      clearInterval(t);
      stop();
    }
  }, 200);
  t.unref();
}

export async function watch(o: WatchOptions): Promise<number> {
  const useTui = !o.output && !o.json && process.stdout.isTTY === true;
  const live = openLive({
    cpus: o.cpus,
    pids: o.pids,
    probes: o.probes,
    probeDefaults: o.pids.length ? 'task' : 'watch',
    policy: o.policy,
    enforce: o.enforce,
    obj: o.obj,
    filterToPids: true,
  });
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    for (const w of live.warnings) err(`isolwatch: warning: ${w}`);
    if (useTui) return await watchTui(live, o);

    let fd: number | undefined;
    if (o.output) {
      fd = openSync(o.output, 'w');
      writeSync(fd, encodeLine({ type: 'recording', abi: 1, start: live.start, declared_pids: o.pids, arch: live.start.arch }) + '\n');
    }
    const emit = (r: OutputRecord) => {
      if (o.output) return;
      process.stdout.write(o.json ? toNdjsonLine(r) + '\n' : r.type === 'interruption' ? formatInterruption(r, { timeZeroNs: live.start.ts_ns }) + '\n' : '');
    };
    if (!o.output) process.stdout.write(o.json ? toNdjsonLine(live.start) + '\n' : formatStart(live.start) + '\n');
    else err(`isolwatch: recording CPUs ${live.watched.cpus.join(',')} to ${o.output} (Ctrl-C to stop)`);
    const pump = () =>
      live.pump(
        (recs) => recs.forEach(emit),
        fd !== undefined ? (raws) => raws.forEach((r) => writeSync(fd!, encodeLine({ type: 'raw', ...r }) + '\n')) : undefined,
      );
    const timer = setInterval(pump, 100);
    await untilStopped(o.duration, (stop) => whenPidsGone(o.pids, stop));
    clearInterval(timer);
    pump();
    const summary = live.summary(elapsed());
    if (fd !== undefined) {
      const k = live.counts();
      writeSync(
        fd,
        encodeLine({ type: 'end', duration_s: elapsed(), lost: k.lost, kernel_counts: summary.kernel_counts as Record<string, Record<string, number>>, symbols: live.symbols.used() }) + '\n',
      );
      closeSync(fd);
      err(formatSummary(summary));
    } else process.stdout.write(o.json ? toNdjsonLine(summary) + '\n' : formatSummary(summary) + '\n');
    return 0;
  } finally {
    live.close();
  }
}

async function watchTui(live: ReturnType<typeof openLive>, o: WatchOptions): Promise<number> {
  const { runTui } = await import('../../tui/app.js');
  const { remedyFor } = await import('../remedies.js');
  const subs = new Set<(recs: OutputRecord[]) => void>();
  const timer = setInterval(() => live.pump((recs) => subs.forEach((s) => s(recs))), 100);
  const t0 = process.hrtime.bigint();
  let stopTimer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    const tui = runTui({
      start: live.start,
      subscribe: (cb) => {
        subs.add(cb);
        return () => subs.delete(cb);
      },
      stop: async () => {
        clearInterval(timer);
        live.pump((recs) => subs.forEach((s) => s(recs)));
        return live.summary(Number(process.hrtime.bigint() - t0) / 1e9);
      },
      enforcement: o.policy ? (o.enforce ? 'enforce' : 'dry-run') : 'off',
      remedyFor: remedyFor as never,
    });
    tui.then(resolve, reject);
    if (o.duration !== undefined) stopTimer = setTimeout(() => process.kill(process.pid, 'SIGINT'), o.duration * 1000);
  });
  if (stopTimer) clearTimeout(stopTimer);
  clearInterval(timer);
  return 0;
}
