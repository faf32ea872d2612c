// The live terminal UI: owns the blessed screen, the keys, ONE render timer
// and ONE shutdown path. All state lives in tui/model/ (pure reducer); all
// text comes from tui/views/*. This file only moves data between them.
//
// Shutdown (q, Ctrl-C, SIGTERM/SIGHUP/SIGINT, an error in the UI, an uncaught
// exception anywhere in the process) always goes through shutdown(): stop the
// timer, unsubscribe, restore the terminal, then call opts.stop() once. The
// terminal is restored before anything is printed, so a crash never leaves a
// raw-mode alternate screen behind. runTui() resolves after that, or rejects
// with the error that ended it (the caller prints it and sets the exit code).
import blessed from 'blessed';
import type { OutputRecord, StartRecord, SummaryRecord, TaskRef } from '../src/types.js';
import type { KeyInfo } from './keys.js';
import { keyToAction } from './keys.js';
import type { Action, Model, RemedyLookup } from './model/index.js';
import { initModel, reduce } from './model/index.js';
import { renderScreen } from './views/screen.js';
import { toContent } from './views/tags.js';
import { remedyFor as catalogue } from '../src/remedies.js';

export type { RemedyLookup } from './model/index.js';

export interface RunTuiOptions {
  start: StartRecord;
  /** Registers a consumer of record batches; returns the unsubscribe function. */
  subscribe: (onRecords: (recs: OutputRecord[]) => void) => () => void;
  /** Called exactly once on quit (detach BPF etc.), after the terminal is restored. */
  stop: () => Promise<SummaryRecord | void>;
  /** Records come from a recording (`report FILE --tui`): time comes from ts_ns only. */
  replay?: boolean;
  /** Shown in the header; default "off". */
  enforcement?: string;
  /** Fixed header notes, e.g. what `isolwatch demo` started or set-up warnings. */
  notes?: string[];
  /** Tasks declared isolated at the start (--pid), shown before anything hits them. */
  declaredTasks?: TaskRef[];
  /**
   * Live session status (kernel lost-event counter, notices such as a watched task having
   * exited), polled at most once a second from the render tick.
   */
  status?: () => { lostEvents?: number; notices?: string[] };
  /** Remedy catalogue; default: src/remedies.ts. */
  remedyFor?: RemedyLookup;
  /** Colour; default on unless NO_COLOR is set (non-empty). */
  color?: boolean;
  /** Redraws per second, at most 10 (default 10). */
  fps?: number;
  /** Terminal streams; default process.stdin / process.stdout. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Monotonic ns clock; default process.hrtime. */
  now?: () => number;
}

export function colorWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

const hrNow = (): number => Number(process.hrtime.bigint());

