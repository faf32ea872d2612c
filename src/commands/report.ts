// `isolwatch report FILE`: replays a recording through the same engine as a
// live run, judges it as run would (the recorded policy, or --policy, or
// --budget), writes the same outputs (text, NDJSON, JUnit, markdown, Perfetto,
// HTML, Prometheus metrics, the live view) and exits by the verdict. Loads no libbpf: it runs
// anywhere.
import { readFileSync } from 'node:fs';
import type { Command } from '../cli-args.js';
import type { RawRecord } from '../contract/decode.js';
import { parseRecording, RecordingError, type RecordingEnd, type RecordingHeader } from '../contract/recording.js';
import { Engine } from '../correlate/engine.js';
import { engineHook, Enforcer, policyVerdict } from '../enforce/index.js';
import { UsageError } from '../errors.js';
import { IsolTracker } from '../isol/state.js';
import { checkOutputFiles } from '../output/files.js';
import { reporters, writeFileReports } from '../output/index.js';
import { loadPolicy, parsePolicy, type Policy } from '../policy/index.js';
import { remedyFor } from '../remedies.js';
import { symbolsFromTable } from '../system/kallsyms.js';
import type { CpuRecord, InterruptionRecord, IsolRecord, StartRecord, SummaryRecord, SummarySteal } from '../types.js';
import { judge, rowsFromRecords, verdictBlock, type AggregateRow, type Judgement } from '../verdict/index.js';
import { rowsOf } from '../correlate/aggregates.js';
import { countsOfRows, summarize } from '../correlate/summary.js';
import { budgetsFromFlags } from './budgets.js';

export interface Replay {
  start: StartRecord;
  records: (InterruptionRecord | IsolRecord)[];
  /** every interruption of the recording, aggregated: what the verdict and the summary count */
  rows: AggregateRow[];
  /** watched CPUs going offline and back during the recording (CPU hotplug) */
  cpus: CpuRecord[];
  summary: SummaryRecord;
  warmupEndNs?: number;
  /** the policy the replay judged by (the recorded one, or the one given) */
  policy?: Policy;
  enforcer?: Enforcer;
}

/** The policy a recording was made with, parsed from the copy the recording keeps. */
export function recordedPolicy(header: RecordingHeader): Policy | undefined {
  if (!header.policy) return undefined;
  return parsePolicy(header.policy.text, header.policy.file);
}

/**
 * Pure replay: the recording's text in, the records a live run would have
 * printed out. A policy (the recorded one unless `policy` is given) judges the
 * records again; its actions are planned, never taken (dry-run).
 */
export function replay(text: string, file: string, policy?: Policy): Replay {
  let rec;
  try {
    rec = parseRecording(text, file);
  } catch (e) {
    if (e instanceof RecordingError) throw new UsageError(e.message);
    throw e;
  }
  const { header, raws, end, cpus } = rec;
  const judgedBy = policy ?? recordedPolicy(header);
  const tracker = new IsolTracker({ prIsol: header.start.pr_isol });
  for (const pid of header.declared_pids) tracker.declare({ pid }, { children: true, ts_ns: header.start.ts_ns ?? 0 });
  const enforcer = judgedBy ? new Enforcer(judgedBy, { enforce: false, watchedCpus: header.start.watched_cpus, limitClock: 'record' }) : undefined;
  const symbols = symbolsFromTable(end?.symbols ?? {});
  // as the live view of record --pid: its processes and what they forked
  const victimFilter = header.declared_pids.length ? (pid: number, tid: number) => header.declared_pids.includes(pid) || tracker.isDeclared(tid, pid) : undefined;
  const engine = new Engine({
    symbols,
    tracker,
    prIsol: header.start.pr_isol,
    arch: header.arch,
    victimFilter,
    policy: enforcer ? engineHook(enforcer) : undefined,
  });
  const records: (InterruptionRecord | IsolRecord)[] = [];
  let warmupEndNs: number | undefined;
  for (const r of raws) {
    if ('type' in r && r.type === 'declare') {
      tracker.declare({ pid: r.pid }, { children: r.children ?? true, ts_ns: r.ts_ns });
      warmupEndNs ??= r.ts_ns;
      continue;
    }
    const out = engine.ingest(r as RawRecord);
    if (out) records.push(out);
  }
  const interruptions = records.filter((x): x is InterruptionRecord => x.type === 'interruption');
  // The kernel's aggregates, when the recording has them (ABI 2), count everything, whatever the ring lost
  // (a policy's fail actions still come from the records, one by one); a recorded declaration splits the
  // records into warm-up and judged, which the recording's aggregates do not.
  const fromKernel = end?.aggregates && warmupEndNs === undefined;
  const rows = fromKernel
    ? rowsOf(end.aggregates!, { symbols, tracker, phaseOf: () => 'judged', masksOf: (tid) => engine.kernelMasksOf(tid) })
    : rowsFromRecords(interruptions, { warmupEndNs });
  const span = engine.span;
  const summary = summarize({
    rows,
    watchedCpus: header.start.watched_cpus,
    durationS: end?.duration_s ?? (span.firstNs !== undefined && span.lastNs !== undefined ? (span.lastNs - span.firstNs) / 1e9 : 0),
    lost: end?.lost ?? 0,
    probeMisses: end?.probe_misses,
    kernelCounts: end?.kernel_counts ?? countsOfRows(rows, header.start.watched_cpus),
    records: end?.records,
    victimFilter,
    ...(end?.steal ? { steal: stealOfEnd(end.steal) } : {}),
  });
  return { start: header.start, records, cpus, rows, summary, warmupEndNs, policy: judgedBy, enforcer };
}

