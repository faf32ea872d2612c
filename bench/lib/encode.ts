// The inverse of src/contract/decode.ts for interruption records: lays a
// RawInterruption out in bytes as the BPF programs would (offsets from the
// BTF-generated layout), so the throughput benchmark can feed the real parser,
// decoder and engine with a synthetic ring buffer built from a recording.
import type { RawInterruption } from '../../src/contract/decode.js';
import { IW, LAYOUT } from '../../src/contract/layout.generated.js';

const I = LAYOUT.iw_interruption.fields;
const R = LAYOUT.iw_entry_record.fields;
const M = LAYOUT.iw_isol_masks.fields;
const E = LAYOUT.iw_entry.fields;
const H = LAYOUT.iw_hdr.fields;

function putStr(b: Uint8Array, off: number, size: number, s: string): void {
  for (let i = 0; i < Math.min(s.length, size - 1); i++) b[off + i] = s.charCodeAt(i) & 0xff;
}

const big = (v: bigint | number) => BigInt(v);

/** struct iw_hdr at `off`. */
function putHdr(dv: DataView, off: number, ts: bigint | number, type: number, cpu: number): void {
  dv.setBigUint64(off + H.ts_ns.offset, big(ts), true);
  dv.setUint32(off + H.type.offset, type, true);
  dv.setUint32(off + H.cpu.offset, cpu, true);
}

function putMasks(dv: DataView, off: number, r: RawInterruption): void {
  dv.setBigUint64(off + M.conf_mask.offset, big(r.isol_conf_mask), true);
  dv.setBigUint64(off + M.active_mask.offset, big(r.isol_active_mask), true);
  dv.setBigUint64(off + M.quiesce_mask.offset, big(r.isol_quiesce_mask), true);
  dv.setBigUint64(off + M.oneshot_mask.offset, big(r.isol_oneshot_mask), true);
  dv.setUint8(off + M.inherit_mask.offset, r.isol_inherit_mask);
}

/**
 * An interruption record as the BPF programs send it: the header part, its
 * chain_len entries, then the masks when flags has IW_F_ISOL_KERNEL.
 */
export function encodeInterruption(r: RawInterruption): Uint8Array {
  const n = Math.min(r.chain.length, IW.IW_CHAIN_MAX);
  const chainEnd = I.chain.offset + n * LAYOUT.iw_entry.size;
  const withMasks = (r.flags & IW.IW_F_ISOL_KERNEL) !== 0;
  const b = new Uint8Array(chainEnd + (withMasks ? LAYOUT.iw_isol_masks.size : 0));
  const dv = new DataView(b.buffer);
  putHdr(dv, I.hdr.offset, r.ts_ns, IW.IW_REC_INTERRUPTION, r.cpu);
  dv.setBigUint64(I.duration_ns.offset, big(r.duration_ns), true);
  dv.setBigUint64(I.cause_callsite.offset, big(r.cause_callsite), true);
  dv.setBigUint64(I.cause_func.offset, big(r.cause_func), true);
  dv.setBigUint64(I.cause_ts_ns.offset, big(r.cause_ts_ns), true);
  dv.setUint32(I.victim_pid.offset, r.victim_pid, true);
  dv.setUint32(I.victim_tid.offset, r.victim_tid, true);
  dv.setUint32(I.cause_pid.offset, r.cause_pid, true);
  dv.setUint32(I.cause_tid.offset, r.cause_tid, true);
  dv.setUint32(I.cause_cpu.offset, r.cause_cpu, true);
  dv.setUint32(I.flags.offset, r.flags, true);
  dv.setUint16(I.cause_ctx.offset, r.cause_ctx, true);
  dv.setUint16(I.chain_len.offset, n, true);
  putStr(b, I.victim_comm.offset, I.victim_comm.size, r.victim_comm);
  putStr(b, I.cause_comm.offset, I.cause_comm.size, r.cause_comm);
  r.chain.slice(0, n).forEach((e, i) => {
    const o = I.chain.offset + i * LAYOUT.iw_entry.size;
    dv.setBigUint64(o + E.func.offset, big(e.func), true);
    dv.setBigUint64(o + E.start_ns.offset, big(e.start_ns), true);
    dv.setUint32(o + E.duration_ns.offset, e.duration_ns, true);
    dv.setUint32(o + E.kind.offset, e.kind, true);
    dv.setUint16(o + E.class.offset, e.class, true);
    dv.setUint16(o + E.depth.offset, e.depth, true);
    putStr(b, o + E.name.offset, E.name.size, e.name);
  });
  if (withMasks) putMasks(dv, chainEnd, r);
  return b;
}

