// Demo / test harness: replays an NDJSON recording in the TUI.
//   node dist/tui/replay-main.js FILE.ndjson [--live [--speed X]] [--enforcement MODE] [--crash-after-ms N]
// Default: all records at once, as `isolwatch report FILE --tui` does. --live streams them
// paced by their timestamps (X times faster) through the live code path, as a demo.
// --crash-after-ms throws an uncaught exception after N ms so tests can check that the
// terminal is restored after a crash.
import { readFileSync } from 'node:fs';
import type { OutputRecord, StartRecord, SummaryRecord } from '../src/types.js';
import { runTui } from './app.js';
import { parseRecording } from './recording.js';

async function main(argv: string[]): Promise<number> {
  let file: string | undefined;
  let enforcement: string | undefined;
  let crashAfterMs: number | undefined;
  let live = false;
  let speed = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--enforcement') enforcement = argv[++i];
    else if (a === '--live') live = true;
    else if (a === '--speed') speed = Number(argv[++i]);
    else if (a === '--crash-after-ms') crashAfterMs = Number(argv[++i]);
    else if (a.startsWith('-')) {
      process.stderr.write(`replay-main: unknown option ${a}\nusage: replay-main FILE.ndjson [--enforcement MODE]\n`);
      return 2;
    } else file = a;
  }
  if (!(speed > 0)) {
    process.stderr.write('replay-main: --speed takes a number > 0, e.g. --speed 10\n');
    return 2;
  }
  if (!file) {
    process.stderr.write('usage: replay-main FILE.ndjson [--enforcement MODE]\n');
    return 2;
  }
  let parsed: { start: StartRecord; records: OutputRecord[] };
  try {
    parsed = parseRecording(readFileSync(file, 'utf8'), file);
  } catch (e) {
    process.stderr.write(`replay-main: ${(e as Error).message}\n`);
    return 2;
  }
  const summary = parsed.records.find((r): r is SummaryRecord => r.type === 'summary');
  if (crashAfterMs !== undefined) {
    setTimeout(() => {
      throw new Error('replay-main: deliberate crash (--crash-after-ms)');
    }, crashAfterMs);
  }
  await runTui({
    start: parsed.start,
    replay: !live,
    enforcement: enforcement ?? (live ? 'off (demo)' : 'off (replay)'),
    subscribe: live ? paced(parsed.start, parsed.records, speed) : (onRecords) => {
      const t = setImmediate(() => onRecords(parsed.records));
      return () => clearImmediate(t);
    },
    stop: async () => summary,
  });
  return 0;
}

/** Delivers records when their (scaled) time has come, every 50 ms, like a live session's drain timer. */
function paced(start: StartRecord, records: OutputRecord[], speed: number) {
  return (onRecords: (recs: OutputRecord[]) => void): (() => void) => {
    const tsOf = (r: OutputRecord) => ('ts_ns' in r && typeof r.ts_ns === 'number' ? r.ts_ns : undefined);
    const t0 = start.ts_ns ?? tsOf(records.find((r) => tsOf(r) !== undefined)!) ?? 0;
    const began = Date.now();
    let next = 0;
    const timer = setInterval(() => {
      const due = t0 + (Date.now() - began) * 1e6 * speed;
      const batch: OutputRecord[] = [];
      // Records without a timestamp (the summary) go out with the last timed one before them.
      while (next < records.length && (tsOf(records[next]) ?? due) <= due) batch.push(records[next++]);
      if (batch.length) onRecords(batch);
      if (next >= records.length) clearInterval(timer);
    }, 50);
    return () => clearInterval(timer);
  };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // runTui has restored the terminal before rejecting.
    process.stderr.write(`replay-main: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
