// JUnit XML for CI (`isolwatch run --junit FILE`): one testsuite "isolwatch",
// a testcase per watched CPU and per budget (and one for the command's exit
// status), failures listing the top causes — what, who, which CPU, how often,
// how much time — and the summary table in <system-out>. Pure.
import type { AggregateRecord, InterruptionRecord, StartRecord, SummaryRecord } from '../types.js';
import { judge, limitLabel, rowsFromRecords, topCauseText, type BudgetResult, type Judgement, type TopCause } from '../verdict/index.js';
import { formatDuration, plural } from './format.js';
import { formatSummary } from './text.js';

export interface ReportData {
  start: StartRecord;
  summary: SummaryRecord;
  /** when absent: judged with the default budget (every class <=0 while isolated) */
  judgement?: Judgement;
  interruptions: readonly InterruptionRecord[];
  /** every interruption, aggregated (when the records are samples) */
  totals?: AggregateRecord;
}

/** Characters XML 1.0 cannot hold at all are shown as \xNN (comms may contain anything). */
function xmlSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function xmlText(s: string): string {
  return xmlSafe(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;').replace(/\r/g, '&#13;');
}

/** One top cause, for people reading a CI failure: what, who, CPU, how often, stolen time. */
export function causeLine(t: TopCause): string {
  return topCauseText(t);
}

/** The judgement of a report without one: the default limits (every class <=0 while isolated). */
export function defaultJudgement(data: { start: StartRecord; interruptions: readonly InterruptionRecord[]; totals?: AggregateRecord }): Judgement {
  return judge({ rows: data.totals?.rows ?? rowsFromRecords(data.interruptions), watchedCpus: data.start.watched_cpus });
}

interface Case {
  classname: string;
  name: string;
  failure?: { message: string; type: string; body: string };
}

function budgetCase(b: BudgetResult): Case {
  const name = `budget ${limitLabel(b)}`;
  if (b.pass) return { classname: 'isolwatch.budget', name };
  const observed = b.unit === 'ns' ? `${formatDuration(b.observed)} stolen` : plural(b.observed, 'interruption');
  const message = `${observed} while isolated, over the budget of ${b.unit === 'ns' ? formatDuration(b.limit) : b.limit}`;
  const body = [message, 'top causes:', ...b.topCauses.map((t) => `  ${causeLine(t)}`)].join('\n');
  return { classname: 'isolwatch.budget', name, failure: { message, type: 'budget', body } };
}

function cpuCase(j: Judgement, key: string): Case {
  const c = j.perCpu[key];
  const name = `cpu${key}: ${j.quietRequired ? 'quiet' : 'within budget'} while isolated`;
  if (c.pass) return { classname: 'isolwatch.cpu', name };
  const message = `${plural(c.count, 'interruption')} while isolated, ${formatDuration(c.stolen_ns)} stolen (max ${formatDuration(c.max_ns)})`;
  const body = [message, 'top causes:', ...c.topCauses.map((t) => `  ${causeLine(t)}`)].join('\n');
  return { classname: 'isolwatch.cpu', name, failure: { message, type: 'interruptions', body } };
}

function commandCase(j: Judgement): Case | undefined {
  const cmd = j.command;
  if (!cmd) return undefined;
  const name = 'command exit status';
  if (!cmd.failed || !cmd.judged) return { classname: 'isolwatch.command', name };
  const message = cmd.signal ? `command was killed by ${cmd.signal}` : `command exited with status ${cmd.exit_status}`;
  return { classname: 'isolwatch.command', name, failure: { message, type: 'command', body: message } };
}

/** The JUnit document (UTF-8, trailing newline). */
export function toJunit(data: ReportData): string {
  const j = data.judgement ?? defaultJudgement(data);
  const cases: Case[] = [];
  for (const key of Object.keys(j.perCpu).sort((a, b) => Number(a) - Number(b))) cases.push(cpuCase(j, key));
  for (const b of j.perBudget) cases.push(budgetCase(b));
  const cmd = commandCase(j);
  if (cmd) cases.push(cmd);

  const failures = cases.filter((c) => c.failure).length;
  const time = data.summary.duration_s.toFixed(3);
  const props: Array<[string, string]> = [
    ['kernel', data.start.kernel],
    ['arch', data.start.arch],
    ['isolwatch', data.start.version],
    ['watched_cpus', data.start.watched_cpus.join(',')],
    ['pr_isol', data.start.pr_isol],
    ['lost_events', String(data.summary.lost_events)],
    ['self_caused', String(data.summary.self_caused)],
    ['warmup_interruptions', String(j.warmup.count)],
  ];
  if (j.after?.count) props.push(['after_window_interruptions', String(j.after.count)]);
  if (data.start.command) props.push(['command', data.start.command]);
  if (data.start.probes.missing.length) props.push(['probes_missing', data.start.probes.missing.join(',')]);
  const misses = Object.entries(data.summary.probe_misses ?? {});
  if (misses.length) props.push(['probe_misses', misses.map(([p, n]) => `${p}=${n}`).join(',')]);

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<testsuites name="isolwatch" tests="${cases.length}" failures="${failures}" errors="0" time="${time}">`);
  out.push(`  <testsuite name="isolwatch" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${time}">`);
  out.push('    <properties>');
  for (const [k, v] of props) out.push(`      <property name="${xmlAttr(k)}" value="${xmlAttr(v)}"/>`);
  out.push('    </properties>');
  for (const c of cases) {
    const open = `    <testcase classname="${xmlAttr(c.classname)}" name="${xmlAttr(c.name)}" time="0"`;
    if (!c.failure) {
      out.push(`${open}/>`);
      continue;
    }
    out.push(`${open}>`);
    out.push(
      `      <failure message="${xmlAttr(c.failure.message)}" type="${xmlAttr(c.failure.type)}">${xmlText(c.failure.body)}</failure>`,
    );
    out.push('    </testcase>');
  }
  out.push(`    <system-out>${xmlText(formatSummary(data.summary, j))}\n</system-out>`);
  out.push('  </testsuite>');
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
