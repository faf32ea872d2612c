// Decodes ring-buffer records (bpf/events.h) into plain objects. Offsets come
// from layout.generated.ts (generated from the object's BTF), never typed by hand.
import { IW, LAYOUT } from './layout.generated.js';

export interface RawEntry {
  func: bigint;
  start_ns: bigint;
  duration_ns: number;
  kind: number;
  class: number;
  depth: number;
  name: string;
}

export interface RawInterruption {
  rec: 'interruption';
  ts_ns: bigint;
  cpu: number;
  duration_ns: bigint;
  cause_callsite: bigint;
  cause_func: bigint;
  cause_ts_ns: bigint;
  isol_conf_mask: bigint;
  isol_active_mask: bigint;
  isol_quiesce_mask: bigint;
  isol_oneshot_mask: bigint;
  isol_inherit_mask: number;
  victim_pid: number;
  victim_tid: number;
  cause_pid: number;
  cause_tid: number;
  cause_cpu: number;
  flags: number;
  cause_ctx: number;
  victim_comm: string;
  cause_comm: string;
  chain: RawEntry[];
}

/**
 * struct iw_isol_call (a PR_ISOL-numbered prctl that returned) (u64 -> bigint; result is the kernel's signed return, -errno on failure).
 */
export interface RawIsolCall {
  rec: 'isol';
  ts_ns: bigint;
  cpu: number;
  arg2: bigint;
  arg3: bigint;
  arg4: bigint;
  arg5: bigint;
  result: bigint;
  /** SET calls, at entry: *(u64*)arg4 for 65 (= ctl[0]), *(u64*)arg2 for 67. */
  in_mask: bigint;
  /** GET calls, at exit: *(u64*)arg3 for 63, *(u64*)arg4 for 64 (both = ctl[0]), *(u64*)arg2 for 66. */
  out_mask: bigint;
  /** First two u64 of the struct argument (flags, mask): arg4 at entry for 65, arg3 at entry for 67, arg3/arg4 at exit for 63/64. */
  ctl: [bigint, bigint];
  pid: number;
  tid: number;
  option: number;
  /** IW_ISOL_READ_* bits: which of in_mask/out_mask/ctl the BPF side could read. */
  read_ok: number;
  comm: string;
}


/** struct iw_task_event: a tracked task forked/cloned (rec 'fork') or a tracked thread exited (rec 'exit'). */
export interface RawTaskEvent {
  rec: 'fork' | 'exit';
  ts_ns: bigint;
  cpu: number;
  /** fork: the child's tgid (= parent_pid for a new thread); exit: the thread's tgid */
  pid: number;
  /** fork: the child's tid; exit: the exiting thread */
  tid: number;
  /** fork: the forking thread's tgid and tid; exit: 0 */
  parent_pid: number;
  parent_tid: number;
  /** IW_TASK_* */
  flags: number;
  comm: string;
}

export type RawRecord = RawInterruption | RawIsolCall | RawTaskEvent;

const I = LAYOUT.iw_interruption.fields;
const R = LAYOUT.iw_entry_record.fields;
const M = LAYOUT.iw_isol_masks.fields;
const E = LAYOUT.iw_entry.fields;
const C = LAYOUT.iw_isol_call.fields;
const H = LAYOUT.iw_hdr.fields;
const T = LAYOUT.iw_task_event.fields;
const ENTRY_SIZE = LAYOUT.iw_entry.size;
/** Bytes of an interruption record before its chain (then chain_len entries, then the masks when IW_F_ISOL_KERNEL). */
export const INTERRUPTION_HEAD_SIZE = I.chain.offset;
export const ENTRY_RECORD_SIZE = LAYOUT.iw_entry_record.size;
export const ISOL_MASKS_SIZE = LAYOUT.iw_isol_masks.size;
export const ISOL_CALL_SIZE = LAYOUT.iw_isol_call.size;
export const TASK_EVENT_SIZE = LAYOUT.iw_task_event.size;

const latin1 = new TextDecoder('latin1');
/**
 * A NUL-terminated char array. Names are short and ASCII (comms, symbol and
 * work function names): built from char codes; a byte >= 0x80 goes through
 * the decoder (WHATWG latin1 is windows-1252 there).
 */
export function cstr(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  const max = off + len;
  for (let i = off; i < max; i++) {
    const b = buf[i];
    if (b === 0) return s;
    if (b >= 0x80) {
      let end = i;
      while (end < max && buf[end] !== 0) end++;
      return latin1.decode(buf.subarray(off, end));
    }
    s += String.fromCharCode(b);
  }
  return s;
}

/** A u64; the many zero ones (masks, a cause without callsite) share one BigInt instead of allocating each. */
function u64(dv: DataView, off: number): bigint {
  return dv.getUint32(off, true) === 0 && dv.getUint32(off + 4, true) === 0 ? 0n : dv.getBigUint64(off, true);
}

export class DecodeError extends Error {}

