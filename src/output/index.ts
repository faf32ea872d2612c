// Reporter registry (knip style): a name -> function map the commands pick
// from (`--json`, `--junit FILE`, `--summary FILE`, `--perfetto FILE`,
// `--html FILE`, `--metrics FILE`, text by default). Every
// reporter takes the same ReportInput and returns the whole document as a
// string; writing it anywhere is the caller's business.
import type { AggregateRecord, CpuRecord, InterruptionRecord, IsolRecord, OutputRecord, StartRecord, SummaryRecord } from '../types.js';
import type { Judgement } from '../verdict/index.js';
import { toNdjson } from './ndjson.js';
import { formatText, type TextOptions } from './text.js';
import { toJunit } from './junit.js';
import { toMarkdown, type RemedyLookup } from './markdown.js';
import { toPerfetto } from './perfetto.js';
import { toHtml } from './html.js';
import { classesFromAccounts, classesFromRows, toMetrics, type MetricsInput } from './metrics.js';
import type { KernelCounts } from '../live/session.js';
import type { AggregateRow } from '../verdict/rows.js';
import { appendReport, writeReport } from './files.js';

export interface ReportInput {
  start: StartRecord;
  summary: SummaryRecord;
  interruptions: readonly InterruptionRecord[];
  isol?: readonly IsolRecord[];
  /** watched CPUs going offline and back (CPU hotplug) */
  cpus?: readonly CpuRecord[];
  /** the aggregates of every interruption (scope 'total'): the records are samples of them */
  totals?: AggregateRecord;
  /** every interruption aggregated, where no totals record is written (report FILE): what --metrics counts */
  rows?: readonly AggregateRow[];
  /** the kernel's per-CPU class counters of a live run: --metrics takes its class totals from them */
  counters?: KernelCounts;
  judgement?: Judgement;
  remedyFor?: RemedyLookup;
  text?: TextOptions;
}

export type ReporterName = 'ndjson' | 'text' | 'junit' | 'markdown' | 'perfetto' | 'html' | 'metrics';
export type Reporter = (input: ReportInput) => string;

/** Records in time order: start, interruptions and isol records by ts_ns, the totals, summary. */
export function recordsOf(input: ReportInput): OutputRecord[] {
  const middle: Array<InterruptionRecord | IsolRecord | CpuRecord> = [...input.interruptions, ...(input.isol ?? []), ...(input.cpus ?? [])];
  middle.sort((a, b) => a.ts_ns - b.ts_ns);
  return [input.start, ...middle, ...(input.totals ? [input.totals] : []), input.summary];
}

export const reporters: Record<ReporterName, Reporter> = {
  ndjson: (input) => toNdjson(recordsOf(input)),
  text: (input) =>
    formatText({
      start: input.start,
      interruptions: input.interruptions,
      isol: input.isol,
      cpus: input.cpus,
      summary: input.summary,
      judgement: input.judgement,
      options: input.text,
    }),
  junit: (input) => toJunit(input),
  markdown: (input) => toMarkdown(input),
  perfetto: (input) => toPerfetto(input),
  html: (input) => toHtml(input),
  metrics: (input) => toMetrics(metricsInputOf(input)),
};

/** The metrics of one run: the kernel's class counters when the run had them, else the rows' sums. */
export function metricsInputOf(input: ReportInput): MetricsInput {
  const rows = input.totals?.rows ?? input.rows ?? [];
  return {
    start: input.start,
    classes: input.counters ? classesFromAccounts(input.counters.accounts) : classesFromRows(rows),
    rows,
    selfCaused: input.counters?.selfCaused ?? input.summary.self_caused,
    lost: input.summary.lost_events,
    ...(input.summary.probe_misses ? { probeMisses: input.summary.probe_misses } : {}),
    ...(input.summary.steal ? { steal: { clock: input.summary.steal.clock, source: input.summary.steal.source, byCpu: stealOfSummary(input.summary) } } : {}),
  };
}

/** Each CPU's steal over a run, from its summary; undefined without a steal clock. */
function stealOfSummary(s: SummaryRecord): Record<string, number> | undefined {
  if (s.steal?.source === 'none' || s.steal === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const [cpu, c] of Object.entries(s.cpus)) if (c.steal_ns !== undefined) out[cpu] = c.steal_ns;
  return out;
}

export function isReporterName(name: string): name is ReporterName {
  return Object.prototype.hasOwnProperty.call(reporters, name);
}

/** The report files run and report write, by flag: which reporter, and whether the file is appended to. */
export const FILE_REPORTS = {
  '--report': { reporter: 'ndjson', append: false },
  '--junit': { reporter: 'junit', append: false },
  '--summary': { reporter: 'markdown', append: true },
  '--perfetto': { reporter: 'perfetto', append: false },
  '--html': { reporter: 'html', append: false },
  '--metrics': { reporter: 'metrics', append: false },
} as const satisfies Record<string, { reporter: ReporterName; append: boolean }>;
export type FileReportFlag = keyof typeof FILE_REPORTS;

/** Writes every report file asked for (paths were checked with checkOutputFiles before anything started). */
export function writeFileReports(input: ReportInput, files: Partial<Record<FileReportFlag, string>>): void {
  for (const [flag, path] of Object.entries(files) as [FileReportFlag, string | undefined][]) {
    if (path === undefined) continue;
    const { reporter, append } = FILE_REPORTS[flag];
    const text = reporters[reporter](input);
    if (append) appendReport(path, text);
    else writeReport(path, text);
  }
}

export { toNdjsonLine, toNdjson, parseNdjson, splitRecords, NdjsonError } from './ndjson.js';
export { formatStart, formatInterruption, formatSummary, formatText, interruptionHeader } from './text.js';
export type { TextOptions } from './text.js';
export { toJunit } from './junit.js';
export type { ReportData } from './junit.js';
export { toMarkdown } from './markdown.js';
export { toPerfetto } from './perfetto.js';
export { toHtml } from './html.js';
export { toMetrics } from './metrics.js';
export type { RemedyLookup, MarkdownData } from './markdown.js';
export { formatDuration } from './format.js';
