// NDJSON records (`--json`, `--report`, `record -o`): one JSON object per line
// with the key order of DESIGN.md, so diffs and `grep`/`jq` pipelines see the
// same shape every time. Keys the contract does not name yet are kept, after
// the known ones, in the order the producer set them; undefined keys are
// dropped; bigint values (u64 from the decoder) are written as JSON numbers.
import { CLASSES } from '../types.js';
import { FAST_JSON, fastJsonLine, type FastJson } from '../correlate/fast-entry.js';
import type {
  AggregateRecord,
  InterruptionRecord,
  IsolRecord,
  OutputRecord,
  StartRecord,
  SummaryRecord,
} from '../types.js';

type Shape = { keys: readonly string[]; nested?: Record<string, Shape>; items?: Record<string, Shape>; mapValues?: Record<string, Shape> };

const TASK: Shape = { keys: ['pid', 'tid', 'comm'] };
const CLASS_COUNTS: Shape = { keys: CLASSES };
const ACTION: Shape = { keys: ['kind', 'signal', 'target', 'pid', 'mode', 'result', 'rule', 'reason'] };
const CAUSE: Shape = { keys: ['self', 'context', 'cpu', 'pid', 'tid', 'comm', 'callsite', 'ts_ns', 'origin'] };
const CHAIN_ENTRY: Shape = { keys: ['class', 'kind', 'func', 'address', 'ret', 'name', 'duration_ns', 'depth'] };

const SHAPES: Record<OutputRecord['type'], Shape> = {
  start: {
    keys: ['type', 'version', 'kernel', 'arch', 'watched_cpus', 'isolated', 'nohz_full', 'watched_reason', 'pr_isol', 'probes', 'tlb_flush', 'steal', 'ts_ns', 'command'],
    nested: { probes: { keys: ['attached', 'missing'] }, steal: { keys: ['clock', 'vm', 'source', 'resolution_ns', 'evidence'] } },
  },
  interruption: {
    keys: ['type', 'ts_ns', 'cpu', 'duration_ns', 'class', 'kind', 'func', 'victim', 'cause', 'isol', 'violation', 'flags', 'action', 'actions', 'note', 'chain'],
    nested: {
      victim: TASK,
      cause: CAUSE,
      isol: { keys: ['state', 'source', 'active_mask', 'quiesce_mask', 'conf_mask'] },
      action: ACTION,
    },
    items: { chain: CHAIN_ENTRY, actions: ACTION },
  },
  isol: {
    keys: ['type', 'ts_ns', 'pid', 'tid', 'comm', 'op', 'args', 'result', 'meaning', 'warning'],
  },
  cpu: { keys: ['type', 'ts_ns', 'cpu', 'online'] },
  aggregate: {
    keys: ['type', 'scope', 'from_ns', 'to_ns', 'steal_ns', 'rows'],
    items: {
      rows: {
        keys: ['cpu', 'class', 'kind', 'func', 'victim', 'cause', 'isol', 'phase', 'violation', 'count', 'stolen_ns', 'max_ns', 'hist', 'overflow'],
        nested: { victim: TASK, cause: CAUSE },
      },
    },
  },
  summary: {
    keys: ['type', 'duration_s', 'cpus', 'tasks', 'violations', 'lost_events', 'output_dropped', 'probe_misses', 'self_caused', 'kernel_counts', 'records', 'offline_ns', 'steal', 'verdict'],
    nested: {
      verdict: { keys: ['pass', 'reasons', 'exit_status', 'signal'] },
      records: { keys: ['mode', 'delivered', 'sampled', 'lost', 'by_cpu'] },
      steal: { keys: ['clock', 'vm', 'source', 'resolution_ns', 'judged'], nested: { judged: { keys: ['window_ns', 'by_cpu'] } } },
    },
    items: { tasks: { keys: ['pid', 'tid', 'comm', 'isol', 'source', 'interruptions', 'violations', 'stolen_ns'] } },
    mapValues: {
      cpus: { keys: ['by_class', 'stolen_ns', 'max_ns', 'steal_ns'], nested: { by_class: CLASS_COUNTS } },
      kernel_counts: CLASS_COUNTS,
    },
  },
};

