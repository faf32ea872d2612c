// The HTML report (`report FILE --html OUT`, `run --html OUT`): one
// self-contained page for a CI artifact. The verdict first, then a zoomable
// timeline of the interruptions on each watched CPU with the judged window
// marked, the top causes with their remedies, a histogram of stolen time per
// interruption for each class, what was not judged, and the run's details. Inline CSS and script only, and a Content-Security-Policy that
// forbids the page any request. Pure: report data in, the page out.
import { CLASSES, type InterruptionClass, type InterruptionRecord } from '../types.js';
import { formatCpuList } from '../system/cpus.js';
import { limitLabel, limitsText, rowsFromRecords, senderLabel, topCauses, type Judgement, type TopCause } from '../verdict/index.js';
import { causeText, cpuWarnings, formatDuration, judgedHeadline, plural, probeMissesText, taskLabel, watchedReasonText, whatText } from './format.js';
import { timelineMain, type TimelineData } from './html-timeline.js';
import { judgedWindow, judgementOf, timeSpan, verdictOf, type PictureData } from './picture-data.js';

/** A colour per class, the same in the timeline, its legend and the histograms. */
export const CLASS_COLORS: Record<InterruptionClass, string> = {
  syscall: '#4e79a7',
  page_fault: '#59a14f',
  exception: '#9c755f',
  irq: '#f28e2b',
  timer: '#76b7b2',
  ipi: '#e15759',
  softirq: '#c9a227',
  workqueue: '#b07aa1',
  preempt: '#ff9da7',
  nmi: '#8c8c8c',
  kernel: '#555555',
};

/** Histogram bucket edges (ns): 1-2-5 steps, so each bar reads as a round range. */
export const BUCKET_EDGES: readonly number[] = (() => {
  const out = [0];
  for (let p = 100; p <= 1e10; p *= 10) out.push(p, 2 * p, 5 * p);
  return out;
})();

/** The histogram bucket of a duration: BUCKET_EDGES[i] <= ns < BUCKET_EDGES[i + 1]. */
export function bucketOf(ns: number): number {
  let i = 0;
  while (i + 1 < BUCKET_EDGES.length && ns >= BUCKET_EDGES[i + 1]) i++;
  return i;
}

function bucketLabel(i: number): string {
  const lo = BUCKET_EDGES[i];
  const hi = BUCKET_EDGES[i + 1];
  if (lo === 0) return `<${formatDuration(hi)}`;
  return hi === undefined ? `>=${formatDuration(lo)}` : `${formatDuration(lo)}-${formatDuration(hi)}`;
}

const esc = (s: string): string =>
  // eslint-disable-next-line no-control-regex
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

const STYLE = `
:root { color-scheme: light; --fg: #1d1f21; --muted: #5f6b76; --line: #d8dde2; --pass: #1a7f37; --fail: #cf222e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); margin: 0; background: #f6f8fa; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
code { font: 12.5px/1.3 "DejaVu Sans Mono", ui-monospace, monospace; }
section, header { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin-top: 14px; }
header.pass { border-left: 8px solid var(--pass); }
header.fail { border-left: 8px solid var(--fail); }
#verdict-word.pass { color: var(--pass); } #verdict-word.fail { color: var(--fail); }
#what { font-size: 16px; margin: 2px 0 6px; }
#reasons { margin: 6px 0 0; padding-left: 20px; }
.warn { background: #fff8c5; border: 1px solid #e3c75a; border-radius: 6px; padding: 6px 10px; margin: 8px 0 0; }
.muted { color: var(--muted); }
.controls button { font: inherit; padding: 2px 10px; margin-right: 4px; border: 1px solid var(--line); border-radius: 5px; background: #f3f4f6; cursor: pointer; }
#tl { overflow: hidden; user-select: none; cursor: grab; outline: none; margin-top: 8px; }
#tl:focus { box-shadow: 0 0 0 2px #8ab4f8; }
#tl svg text { font-size: 11px; fill: var(--muted); }
#tl .row-label { fill: var(--fg); font-size: 12px; }
#tl .row-bg { fill: #f3f5f7; }
#tl .band.judged { fill: #dbeafe; opacity: 0.7; }
#tl .band.outside { fill: #e5e7eb; opacity: 0.6; }
#tl .ev { cursor: pointer; opacity: 0.55; }
#tl .ev.viol { opacity: 1; }
#tl .viol-mark { fill: var(--fail); }
#tl .axis line { stroke: #9aa4ae; }
#tl .tick { text-anchor: middle; }
#tl-detail ul { margin: 4px 0; padding-left: 20px; max-height: 220px; overflow: auto; }
.legend span { display: inline-block; margin-right: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.hists { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
figure.hist { margin: 0; }
figure.hist figcaption { font-weight: 600; }
figure.hist svg text { font-size: 10px; fill: var(--muted); }
figure.hist .count { fill: var(--fg); text-anchor: middle; }
figure.hist .edge { text-anchor: middle; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: #f6f8fa; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.remedy ul { margin: 0; padding-left: 16px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
`;

