// The fast path for one-entry records (bpf/events.h struct iw_entry_record:
// a syscall, a page fault, a generic entry), the records a storm is made of.
// Read straight from the ring (numbers, no BigInt, no intermediate raw
// object), they become InterruptionRecords that share everything but their
// own numbers with the previous record of the same kind: the victim, the
// cause, the isolation state, the verdict and the JSON text of all of it,
// worked out once per (thread, class, kind, flags, CPU) and kept until the
// isolation tracker changes. toNdjsonLine() writes such a record from its
// template (FAST_JSON) with the same bytes the generic writer would.
import { IW, LAYOUT } from '../contract/layout.generated.js';
import { className, flagNames, kindName } from '../contract/vocabulary.js';
import { causeOf } from './cause.js';
import { judge } from '../isol/judge.js';
import type { IsolTracker } from '../isol/state.js';
import type { Cause, InterruptionRecord, IsolInfo, TaskRef } from '../types.js';

const R = LAYOUT.iw_entry_record.fields;
const H = LAYOUT.iw_hdr.fields;
const TS = R.hdr.offset + H.ts_ns.offset;
const CPU = R.hdr.offset + H.cpu.offset;
const COMM = R.victim_comm.offset;
const COMM_LEN = R.victim_comm.size;
const TWO32 = 2 ** 32;

/** The JSON of a fast record, around its own numbers (see toNdjsonLine). */
export interface FastJson {
  /** after duration_ns: "class" .. "flags"/"note" .., then "chain":[{ up to the chain entry's value */
  middle: string;
  /** the chain entry's value key: "ret", "address" or none */
  value: 'ret' | 'address' | undefined;
}

/** Marks a record built by the fast path; its JSON template (not enumerable: JSON.stringify and the generic writer never see it). */
export const FAST_JSON = Symbol('isolwatch.fastJson');

interface Template {
  cls: InterruptionRecord['class'];
  kind: string;
  victim: TaskRef;
  cause: Cause;
  isol: IsolInfo;
  violation: boolean;
  flags?: string[];
  note?: string;
  json: FastJson;
}

export interface FastEntryOptions {
  tracker: IsolTracker;
  /** the victim filter of --pid (raw pid, tid) */
  victimFilter?: (pid: number, tid: number) => boolean;
}

/**
 * Templates kept at most (a storm is a handful of them; a busy CPU with
 * short-lived processes makes new ones all the time): past it they are
 * rebuilt as records come, from an empty cache.
 */
const MAX_TEMPLATES = 1024;

/** One-entry records carry no callsite: nothing to look up. */
const NO_SYMBOLS = { lookup: () => undefined, used: () => ({}) };

const u64 = (dv: DataView, off: number): number => dv.getUint32(off + 4, true) * TWO32 + dv.getUint32(off, true);

export class FastEntries {
  /** tid -> inner key -> template */
  private readonly byTid = new Map<number, Map<number, Template>>();
  private gen = -1;
  /** templates held (all threads): bounded, cleared as a whole past MAX_TEMPLATES */
  private templates = 0;
  private readonly comms = new Map<number, { lo: number; hi: number; lo2: number; hi2: number; s: string }>();
  filtered = 0;

  constructor(private readonly opts: FastEntryOptions) {}

  /**
   * Whether this path takes the record (a one-entry record without kernel
   * PR_ISOL masks: those carry per-record state and go the full way).
   */
  static takes(dv: DataView, off: number): boolean {
    return dv.getUint32(off + R.hdr.offset + H.type.offset, true) === IW.IW_REC_ENTRY && (dv.getUint32(off + R.flags.offset, true) & IW.IW_F_ISOL_KERNEL) === 0;
  }

