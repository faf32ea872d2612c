// The in-kernel aggregates (bpf/events.h struct iw_agg_key -> struct
// iw_agg_value), decoded; and the same key computed from a record, so a
// recording's records aggregate exactly as the kernel aggregates them live
// (bpf/aggregate.bpf.h emit()/headline() is the C side of keyOfRecord()).
import type { RawInterruption } from './decode.js';
import { cstr } from './decode.js';
import { IW, LAYOUT } from './layout.generated.js';

const K = LAYOUT.iw_agg_key.fields;
const V = LAYOUT.iw_agg_value.fields;
export const AGG_KEY_SIZE = LAYOUT.iw_agg_key.size;
export const AGG_VALUE_SIZE = LAYOUT.iw_agg_value.size;
export const HIST_BUCKETS = IW.IW_HIST_BUCKETS;

/** struct iw_agg_key: what an interruption is counted under. */
export interface RawAggKey {
  /** headline function (IPI's cross-CPU call, timer callback, work function, IRQ handler); 0n if none */
  func: bigint;
  callsite: bigint;
  cpu: number;
  /** headline kind: the root entry's kind number (vector, IRQ, syscall, preempting tid, ...) */
  kind: number;
  victim_pid: number;
  victim_tid: number;
  cause_pid: number;
  cause_tid: number;
  cause_cpu: number;
  class: number;
  cause_ctx: number;
  /** IW_AGG_F_* */
  flags: number;
  /** the judged phase when it happened (map iw_epoch) */
  epoch: number;
}

/** struct iw_agg_value: what is known of every interruption of a key. */
export interface RawAggValue {
  count: number;
  stolen_ns: number;
  max_ns: number;
  /** when an interruption was last counted under the key (CLOCK_MONOTONIC) */
  last_ns: number;
  /** records of this key sent to user space */
  records: number;
  hist: number[];
  victim_comm: string;
  cause_comm: string;
  /** the root entry's name: IRQ action, preempting comm, workqueue */
  name: string;
}

export interface RawAggregate {
  key: RawAggKey;
  value: RawAggValue;
}

const u64n = (dv: DataView, off: number): number => Number(dv.getBigUint64(off, true));

export function decodeAggKey(buf: Uint8Array, off = 0): RawAggKey {
  const dv = new DataView(buf.buffer, buf.byteOffset + off, AGG_KEY_SIZE);
  return {
    func: dv.getBigUint64(K.func.offset, true),
    callsite: dv.getBigUint64(K.callsite.offset, true),
    cpu: dv.getUint32(K.cpu.offset, true),
    kind: dv.getUint32(K.kind.offset, true),
    victim_pid: dv.getUint32(K.victim_pid.offset, true),
    victim_tid: dv.getUint32(K.victim_tid.offset, true),
    cause_pid: dv.getUint32(K.cause_pid.offset, true),
    cause_tid: dv.getUint32(K.cause_tid.offset, true),
    cause_cpu: dv.getUint32(K.cause_cpu.offset, true),
    class: dv.getUint16(K.class.offset, true),
    cause_ctx: dv.getUint16(K.cause_ctx.offset, true),
    flags: dv.getUint16(K.flags.offset, true),
    epoch: dv.getUint16(K.epoch.offset, true),
  };
}