/** The recorded steal as summarize() takes it: the clock's block and each CPU's steal. */
function stealOfEnd(s: NonNullable<RecordingEnd['steal']>): { summary: SummarySteal; byCpu?: Record<string, number> } {
  const { by_cpu: byCpu, ...summary } = s;
  return { summary, byCpu };
}

export type ReportOptions = Extract<Command, { cmd: 'report' }>['opts'];

/** Judges a replay as run would have: the window from the recorded declaration, the policy's fail actions, the budgets. */
export function judgeReplay(r: Replay, opts: { budgets: ReturnType<typeof budgetsFromFlags>; allowSelf: boolean }): Judgement {
  const pv = policyVerdict(r.enforcer);
  return judge({
    rows: r.rows,
    watchedCpus: r.start.watched_cpus,
    budgets: opts.budgets,
    policy: r.policy ? { name: r.policy.name, ...pv } : undefined,
    allowSelf: opts.allowSelf,
  });
}

export async function report(o: ReportOptions): Promise<number> {
  if (o.tui && !process.stdout.isTTY) {
    throw new UsageError('isolwatch report: --tui needs a terminal on stdout (without it: isolwatch report FILE, or --json)');
  }
  const files = { '--junit': o.junit, '--summary': o.summary, '--perfetto': o.perfetto, '--html': o.html, '--metrics': o.metrics };
  checkOutputFiles('report', files);
  const budgets = budgetsFromFlags(o.budgets);
  const policy = o.policy ? loadPolicy(o.policy) : undefined;
  let text: string;
  try {
    text = readFileSync(o.file, 'utf8');
  } catch (e) {
    throw new UsageError(`isolwatch report: cannot read ${o.file}: ${(e as Error).message}`);
  }
  const r = replay(text, o.file, policy);
  const interruptions = r.records.filter((x): x is InterruptionRecord => x.type === 'interruption');
  const judgement = judgeReplay(r, { budgets, allowSelf: o.allowSelf });
  const judged = r.warmupEndNs !== undefined ? { from_ns: r.warmupEndNs } : undefined;
  r.summary.verdict = verdictBlock(judgement, judged);
  if (o.tui) {
    const { runTui } = await import('../../tui/app.js');
    await runTui({
      start: r.start,
      replay: true,
      subscribe: (cb) => {
        setImmediate(() => cb([...r.records, r.summary]));
        return () => {};
      },
      stop: async () => r.summary,
      enforcement: r.policy ? `replayed (${r.policy.name}: actions not taken)` : 'off',
      remedyFor,
    });
    return judgement.pass ? 0 : 1;
  }
  const isol = r.records.filter((x): x is IsolRecord => x.type === 'isol');
  const input = { start: r.start, summary: r.summary, interruptions, isol, cpus: r.cpus, rows: r.rows, judgement, remedyFor };
  writeFileReports(input, files);
  if (o.json) process.stdout.write(reporters.ndjson(input));
  else if (Object.values(files).every((f) => f === undefined)) process.stdout.write(reporters.text(input));
  return judgement.pass ? 0 : 1;
}
