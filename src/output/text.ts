// The human log of `isolwatch watch` without --json (and `report FILE`): a
// header saying what is watched and whether it can be quiet, one line per
// interruption in fixed columns, and a per-CPU x class summary with the
// verdict. Pure: records in, strings out (no trailing newline).
import { CLASSES } from '../types.js';
import type { CpuRecord, InterruptionClass, InterruptionRecord, IsolRecord, StartRecord, SummaryRecord } from '../types.js';
import { formatCpuList } from '../system/cpus.js';
import { parseTlbFlushLabel, tlbFlushMeaning } from '../system/tlb-flush.js';
import { limitsText, type Judgement } from '../verdict/index.js';
import { notableSteal, notableStealText, stealStartText, stealSummaryLine } from './steal.js';
import {
  causeText,
  chainText,
  col,
  cpuWarnings,
  formatDuration,
  plural,
  probeMissesText,
  taskLabel,
  watchedReasonText,
} from './format.js';

export interface TextOptions {
  /** CLOCK_REALTIME - CLOCK_MONOTONIC in ns (bigint keeps it exact): when given, times print as UTC wall clock HH:MM:SS.uuuuuu */
  realtimeOffsetNs?: number | bigint;
  /** when no realtime offset: times print as seconds since this ts_ns (default: raw ts_ns) */
  timeZeroNs?: number;
}

const W = { time: 15, cpu: 3, class: 10, kind: 20, func: 17, dur: 7 };

/** The column header printed above interruption lines. */
export function interruptionHeader(): string {
  return [
    col('TIME', W.time),
    col('CPU', W.cpu, 'right') + ' ',
    col('CLASS', W.class),
    col('KIND', W.kind),
    col('FUNC', W.func),
    col('STOLEN', W.dur, 'right'),
    ' TASK <- CAUSE',
  ].join(' ');
}

function timeText(ts: number, opts: TextOptions): string {
  if (opts.realtimeOffsetNs !== undefined) {
    // Wall-clock ns exceed 2^53: do the sum in bigint so the microseconds are right.
    const wall = BigInt(Math.round(ts)) + BigInt(opts.realtimeOffsetNs);
    const secs = wall / 1_000_000_000n;
    const us = Number((wall % 1_000_000_000n) / 1_000n);
    const d = new Date(Number(secs) * 1000);
    const p2 = (n: number) => String(n).padStart(2, '0');
    return `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String(us).padStart(6, '0')}`;
  }
  const rel = (ts - (opts.timeZeroNs ?? 0)) / 1e9;
  return rel.toFixed(6).padStart(W.time);
}

/**
 * The log header: kernel, what is watched and why, plain warnings when a
 * watched CPU cannot be quiet, probes attached/missing, then the column header.
 */
export function formatStart(start: StartRecord, opts: { columns?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`isolwatch ${start.version} on Linux ${start.kernel} ${start.arch}`);
  lines.push(
    start.pr_isol === 'kernel'
      ? 'PR_ISOL: in this kernel (isolation state read from the kernel)'
      : 'PR_ISOL: absent on this kernel (isolation state from --pid/run declarations)',
  );
  if (start.command) lines.push(`command: ${start.command}`);
  const cpus = formatCpuList(start.watched_cpus);
  const why = watchedReasonText(start);
  lines.push(`watching CPU ${cpus || '(none)'}${why ? `: ${why}` : ''}`);
  lines.push(
    `  isolated: ${formatCpuList(start.isolated) || '(none)'}   nohz_full: ${formatCpuList(start.nohz_full) || '(none)'}`,
  );
  for (const w of cpuWarnings(start)) lines.push(...wrapWords(`warning: ${w}`, '  ', 80));
  const { attached, missing } = start.probes;
  lines.push(`probes: ${attached.length} attached${missing.length ? `, ${missing.length} missing (skipped):` : ', none missing'}`);
  if (missing.length) lines.push(...wrapList(missing, '  ', 80));
  const flush = parseTlbFlushLabel(start.tlb_flush);
  if (flush && flush.mode !== 'ipi') lines.push(...wrapWords(`${flush.mode === 'hypervisor' ? 'warning' : 'note'}: ${tlbFlushMeaning(flush)}`, '  ', 80));
  const steal = stealStartText(start.steal);
  if (steal) lines.push(...wrapWords(`${steal.level === 'info' ? '' : `${steal.level}: `}${steal.text}`, '  ', 80));
  // the legend and column header only where interruption lines follow (not run's stderr)
  if (opts.columns !== false) {
    lines.push('* = violation (the task was isolated)');
    lines.push(interruptionHeader());
  }
  return lines.join('\n');
}