/** The type of a record (iw_hdr.type), without decoding it. */
export function recordType(buf: Uint8Array): number {
  return buf[8] | (buf[9] << 8) | (buf[10] << 16) | (buf[11] << 24);
}

/**
 * Decodes one record. `buf` may alias ring-buffer memory: everything is
 * copied out before returning. A one-entry record (IW_REC_ENTRY) decodes to
 * the same shape as an interruption with a chain of one.
 */
export function decodeRecord(buf: Uint8Array): RawRecord {
  if (buf.byteLength < LAYOUT.iw_hdr.size) throw new DecodeError(`record of ${buf.byteLength} bytes is shorter than its header`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = dv.getUint32(H.type.offset, true);
  if (type === IW.IW_REC_ENTRY) return decodeEntryRecord(buf, dv);
  if (type === IW.IW_REC_INTERRUPTION) return decodeInterruption(buf, dv);
  if (type === IW.IW_REC_ISOL) {
    if (buf.byteLength < ISOL_CALL_SIZE) throw new DecodeError(`isol record of ${buf.byteLength} bytes, expected ${ISOL_CALL_SIZE}`);
    return decodeIsolCall(buf, dv);
  }
  if (type === IW.IW_REC_FORK || type === IW.IW_REC_EXIT) {
    if (buf.byteLength < TASK_EVENT_SIZE) throw new DecodeError(`task event record of ${buf.byteLength} bytes, expected ${TASK_EVENT_SIZE}`);
    return decodeTaskEvent(buf, dv, type === IW.IW_REC_FORK ? 'fork' : 'exit');
  }
  throw new DecodeError(`unknown record type ${type} (ABI version ${IW.IW_ABI_VERSION})`);
}

const NO_MASKS = { conf: 0n, active: 0n, quiesce: 0n, oneshot: 0n, inherit: 0 };

/** The victim's isolation masks after a record's fixed part, when its flags say they are there. */
function masksAt(dv: DataView, off: number, flags: number, what: string) {
  if (!(flags & IW.IW_F_ISOL_KERNEL)) return NO_MASKS;
  if (dv.byteLength < off + ISOL_MASKS_SIZE) throw new DecodeError(`${what} of ${dv.byteLength} bytes has the isolation-masks flag but not the ${ISOL_MASKS_SIZE} bytes of masks after byte ${off}`);
  return {
    conf: u64(dv, off + M.conf_mask.offset),
    active: u64(dv, off + M.active_mask.offset),
    quiesce: u64(dv, off + M.quiesce_mask.offset),
    oneshot: u64(dv, off + M.oneshot_mask.offset),
    inherit: dv.getUint8(off + M.inherit_mask.offset),
  };
}

function decodeInterruption(buf: Uint8Array, dv: DataView): RawInterruption {
  if (buf.byteLength < INTERRUPTION_HEAD_SIZE) {
    throw new DecodeError(`interruption record of ${buf.byteLength} bytes, expected at least ${INTERRUPTION_HEAD_SIZE}: was the BPF object built from another events.h?`);
  }
  const hdr = I.hdr.offset;
  const chainLen = Math.min(dv.getUint16(I.chain_len.offset, true), IW.IW_CHAIN_MAX);
  const end = INTERRUPTION_HEAD_SIZE + chainLen * ENTRY_SIZE;
  if (buf.byteLength < end) throw new DecodeError(`interruption record of ${buf.byteLength} bytes, expected ${end} for its chain of ${chainLen}`);
  const chain: RawEntry[] = [];
  for (let i = 0; i < chainLen; i++) {
    const o = I.chain.offset + i * ENTRY_SIZE;
    chain.push({
      func: u64(dv, o + E.func.offset),
      start_ns: dv.getBigUint64(o + E.start_ns.offset, true),
      duration_ns: dv.getUint32(o + E.duration_ns.offset, true),
      kind: dv.getUint32(o + E.kind.offset, true),
      class: dv.getUint16(o + E.class.offset, true),
      depth: dv.getUint16(o + E.depth.offset, true),
      name: cstr(buf, o + E.name.offset, E.name.size),
    });
  }
  const flags = dv.getUint32(I.flags.offset, true);
  const m = masksAt(dv, end, flags, 'interruption record');
  return {
    rec: 'interruption',
    ts_ns: dv.getBigUint64(hdr + H.ts_ns.offset, true),
    cpu: dv.getUint32(hdr + H.cpu.offset, true),
    duration_ns: dv.getBigUint64(I.duration_ns.offset, true),
    cause_callsite: u64(dv, I.cause_callsite.offset),
    cause_func: u64(dv, I.cause_func.offset),
    cause_ts_ns: u64(dv, I.cause_ts_ns.offset),
    isol_conf_mask: m.conf,
    isol_active_mask: m.active,
    isol_quiesce_mask: m.quiesce,
    isol_oneshot_mask: m.oneshot,
    isol_inherit_mask: m.inherit,
    victim_pid: dv.getUint32(I.victim_pid.offset, true),
    victim_tid: dv.getUint32(I.victim_tid.offset, true),
    cause_pid: dv.getUint32(I.cause_pid.offset, true),
    cause_tid: dv.getUint32(I.cause_tid.offset, true),
    cause_cpu: dv.getUint32(I.cause_cpu.offset, true),
    flags,
    cause_ctx: dv.getUint16(I.cause_ctx.offset, true),
    victim_comm: cstr(buf, I.victim_comm.offset, I.victim_comm.size),
    cause_comm: cstr(buf, I.cause_comm.offset, I.cause_comm.size),
    chain,
  };
}

/** struct iw_entry_record: a syscall, a fault or a generic entry, as an interruption with a chain of one. */
function decodeEntryRecord(buf: Uint8Array, dv: DataView): RawInterruption {
  if (buf.byteLength < ENTRY_RECORD_SIZE) throw new DecodeError(`entry record of ${buf.byteLength} bytes, expected ${ENTRY_RECORD_SIZE}`);
  const ts = dv.getBigUint64(R.hdr.offset + H.ts_ns.offset, true);
  const cpu = dv.getUint32(R.hdr.offset + H.cpu.offset, true);
  const duration = dv.getBigUint64(R.duration_ns.offset, true);
  const flags = dv.getUint32(R.flags.offset, true);
  const cls = dv.getUint16(R.class.offset, true);
  const ctx = dv.getUint16(R.cause_ctx.offset, true);
  const pid = dv.getUint32(R.victim_pid.offset, true);
  const tid = dv.getUint32(R.victim_tid.offset, true);
  const comm = cstr(buf, R.victim_comm.offset, R.victim_comm.size);
  const self = ctx === IW.IW_CTX_SELF;
  const m = masksAt(dv, ENTRY_RECORD_SIZE, flags, 'entry record');
  return {
    rec: 'interruption',
    ts_ns: ts,
    cpu,
    duration_ns: duration,
    cause_callsite: 0n,
    cause_func: 0n,
    cause_ts_ns: 0n,
    isol_conf_mask: m.conf,
    isol_active_mask: m.active,
    isol_quiesce_mask: m.quiesce,
    isol_oneshot_mask: m.oneshot,
    isol_inherit_mask: m.inherit,
    victim_pid: pid,
    victim_tid: tid,
    cause_pid: self ? pid : 0,
    cause_tid: self ? tid : 0,
    cause_cpu: self ? cpu : 0,
    flags,
    cause_ctx: ctx,
    victim_comm: comm,
    cause_comm: self ? comm : '',
    chain: [
      {
        func: u64(dv, R.value.offset),
        start_ns: ts,
        duration_ns: duration > 0xffffffffn ? 0xffffffff : Number(duration),
        kind: dv.getUint32(R.kind.offset, true),
        class: cls,
        depth: 0,
        name: '',
      },
    ],
  };
}

function decodeIsolCall(buf: Uint8Array, dv: DataView): RawIsolCall {
  const hdr = C.hdr.offset;
  return {
    rec: 'isol',
    ts_ns: dv.getBigUint64(hdr + H.ts_ns.offset, true),
    cpu: dv.getUint32(hdr + H.cpu.offset, true),
    arg2: dv.getBigUint64(C.arg2.offset, true),
    arg3: dv.getBigUint64(C.arg3.offset, true),
    arg4: dv.getBigUint64(C.arg4.offset, true),
    arg5: dv.getBigUint64(C.arg5.offset, true),
    result: dv.getBigInt64(C.result.offset, true),
    in_mask: dv.getBigUint64(C.in_mask.offset, true),
    out_mask: dv.getBigUint64(C.out_mask.offset, true),
    ctl: [dv.getBigUint64(C.ctl.offset, true), dv.getBigUint64(C.ctl.offset + 8, true)],
    pid: dv.getUint32(C.pid.offset, true),
    tid: dv.getUint32(C.tid.offset, true),
    option: dv.getUint32(C.option.offset, true),
    read_ok: dv.getUint32(C.read_ok.offset, true),
    comm: cstr(buf, C.comm.offset, C.comm.size),
  };
}

function decodeTaskEvent(buf: Uint8Array, dv: DataView, rec: 'fork' | 'exit'): RawTaskEvent {
  const hdr = T.hdr.offset;
  return {
    rec,
    ts_ns: dv.getBigUint64(hdr + H.ts_ns.offset, true),
    cpu: dv.getUint32(hdr + H.cpu.offset, true),
    pid: dv.getUint32(T.pid.offset, true),
    tid: dv.getUint32(T.tid.offset, true),
    parent_pid: dv.getUint32(T.parent_pid.offset, true),
    parent_tid: dv.getUint32(T.parent_tid.offset, true),
    flags: dv.getUint32(T.flags.offset, true),
    comm: cstr(buf, T.comm.offset, T.comm.size),
  };
}
