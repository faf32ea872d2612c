// The pure reducer: an action in, the next Model out. No I/O, no clocks:
// time arrives in actions.
import { Action, DetailTarget, Model, PANELS, emptyCpu, emptyStats } from './state.js';
import { ingest } from './ingest.js';
import { causeRows, cpuRows, eventRows, panelLength, recordNowNs, taskRows, visible } from './selectors.js';

export function reduce(model: Model, action: Action): Model {
  switch (action.type) {
    case 'records':
      return ingest(model, action.records, action.nowNs);
    case 'tick':
      return action.nowNs === model.nowNs ? model : { ...model, nowNs: action.nowNs };
    case 'status': {
      const prev = model.session;
      const lostEvents = action.lostEvents ?? prev?.lostEvents;
      const notices = action.notices ?? prev?.notices ?? [];
      const same =
        prev !== undefined && prev.lostEvents === lostEvents && prev.notices.length === notices.length && prev.notices.every((n, i) => n === notices[i]);
      return same ? model : { ...model, session: { lostEvents, notices: [...notices] } };
    }
    case 'resize':
      return { ...model, cols: Math.max(1, action.cols), rows: Math.max(1, action.rows) };
    case 'focus-next':
    case 'focus-prev': {
      if (model.detail || model.help) return model;
      const i = PANELS.indexOf(model.focus);
      const d = action.type === 'focus-next' ? 1 : PANELS.length - 1;
      return { ...model, focus: PANELS[(i + d) % PANELS.length] };
    }
    case 'focus':
      return { ...model, focus: action.panel };
    case 'select-up':
    case 'select-down':
    case 'select-home':
    case 'select-end':
      return select(model, action);
    case 'drill':
      return drill(model);
    case 'back':
      if (model.help) return { ...model, help: false };
      if (model.detail) return { ...model, detail: undefined, detailScroll: 0 };
      if (model.filter) return { ...model, filter: '', sel: { ...model.sel, causes: 0, events: 0 } };
      return model;
    case 'pause':
      if (model.paused) return { ...model, paused: undefined, pendingWhilePaused: 0 };
      return { ...model, paused: { stats: model.stats, nowNs: model.nowNs }, pendingWhilePaused: 0 };
    case 'clear': {
      const t0 = recordNowNs(model.stats, model, model.nowNs);
      const stats = emptyStats(t0);
      stats.summary = model.stats.summary;
      for (const cpu of model.start.watched_cpus) stats.cpus[cpu] = emptyCpu(cpu);
      for (const [k, t] of Object.entries(model.stats.tasks)) {
        stats.tasks[k] = { ...t, interruptions: 0, violations: 0, stolenNs: 0, maxNs: 0, byClass: {} };
      }
      stats.firstTsNs = model.stats.firstTsNs;
      stats.lastTsNs = model.stats.lastTsNs;
      return {
        ...model,
        stats,
        paused: model.paused ? { stats, nowNs: model.nowNs } : undefined,
        detail: undefined,
        detailScroll: 0,
        sel: { ...model.sel, causes: 0, events: 0 },
      };
    }
    case 'filter':
      return { ...model, filter: action.text.trim(), filterDraft: null, sel: { ...model.sel, causes: 0, events: 0 } };
    case 'filter-start':
      return { ...model, filterDraft: model.filter, help: false };
    case 'filter-input':
      return model.filterDraft === null ? model : { ...model, filterDraft: (model.filterDraft + action.text).slice(0, 200) };
    case 'filter-backspace':
      return model.filterDraft === null ? model : { ...model, filterDraft: model.filterDraft.slice(0, -1) };
    case 'filter-commit':
      return model.filterDraft === null ? model : reduce(model, { type: 'filter', text: model.filterDraft });
    case 'filter-cancel':
      return { ...model, filterDraft: null };
    case 'help':
      return { ...model, help: !model.help, detailScroll: model.help ? model.detailScroll : 0 };
    case 'quit':
      return { ...model, quit: true };
  }
}

export function select(
  model: Model,
  action: { type: 'select-up' | 'select-down' | 'select-home' | 'select-end'; n?: number },
): Model {
  if (model.help || model.detail) {
    const n = action.n ?? 1;
    const next =
      action.type === 'select-up'
        ? model.detailScroll - n
        : action.type === 'select-down'
          ? model.detailScroll + n
          : action.type === 'select-home'
            ? 0
            : Number.MAX_SAFE_INTEGER;
    // The detail view clamps against its own length when drawing.
    return { ...model, detailScroll: Math.max(0, Math.min(next, 10_000)) };
  }
  const len = panelLength(model, model.focus);
  const cur = Math.min(model.sel[model.focus], Math.max(0, len - 1));
  const n = action.n ?? 1;
  let next = cur;
  if (action.type === 'select-up') next = cur - n;
  else if (action.type === 'select-down') next = cur + n;
  else if (action.type === 'select-home') next = 0;
  else next = len - 1;
  next = Math.max(0, Math.min(next, len - 1));
  return { ...model, sel: { ...model.sel, [model.focus]: next } };
}

export function drill(model: Model): Model {
  if (model.help || model.detail) return model;
  const snap = visible(model);
  const i = model.sel[model.focus];
  let detail: DetailTarget | undefined;
  if (model.focus === 'cpus') {
    const row = cpuRows(model, snap)[i];
    if (row) detail = { kind: 'cpu', cpu: row.cpu };
  } else if (model.focus === 'tasks') {
    const row = taskRows(snap)[i];
    if (row) detail = { kind: 'task', tid: row.tid };
  } else if (model.focus === 'causes') {
    const row = causeRows(snap, model.filter)[i];
    if (row) detail = { kind: 'cause', key: row.key };
  } else {
    const row = eventRows(snap, model.filter)[i];
    if (row) detail = { kind: 'event', entry: row };
  }
  return detail ? { ...model, detail, detailScroll: 0 } : model;
}