/** Word-wraps a sentence at `width`, continuation lines indented. */
export function wrapWords(text: string, indent: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of text.split(' ')) {
    if (cur !== '' && cur.length + 1 + word.length > width) {
      out.push(cur);
      cur = indent + word;
    } else {
      cur = cur === '' ? word : `${cur} ${word}`;
    }
  }
  if (cur !== '') out.push(cur);
  return out;
}

function wrapList(items: readonly string[], indent: string, width: number): string[] {
  const out: string[] = [];
  let cur = indent;
  for (const [i, item] of items.entries()) {
    const piece = item + (i < items.length - 1 ? ',' : '');
    if (cur.length > indent.length && cur.length + 1 + piece.length > width) {
      out.push(cur);
      cur = indent;
    }
    cur += (cur.length > indent.length ? ' ' : '') + piece;
  }
  if (cur.length > indent.length) out.push(cur);
  return out;
}

/**
 * One interruption, one line:
 * `18:20:01.123456   1* ipi        call_function_single ipi_mb             3.1us  noise/4242 <- membarrier/4243 on CPU 0 via membarrier_private_expedited+0x8d`
 */
/**
 * A PR_ISOL-numbered prctl, one line; loud when the number meant something
 * else on this kernel: `  12.345678 warning: rt-app/5001 PR_ISOL_CFG_SET = 0: PR_SET_MDWE (stock kernel): ...`
 */
export function formatIsol(rec: IsolRecord, opts: TextOptions = {}): string {
  return `${timeText(rec.ts_ns, opts)} ${rec.warning ? 'warning: ' : ''}${taskLabel(rec)} ${rec.op} = ${rec.result}: ${rec.meaning}`;
}

/** A watched CPU went offline or came back (CPU hotplug). */
export function formatCpu(rec: CpuRecord, opts: TextOptions = {}): string {
  return `${timeText(rec.ts_ns, opts)} ${col(String(rec.cpu), W.cpu, 'right')}  ${
    rec.online ? 'cpu back online: watched again' : 'cpu offline (CPU hotplug): nothing can be seen on it until it returns'
  }`;
}

export function formatInterruption(rec: InterruptionRecord, opts: TextOptions = {}): string {
  const fixed = [
    timeText(rec.ts_ns, opts),
    col(String(rec.cpu), W.cpu, 'right') + (rec.violation ? '*' : ' '),
    col(rec.class, W.class),
    col(rec.kind, W.kind),
    col(rec.func || '-', W.func),
    col(formatDuration(rec.duration_ns), W.dur, 'right'),
  ].join(' ');
  let tail = taskLabel(rec.victim);
  const cause = causeText(rec.cause);
  if (cause) tail += ` <- ${cause}`;
  const chain = chainText(rec);
  if (chain) tail += ` [${chain}]`;
  if (rec.flags?.length) tail += ` (${rec.flags.join(',')})`;
  if (rec.action) {
    const a = rec.action;
    const what = a.kind === 'signal' ? `${a.signal ?? 'signal'} to ${a.target ?? 'victim'}${a.pid !== undefined ? ` ${a.pid}` : ''}` : a.kind;
    const how = [a.kind === 'signal' ? a.mode : undefined, a.rule ? `rule ${a.rule}` : undefined].filter(Boolean).join(', ');
    tail += ` => ${what}${how ? ` (${how})` : ''}: ${a.result}`;
  }
  // `note` is newer than some producers: read it without requiring it.
  const note = (rec as InterruptionRecord & { note?: string }).note;
  if (note) tail += ` -- ${note}`;
  return `${fixed}  ${tail}`;
}

function classTotals(by: Partial<Record<InterruptionClass, number>>): number {
  return CLASSES.reduce((n, c) => n + (by[c] ?? 0), 0);
}