/**
 * A one-entry interruption (syscall, fault, generic entry) as the BPF
 * programs send it (struct iw_entry_record, then the masks with
 * IW_F_ISOL_KERNEL): chain[0] gives class, kind and value.
 */
export function encodeEntryRecord(r: RawInterruption): Uint8Array {
  const withMasks = (r.flags & IW.IW_F_ISOL_KERNEL) !== 0;
  const b = new Uint8Array(LAYOUT.iw_entry_record.size + (withMasks ? LAYOUT.iw_isol_masks.size : 0));
  const dv = new DataView(b.buffer);
  const e = r.chain[0];
  putHdr(dv, R.hdr.offset, r.ts_ns, IW.IW_REC_ENTRY, r.cpu);
  dv.setBigUint64(R.duration_ns.offset, big(r.duration_ns), true);
  dv.setBigUint64(R.value.offset, big(e.func), true);
  dv.setUint32(R.victim_pid.offset, r.victim_pid, true);
  dv.setUint32(R.victim_tid.offset, r.victim_tid, true);
  dv.setUint32(R.kind.offset, e.kind, true);
  dv.setUint32(R.flags.offset, r.flags, true);
  dv.setUint16(R.class.offset, e.class, true);
  dv.setUint16(R.cause_ctx.offset, r.cause_ctx, true);
  putStr(b, R.victim_comm.offset, R.victim_comm.size, r.victim_comm);
  if (withMasks) putMasks(dv, LAYOUT.iw_entry_record.size, r);
  return b;
}

/** A getppid() record as a syscall storm on a watched CPU produces it (class 0, kind = nr 110). */
export function syscallRecord(ts: bigint, cpu: number, pid: number): RawInterruption {
  return {
    rec: 'interruption',
    ts_ns: ts,
    cpu,
    duration_ns: 120n,
    cause_callsite: 0n,
    cause_func: 0n,
    cause_ts_ns: 0n,
    isol_conf_mask: 0n,
    isol_active_mask: 0n,
    isol_quiesce_mask: 0n,
    isol_oneshot_mask: 0n,
    isol_inherit_mask: 0,
    victim_pid: pid,
    victim_tid: pid,
    cause_pid: pid,
    cause_tid: pid,
    cause_cpu: cpu,
    flags: IW.IW_F_FROM_USER,
    cause_ctx: IW.IW_CTX_SELF,
    victim_comm: 'syscalls',
    cause_comm: 'syscalls',
    chain: [{ func: 0n, start_ns: ts, duration_ns: 120, kind: 110, class: 0, depth: 0, name: '' }],
  };
}

/**
 * A ring buffer in plain memory holding `records` back to back (8-byte
 * header each, data area mapped "twice" by allocating 2*size), as the
 * kernel lays it out; returns what RingParser needs.
 */
export function buildRing(records: Uint8Array[]): { data: ArrayBuffer; size: number; bytes: number; consumer: BigUint64Array; producer: BigUint64Array } {
  const step = (len: number) => (len + 8 + 7) & ~7;
  const bytes = records.reduce((n, r) => n + step(r.byteLength), 0);
  let size = 4096;
  while (size < bytes + 4096) size *= 2;
  const data = new ArrayBuffer(2 * size);
  const u8 = new Uint8Array(data);
  const dv = new DataView(data);
  let pos = 0;
  for (const r of records) {
    dv.setUint32(pos, r.byteLength, true);
    u8.set(r, pos + 8);
    pos += step(r.byteLength);
  }
  return { data, size, bytes, consumer: new BigUint64Array(1), producer: new BigUint64Array(1) };
}