function verdictHeader(data: PictureData, j: Judgement): string {
  const v = verdictOf(data, j);
  const cpus = formatCpuList(data.start.watched_cpus);
  const word = v.pass ? 'PASS' : 'FAIL';
  const out: string[] = [];
  out.push(`<header id="verdict" class="${v.pass ? 'pass' : 'fail'}">`);
  out.push(`<h1>isolwatch: <span id="verdict-word" class="${v.pass ? 'pass' : 'fail'}">${word}</span></h1>`);
  out.push(`<p id="what">${esc(judgedHeadline(cpus, j.counted, j.notIsolated))}</p>`);
  if (!v.pass && v.reasons.length) out.push(`<ul id="reasons">${v.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`);
  const warnings = cpuWarnings(data.start);
  if (data.summary.lost_events > 0) warnings.push(`${plural(data.summary.lost_events, 'event')} lost (ring buffer full): the per-interruption details are incomplete; every count is exact (counted in the kernel)`);
  const acc = data.summary.records;
  if (acc?.mode === 'sampled' && acc.sampled > 0) {
    warnings.push(`the timeline shows ${acc.delivered} of ${acc.delivered + acc.sampled + acc.lost} interruptions (sampled records); every count is exact`);
  }
  if (data.start.probes.missing.length) warnings.push(`probes missing on this kernel (skipped): ${data.start.probes.missing.join(', ')}`);
  const missed = probeMissesText(data.summary.probe_misses);
  if (missed) warnings.push(missed);
  for (const w of warnings) out.push(`<p class="warn">${esc(w)}</p>`);
  out.push('</header>');
  return out.join('\n');
}

/** The numbers behind the timeline; times relative to the start of what is drawn. */
export function timelineData(data: PictureData): TimelineData {
  const span = timeSpan(data);
  const w = judgedWindow(data);
  const cpus = [...new Set([...data.start.watched_cpus, ...data.interruptions.map((r) => r.cpu)])].sort((a, b) => a - b);
  const classes = CLASSES.filter((c) => data.interruptions.some((r) => r.class === c));
  const labels: string[] = [];
  const labelIndex = new Map<string, number>();
  const recs = [...data.interruptions].sort((a, b) => a.ts_ns - b.ts_ns);
  const ev = recs.map((r): TimelineData['ev'][number] => {
    const cause = causeText(r.cause);
    const label = `${whatText(r)}, ${cause ? `from ${cause}` : 'cause unknown'}, victim ${taskLabel(r.victim)}`;
    let li = labelIndex.get(label);
    if (li === undefined) {
      li = labels.push(label) - 1;
      labelIndex.set(label, li);
    }
    return [r.ts_ns - span.from_ns, r.duration_ns, cpus.indexOf(r.cpu), classes.indexOf(r.class), li, r.violation ? 1 : 0];
  });
  return {
    t0: span.from_ns,
    span: span.to_ns - span.from_ns,
    cpus,
    classes,
    colors: classes.map((c) => CLASS_COLORS[c]),
    window: {
      from: w.from_ns !== undefined ? Math.max(0, w.from_ns - span.from_ns) : 0,
      ...(w.to_ns !== undefined ? { to: w.to_ns - span.from_ns } : {}),
    },
    ev,
    labels,
  };
}