/**
 * A value the writer cannot put in JSON. Thrown where it was found; each
 * level it passes on the way out adds its key, so the hot path builds no
 * path strings.
 */
class Unwritable extends Error {
  readonly where: (string | number)[] = [];
}

/** Runs one nested write; a failure inside it learns the key it was under. */
function under<T>(key: string | number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Unwritable) e.where.unshift(key);
    throw e;
  }
}

function numberText(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) throw new Unwritable(`= ${v} as JSON (not a finite number)`);
  return JSON.stringify(v);
}

/** Numeric map keys ("10" after "9"), as CPUs are listed everywhere else. */
function sortedMapKeys(obj: Record<string, unknown>): string[] {
  return Object.keys(obj).sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** A shape with each known key's `"key":` text, nested shape and map-value shape worked out once. */
interface Compiled {
  fields: { key: string; prefix: string; child: Compiled; mapValue?: Compiled }[];
  known: ReadonlySet<string>;
}

const compiledShapes = new Map<Shape, Compiled>();
const EMPTY: Compiled = { fields: [], known: new Set() };

function compile(shape: Shape | undefined): Compiled {
  if (!shape) return EMPTY;
  let c = compiledShapes.get(shape);
  if (c) return c;
  c = { fields: [], known: new Set(shape.keys) };
  compiledShapes.set(shape, c);
  for (const key of shape.keys) {
    const mv = shape.mapValues?.[key];
    c.fields.push({ key, prefix: `${JSON.stringify(key)}:`, child: compile(shape.nested?.[key] ?? shape.items?.[key]), ...(mv ? { mapValue: compile(mv) } : {}) });
  }
  return c;
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function write(value: unknown, shape: Compiled): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return numberText(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new Unwritable(`(${typeof value}) as JSON`);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      out += (i ? ',' : '') + (v === undefined ? 'null' : under(i, () => write(v, shape)));
    }
    return out + ']';
  }
  const obj = value as Record<string, unknown>;
  let out = '';
  for (const f of shape.fields) {
    const v = obj[f.key];
    if (v === undefined) continue;
    out += (out ? ',' : '{') + f.prefix + under(f.key, () => (f.mapValue && isMap(v) ? writeMap(v, f.mapValue) : write(v, f.child)));
  }
  // keys the contract does not name, after the known ones, in the producer's order
  for (const k in obj) {
    const v = obj[k];
    if (v === undefined || shape.known.has(k) || !Object.hasOwn(obj, k)) continue;
    out += (out ? ',' : '{') + `${JSON.stringify(k)}:` + under(k, () => write(v, EMPTY));
  }
  return out ? out + '}' : '{}';
}

function writeMap(m: Record<string, unknown>, valueShape: Compiled): string {
  let out = '';
  for (const mk of sortedMapKeys(m)) {
    const v = m[mk];
    if (v !== undefined) out += (out ? ',' : '{') + `${JSON.stringify(mk)}:` + under(mk, () => write(v, valueShape));
  }
  return out ? out + '}' : '{}';
}

/** One record as one line of JSON (no trailing newline), keys in contract order. */
export function toNdjsonLine(record: OutputRecord): string {
  // a record of the fast path carries its JSON template (the same bytes, without the walk)
  const fast = (record as { [FAST_JSON]?: FastJson })[FAST_JSON];
  if (fast && record.type === 'interruption' && record.action === undefined && record.actions === undefined) return fastJsonLine(record, fast);
  try {
    return write(record, compile(SHAPES[record.type]));
  } catch (e) {
    if (!(e instanceof Unwritable)) throw e;
    const path = e.where.reduce<string>((p, k) => (typeof k === 'number' ? `${p}[${k}]` : `${p}.${k}`), String(record.type));
    throw new TypeError(`cannot write ${path} ${e.message}`);
  }
}

