// The whole screen layout, declared in one place: which rows each region gets
// for a given terminal size. Regions stack vertically and span the full width.
import type { Model, PanelId } from '../model/index.js';
import { cpuRows, taskRows, visible } from '../model/index.js';
import { MAX_NOTE_ROWS, noteLines } from './header.js';

export interface Region {
  y: number;
  height: number;
}

export interface Layout {
  header: Region;
  panels: Record<PanelId, Region>;
  /** help or detail view, when open: everything between header and footer */
  body: Region;
  footer: Region;
}

/** fixed header lines; notes add up to MAX_NOTE_ROWS (1 on small terminals) */
export const HEADER_ROWS = 3;
export const FOOTER_ROWS = 1;
/** title + column header */
export const PANEL_CHROME = 2;

export function computeLayout(model: Model): Layout {
  const rows = Math.max(1, model.rows);
  const notes = noteLines(model, rows >= 24 ? MAX_NOTE_ROWS : 1, Math.max(1, model.cols)).length;
  const headerH = Math.min(HEADER_ROWS + notes, Math.max(0, rows - FOOTER_ROWS));
  const footerH = rows > headerH ? FOOTER_ROWS : 0;
  const avail = Math.max(0, rows - headerH - footerH);
  const snap = visible(model);
  const nCpu = cpuRows(model, snap).length;
  const nTask = taskRows(snap).length;

  // CPUs and tasks get what they need up to a share; causes and events split the rest.
  const heights: Record<PanelId, number> = { cpus: 0, tasks: 0, causes: 0, events: 0 };
  if (avail >= 4 * (PANEL_CHROME + 1)) {
    heights.cpus = PANEL_CHROME + Math.min(Math.max(1, nCpu), Math.max(1, Math.floor(avail * 0.3) - PANEL_CHROME));
    heights.tasks = PANEL_CHROME + Math.min(Math.max(1, nTask), Math.max(1, Math.floor(avail * 0.25) - PANEL_CHROME));
    const rest = avail - heights.cpus - heights.tasks;
    heights.causes = Math.max(PANEL_CHROME + 1, Math.ceil(rest / 2));
    heights.events = rest - heights.causes;
  } else {
    // Too small for four panels: show only the focused one.
    heights[model.focus] = avail;
  }
  const panels = {} as Record<PanelId, Region>;
  let y = headerH;
  for (const id of ['cpus', 'tasks', 'causes', 'events'] as const) {
    panels[id] = { y, height: heights[id] };
    y += heights[id];
  }
  return {
    header: { y: 0, height: headerH },
    panels,
    body: { y: headerH, height: avail },
    footer: { y: rows - footerH, height: footerH },
  };
}