/** Right-aligned table with a left-aligned first column; widths fit the content. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Per-CPU x class table (only classes seen), total, stolen, max. */
export function summaryTable(summary: SummaryRecord): string[] {
  const cpuKeys = Object.keys(summary.cpus).sort((a, b) => Number(a) - Number(b));
  const seen = CLASSES.filter((c) => cpuKeys.some((k) => (summary.cpus[k].by_class[c] ?? 0) > 0));
  const header = ['CPU', ...seen, 'total', 'stolen', 'max'];
  const rows = cpuKeys.map((k) => {
    const s = summary.cpus[k];
    return [
      k,
      ...seen.map((c) => String(s.by_class[c] ?? 0)),
      String(classTotals(s.by_class)),
      formatDuration(s.stolen_ns),
      formatDuration(s.max_ns),
    ];
  });
  return table(header, rows);
}

/** The verdict as lines: "verdict: FAIL" then one reason per line. */
export function verdictLines(summary: SummaryRecord, judgement?: Judgement): string[] {
  const v = summary.verdict ?? (judgement ? { pass: judgement.pass, reasons: judgement.reasons } : undefined);
  if (!v) return [];
  const out = [`verdict: ${v.pass ? 'PASS' : 'FAIL'}`];
  for (const r of v.reasons) out.push(`  - ${r}`);
  return out;
}

/**
 * The end-of-run summary: per-CPU x class table, stolen/max, tasks, lost
 * events, interruptions isolwatch caused itself, pre-warm-up counts and the verdict.
 */