/** struct iw_agg_key's bytes (a map key), the inverse of decodeAggKey. */
export function encodeAggKey(k: RawAggKey): Uint8Array {
  const buf = new Uint8Array(AGG_KEY_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setBigUint64(K.func.offset, k.func, true);
  dv.setBigUint64(K.callsite.offset, k.callsite, true);
  dv.setUint32(K.cpu.offset, k.cpu, true);
  dv.setUint32(K.kind.offset, k.kind, true);
  dv.setUint32(K.victim_pid.offset, k.victim_pid, true);
  dv.setUint32(K.victim_tid.offset, k.victim_tid, true);
  dv.setUint32(K.cause_pid.offset, k.cause_pid, true);
  dv.setUint32(K.cause_tid.offset, k.cause_tid, true);
  dv.setUint32(K.cause_cpu.offset, k.cause_cpu, true);
  dv.setUint16(K.class.offset, k.class, true);
  dv.setUint16(K.cause_ctx.offset, k.cause_ctx, true);
  dv.setUint16(K.flags.offset, k.flags, true);
  dv.setUint16(K.epoch.offset, k.epoch, true);
  return buf;
}

export function decodeAggValue(buf: Uint8Array, off = 0): RawAggValue {
  const dv = new DataView(buf.buffer, buf.byteOffset + off, AGG_VALUE_SIZE);
  const hist: number[] = [];
  for (let i = 0; i < HIST_BUCKETS; i++) hist.push(dv.getUint32(V.hist.offset + 4 * i, true));
  const b = new Uint8Array(buf.buffer, buf.byteOffset + off, AGG_VALUE_SIZE);
  return {
    count: u64n(dv, V.count.offset),
    stolen_ns: u64n(dv, V.stolen_ns.offset),
    max_ns: u64n(dv, V.max_ns.offset),
    last_ns: u64n(dv, V.last_ns.offset),
    records: dv.getUint32(V.records.offset, true),
    hist,
    victim_comm: cstr(b, V.victim_comm.offset, V.victim_comm.size),
    cause_comm: cstr(b, V.cause_comm.offset, V.cause_comm.size),
    name: cstr(b, V.name.offset, V.name.size),
  };
}

/** A stable string of a key's fields (map keys, deltas between two reads). */
export function aggKeyId(k: RawAggKey): string {
  return `${k.cpu}/${k.class}/${k.kind}/${k.func.toString(16)}/${k.callsite.toString(16)}/${k.victim_pid}/${k.victim_tid}/${k.cause_pid}/${k.cause_tid}/${k.cause_cpu}/${k.cause_ctx}/${k.flags}/${k.epoch}`;
}

/** The headline kind and function of a record, as bpf/aggregate.bpf.h headline() computes them. */
export function headlineOf(rec: Pick<RawInterruption, 'chain' | 'cause_func'>): { kind: number; func: bigint } {
  const root = rec.chain[0];
  if (!root) return { kind: 0, func: 0n };
  const cls = root.class;
  if (cls === IW.IW_CLASS_WORKQUEUE || cls === IW.IW_CLASS_IRQ || cls === IW.IW_CLASS_NMI) return { kind: root.kind, func: root.func };
  for (const e of rec.chain.slice(0, IW.IW_CHAIN_MAX)) {
    if (cls === IW.IW_CLASS_PREEMPT && e.class === IW.IW_CLASS_WORKQUEUE) return { kind: root.kind, func: e.func };
    if (cls === IW.IW_CLASS_IPI && e.class === IW.IW_CLASS_IPI && e.kind === IW.IW_VEC_CSD) return { kind: root.kind, func: e.func };
    if (cls === IW.IW_CLASS_TIMER && e.class === IW.IW_CLASS_TIMER && (e.kind === IW.IW_VEC_HRTIMER || e.kind === IW.IW_VEC_TIMER_LIST)) {
      return { kind: root.kind, func: e.func };
    }
  }
  if (cls === IW.IW_CLASS_IPI && (root.kind === IW.IW_VEC_CALL_FUNCTION || root.kind === IW.IW_VEC_CALL_FUNCTION_SINGLE)) {
    return { kind: root.kind, func: rec.cause_func };
  }
  return { kind: root.kind, func: 0n };
}

/**
 * The aggregate key of a record, as the kernel counts it (emit() in
 * bpf/aggregate.bpf.h). `declared`: the victim's process was tracked
 * (iw_track_pid) when it happened; `epoch`: the phase it fell in.
 */
export function keyOfRecord(rec: RawInterruption, declared: boolean, epoch: number): RawAggKey {
  const cls = rec.chain[0]?.class ?? IW.IW_CLASS_KERNEL;
  const { kind, func } = headlineOf(rec);
  let flags = 0;
  if (declared) flags |= IW.IW_AGG_F_DECLARED;
  if (rec.flags & IW.IW_F_ISOL_KERNEL) {
    flags |= IW.IW_AGG_F_ISOL_KERNEL;
    if (rec.isol_active_mask) flags |= IW.IW_AGG_F_ISOL_ACTIVE;
    if (rec.isol_conf_mask) flags |= IW.IW_AGG_F_ISOL_CONF;
  }
  if (rec.flags & IW.IW_F_SELF_CAUSED) flags |= IW.IW_AGG_F_SELF_CAUSED;
  if (rec.flags & IW.IW_F_IN_PREEMPT) flags |= IW.IW_AGG_F_IN_PREEMPT;
  return {
    func,
    callsite: rec.cause_callsite,
    cpu: rec.cpu,
    kind,
    victim_pid: rec.victim_pid,
    victim_tid: rec.victim_tid,
    cause_pid: rec.cause_pid,
    cause_tid: rec.cause_tid,
    cause_cpu: rec.cause_cpu,
    class: cls,
    cause_ctx: rec.cause_ctx,
    flags,
    epoch,
  };
}

/** log2 bucket of a duration, as bpf/common.bpf.h iw_hist_bucket(). */
export function histBucketOf(ns: number): number {
  if (!(ns >= 2)) return 0;
  return Math.min(HIST_BUCKETS - 1, Math.floor(Math.log2(ns)));
}

/**
 * Aggregates records in user space exactly as the kernel does (recordings,
 * and what a live run sees of a key the kernel could not count).
 */
export class RecordAggregator {
  private readonly map = new Map<string, RawAggregate>();

  add(rec: RawInterruption, declared: boolean, epoch: number): void {
    const key = keyOfRecord(rec, declared, epoch);
    const id = aggKeyId(key);
    let a = this.map.get(id);
    if (!a) {
      a = {
        key,
        value: {
          count: 0, stolen_ns: 0, max_ns: 0, last_ns: 0, records: 0, hist: new Array<number>(HIST_BUCKETS).fill(0),
          victim_comm: rec.victim_comm, cause_comm: rec.cause_comm, name: rec.chain[0]?.name ?? '',
        },
      };
      this.map.set(id, a);
    }
    const d = Number(rec.duration_ns);
    const v = a.value;
    v.count++;
    v.records++;
    if (!(rec.flags & IW.IW_F_IN_PREEMPT)) v.stolen_ns += d;
    if (d > v.max_ns) v.max_ns = d;
    v.last_ns = Number(rec.ts_ns);
    v.hist[histBucketOf(d)]++;
  }

  aggregates(): RawAggregate[] {
    return [...this.map.values()];
  }
}
