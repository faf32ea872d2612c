// Help screen: keys, what each panel shows, how to read it.
import type { Line } from '../format.js';
import { plain } from '../format.js';
import { classLegend } from './describe.js';

export function helpLines(): Line[] {
  const k = (key: string, what: string): Line => [{ text: `  ${key.padEnd(16)}`, style: 'key' }, { text: what }];
  return [
    plain('Keys', 'title'),
    k('q, Ctrl-C', 'quit (detaches probes, restores the terminal)'),
    k('p', 'pause / resume the display (counting continues)'),
    k('Tab, Right', 'next panel   (Shift-Tab, Left: previous)'),
    k('Up/Down, j/k', 'move the selection  (PgUp/PgDn, Home/End)'),
    k('Enter', 'detail of the selected CPU, task, cause or event'),
    k('Esc', 'back from detail / help; clears the filter'),
    k('/', 'filter events and causes by text (class, kind, func, comm, callsite)'),
    k('c', 'clear counters, causes and the event log'),
    k('?', 'this help'),
    plain(''),
    plain('Panels', 'title'),
    plain('  Header      CPUs and their isolation, PR_ISOL, probes, lost records (kernel ring full), enforcement'),
    plain('  CPUs        victim now, interruptions/s by class, stolen time %, longest stall, history/s'),
    plain('  Tasks       isolation state and where it came from: kernel PR_ISOL, prctl-observed, declared'),
    plain('  Top causes  grouped by class, function and sender; Enter shows chain, histogram, remedy'),
    plain('  Events      newest first: what -> nested chain, who caused it, duration, [victim]'),
    plain(''),
    plain(`  Classes: ${classLegend()}`, 'dim'),
    plain('  Replays compute rates from record timestamps over the whole recording.', 'dim'),
  ];
}