export function formatSummary(summary: SummaryRecord, judgement?: Judgement): string {
  const lines: string[] = [];
  const cpuKeys = Object.keys(summary.cpus).sort((a, b) => Number(a) - Number(b));
  const total = cpuKeys.reduce((n, k) => n + classTotals(summary.cpus[k].by_class), 0);
  const stolen = cpuKeys.reduce((n, k) => n + summary.cpus[k].stolen_ns, 0);
  const cpuList = formatCpuList(cpuKeys.map(Number));
  lines.push(
    total === 0
      ? `summary: ${summary.duration_s}s on CPU ${cpuList || '(none)'}: no interruptions`
      : `summary: ${summary.duration_s}s on CPU ${cpuList}: ${plural(total, 'interruption')}, ${formatDuration(stolen)} stolen`,
  );
  lines.push(...summaryTable(summary));
  // a summary with its records account counts from the kernel's aggregates: the kernel counters agree by construction
  if (summary.kernel_counts && !summary.records) {
    for (const k of cpuKeys) {
      const kc = summary.kernel_counts[k];
      if (!kc) continue;
      const missed = classTotals(kc) - classTotals(summary.cpus[k].by_class);
      // no ring-buffer loss: the difference is records emitted between the last drain and the counter read
      const why = summary.lost_events > 0 ? 'lost events' : 'in flight when the counters were read';
      if (missed > 0) lines.push(`note: kernel counters saw ${plural(missed, 'more interruption')} on CPU ${k} than were recorded (${why})`);
    }
  }
  if (summary.tasks.length > 0) {
    lines.push('tasks:');
    // every isolated task, then the busiest others; the rest are in the NDJSON summary
    const isolated = summary.tasks.filter((t) => t.isol !== 'none' || t.violations > 0);
    const others = summary.tasks.filter((t) => !isolated.includes(t));
    const shown = [...isolated, ...others.slice(0, Math.max(0, TASKS_SHOWN - isolated.length))];
    const rows = shown.map((t) => [
      `  ${taskLabel(t)}`,
      t.isol + (t.source && t.source !== t.isol ? ` (${t.source})` : ''),
      plural(t.interruptions, 'interruption'),
      plural(t.violations, 'violation'),
      `${formatDuration(t.stolen_ns)} stolen`,
    ]);
    lines.push(...table(['  TASK', 'ISOL', 'INTERRUPTIONS', 'VIOLATIONS', 'STOLEN'], rows).slice(1));
    const hidden = summary.tasks.length - shown.length;
    if (hidden > 0) lines.push(`  ... and ${plural(hidden, 'other task')} that were not isolated (all of them: --json)`);
  }
  lines.push(
    `violations: ${summary.violations}   lost events: ${summary.lost_events}   caused by isolwatch: ${summary.self_caused}`,
  );
  // the hypervisor's share, beside the interruptions (a run's judged window: a note when it was large)
  const steal = stealSummaryLine(summary);
  if (steal) lines.push(steal);
  for (const n of notableSteal(summary.steal)) lines.push(`note: ${notableStealText(n)}`);
  const acc = summary.records;
  if (acc && acc.mode === 'sampled' && acc.sampled > 0) {
    const all = acc.delivered + acc.sampled + acc.lost;
    lines.push(
      `records: ${acc.delivered} of ${all} interruptions shown one by one (sampled: the first of each kind and a few a second; every count above is exact; --records all for every one)`,
    );
  }
  if (summary.lost_events > 0) {
    lines.push(
      acc
        ? `note: ${plural(summary.lost_events, 'record')} lost (ring buffer full): the record list is incomplete; every count above is exact (counted in the kernel)`
        : 'note: events were lost (ring buffer full): the interruption list is incomplete; the kernel counters are not',
    );
  }
  for (const [cpu, ns] of Object.entries(summary.offline_ns ?? {})) {
    lines.push(`note: CPU ${cpu} was offline (CPU hotplug) for ${formatDuration(ns)}: nothing could be seen on it then`);
  }
  const missed = probeMissesText(summary.probe_misses);
  if (missed) lines.push(`warning: ${missed}`);
  if (summary.output_dropped) {
    lines.push(`note: ${plural(summary.output_dropped, 'record')} not written (the reader of the output fell behind); they are in the counts above`);
  }
  if (judgement) {
    const w = judgement.warmup;
    if (w.count > 0) {
      const by = CLASSES.filter((c) => w.by_class[c]).map((c) => `${c} ${w.by_class[c]}`).join(', ');
      lines.push(`before warm-up (not judged): ${plural(w.count, 'interruption')} (${by}), ${formatDuration(w.stolen_ns)} stolen`);
    }
    const a = judgement.after;
    if (a && a.count > 0) {
      const by = CLASSES.filter((c) => a.by_class[c]).map((c) => `${c} ${a.by_class[c]}`).join(', ');
      lines.push(`after the judged window (not judged): ${plural(a.count, 'interruption')} (${by}), ${formatDuration(a.stolen_ns)} stolen`);
    }
    if (judgement.notIsolated > 0) lines.push(`while not isolated (not judged): ${plural(judgement.notIsolated, 'interruption')}`);
    if (judgement.toolCaused > 0) lines.push(`caused by isolwatch (not judged): ${plural(judgement.toolCaused, 'interruption')}`);
    if (judgement.allowedSelf > 0) lines.push(`allowed (--allow-self): ${judgement.allowedSelf} of the task's own syscalls/faults`);
    lines.push(`budgets: ${limitsText(judgement)}`);
  }
  lines.push(...verdictLines(summary, judgement));
  return lines.join('\n');
}

/** Tasks listed in the text summary (isolated ones always are). */
const TASKS_SHOWN = 10;

/** The whole log for a recording: header, one line per interruption, summary. */
export function formatText(input: {
  start?: StartRecord;
  interruptions: readonly InterruptionRecord[];
  /** PR_ISOL-numbered prctls, interleaved by time */
  isol?: readonly IsolRecord[];
  /** watched CPUs going offline and back, interleaved by time */
  cpus?: readonly CpuRecord[];
  summary?: SummaryRecord;
  judgement?: Judgement;
  options?: TextOptions;
}): string {
  const opts: TextOptions = { timeZeroNs: input.start?.ts_ns, ...input.options };
  const parts: string[] = [];
  if (input.start) parts.push(formatStart(input.start));
  else parts.push(interruptionHeader());
  const lines: (InterruptionRecord | IsolRecord | CpuRecord)[] = [...input.interruptions, ...(input.isol ?? []), ...(input.cpus ?? [])].sort((a, b) => a.ts_ns - b.ts_ns);
  for (const r of lines) parts.push(r.type === 'isol' ? formatIsol(r, opts) : r.type === 'cpu' ? formatCpu(r, opts) : formatInterruption(r, opts));
  if (input.summary) parts.push(formatSummary(input.summary, input.judgement));
  return parts.join('\n') + '\n';
}