export async function runTui(opts: RunTuiOptions): Promise<void> {
  const remedyFor = opts.remedyFor ?? catalogue;
  const color = opts.color ?? colorWanted();
  const now = opts.now ?? hrNow;
  const intervalMs = Math.max(100, Math.round(1000 / Math.min(10, Math.max(1, opts.fps ?? 10))));

  return new Promise<void>((resolve, reject) => {
    let screen: blessed.Widgets.Screen | undefined;
    let box: blessed.Widgets.BoxElement | undefined;
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    let closing = false;
    let terminalRestored = false;
    let dirty = true;
    let lastRenderNs = 0;
    let lastStatusNs = -Infinity;
    let pending: OutputRecord[][] = [];
    let model: Model;

    const restoreTerminal = (): void => {
      if (terminalRestored) return;
      terminalRestored = true;
      try {
        screen?.destroy();
      } catch {
        // Destroy can fail half-way on a broken terminal; make sure the basics are undone.
        try {
          const out = (opts.output ?? process.stdout) as NodeJS.WriteStream;
          out.write('\x1b[?1049l\x1b[?25h\x1b[0m');
          const inp = (opts.input ?? process.stdin) as NodeJS.ReadStream;
          if (inp.isTTY && inp.isRaw) inp.setRawMode(false);
        } catch {
          /* nothing more can be done */
        }
      }
    };

    const onUncaught = (err: unknown): void => {
      restoreTerminal();
      void shutdown(err instanceof Error ? err : new Error(String(err)));
    };
    const onSignal = (): void => void shutdown();
    const onExit = (): void => restoreTerminal();
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'];

    const removeProcessHooks = (): void => {
      process.removeListener('uncaughtException', onUncaught);
      process.removeListener('unhandledRejection', onUncaught);
      process.removeListener('exit', onExit);
      for (const s of signals) process.removeListener(s, onSignal);
    };

    // The one shutdown path.
    const shutdown = async (err?: Error): Promise<void> => {
      if (closing) return;
      closing = true;
      if (timer) clearInterval(timer);
      try {
        unsubscribe?.();
      } catch (e) {
        err ??= e instanceof Error ? e : new Error(String(e));
      }
      restoreTerminal();
      removeProcessHooks();
      try {
        await opts.stop();
      } catch (e) {
        err ??= e instanceof Error ? e : new Error(String(e));
      }
      if (err) reject(err);
      else resolve();
    };

    /** Runs UI code; any exception ends the session through the shutdown path. */
    const guard = (fn: () => void): void => {
      if (closing) return;
      try {
        fn();
      } catch (e) {
        void shutdown(e instanceof Error ? e : new Error(String(e)));
      }
    };

    const dispatch = (action: Action): void => {
      const next = reduce(model, action);
      if (next !== model) dirty = true;
      model = next;
      if (model.quit) void shutdown();
    };

    const tick = (): void =>
      guard(() => {
        const t = now();
        if (pending.length > 0) {
          const batch = pending.length === 1 ? pending[0] : pending.flat();
          pending = [];
          dispatch({ type: 'records', records: batch, nowNs: t });
        }
        if (closing) return;
        if (opts.status && t - lastStatusNs >= 1e9) {
          lastStatusNs = t;
          dispatch({ type: 'status', ...opts.status() });
        }
        const prev = model;
        model = reduce(model, { type: 'tick', nowNs: t });
        // The elapsed clock and live rates move once a second even when nothing arrives.
        if (model !== prev && !opts.replay && t - lastRenderNs >= 1e9) dirty = true;
        if (!dirty || !screen || !box) return;
        dirty = false;
        lastRenderNs = t;
        box.setContent(toContent(renderScreen(model, { remedyFor }), color));
        screen.render();
      });

    try {
      process.on('uncaughtException', onUncaught);
      process.on('unhandledRejection', onUncaught);
      process.on('exit', onExit);
      for (const s of signals) process.on(s, onSignal);

      // blessed installs process handlers that call process.exit() (for an uncaught exception
      // even when it was not the only listener, since emit() calls a copy of the list): they
      // would skip opts.stop(). Take them out; this file owns process-level handling.
      const blessedEvents = ['uncaughtException', ...signals] as const;
      const had = new Map(blessedEvents.map((e) => [e, new Set(process.listeners(e as 'SIGTERM'))]));
      screen = blessed.screen({
        smartCSR: true,
        title: 'isolwatch',
        input: opts.input as never,
        output: opts.output as never,
        warnings: false,
        autoPadding: false,
      });
      for (const e of blessedEvents) {
        for (const l of process.listeners(e as 'SIGTERM')) if (!had.get(e)!.has(l)) process.removeListener(e, l);
      }
      box = blessed.box({ top: 0, left: 0, width: '100%', height: '100%', tags: color, wrap: false } as never);
      screen.append(box);

      model = initModel(opts.start, {
        replay: opts.replay,
        enforcement: opts.enforcement,
        notes: opts.notes,
        declaredTasks: opts.declaredTasks,
        nowNs: now(),
        cols: screen.width as number,
        rows: screen.height as number,
      });

      screen.on('keypress', (ch: string | undefined, key: KeyInfo | undefined) =>
        guard(() => {
          // blessed reports Enter twice ('return' then 'enter'): act on 'enter' only.
          if (key?.name === 'return') return;
          const action = keyToAction(model, ch, key);
          if (action) dispatch(action);
        }),
      );
      screen.on('resize', () =>
        guard(() => dispatch({ type: 'resize', cols: screen!.width as number, rows: screen!.height as number })),
      );

      unsubscribe = opts.subscribe((recs) => {
        if (!closing && recs.length > 0) pending.push(recs);
      });
      timer = setInterval(tick, intervalMs);
      tick();
    } catch (e) {
      void shutdown(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