  /** The record at `off` of `dv` (see takes()), or null when the victim filter leaves it out. */
  ingest(dv: DataView, off: number): InterruptionRecord | null {
    const pid = dv.getUint32(off + R.victim_pid.offset, true);
    const tid = dv.getUint32(off + R.victim_tid.offset, true);
    if (this.opts.victimFilter && !this.opts.victimFilter(pid, tid)) {
      this.filtered++;
      return null;
    }
    const tracker = this.opts.tracker;
    if (tracker.generation !== this.gen || this.templates >= MAX_TEMPLATES) {
      this.byTid.clear();
      this.templates = 0;
      this.gen = tracker.generation;
    }
    const cls = dv.getUint16(off + R.class.offset, true);
    const kind = dv.getUint32(off + R.kind.offset, true);
    const flags = dv.getUint32(off + R.flags.offset, true);
    const ctx = dv.getUint16(off + R.cause_ctx.offset, true);
    const cpu = dv.getUint32(off + CPU, true);
    const comm = this.comm(dv, off, tid);
    let perTid = this.byTid.get(tid);
    if (!perTid) {
      perTid = new Map();
      this.byTid.set(tid, perTid);
    }
    const ts = u64(dv, off + TS);
    // a declaration or prctl state that began after the interruption does not apply to it: its own template
    const since = Math.max(tracker.declaredSince(tid, pid) ?? 0, tracker.stateSince(tid) ?? 0);
    const before = ts < since ? 1 : 0;
    // before 1 bit, class 4 bits, context 3, flags 12, CPU 10, kind 20: 50 bits, exact in a double
    const key = (((((before * 16 + cls) * 8 + ctx) * 4096 + (flags & 0xfff)) * 1024 + (cpu & 1023)) * 1048576) + (kind & 0xfffff);
    let t = perTid.get(key);
    if (!t || t.victim.comm !== comm || t.victim.pid !== pid) {
      t = this.template(cls, kind, flags, ctx, cpu, pid, tid, comm, ts);
      perTid.set(key, t);
      this.templates++;
    }
    const duration = u64(dv, off + R.duration_ns.offset);
    const lo = dv.getUint32(off + R.value.offset, true);
    const hi = dv.getUint32(off + R.value.offset + 4, true);
    const ret = t.json.value === 'ret' ? (hi >= 0x80000000 ? (hi - TWO32) * TWO32 + lo : hi * TWO32 + lo) : undefined;
    const address = t.json.value === 'address' ? `0x${hi ? hi.toString(16) + lo.toString(16).padStart(8, '0') : lo.toString(16)}` : undefined;
    return new FastRecord(ts, cpu, duration, t, new FastEntry(t, duration > 0xffffffff ? 0xffffffff : duration, ret, address));
  }

  /** The victim's comm, decoded once per thread while its bytes stay the same. */
  private comm(dv: DataView, off: number, tid: number): string {
    const o = off + COMM;
    const lo = dv.getUint32(o, true);
    const hi = dv.getUint32(o + 4, true);
    const lo2 = dv.getUint32(o + 8, true);
    const hi2 = dv.getUint32(o + 12, true);
    const c = this.comms.get(tid);
    if (c && c.lo === lo && c.hi === hi && c.lo2 === lo2 && c.hi2 === hi2) return c.s;
    let s = '';
    for (let i = 0; i < COMM_LEN; i++) {
      const b = dv.getUint8(o + i);
      if (b === 0) break;
      s += String.fromCharCode(b); // latin1, as the generic decoder reads names
    }
    if (this.comms.size >= MAX_TEMPLATES) this.comms.clear();
    this.comms.set(tid, { lo, hi, lo2, hi2, s });
    return s;
  }

  private template(clsNum: number, kindNum: number, flags: number, ctxNum: number, cpu: number, pid: number, tid: number, comm: string, atNs: number): Template {
    const cls = className(clsNum);
    const kind = kindName(cls, kindNum, '');
    const victim: TaskRef = { pid, tid, comm };
    // a one-entry record's cause is the task itself (syscall, fault) or nobody known (a generic entry),
    // named as the full path names it (the decoder fills the sender fields from the victim's for 'self')
    const self = ctxNum === IW.IW_CTX_SELF;
    const cause: Cause = causeOf({ cause_ctx: ctxNum, cause_pid: self ? pid : 0, cause_tid: self ? tid : 0, cause_cpu: self ? cpu : 0, victim_tid: tid }, self ? comm : '', NO_SYMBOLS);
    if (flags & IW.IW_F_SELF_CAUSED) cause.origin = 'isolwatch';
    const isol = this.opts.tracker.isolInfoFor(tid, pid, undefined, atNs);
    const names = flagNames(flags);
    let violation = false;
    let note: string | undefined;
    if (cause.origin === 'isolwatch') note = 'caused by isolwatch itself: not judged';
    else {
      const j = judge(isol, { class: cls, kind, cause });
      violation = j.violation;
      note = j.note;
    }
    const value = cls === 'syscall' ? 'ret' : cls === 'page_fault' ? 'address' : undefined;
    const middle =
      `"class":${JSON.stringify(cls)},"kind":${JSON.stringify(kind)},"victim":${taskJson(victim)},"cause":${causeJson(cause)},` +
      `"isol":${isolJson(isol)},"violation":${violation}` +
      (names.length ? `,"flags":${JSON.stringify(names)}` : '') +
      (note ? `,"note":${JSON.stringify(note)}` : '') +
      `,"chain":[{"class":${JSON.stringify(cls)},"kind":${JSON.stringify(kind)}`;
    return { cls, kind, victim, cause, isol, violation, ...(names.length ? { flags: names } : {}), ...(note ? { note } : {}), json: { middle, value } };
  }
}

