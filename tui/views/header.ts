// Header (3 lines): what is watched and how, what the tool could attach, and
// the session state (lost events, enforcement, elapsed, pause, filter).
import type { Line } from '../format.js';
import { fitLine, fmtElapsed } from '../format.js';
import type { Model } from '../model.js';
import { isolationOf, timeView, visible } from '../model.js';

export function headerLines(model: Model, width: number): Line[] {
  const s = model.start;
  const snap = visible(model);
  const cpus = s.watched_cpus.map((c) => `${c}:${isolationOf(s, c)}`).join(' ');
  const why = s.watched_reason === 'fallback-highest' ? ' (no isolated CPUs: watching the highest)' : '';
  const line1: Line = [
    { text: 'isolwatch', style: 'title-focused' },
    { text: ` ${s.version}  ${s.kernel} ${s.arch}  CPU ${cpus || '-'}${why}` },
  ];

  const missing = s.probes.missing;
  const line2: Line = [
    { text: `PR_ISOL ${s.pr_isol === 'kernel' ? 'supported' : 'absent'}  probes ${s.probes.attached.length} attached` },
    missing.length
      ? { text: `, ${missing.length} missing: ${missing.map((p) => p.replace(/^[^:]*:/, '')).join(' ')}`, style: 'warn' }
      : { text: ', none missing', style: 'good' },
  ];

  const tv = timeView(model, snap);
  const summary = snap.stats.summary;
  // Lost events are only known from a summary record (ring-buffer loss counters are not streamed live).
  const lost = summary ? String(summary.lost_events) : model.opts.replay ? '?' : 'n/a live';
  const line3: Line = [
    { text: `${model.opts.replay ? 'replay' : 'live'} ${fmtElapsed(tv.elapsedNs)}  ${snap.stats.total} interruptions  ` },
    { text: `${snap.stats.violations} violations`, style: snap.stats.violations > 0 ? 'violation' : undefined },
    { text: '  ' },
    { text: `lost ${lost}`, style: summary && summary.lost_events > 0 ? 'warn' : undefined },
    { text: `  enforcement ${model.opts.enforcement}` },
  ];
  if (summary && summary.self_caused > 0) line3.push({ text: `, ${summary.self_caused} self-caused` });
  if (model.paused) line3.push({ text: `  PAUSED (+${model.pendingWhilePaused} new)`, style: 'warn' });
  if (model.filter) line3.push({ text: `  filter "${model.filter}"`, style: 'key' });
  return [line1, line2, line3].map((l) => fitLine(l, width));
}

export function footerLine(model: Model, width: number): Line {
  if (model.filterDraft !== null) {
    return fitLine(
      [
        { text: 'filter: ', style: 'key' },
        { text: `${model.filterDraft}_` },
        { text: '   Enter apply  Esc cancel  (matches class, kind, func, comm, callsite)', style: 'dim' },
      ],
      width,
    );
  }
  const keys: [string, string][] = model.help
    ? [['Esc/?', 'close help'], ['q', 'quit']]
    : model.detail
      ? [['Esc', 'back'], ['Up/Down', 'scroll'], ['p', 'pause'], ['q', 'quit']]
      : [
          ['q', 'quit'],
          ['p', model.paused ? 'resume' : 'pause'],
          ['Tab', 'panel'],
          ['Enter', 'detail'],
          ['/', 'filter'],
          ['c', 'clear'],
          ['?', 'help'],
        ];
  const line: Line = [];
  for (const [k, what] of keys) line.push({ text: k, style: 'key' }, { text: ` ${what}  ` });
  return fitLine(line, width);
}
