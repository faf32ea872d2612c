// Markdown for CI step summaries (GITHUB_STEP_SUMMARY, `run --summary FILE`):
// the verdict first, warnings when the run could not be quiet, the per-CPU x
// class table, budgets, top offenders with the remedy where one is known, and
// what happened before warm-up (not judged). Pure; the remedy catalogue is
// injected so this file does not depend on it.
import { CLASSES } from '../types.js';
import { formatCpuList } from '../system/cpus.js';
import { limitLabel, limitsText, type TopCause } from '../verdict/index.js';
import { cpuWarnings, formatDuration, judgedHeadline, plural, probeMissesText, watchedReasonText } from './format.js';
import { defaultJudgement, type ReportData } from './junit.js';
import { notableSteal, notableStealText, stealSummaryLine } from './steal.js';

export type { RemedyLookup } from '../remedies.js';
import type { RemedyLookup } from '../remedies.js';

export interface MarkdownData extends ReportData {
  remedyFor?: RemedyLookup;
  /** top offenders to list (default 10) */
  topN?: number;
}

/**
 * Text safe inside a table cell: pipes escaped, one line, and only what could
 * open an HTML tag or entity neutralized ("<=0" and "kernel >= 6.5" stay readable).
 */
export function mdCell(s: string): string {
  return s
    .replace(/&(?=#?\w+;)/g, '&amp;')
    .replace(/<(?=[A-Za-z/!?])/g, '&lt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ');
}

/** Inline code: entities are literal inside code spans, so only pipes and newlines are escaped. */
function code(s: string): string {
  const safe = s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  return safe.includes('`') ? `\`\` ${safe} \`\`` : `\`${safe}\``;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function whoCell(t: TopCause): string {
  const via = t.callsites.length === 1 ? ` via ${code(t.callsites[0])}` : '';
  return t.sender.kind === 'task' ? `${code(t.senderLabel)}${via}` : `${mdCell(t.senderLabel)}${via}`;
}

function remedyCell(t: TopCause, lookup?: RemedyLookup): string {
  const r = lookup?.({ class: t.class, kind: t.kind, func: t.func, context: t.sender.context });
  if (!r || r.remedy.length === 0) return '';
  return r.remedy.map(mdCell).join('; ');
}

/** The step summary as markdown (trailing newline). */
export function toMarkdown(data: MarkdownData): string {
  const { start, summary } = data;
  const j = data.judgement ?? defaultJudgement(data);
  const topN = data.topN ?? 10;
  const out: string[] = [];
  const cpus = formatCpuList(start.watched_cpus);

  // Verdict line: what a reviewer reads first.
  const verdict = summary.verdict ?? { pass: j.pass, reasons: j.reasons };
  const what = judgedHeadline(cpus, j.counted, j.notIsolated);
  out.push(`## isolwatch: ${verdict.pass ? '✅ PASS' : '❌ FAIL'} — ${what}`);
  out.push('');
  if (!verdict.pass && verdict.reasons.length) {
    for (const r of verdict.reasons) out.push(`- ${mdCell(r)}`);
    out.push('');
  }

  const warnings = cpuWarnings(start);
  if (summary.lost_events > 0) {
    warnings.push(`${plural(summary.lost_events, 'event')} lost (ring buffer full): the per-interruption details are incomplete; every count is exact (counted in the kernel)`);
  }
  if (start.probes.missing.length) {
    warnings.push(`probes missing on this kernel (skipped): ${start.probes.missing.join(', ')}`);
  }
  const missed = probeMissesText(summary.probe_misses);
  if (missed) warnings.push(missed);
  for (const n of notableSteal(summary.steal)) warnings.push(notableStealText(n));
  for (const w of warnings) {
    out.push('> [!WARNING]');
    out.push(`> ${mdCell(w)}`);
    out.push('');
  }

  // Per-CPU x class (counted interruptions only, so the table matches the verdict).
  const cpuKeys = Object.keys(j.perCpu).sort((a, b) => Number(a) - Number(b));
  const seen = CLASSES.filter((c) => cpuKeys.some((k) => (j.perCpu[k].by_class[c] ?? 0) > 0));
  out.push('### While isolated, per CPU');
  out.push('');
  out.push(row(['CPU', ...seen, 'total', 'stolen', 'max', 'result']));
  out.push(row(['---:', ...seen.map(() => '---:'), '---:', '---:', '---:', ':---']));
  for (const k of cpuKeys) {
    const c = j.perCpu[k];
    out.push(
      row([
        k,
        ...seen.map((cl) => String(c.by_class[cl] ?? 0)),
        String(c.count),
        formatDuration(c.stolen_ns),
        c.count ? formatDuration(c.max_ns) : '-',
        c.pass ? (c.count ? 'within budget' : 'quiet') : '**over budget**',
      ]),
    );
  }
  out.push('');

  const shown = j.perBudget.filter((b) => b.explicit || !b.pass);
  out.push('### Budgets');
  out.push('');
  out.push(`Limits: ${mdCell(limitsText(j))}.`);
  if (shown.length) {
    out.push('');
    out.push(row(['budget', 'observed', 'result']));
    out.push(row([':---', '---:', ':---']));
    for (const b of shown) {
      out.push(row([code(limitLabel(b)), b.unit === 'ns' ? formatDuration(b.observed) : String(b.observed), b.pass ? 'met' : '**exceeded**']));
    }
  }
  out.push('');

  // Top offenders over everything counted.
  const offenders = j.topCauses.slice(0, topN);
  if (offenders.length) {
    out.push('### Top offenders');
    out.push('');
    out.push(row(['what', 'who', 'hit CPU', 'count', 'stolen', 'max', 'remedy']));
    out.push(row([':---', ':---', '---:', '---:', '---:', '---:', ':---']));
    for (const t of offenders) {
      const whatCell = `${t.class} ${code(t.what)}${t.func && t.func !== t.kind ? ` (${mdCell(t.kind)})` : ''}`;
      out.push(
        row([
          whatCell,
          whoCell(t),
          t.cpus.join(','),
          String(t.count),
          formatDuration(t.stolen_ns),
          formatDuration(t.max_ns),
          remedyCell(t, data.remedyFor),
        ]),
      );
    }
    out.push('');
  }

  const after = j.after ?? { count: 0, by_class: {}, stolen_ns: 0 };
  if (j.warmup.count > 0 || after.count > 0 || j.allowedSelf > 0 || j.toolCaused > 0 || j.notIsolated > 0) {
    out.push('### Not judged');
    out.push('');
    if (j.warmup.count > 0) {
      const by = CLASSES.filter((c) => j.warmup.by_class[c]).map((c) => `${c} ${j.warmup.by_class[c]}`).join(', ');
      out.push(`- before warm-up end: ${plural(j.warmup.count, 'interruption')} (${by}), ${formatDuration(j.warmup.stolen_ns)} stolen`);
    }
    if (after.count > 0) {
      const by = CLASSES.filter((c) => after.by_class[c]).map((c) => `${c} ${after.by_class[c]}`).join(', ');
      out.push(`- after the judged window: ${plural(after.count, 'interruption')} (${by}), ${formatDuration(after.stolen_ns)} stolen`);
    }
    if (j.allowedSelf > 0) out.push(`- the task's own syscalls/faults (allowed): ${j.allowedSelf}`);
    if (j.toolCaused > 0) out.push(`- caused by isolwatch itself: ${j.toolCaused}`);
    if (j.notIsolated > 0) out.push(`- while the task was not isolated (after warm-up): ${j.notIsolated}`);
    out.push('');
  }

  out.push('<details><summary>Run details</summary>');
  out.push('');
  out.push(`- kernel: ${mdCell(`${start.kernel} ${start.arch}`)}, PR_ISOL: ${start.pr_isol}, isolwatch ${mdCell(start.version)}`);
  if (start.command) out.push(`- command: ${code(start.command)}`);
  const why = watchedReasonText(start);
  out.push(`- watched CPU ${cpus}${why ? `: ${mdCell(why)}` : ''}; isolated: ${formatCpuList(start.isolated) || 'none'}; nohz_full: ${formatCpuList(start.nohz_full) || 'none'}`);
  out.push(`- duration: ${summary.duration_s}s; lost events: ${summary.lost_events}; caused by isolwatch: ${summary.self_caused}`);
  if (j.command) {
    out.push(`- command status: ${j.command.signal ? `killed by ${j.command.signal}` : `exit ${j.command.exit_status}`}${j.command.failed && !j.command.judged ? ' (not judged)' : ''}`);
  }
  out.push(`- probes: ${start.probes.attached.length} attached, ${start.probes.missing.length} missing`);
  const steal = stealSummaryLine(summary);
  if (steal) out.push(`- ${mdCell(steal)}`);
  out.push('');
  out.push('</details>');
  return out.join('\n') + '\n';
}
