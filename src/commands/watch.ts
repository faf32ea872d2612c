// `isolwatch watch` (and `--pid`, `record`): live records as NDJSON, a text
// log, the TUI, or a raw recording.
import type { CommonOptions } from '../cli-args.js';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { IW } from '../contract/layout.generated.js';
import { encodeLine } from '../contract/recording.js';
import { toNdjsonLine } from '../output/ndjson.js';
import { formatCpu, formatInterruption, formatIsol, formatStart, formatSummary } from '../output/text.js';
import type { OutputRecord, StartRecord, SummaryRecord, TaskRef } from '../types.js';
import { policyVerdict } from '../enforce/index.js';
import type { Live } from '../live/pipeline.js';
import { checkWritable } from '../output/files.js';
import { judge, verdictBlock } from '../verdict/index.js';

export type WatchOptions = CommonOptions & {
  pids: number[];
  duration?: number;
  /** --json: seconds between aggregate records */
  interval?: number;
  /** record: raw stream to this file */
  output?: string;
  /** TUI: fixed header notes (what `isolwatch demo` started), from the start record's facts */
  notes?: (start: StartRecord) => string[];
};

const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');

function pidAlive(p: number): boolean {
  try {
    process.kill(p, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The threads of the --pid processes (at most `max` each), which the TUI lists from the start. */
function threadsOf(pids: number[], max = 64): TaskRef[] {
  const out: TaskRef[] = [];
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone already: the exit notice will say so
    }
    for (const tid of tids.slice(0, max)) {
      try {
        out.push({ pid, tid: Number(tid), comm: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() });
      } catch {
        /* the thread exited meanwhile */
      }
    }
  }
  return out;
}

/** Stops when every --pid has exited. */
function whenPidsGone(pids: number[], stop: () => void): void {
  if (!pids.length) return;
  const t = setInterval(() => {
    const alive = pids.some(pidAlive);
    if (!alive) {
      clearInterval(t);
      stop();
    }
  }, 200);
  t.unref();
}

/** Bytes queued for a stdout reader that falls behind before records are dropped instead of queued. */
export const STDOUT_BACKLOG_BYTES = 16 << 20;

/**
 * process.stdout to a pipe is asynchronous: a reader that falls behind would
 * make every record wait in memory, without bound. Past the backlog limit a
 * record is counted and not written (correlation, the summary's counts and
 * enforcement still see it); stderr says so once, the summary gives the count.
 */
function stdoutWithBackpressure(limit = STDOUT_BACKLOG_BYTES) {
  const state = {
    dropped: 0,
    write(line: () => string): void {
      if (process.stdout.writableLength > limit) {
        if (state.dropped++ === 0)
          err(`isolwatch: warning: the reader of stdout is ${Math.round(limit / 2 ** 20)} MiB behind: records are dropped from the output (still counted); the summary says how many`);
        return;
      }
      const s = line();
      if (s) process.stdout.write(s);
    },
  };
  return state;
}

/**
 * A watch fails (exit 1) only by its policy: a rule whose fail action fired.
 * Sets summary.verdict when there is something to say (a failure, or a
 * --pid process the policy killed); returns whether it passed.
 */
function setWatchVerdict(summary: SummaryRecord, live: Live, pids: number[]): boolean {
  if (!live.enforcer) return true;
  const pv = policyVerdict(live.enforcer);
  const kills = pids.flatMap((p) => policyVerdict(live.enforcer, { pid: p, signal: 'SIGKILL' }).notes);
  const j = judge({ rows: [], watchedCpus: live.watched.cpus, policy: { name: live.enforcer.policy.name, failures: pv.failures, notes: kills } });
  if (j.failures.length) summary.verdict = verdictBlock(j);
  return j.pass;
}

export async function watch(o: WatchOptions): Promise<number> {
  if (o.output) checkWritable('record', '-o', o.output);
  const useTui = !o.output && !o.json && process.stdout.isTTY === true;
  const { openLive, untilStopped } = await import('../live/pipeline.js');
  const live = await openLive({
    cpus: o.cpus,
    pids: o.pids,
    probes: o.probes,
    probeDefaults: o.pids.length ? 'task' : 'watch',
    policy: o.policy,
    enforce: o.enforce,
    obj: o.obj,
    kthreads: o.kthreads,
    filterToPids: true,
    // a recording keeps every record (a replay sees them one by one); the live views sample them
    records: o.records ?? (o.output ? 'all' : undefined),
  });
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    for (const w of live.warnings) err(`isolwatch: warning: ${w}`);
    if (useTui) return await watchTui(live, o);

    let fd: number | undefined;
    if (o.output) {
      fd = openSync(o.output, 'w');
      // the policy goes with the recording: a replay judges by it (report FILE)
      const policy = o.policy ? { file: basename(o.policy), text: readFileSync(o.policy, 'utf8'), enforced: o.enforce } : undefined;
      writeSync(fd, encodeLine({ type: 'recording', abi: IW.IW_ABI_VERSION, start: live.start, declared_pids: o.pids, arch: live.start.arch, ...(policy ? { policy } : {}) }) + '\n');
    }
    const out = stdoutWithBackpressure();
    const emit = (r: OutputRecord) => {
      if (o.output) return;
      const t = { timeZeroNs: live.start.ts_ns };
      out.write(() =>
        o.json
          ? toNdjsonLine(r) + '\n'
          : r.type === 'interruption'
            ? formatInterruption(r, t) + '\n'
            : r.type === 'isol'
              ? formatIsol(r, t) + '\n'
              : r.type === 'cpu'
                ? formatCpu(r, t) + '\n'
                : '',
      );
    };
    if (!o.output) process.stdout.write(o.json ? toNdjsonLine(live.start) + '\n' : formatStart(live.start) + '\n');
    else err(`isolwatch: recording CPUs ${live.watched.cpus.join(',')} to ${o.output} (Ctrl-C to stop)`);
    const pump = () => {
      live.pump(
        (recs) => recs.forEach(emit),
        fd !== undefined ? (raws) => raws.forEach((r) => writeSync(fd!, encodeLine({ type: 'raw', ...r }) + '\n')) : undefined,
      );
      // a watched CPU going offline or coming back (CPU hotplug): said where the records go
      for (const c of live.cpuChanges()) {
        if (fd !== undefined) writeSync(fd, encodeLine(c) + '\n');
        else emit(c);
        err(`isolwatch: ${c.online ? `CPU ${c.cpu} is back online: watched again` : `CPU ${c.cpu} went offline (CPU hotplug): nothing can be seen on it until it returns`}`);
      }
    };
    const timer = setInterval(pump, 100);
    // --json: what changed, every --interval (the counts are the kernel's: exact whatever was sampled)
    const aggTimer = o.json && !o.output ? setInterval(() => emit(live.intervalRecord()), (o.interval ?? 10) * 1000) : undefined;
    await untilStopped(o.duration, (stop) => whenPidsGone(o.pids, stop));
    clearInterval(timer);
    if (aggTimer) clearInterval(aggTimer);
    live.detach(); // what follows reads one final state
    pump();
    const aggs = live.aggregates();
    const summary = live.summary(elapsed(), aggs, { outputDropped: out.dropped });
    const pass = setWatchVerdict(summary, live, o.pids);
    if (fd !== undefined) {
      const k = live.counts();
      writeSync(
        fd,
        encodeLine({
          type: 'end',
          duration_s: elapsed(),
          lost: k.lost,
          ...(summary.probe_misses ? { probe_misses: summary.probe_misses } : {}),
          kernel_counts: summary.kernel_counts as Record<string, Record<string, number>>,
          ...(summary.records ? { records: summary.records } : {}),
          ...(summary.steal ? { steal: { ...summary.steal, ...(live.steal.readable ? { by_cpu: live.steal.total() } : {}) } } : {}),
          aggregates: aggs,
          symbols: live.symbols.used(),
        }) + '\n',
      );
      closeSync(fd);
      err(formatSummary(summary));
    } else if (o.json) {
      process.stdout.write(toNdjsonLine(live.totalRecord(aggs)) + '\n' + toNdjsonLine(summary) + '\n');
    } else process.stdout.write(formatSummary(summary) + '\n');
    return pass ? 0 : 1;
  } finally {
    live.close();
  }
}

