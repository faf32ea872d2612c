// Doctor reporters: text for people (80 columns, worst first) and JSON for
// machines. Both render the same DoctorReport; neither reads the system.
import { formatCpuList } from '../system/cpus.js';
import type { DoctorReport, Finding, Severity } from './types.js';

export const WIDTH = 80;
const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
const LABEL: Record<Severity, string> = { error: 'ERROR', warning: 'WARNING', info: 'INFO' };
const INDENT = 2;
const KEY_WIDTH = 10; // "evidence  "

const REASON: Record<string, string> = {
  user: 'given with --cpus',
  isolated: 'the isolated CPUs',
  nohz_full: 'the nohz_full CPUs',
  'isolated+nohz_full': 'the isolated and nohz_full CPUs',
  'fallback-highest': 'no isolated or nohz_full CPUs here: the highest-numbered CPU',
};

/** Worst first; within a severity, the order the checks ran (kernel, boot, IRQs, ...). */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_ORDER[a.f.severity] - SEVERITY_ORDER[b.f.severity] || a.i - b.i)
    .map((x) => x.f);
}

/** Exit code contract (DESIGN.md): 0 when nothing is above info, 1 otherwise. */
export function exitCodeFor(report: DoctorReport): number {
  return report.findings.some((f) => f.severity !== 'info') ? 1 : 0;
}

/** Greedy word wrap; words longer than a line (paths, masks) are cut rather than overflow. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > width) {
      if (cur) {
        lines.push(cur);
        cur = '';
      }
      lines.push(word.slice(0, width));
      word = word.slice(width);
    }
    if (!cur) cur = word;
    else if (cur.length + 1 + word.length <= width) cur += ' ' + word;
    else {
      lines.push(cur);
      cur = word;
    }
  }
  if (cur || !lines.length) lines.push(cur);
  return lines;
}

/** "key       item" blocks: each item wrapped under the value column. */
function block(key: string, items: readonly string[]): string[] {
  const pad = ' '.repeat(INDENT + KEY_WIDTH);
  const out: string[] = [];
  items.forEach((item, n) => {
    // Continuation lines of one item hang two columns further, so items stay apart.
    const [first, ...rest] = wrap(item, WIDTH - pad.length);
    out.push((n === 0 ? ' '.repeat(INDENT) + key.padEnd(KEY_WIDTH) : pad) + first);
    for (const l of rest.length ? wrap(rest.join(' '), WIDTH - pad.length - 2) : []) out.push(pad + '  ' + l);
  });
  return out;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function renderFinding(f: Finding): string[] {
  const out: string[] = [];
  out.push(`${LABEL[f.severity].padEnd(INDENT + KEY_WIDTH)}${f.id}`);
  for (const l of wrap(f.title, WIDTH - INDENT)) out.push(' '.repeat(INDENT) + l);
  if (f.evidence.length) out.push(...block('evidence', f.evidence.map((e) => `${e.path}: ${e.value}`)));
  if (f.remedy.length) out.push(...block('remedy', f.remedy));
  const kinds = f.why.interruptions.map((i) => [i.class, i.kind, i.func !== i.kind ? i.func : undefined].filter(Boolean).join('/'));
  const why = [f.why.text + (kinds.length ? ` Causes: ${kinds.join(', ')}.` : '')];
  if (f.why.remedies.length) why.push(`see remedies ${f.why.remedies.join(', ')} (${f.why.doc})`);
  out.push(...block('why', why));
  return out;
}

export function renderText(report: DoctorReport): string {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of report.findings) counts[f.severity]++;
  const lines: string[] = [`isolwatch doctor: kernel ${report.facts.kernel ?? 'unknown'}`];
  lines.push(...wrap(`watching CPU ${formatCpuList(report.cpus) || '(none)'}: ${REASON[report.watchedReason] ?? report.watchedReason}`, WIDTH));
  lines.push(`${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${counts.info} info`);
  for (const f of sortFindings(report.findings)) {
    lines.push('');
    lines.push(...renderFinding(f));
  }
  lines.push('');
  lines.push(exitCodeFor(report) === 0 ? 'Nothing above info: the isolation set-up looks right.' : 'Fix the errors and warnings above; run `isolwatch doctor` again to check.');
  return lines.join('\n') + '\n';
}

export function renderJson(report: DoctorReport): string {
  return JSON.stringify({ ...report, findings: sortFindings(report.findings) }, null, 2) + '\n';
}