function timelineSection(data: PictureData, t: TimelineData): string {
  const w = judgedWindow(data);
  const windowText =
    w.from_ns === undefined && w.to_ns === undefined
      ? 'no warm-up was recorded: the whole recording is the judged window'
      : `judged from +${formatDuration(t.window.from)}${t.window.to !== undefined ? ` to +${formatDuration(t.window.to)}` : ' to the end'} (shaded blue)`;
  const legend = t.classes.map((c, i) => `<span><i style="background:${t.colors[i]}"></i>${esc(c)}</span>`).join('');
  return [
    '<section id="timeline">',
    '<h2>Timeline</h2>',
    `<p class="muted">Each watched CPU is a row, each interruption a mark as long as the time it stole (at least a pixel): violations (what was judged) full height with a red line above, the rest lower and paler. ${esc(windowText)}. Wheel or +/- to zoom, drag or arrow keys to pan, click a mark for its details.</p>`,
    '<div class="controls"><button type="button" data-zoom="in">zoom in</button><button type="button" data-zoom="out">zoom out</button><button type="button" data-zoom="judged">judged window</button><button type="button" data-zoom="reset">whole run</button> <span id="tl-view" class="muted"></span></div>',
    `<div id="tl" tabindex="0"><noscript><p class="warn">The timeline is drawn by the page's script: allow JavaScript for this file to see it.</p></noscript></div>`,
    `<p class="legend">${legend}</p>`,
    '<div id="tl-detail" class="muted">Click a mark to list its interruptions.</div>',
    '</section>',
  ].join('\n');
}

interface ClassHist {
  cls: InterruptionClass;
  count: number;
  stolen_ns: number;
  buckets: Map<number, { count: number; stolen_ns: number }>;
}

/** Interruptions of each class by how long each one stole, in BUCKET_EDGES buckets. */
export function histograms(recs: readonly InterruptionRecord[]): ClassHist[] {
  const by = new Map<InterruptionClass, ClassHist>();
  for (const r of recs) {
    let h = by.get(r.class);
    if (!h) by.set(r.class, (h = { cls: r.class, count: 0, stolen_ns: 0, buckets: new Map() }));
    h.count++;
    h.stolen_ns += r.duration_ns;
    const b = bucketOf(r.duration_ns);
    const cell = h.buckets.get(b) ?? { count: 0, stolen_ns: 0 };
    cell.count++;
    cell.stolen_ns += r.duration_ns;
    h.buckets.set(b, cell);
  }
  return CLASSES.filter((c) => by.has(c)).map((c) => by.get(c)!);
}

function histogramSection(data: PictureData, j: Judgement): string {
  const hs = histograms(data.interruptions);
  const out = ['<section id="histograms">', '<h2>Stolen time per interruption, by class</h2>'];
  if (hs.length === 0) {
    out.push('<p>No interruptions were recorded.</p></section>');
    return out.join('\n');
  }
  out.push('<p class="muted">How long each interruption stole, in ranges of its duration; every interruption recorded on a watched CPU, judged or not. Bars are counts; hover for the time they stole.</p>');
  out.push('<div class="hists">');
  // one x scale for all classes, from the shortest to the longest bucket seen
  const all = hs.flatMap((h) => [...h.buckets.keys()]);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const slots = hi - lo + 1;
  const W = 380;
  const H = 120;
  const padL = 14;
  const padB = 22;
  const padT = 14;
  const slotW = (W - padL * 2) / slots;
  for (const h of hs) {
    const max = Math.max(...[...h.buckets.values()].map((b) => b.count));
    const judged = j.counted.by_class[h.cls] ?? 0;
    const parts: string[] = [];
    parts.push(`<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(h.cls)} histogram">`);
    parts.push(`<line x1="${padL}" y1="${H - padB}" x2="${W - padL}" y2="${H - padB}" stroke="#9aa4ae"/>`);
    for (let b = lo; b <= hi + 1; b++) {
      // the decades (100ns, 1us, 10us, ...) on the axis; each bar's title has its exact range
      const edge = BUCKET_EDGES[b];
      if (edge !== undefined && edge > 0 && /^10*$/.test(String(edge))) {
        const ex = padL + (b - lo) * slotW;
        parts.push(`<line x1="${ex.toFixed(1)}" y1="${H - padB}" x2="${ex.toFixed(1)}" y2="${H - padB + 4}" stroke="#9aa4ae"/>`);
        parts.push(`<text class="edge" x="${ex.toFixed(1)}" y="${H - padB + 15}">${esc(formatDuration(edge))}</text>`);
      }
    }
    for (let b = lo; b <= hi; b++) {
      const x = padL + (b - lo) * slotW;
      const cell = h.buckets.get(b);
      if (!cell) continue;
      const bh = Math.max(2, ((H - padB - padT) * cell.count) / max);
      const y = H - padB - bh;
      const title = `${h.cls}, ${bucketLabel(b)}: ${plural(cell.count, 'interruption')}, ${formatDuration(cell.stolen_ns)} stolen`;
      parts.push(
        `<rect class="bar" data-class="${h.cls}" data-bucket="${esc(bucketLabel(b))}" data-count="${cell.count}" data-stolen-ns="${cell.stolen_ns}" x="${(x + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, slotW - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${CLASS_COLORS[h.cls]}"><title>${esc(title)}</title></rect>`,
      );
      parts.push(`<text class="count" x="${(x + slotW / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}">${cell.count}</text>`);
    }
    parts.push('</svg>');
    out.push(
      `<figure class="hist" data-class="${h.cls}"><figcaption>${esc(h.cls)}: ${plural(h.count, 'interruption')}, ${formatDuration(h.stolen_ns)} stolen <span class="muted">(${judged} judged)</span></figcaption>${parts.join('')}</figure>`,
    );
  }
  out.push('</div></section>');
  return out.join('\n');
}

