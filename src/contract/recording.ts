// Recordings (`isolwatch record`): the raw decoded record stream with the ABI
// version, the start facts, declarations and the symbols the records used,
// so `isolwatch report FILE` replays them through the same engine anywhere.
// NDJSON; u64 values are written as decimal strings ending in "n".
import type { RawRecord } from './decode.js';
import { IW } from './layout.generated.js';
import type { CpuRecord, RecordsAccount, StartRecord, SummarySteal } from '../types.js';
import type { RawAggregate } from './aggregate.js';

/** Record ABIs a replay reads: 1 (fixed-size records) decodes to the same raw records as 2. */
export const READABLE_ABIS = [1, IW.IW_ABI_VERSION];

export interface RecordingHeader {
  type: 'recording';
  abi: number;
  start: StartRecord;
  /** victims declared isolated from the start (--pid) */
  declared_pids: number[];
  arch: string;
  /** the policy the recording was made with (--policy): its file name and text, so a replay judges by it */
  policy?: { file: string; text: string; enforced: boolean };
}

export interface Declaration {
  type: 'declare';
  ts_ns: number;
  pid: number;
  children?: boolean;
}

export interface RecordingEnd {
  type: 'end';
  duration_s: number;
  lost: number;
  /** probe -> runs the kernel skipped (summary.probe_misses); absent when none */
  probe_misses?: Record<string, number>;
  kernel_counts?: Record<string, Record<string, number>>;
  /** how the records reached user space (ABI 2): a replay can say what it did not see */
  records?: RecordsAccount;
  /** the kernel's aggregates at the end (ABI 2): exact counts whatever was lost in the ring */
  aggregates?: RawAggregate[];
  /** the steal clock and each watched CPU's steal over the recording (no by_cpu: no steal clock) */
  steal?: SummarySteal & { by_cpu?: Record<string, number> };
  symbols: Record<string, string>;
}

export type RecordingLine = RecordingHeader | Declaration | RecordingEnd | CpuRecord | ({ type: 'raw' } & RawRecord);

export class RecordingError extends Error {}

export function encodeLine(line: RecordingLine): string {
  return JSON.stringify(line, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

const BIG = /^-?\d+n$/;

export function parseRecording(text: string, file: string): {
  header: RecordingHeader;
  raws: (RawRecord | Declaration)[];
  end?: RecordingEnd;
  /** watched CPUs going offline and back (CPU hotplug) */
  cpus: CpuRecord[];
} {
  let header: RecordingHeader | undefined;
  let end: RecordingEnd | undefined;
  const raws: (RawRecord | Declaration)[] = [];
  const cpus: CpuRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let obj: RecordingLine;
    try {
      obj = JSON.parse(line, (_k, v) => (typeof v === 'string' && BIG.test(v) ? BigInt(v.slice(0, -1)) : v));
    } catch (e) {
      throw new RecordingError(`${file}:${i + 1}: not JSON (${(e as Error).message}); is this a file written by 'isolwatch record'?`);
    }
    if (i === 0 || !header) {
      if (obj.type !== 'recording') {
        throw new RecordingError(
          `${file}:${i + 1}: not an isolwatch recording (first line has type '${(obj as { type?: string }).type}'); ` +
            `NDJSON output of 'watch --json' is not a recording: use 'isolwatch record -o FILE'`,
        );
      }
      if (!READABLE_ABIS.includes(obj.abi)) {
        throw new RecordingError(`${file}: recorded with record ABI ${obj.abi}, this isolwatch reads ABI ${READABLE_ABIS.join(' and ')}`);
      }
      header = obj;
      continue;
    }
    if (obj.type === 'raw') {
      const { type: _t, ...raw } = obj;
      raws.push(raw as RawRecord);
    } else if (obj.type === 'declare') raws.push(obj);
    else if (obj.type === 'cpu') cpus.push(obj);
    else if (obj.type === 'end') end = obj;
    else throw new RecordingError(`${file}:${i + 1}: unknown line type '${(obj as { type: string }).type}'`);
  }
  if (!header) throw new RecordingError(`${file}: empty recording`);
  return { header, raws, end, cpus };
}