async function watchTui(live: Live, o: WatchOptions): Promise<number> {
  const { runTui } = await import('../../tui/app.js');
  const { remedyFor } = await import('../remedies.js');
  const subs = new Set<(recs: OutputRecord[]) => void>();
  const timer = setInterval(() => {
    live.pump((recs) => subs.forEach((s) => s(recs)));
    live.cpuChanges(); // the header says which watched CPUs are offline (status)
  }, 100);
  // the counts, once a second: what the kernel's aggregates gained (records are samples)
  const aggTimer = setInterval(() => {
    const rec = live.intervalRecord();
    subs.forEach((s) => s([rec]));
  }, 1000);
  const t0 = process.hrtime.bigint();
  let stopTimer: NodeJS.Timeout | undefined;
  let pass = true;
  await new Promise<void>((resolve, reject) => {
    const tui = runTui({
      start: live.start,
      countsFrom: 'aggregates',
      subscribe: (cb) => {
        subs.add(cb);
        return () => subs.delete(cb);
      },
      stop: async () => {
        clearInterval(timer);
        clearInterval(aggTimer);
        live.detach();
        live.pump((recs) => subs.forEach((s) => s(recs)));
        const summary = live.summary(Number(process.hrtime.bigint() - t0) / 1e9);
        pass = setWatchVerdict(summary, live, o.pids);
        return summary;
      },
      enforcement: o.policy ? `${o.enforce ? 'enforce' : 'dry-run'} (${basename(o.policy)})` : 'off',
      remedyFor,
      notes: [...live.warnings.map((w) => `warning: ${w}`), ...(o.notes?.(live.start) ?? [])],
      declaredTasks: threadsOf(o.pids),
      // The view stays open when a --pid exits (its numbers are what the user came for): it says so instead.
      status: () => {
        const gone = o.pids.filter((p) => !pidAlive(p));
        const offline = live.hotplug.offline();
        return {
          lostEvents: live.counts().lost,
          notices: [
            ...(gone.length ? [`pid ${gone.join(',')} exited: no more interruptions to show; q to quit`] : []),
            ...(offline.length ? [`CPU ${offline.join(',')} offline (CPU hotplug): nothing can be seen there until it returns`] : []),
          ],
        };
      },
    });
    tui.then(resolve, reject);
    if (o.duration !== undefined) stopTimer = setTimeout(() => process.kill(process.pid, 'SIGINT'), o.duration * 1000);
  });
  if (stopTimer) clearTimeout(stopTimer);
  clearInterval(timer);
  clearInterval(aggTimer);
  // the live view fails as the text mode does: a policy's fail action fired
  return pass ? 0 : 1;
}