/** "<code>membarrier/4243</code> (pid 4240) on CPU 0", "softirq (timer) on CPU 1", "the task itself": the verdict's sender label, the task in code. */
function whoCell(t: TopCause): string {
  if (t.sender.kind !== 'task') return esc(t.senderLabel);
  const { cpu, ...task } = t.sender;
  const one = t.senderIds.length <= 1;
  const pid = one && task.pid !== undefined && task.pid !== task.tid ? ` (pid ${task.pid})` : '';
  return `<code>${esc(senderLabel(task, one ? 'one' : 'many'))}</code>${pid}${cpu !== undefined ? ` on CPU ${cpu}` : ''}`;
}

function causesSection(data: PictureData, j: Judgement): string {
  let rows = j.topCauses.slice(0, 10);
  const judged = rows.length > 0;
  if (!judged) rows = topCauses(rowsFromRecords(data.interruptions.filter((r) => data.start.watched_cpus.includes(r.cpu))), 10);
  const out = ['<section id="causes">'];
  out.push(judged ? '<h2>Top causes while isolated</h2>' : '<h2>Top causes <span class="muted">(nothing was judged: every interruption on the watched CPUs)</span></h2>');
  if (rows.length === 0) {
    out.push('<p>None: no interruptions.</p></section>');
    return out.join('\n');
  }
  out.push(`<table id="top-causes" data-judged="${judged}">`);
  out.push('<thead><tr><th>what</th><th>who</th><th>via</th><th class="num">hit CPU</th><th class="num">count</th><th class="num">stolen</th><th class="num">max</th><th>remedy</th></tr></thead><tbody>');
  for (const t of rows) {
    const r = data.remedyFor?.({ class: t.class, kind: t.kind, func: t.func, context: t.sender.context });
    const remedy = r && r.remedy.length ? `<ul>${r.remedy.map((x) => `<li>${esc(x)}</li>`).join('')}</ul><span class="muted">${esc(r.causes)}</span>` : '<span class="muted">none known</span>';
    out.push(
      `<tr class="cause"><td><code>${esc(whatText(t))}</code></td><td>${whoCell(t)}</td><td>${t.callsites.map((c) => `<code>${esc(c)}</code>`).join('<br>')}</td><td class="num">${t.cpus.join(',')}</td><td class="num">${t.count}</td><td class="num">${formatDuration(t.stolen_ns)}</td><td class="num">${formatDuration(t.max_ns)}</td><td class="remedy">${remedy}</td></tr>`,
    );
  }
  out.push('</tbody></table></section>');
  return out.join('\n');
}

