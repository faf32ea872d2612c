// Reading an NDJSON recording for the TUI replay (and its tests).
import type { OutputRecord, StartRecord } from '../src/types.js';

export class RecordingError extends Error {}

/** Parses an NDJSON recording; the first record must be the start record. */
export function parseRecording(text: string, file = 'recording'): { start: StartRecord; records: OutputRecord[] } {
  const records: OutputRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new RecordingError(`${file}:${i + 1}: not JSON (${(e as Error).message}); expected one record per line`);
    }
    if (!rec || typeof rec !== 'object' || typeof (rec as { type?: unknown }).type !== 'string') {
      throw new RecordingError(`${file}:${i + 1}: record has no "type"; is this an isolwatch recording?`);
    }
    records.push(rec as OutputRecord);
  }
  const first = records[0];
  if (!first || first.type !== 'start') {
    throw new RecordingError(`${file}:1: the first record must be {"type":"start",...}; record with 'isolwatch record -o FILE'`);
  }
  return { start: first, records: records.slice(1) };
}