/** A chain entry of a fast record (one shape for every one: V8 keeps them monomorphic). */
class FastEntry {
  readonly class: InterruptionRecord['class'];
  readonly kind: string;
  constructor(
    t: Template,
    readonly duration_ns: number,
    readonly ret: number | undefined,
    readonly address: string | undefined,
  ) {
    this.class = t.cls;
    this.kind = t.kind;
  }
  readonly depth = 0;
}

/**
 * A record of the fast path: an InterruptionRecord whose shared parts come
 * from its template, which it keeps in a private field (never enumerated,
 * never serialized but through toNdjsonLine's FAST_JSON).
 */
class FastRecord implements InterruptionRecord {
  readonly type = 'interruption' as const;
  readonly class: InterruptionRecord['class'];
  readonly kind: string;
  readonly victim: TaskRef;
  readonly cause: Cause;
  readonly isol: IsolInfo;
  violation: boolean;
  readonly flags: string[] | undefined;
  readonly note: string | undefined;
  readonly chain: InterruptionRecord['chain'];
  readonly #t: Template;
  constructor(
    readonly ts_ns: number,
    readonly cpu: number,
    readonly duration_ns: number,
    t: Template,
    entry: FastEntry,
  ) {
    this.#t = t;
    this.class = t.cls;
    this.kind = t.kind;
    this.victim = t.victim;
    this.cause = t.cause;
    this.isol = t.isol;
    this.violation = t.violation;
    this.flags = t.flags;
    this.note = t.note;
    this.chain = [entry];
  }
  get [FAST_JSON](): FastJson {
    return this.#t.json;
  }
}

const taskJson = (t: TaskRef) => `{"pid":${t.pid},"tid":${t.tid},"comm":${JSON.stringify(t.comm)}}`;

function causeJson(c: Cause): string {
  const parts = [`"self":${c.self}`];
  if (c.context !== undefined) parts.push(`"context":${JSON.stringify(c.context)}`);
  if (c.cpu !== undefined) parts.push(`"cpu":${c.cpu}`);
  if (c.pid !== undefined) parts.push(`"pid":${c.pid}`);
  if (c.tid !== undefined) parts.push(`"tid":${c.tid}`);
  if (c.comm !== undefined) parts.push(`"comm":${JSON.stringify(c.comm)}`);
  if (c.origin !== undefined) parts.push(`"origin":${JSON.stringify(c.origin)}`);
  return `{${parts.join(',')}}`;
}

function isolJson(i: IsolInfo): string {
  const parts = [`"state":${JSON.stringify(i.state)}`];
  for (const k of ['source', 'active_mask', 'quiesce_mask', 'conf_mask'] as const) if (i[k] !== undefined) parts.push(`"${k}":${JSON.stringify(i[k])}`);
  return `{${parts.join(',')}}`;
}

/** The NDJSON line of a fast record (the same bytes as the generic writer's). */
export function fastJsonLine(r: InterruptionRecord, j: FastJson): string {
  const e = r.chain[0];
  const v = j.value === 'ret' ? `,"ret":${e.ret}` : j.value === 'address' ? `,"address":"${e.address}"` : '';
  return `{"type":"interruption","ts_ns":${r.ts_ns},"cpu":${r.cpu},"duration_ns":${r.duration_ns},${j.middle}${v},"duration_ns":${e.duration_ns},"depth":0}]}`;
}