function notJudgedSection(j: Judgement): string {
  const lines: string[] = [];
  const by = (t: { by_class: Partial<Record<InterruptionClass, number>> }) =>
    CLASSES.filter((c) => t.by_class[c]).map((c) => `${c} ${t.by_class[c]}`).join(', ');
  if (j.warmup.count > 0) lines.push(`before the warm-up ended: ${plural(j.warmup.count, 'interruption')} (${by(j.warmup)}), ${formatDuration(j.warmup.stolen_ns)} stolen`);
  if (j.after.count > 0) lines.push(`after the judged window: ${plural(j.after.count, 'interruption')} (${by(j.after)}), ${formatDuration(j.after.stolen_ns)} stolen`);
  if (j.notIsolated > 0) lines.push(`while the task was not isolated: ${plural(j.notIsolated, 'interruption')}`);
  if (j.toolCaused > 0) lines.push(`caused by isolwatch itself: ${plural(j.toolCaused, 'interruption')}`);
  if (j.allowedSelf > 0) lines.push(`the task's own syscalls and faults (allowed): ${j.allowedSelf}`);
  // the limits as every reporter words them, then those set or exceeded with what was observed
  const shown = j.perBudget.filter((b) => b.explicit || !b.pass);
  const observed = shown.map((b) => `${limitLabel(b)}: ${b.unit === 'ns' ? formatDuration(b.observed) : b.observed} ${b.pass ? 'met' : 'exceeded'}`).join('; ');
  return [
    '<section id="not-judged">',
    '<h2>Budgets and what was not judged</h2>',
    `<p>Limits: ${esc(limitsText(j))}.${observed ? ` ${esc(observed)}.` : ''}</p>`,
    lines.length ? `<ul>${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : '<p>Everything recorded on the watched CPUs was judged.</p>',
    '</section>',
  ].join('\n');
}

function detailsSection(data: PictureData, j: Judgement): string {
  const s = data.start;
  const why = watchedReasonText(s);
  const rows: Array<[string, string]> = [
    ['kernel', `${s.kernel} ${s.arch}, PR_ISOL ${s.pr_isol}`],
    ['isolwatch', s.version],
    ...(s.command ? [['command', s.command] as [string, string]] : []),
    ['watched CPUs', `${formatCpuList(s.watched_cpus)}${why ? ` (${why})` : ''}; isolated: ${formatCpuList(s.isolated) || 'none'}; nohz_full: ${formatCpuList(s.nohz_full) || 'none'}`],
    ['duration', `${data.summary.duration_s}s`],
    ['interruptions', `${data.interruptions.length} recorded on the watched CPUs, ${j.counted.count} judged`],
    ['lost events', String(data.summary.lost_events)],
    ['caused by isolwatch', String(data.summary.self_caused)],
    ...(j.command ? [['command status', j.command.signal ? `killed by ${j.command.signal}` : `exit ${j.command.exit_status}`] as [string, string]] : []),
    ['probes', `${s.probes.attached.length} attached, ${s.probes.missing.length} missing`],
  ];
  return ['<section id="details">', '<h2>Run details</h2>', '<dl>', ...rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`), '</dl>', '</section>'].join('\n');
}

/** The page (UTF-8 HTML, trailing newline). */
export function toHtml(data: PictureData): string {
  const j = judgementOf(data);
  const v = verdictOf(data, j);
  const t = timelineData(data);
  // inside <script type="application/json">: no "</script>" can end it early
  const json = JSON.stringify(t).replace(/</g, '\\u003c');
  const title = `isolwatch: ${v.pass ? 'PASS' : 'FAIL'} on CPU ${formatCpuList(data.start.watched_cpus)}`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // the page may load nothing at all: its own inline style and script only
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body><main>',
    verdictHeader(data, j),
    timelineSection(data, t),
    causesSection(data, j),
    histogramSection(data, j),
    notJudgedSection(j),
    detailsSection(data, j),
    '</main>',
    `<script type="application/json" id="iw-data">${json}</script>`,
    `<script>(${timelineMain.toString()})();</script>`,
    '</body>',
    '</html>',
  ].join('\n') + '\n';
}