/** Records as NDJSON text, one per line, with a trailing newline. */
export function toNdjson(records: readonly OutputRecord[]): string {
  return records.map((r) => toNdjsonLine(r) + '\n').join('');
}

export class NdjsonError extends Error {
  constructor(
    message: string,
    readonly source: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'NdjsonError';
  }
}

const TYPES = new Set<string>(['start', 'interruption', 'isol', 'cpu', 'aggregate', 'summary']);

function check(rec: Record<string, unknown>, where: string, source: string, line: number): void {
  const fail = (what: string) => {
    throw new NdjsonError(`${where}: ${what}; is this an isolwatch report (isolwatch record -o FILE / --json)?`, source, line);
  };
  const num = (k: string) => {
    if (typeof rec[k] !== 'number') fail(`${rec.type} record needs a number '${k}'`);
  };
  switch (rec.type) {
    case 'start':
      if (!Array.isArray(rec.watched_cpus)) fail(`start record needs 'watched_cpus' (a list of CPUs)`);
      break;
    case 'interruption':
      for (const k of ['ts_ns', 'cpu', 'duration_ns']) num(k);
      if (!(CLASSES as readonly unknown[]).includes(rec.class)) {
        fail(`unknown interruption class ${JSON.stringify(rec.class)} (expected ${CLASSES.join(', ')})`);
      }
      if (typeof rec.cause !== 'object' || rec.cause === null) fail(`interruption record needs a 'cause' object`);
      break;
    case 'summary':
      if (typeof rec.cpus !== 'object' || rec.cpus === null) fail(`summary record needs a 'cpus' object`);
      break;
    case 'aggregate':
      if (rec.scope !== 'interval' && rec.scope !== 'total') fail(`aggregate record needs 'scope' "interval" or "total"`);
      if (!Array.isArray(rec.rows)) fail(`aggregate record needs 'rows' (a list)`);
      break;
    default:
      break;
  }
}

/**
 * Parses NDJSON text into records. Blank lines are skipped; records of a type
 * this version does not know are skipped too (newer producers may add types).
 * Errors name the line: "run.ndjson:12: not valid JSON (...)".
 */
export function parseNdjson(text: string, source = '<ndjson>'): OutputRecord[] {
  const out: OutputRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const where = `${source}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new NdjsonError(`${where}: not valid JSON (${why}); each line must hold one complete JSON record`, source, i + 1);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new NdjsonError(`${where}: expected a JSON object per line, got ${Array.isArray(value) ? 'an array' : typeof value}`, source, i + 1);
    }
    const rec = value as Record<string, unknown>;
    if (typeof rec.type !== 'string') {
      throw new NdjsonError(`${where}: record has no "type" (expected one of ${[...TYPES].join(', ')})`, source, i + 1);
    }
    if (!TYPES.has(rec.type)) continue;
    check(rec, where, source, i + 1);
    out.push(rec as unknown as OutputRecord);
  }
  return out;
}

export interface SplitRecords {
  start?: StartRecord;
  interruptions: InterruptionRecord[];
  isol: IsolRecord[];
  /** the last aggregate record of scope 'total' (exact counts, whatever records were sampled) */
  totals?: AggregateRecord;
  summary?: SummaryRecord;
}

/** Sorts parsed records by type; the first start, the last totals and the last summary win. */
export function splitRecords(records: readonly OutputRecord[]): SplitRecords {
  const out: SplitRecords = { interruptions: [], isol: [] };
  for (const r of records) {
    if (r.type === 'start') out.start ??= r;
    else if (r.type === 'interruption') out.interruptions.push(r);
    else if (r.type === 'isol') out.isol.push(r);
    else if (r.type === 'aggregate') {
      if (r.scope === 'total') out.totals = r;
    } else if (r.type === 'summary') out.summary = r;
  }
  return out;
}
