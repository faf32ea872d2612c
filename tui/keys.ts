// Key presses -> reducer actions. Pure: the app passes blessed's (ch, key) in
// and dispatches what comes out; nothing here touches the screen.
import type { Action, Model } from './model/index.js';

export interface KeyInfo {
  /** blessed key name: 'tab', 'enter', 'escape', 'up', 'q', ... */
  name?: string;
  ctrl?: boolean;
  shift?: boolean;
  meta?: boolean;
  full?: string;
}

/** Rows moved by PgUp/PgDn. */
const PAGE = 10;

export function keyToAction(model: Model, ch: string | undefined, key: KeyInfo | undefined): Action | undefined {
  const name = key?.name;
  if (key?.ctrl && name === 'c') return { type: 'quit' };

  if (model.filterDraft !== null) {
    if (name === 'enter') return { type: 'filter-commit' };
    if (name === 'escape') return { type: 'filter-cancel' };
    if (name === 'backspace') return { type: 'filter-backspace' };
    if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f' && !key?.ctrl && !key?.meta) return { type: 'filter-input', text: ch };
    return undefined;
  }

  if (model.help) {
    if (ch === 'q') return { type: 'quit' };
    if (name === 'escape' || ch === '?' || name === 'enter') return { type: 'help' };
    if (name === 'up' || ch === 'k') return { type: 'select-up' };
    if (name === 'down' || ch === 'j') return { type: 'select-down' };
    return undefined;
  }

  switch (name) {
    case 'tab':
      return key?.shift ? { type: 'focus-prev' } : { type: 'focus-next' };
    case 'right':
      return { type: 'focus-next' };
    case 'left':
      return { type: 'focus-prev' };
    case 'up':
      return { type: 'select-up' };
    case 'down':
      return { type: 'select-down' };
    case 'pageup':
      return { type: 'select-up', n: PAGE };
    case 'pagedown':
      return { type: 'select-down', n: PAGE };
    case 'home':
      return { type: 'select-home' };
    case 'end':
      return { type: 'select-end' };
    case 'enter':
      return { type: 'drill' };
    case 'escape':
    case 'backspace':
      return { type: 'back' };
  }
  switch (ch) {
    case 'q':
      return { type: 'quit' };
    case 'p':
    case ' ':
      return { type: 'pause' };
    case 'k':
      return { type: 'select-up' };
    case 'j':
      return { type: 'select-down' };
    case 'g':
      return { type: 'select-home' };
    case 'G':
      return { type: 'select-end' };
    case '/':
      return { type: 'filter-start' };
    case 'c':
      return { type: 'clear' };
    case '?':
      return { type: 'help' };
  }
  return undefined;
}
