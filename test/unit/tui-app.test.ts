// runTui's lifecycle on fake terminal streams: one shutdown path, stop() called
// once and only after the terminal is restored, errors surfaced (not swallowed),
// process hooks removed, NO_COLOR honoured. The real-terminal run is in
// test/integration/tui-terminal.test.ts.
import { readFileSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OutputRecord } from '../../src/types.js';
import type { RunTuiOptions } from '../../tui/app.js';
import { colorWanted, runTui } from '../../tui/app.js';
import { parseRecording } from '../../tui/recording.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/recordings/tui-sample.ndjson', import.meta.url));
const { start, records } = parseRecording(readFileSync(FIXTURE, 'utf8'), FIXTURE);

const LEAVE_ALT = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';

interface FakeTerm {
  input: PassThrough & { isTTY: boolean; isRaw: boolean; setRawMode: (m: boolean) => void };
  output: Writable & { isTTY: boolean; columns: number; rows: number };
  text: () => string;
}

function fakeTerm(cols = 100, rows = 30): FakeTerm {
  const input = Object.assign(new PassThrough(), { isTTY: true, isRaw: false, setRawMode: (m: boolean) => void (input.isRaw = m) });
  let out = '';
  const output = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    }),
    { isTTY: true, columns: cols, rows },
  );
  return { input, output, text: () => out };
}

/** Terminal output with cursor-forward moves turned back into spaces and other escapes dropped. */
function words(raw: string): string {
  return raw
    .replace(/\x1b\[(\d*)C/g, (_m, n: string) => ' '.repeat(Number(n || 1)))
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()>=78][0-9A-Za-z]?/g, '');
}

const HOOKS = ['uncaughtException', 'unhandledRejection', 'SIGTERM', 'SIGINT', 'SIGHUP', 'exit'] as const;
const hookCounts = () => HOOKS.map((h) => process.listenerCount(h));

function start_(term: FakeTerm, over: Partial<RunTuiOptions> = {}) {
  const calls = { stop: 0, unsubscribe: 0, restoredBeforeStop: false };
  let feed: ((r: OutputRecord[]) => void) | undefined;
  const done = runTui({
    start,
    replay: true,
    color: false,
    remedyFor: () => undefined,
    input: term.input,
    output: term.output,
    subscribe: (f) => {
      feed = f;
      return () => void calls.unsubscribe++;
    },
    stop: async () => {
      calls.stop++;
      calls.restoredBeforeStop = term.text().includes(LEAVE_ALT) && !term.input.isRaw;
    },
    ...over,
  });
  return { done, calls, feed: (r: OutputRecord[]) => feed!(r) };
}

const until = async (pred: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('runTui lifecycle', () => {
  it('q: restores the terminal, then calls stop once, unsubscribes, removes its hooks', async () => {
    const before = hookCounts();
    const term = fakeTerm();
    const t = start_(term);
    t.feed(records);
    await until(() => term.text().includes('ipi_mb'));
    expect(term.input.isRaw).toBe(true);
    term.input.write('q');
    await t.done;
    expect(t.calls).toEqual({ stop: 1, unsubscribe: 1, restoredBeforeStop: true });
    expect(term.text().endsWith(LEAVE_ALT) || term.text().includes(SHOW_CURSOR)).toBe(true);
    expect(term.input.isRaw).toBe(false);
    expect(hookCounts()).toEqual(before);
  });

  it('an uncaught exception restores the terminal first and rejects with it', async () => {
    const before = new Set(process.listeners('uncaughtException'));
    const term = fakeTerm();
    const t = start_(term);
    await until(() => term.text().includes('CPUs'));
    // Call our handler directly: emitting the event would also reach the test runner's own.
    const ours = process.listeners('uncaughtException').filter((l) => !before.has(l));
    expect(ours.length).toBeGreaterThan(0);
    for (const l of ours) (l as (e: Error) => void)(new Error('boom'));
    await expect(t.done).rejects.toThrow('boom');
    expect(t.calls.stop).toBe(1);
    expect(t.calls.restoredBeforeStop).toBe(true);
  });

  it('a failing stop() is reported, not swallowed, with the terminal already restored', async () => {
    const term = fakeTerm();
    const t = start_(term, {
      stop: async () => {
        throw new Error('detach failed: EBUSY');
      },
    });
    await until(() => term.text().includes('CPUs'));
    term.input.write('\x03'); // Ctrl-C
    await expect(t.done).rejects.toThrow('detach failed');
    expect(term.text()).toContain(LEAVE_ALT);
  });

  it('live records arriving over time are drawn with live rates; NO_COLOR means no colour codes', async () => {
    const term = fakeTerm(80, 24);
    const t = start_(term, { replay: false });
    await until(() => words(term.text()).includes('no interruptions yet'));
    t.feed(records.slice(0, 40));
    await until(() => words(term.text()).includes('int/s') && term.text().includes('ipi_mb'));
    expect(words(term.text())).toMatch(/live \d\d:\d\d\.\d/);
    term.input.write('q');
    await t.done;
    expect(term.text()).not.toMatch(/\x1b\[[0-9;]*(3[0-7]|4[0-7])m/);
    expect(term.text()).not.toMatch(/\{\/?(bold|inverse|red-fg)\}/);
  });

  it('live status (lost events, notices) is polled from the tick, at most once a second, and drawn', async () => {
    const term = fakeTerm(100, 30);
    let polls = 0;
    let lost = 5;
    const t = start_(term, {
      replay: false,
      notes: ['demo: spinner disturb/11 on CPU 1'],
      status: () => {
        polls++;
        return { lostEvents: lost, notices: polls > 1 ? ['pid 11 exited: no more interruptions to show; q to quit'] : [] };
      },
    });
    await until(() => words(term.text()).includes('lost 5') && words(term.text()).includes('demo: spinner disturb/11'));
    lost = 12345;
    // smartCSR rewrites only the cells that changed: look for the new digits and words
    await until(() => words(term.text()).includes('12345') && words(term.text()).includes('! pid'));
    term.input.write('q');
    await t.done;
    // a render tick every 100 ms, but the status only about once a second
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(polls).toBeLessThanOrEqual(4);
  });

  it('colour by default, off when NO_COLOR is set and non-empty', () => {
    expect(colorWanted({})).toBe(true);
    expect(colorWanted({ NO_COLOR: '' })).toBe(true);
    expect(colorWanted({ NO_COLOR: '1' })).toBe(false);
  });
});
