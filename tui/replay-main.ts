// Demo / test harness: replays an NDJSON recording in the TUI.
//   node dist/tui/replay-main.js FILE.ndjson [--enforcement MODE] [--crash-after-ms N]
// --crash-after-ms throws an uncaught exception after N ms so tests can check that the
// terminal is restored after a crash. `isolwatch report FILE --tui` is the user-facing way.
import { readFileSync } from 'node:fs';
import type { OutputRecord, StartRecord, SummaryRecord } from '../src/types.js';
import { runTui } from './app.js';
import { parseRecording } from './recording.js';

async function main(argv: string[]): Promise<number> {
  let file: string | undefined;
  let enforcement: string | undefined;
  let crashAfterMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--enforcement') enforcement = argv[++i];
    else if (a === '--crash-after-ms') crashAfterMs = Number(argv[++i]);
    else if (a.startsWith('-')) {
      process.stderr.write(`replay-main: unknown option ${a}\nusage: replay-main FILE.ndjson [--enforcement MODE]\n`);
      return 2;
    } else file = a;
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
    replay: true,
    enforcement: enforcement ?? 'off (replay)',
    subscribe: (onRecords) => {
      const t = setImmediate(() => onRecords(parsed.records));
      return () => clearImmediate(t);
    },
    stop: async () => summary,
  });
  return 0;
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
