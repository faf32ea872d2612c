// decodeRecord against records laid out as the BPF programs write them
// (bench/lib/encode.ts, offsets from the BTF-generated layout): every field
// comes back, names of every length and byte range decode as the kernel's
// bytes read in latin1, zero and non-zero u64s alike.
import { describe, expect, it } from 'vitest';
import { encodeEntryRecord, encodeInterruption, syscallRecord } from '../../bench/lib/encode.js';
import { DecodeError, decodeRecord, ENTRY_RECORD_SIZE, INTERRUPTION_HEAD_SIZE, ISOL_MASKS_SIZE, type RawInterruption } from '../../src/contract/decode.js';
import { IW, LAYOUT } from '../../src/contract/layout.generated.js';

const full = (): RawInterruption => ({
  ...syscallRecord(123456789012345678n, 3, 4242),
  duration_ns: 2n ** 40n + 7n,
  cause_callsite: 0xffffffff81234567n,
  cause_func: 0xffffffff8100abcdn,
  cause_ts_ns: 2n ** 63n + 1n,
  isol_conf_mask: 1n,
  isol_active_mask: 2n ** 32n, // only the high half set
  isol_quiesce_mask: 0xffffffffn, // only the low half set
  isol_oneshot_mask: 2n ** 64n - 1n,
  isol_inherit_mask: 5,
  flags: IW.IW_F_FROM_USER | IW.IW_F_ISOL_KERNEL,
  cause_comm: 'kworker/3:1H',
  chain: [
    { func: 0xffffffff81000000n, start_ns: 99n, duration_ns: 4000, kind: 5, class: 3, depth: 0, name: 'vmstat_update' },
    { func: 0n, start_ns: 2n ** 33n, duration_ns: 1, kind: 1, class: 2, depth: 1, name: '' },
  ],
});

describe('decodeRecord', () => {
  it('gives back every field of an interruption record', () => {
    const r = full();
    expect(decodeRecord(encodeInterruption(r))).toEqual(r);
  });

  it('lays out the chain it has and the masks only when flagged: variable length', () => {
    const r = full();
    expect(encodeInterruption(r).byteLength).toBe(INTERRUPTION_HEAD_SIZE + 2 * LAYOUT.iw_entry.size + ISOL_MASKS_SIZE);
    const plain = { ...r, flags: IW.IW_F_FROM_USER, isol_conf_mask: 0n, isol_active_mask: 0n, isol_quiesce_mask: 0n, isol_oneshot_mask: 0n, isol_inherit_mask: 0 };
    const bytes = encodeInterruption(plain);
    expect(bytes.byteLength).toBe(INTERRUPTION_HEAD_SIZE + 2 * LAYOUT.iw_entry.size);
    expect(decodeRecord(bytes)).toEqual(plain);
    // the masks flag without the masks: refused, not read past the record
    const flagged = encodeInterruption(r).subarray(0, INTERRUPTION_HEAD_SIZE + 2 * LAYOUT.iw_entry.size);
    expect(() => decodeRecord(flagged)).toThrow(/isolation-masks flag but not the 40 bytes/);
  });

  it('decodes a one-entry record (syscall, fault) to an interruption with a chain of one', () => {
    const r = syscallRecord(5_000_000n, 1, 4242);
    const bytes = encodeEntryRecord(r);
    expect(bytes.byteLength).toBe(ENTRY_RECORD_SIZE);
    expect(ENTRY_RECORD_SIZE).toBeLessThan(80); // "a few dozen bytes"
    expect(decodeRecord(bytes)).toEqual({ ...r, chain: [{ ...r.chain[0], duration_ns: Number(r.duration_ns) }] });
    // a page fault without a sender: no cause fields, the address in the chain entry
    const fault: RawInterruption = {
      ...r, cause_ctx: IW.IW_CTX_SELF, flags: IW.IW_F_NO_EXIT | IW.IW_F_ISOL_KERNEL, duration_ns: 0n, isol_active_mask: 3n, isol_conf_mask: 1n,
      chain: [{ func: 0x7f0000001000n, start_ns: r.ts_ns, duration_ns: 0, kind: 6, class: IW.IW_CLASS_PAGE_FAULT, depth: 0, name: '' }],
    };
    const fb = encodeEntryRecord(fault);
    expect(fb.byteLength).toBe(ENTRY_RECORD_SIZE + ISOL_MASKS_SIZE);
    expect(decodeRecord(fb)).toEqual(fault);
    expect(() => decodeRecord(fb.subarray(0, ENTRY_RECORD_SIZE - 1))).toThrow(/entry record of \d+ bytes/);
  });

  it('reads zero u64 fields as 0n and the record from any offset of a larger buffer', () => {
    const r = syscallRecord(1n, 0, 1);
    const bytes = encodeInterruption(r);
    const big = new Uint8Array(bytes.byteLength + 24);
    big.set(bytes, 24);
    const d = decodeRecord(big.subarray(24)) as RawInterruption;
    expect(d).toEqual(r);
    expect(d.isol_active_mask).toBe(0n);
  });

  it('decodes names as latin1 bytes: empty, full length without a NUL, and bytes >= 0x80', () => {
    const width = LAYOUT.iw_interruption.fields.victim_comm.size;
    const r = syscallRecord(1n, 0, 1);
    const bytes = encodeInterruption({ ...r, victim_comm: '', cause_comm: 'caf\u00e9' });
    // a comm filling all its bytes (the kernel's TASK_COMM_LEN - 1 plus no terminator in a copy)
    const off = LAYOUT.iw_interruption.fields.victim_comm.offset;
    for (let i = 0; i < width; i++) bytes[off + i] = 0x61 + (i % 26);
    const d = decodeRecord(bytes) as RawInterruption;
    expect(d.victim_comm).toBe('abcdefghijklmnopqrstuvwxyz'.slice(0, width));
    expect(d.cause_comm).toBe(new TextDecoder('latin1').decode(new Uint8Array([0x63, 0x61, 0x66, 0xe9])));
    expect(d.chain[0].name).toBe('');
  });

  it('refuses a short record and an unknown type with a DecodeError', () => {
    expect(() => decodeRecord(new Uint8Array(4))).toThrow(DecodeError);
    const bytes = encodeInterruption(syscallRecord(1n, 0, 1));
    expect(() => decodeRecord(bytes.subarray(0, bytes.byteLength - 8))).toThrow(/interruption record of \d+ bytes, expected \d+ for its chain of 1/);
    expect(() => decodeRecord(bytes.subarray(0, INTERRUPTION_HEAD_SIZE - 1))).toThrow(/expected at least/);
    new DataView(bytes.buffer).setUint32(LAYOUT.iw_interruption.fields.hdr.offset + LAYOUT.iw_hdr.fields.type.offset, 99, true);
    expect(() => decodeRecord(bytes)).toThrow(/unknown record type 99/);
  });
});
