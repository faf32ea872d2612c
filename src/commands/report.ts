// `isolwatch report FILE`: replays a recording through the same engine as a
// live run and writes the same outputs (text, NDJSON, JUnit, markdown, TUI).
import { readFileSync, writeFileSync } from 'node:fs';
import { judgeRun } from '../budget.js';
import { budgetsFromFlags } from './budgets.js';
import { checkOutputPaths } from './output-paths.js';
import { writePictures } from './pictures.js';
import { Engine } from '../correlate/engine.js';
import { parseRecording, RecordingError } from '../contract/recording.js';
import type { RawRecord } from '../contract/decode.js';
import { UsageError } from '../errors.js';
import { IsolTracker } from '../isol/state.js';
import { toJunit } from '../output/junit.js';
import { toMarkdown } from '../output/markdown.js';
import { toNdjsonLine } from '../output/ndjson.js';
import { formatText } from '../output/text.js';
import { remedyFor } from '../remedies.js';
import { symbolsFromTable } from '../system/kallsyms.js';
import type { InterruptionRecord, IsolRecord, OutputRecord, StartRecord, SummaryRecord } from '../types.js';

export interface Replay {
  start: StartRecord;
  records: (InterruptionRecord | IsolRecord)[];
  summary: SummaryRecord;
  warmupEndNs?: number;
}

/** Pure replay: the recording's text in, the records a live run would have printed out. */
export function replay(text: string, file: string): Replay {
  let rec;
  try {
    rec = parseRecording(text, file);
  } catch (e) {
    if (e instanceof RecordingError) throw new UsageError(e.message);
    throw e;
  }
  const { header, raws, end } = rec;
  const tracker = new IsolTracker({ prIsol: header.start.pr_isol });
  for (const pid of header.declared_pids) tracker.declare({ pid }, { children: true, ts_ns: header.start.ts_ns ?? 0 });
  const engine = new Engine({ symbols: symbolsFromTable(end?.symbols ?? {}), tracker, prIsol: header.start.pr_isol, arch: header.arch });
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
  const summary = engine.summary({
    durationS: end?.duration_s,
    lost: end?.lost ?? 0,
    kernelCounts: end?.kernel_counts,
    watchedCpus: header.start.watched_cpus,
  });
  return { start: header.start, records, summary, warmupEndNs };
}

export interface ReportOptions {
  file: string;
  json: boolean;
  junit?: string;
  summary?: string;
  perfetto?: string;
  html?: string;
  tui: boolean;
  budgets: string[];
  allowSelf: boolean;
}

export async function report(o: ReportOptions): Promise<number> {
  checkOutputPaths('report', { '--junit': o.junit, '--summary': o.summary, '--perfetto': o.perfetto, '--html': o.html });
  let text: string;
  try {
    text = readFileSync(o.file, 'utf8');
  } catch (e) {
    throw new UsageError(`isolwatch report: cannot read ${o.file}: ${(e as Error).message}`);
  }
  const r = replay(text, o.file);
  const interruptions = r.records.filter((x): x is InterruptionRecord => x.type === 'interruption');
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
      remedyFor: remedyFor as never,
    });
    return 0;
  }
  const budgets = budgetsFromFlags(o.budgets);
  const judgement = judgeRun({
    interruptions,
    budgets,
    allowSelf: o.allowSelf,
    warmupEndNs: r.warmupEndNs,
    watchedCpus: r.start.watched_cpus,
  });
  if (o.junit) writeFileSync(o.junit, toJunit({ start: r.start, summary: r.summary, judgement, interruptions }));
  if (o.summary) writeFileSync(o.summary, toMarkdown({ start: r.start, summary: r.summary, judgement, interruptions, remedyFor: remedyFor as never }));
  writePictures(o, { start: r.start, summary: r.summary, judgement, interruptions, remedyFor, judged: { from_ns: r.warmupEndNs } });
  if (o.json) {
    for (const x of [r.start, ...r.records, r.summary]) process.stdout.write(toNdjsonLine(x as OutputRecord) + '\n');
  } else if (!o.junit && !o.summary && !o.perfetto && !o.html) {
    process.stdout.write(formatText({ start: r.start, interruptions, summary: r.summary, judgement }));
  }
  return 0;
}
