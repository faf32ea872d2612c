// Header (3 lines, then up to MAX_NOTE_ROWS of notes): what is watched and how,
// what the tool could attach, the session state (lost events, enforcement,
// elapsed, pause, filter), and notices such as a watched task having exited.
import type { Line } from '../format.js';
import { fitLine, fmtElapsed, wrapLine } from '../format.js';
import type { Model } from '../model/index.js';
import { isolationOf, timeView, visible } from '../model/index.js';

export function headerLines(model: Model, width: number): Line[] {
  const s = model.start;
  const snap = visible(model);
  const cpus = s.watched_cpus.map((c) => `${c}:${isolationOf(s, c)}`).join(' ');
  const notIsolated = s.watched_cpus.length > 0 && s.watched_cpus.every((c) => isolationOf(s, c) === 'housekeeping');
  const why =
    s.watched_reason === 'fallback-highest'
      ? ' (no isolated CPUs: watching the highest)'
      : notIsolated
        ? ' (not isolated: cannot be quiet)'
        : '';
  // What is watched and how matters more than our version and the arch: those go first on narrow screens.
  let what = ` ${s.version}  ${s.kernel} ${s.arch}  CPU ${cpus || '-'}`;
  if ('isolwatch'.length + what.length + why.length > width) what = `  ${s.kernel}  CPU ${cpus || '-'}`;
  const line1: Line = [{ text: 'isolwatch', style: 'title-focused' }, { text: what }, { text: why, style: 'warn' }];

  const missing = s.probes.missing;
  const line2: Line = [
    { text: `PR_ISOL ${s.pr_isol === 'kernel' ? 'supported' : 'absent'}  probes ${s.probes.attached.length} attached` },
    missing.length
      ? { text: `, ${missing.length} missing: ${missing.map((p) => p.replace(/^[^:]*:/, '')).join(' ')}`, style: 'warn' }
      : { text: ', none missing', style: 'good' },
  ];

  const tv = timeView(model, snap);
  const summary = snap.stats.summary;
  // Live: the session's kernel counter (polled); a recording: its summary; else unknown.
  const lostN = summary ? summary.lost_events : model.session?.lostEvents;
  const lost = lostN !== undefined ? String(lostN) : model.opts.replay ? '?' : 'n/a';
  const line3: Line = [
    { text: `${model.opts.replay ? 'replay' : 'live'} ${fmtElapsed(tv.elapsedNs)}  ${snap.stats.total} interruptions  ` },
    { text: `${snap.stats.violations} violations`, style: snap.stats.violations > 0 ? 'violation' : undefined },
    { text: '  ' },
    { text: `lost ${lost}`, style: lostN !== undefined && lostN > 0 ? 'warn' : undefined },
    { text: `  enforcement ${model.opts.enforcement}` },
  ];
  if (summary && summary.self_caused > 0) line3.push({ text: `, ${summary.self_caused} self-caused` });
  if (model.paused) line3.push({ text: `  PAUSED (+${model.pendingWhilePaused} new)`, style: 'warn' });
  if (model.filter) line3.push({ text: `  filter "${model.filter}"`, style: 'key' });
  const lines = [line1, line2, line3, ...noteLines(model, MAX_NOTE_ROWS, width)];
  return lines.map((l) => fitLine(l, width));
}

/** Rows under the three fixed header lines for notes and notices, at most this many. */
export const MAX_NOTE_ROWS = 3;

/** Notices (things that happened, e.g. a watched task exited) first, then the fixed notes; long ones wrap. */
export function noteLines(model: Model, max: number, width: number): Line[] {
  const notices = [...(model.session?.notices ?? []), ...model.stats.isolWarnings.map((w) => `warning: ${w}`)];
  const out: Line[] = [
    ...notices.map((n): Line => [{ text: `! ${n}`, style: 'warn' }]),
    ...model.opts.notes.map((n): Line => [{ text: n, style: 'dim' }]),
  ].flatMap((l) => wrapLine(l, width, 2));
  return out.slice(0, Math.max(0, max));
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
