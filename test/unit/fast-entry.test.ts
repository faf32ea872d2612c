// The fast path for one-entry records (src/correlate/fast-entry.ts) against
// the full one (decodeRecord + Engine.ingest): the same record, field for
// field, and the same NDJSON bytes, for syscalls (positive and negative
// return values), page faults (addresses above and below 4 GiB), generic
// entries, flags, what isolwatch caused, victims declared and not, a comm
// that changes (exec), the --pid filter; and a tracker change reaches records
// made after it.
import { describe, expect, it } from 'vitest';
import { encodeEntryRecord, syscallRecord } from '../../bench/lib/encode.js';
import { decodeRecord, type RawInterruption } from '../../src/contract/decode.js';
import { IW } from '../../src/contract/layout.generated.js';
import { Engine } from '../../src/correlate/engine.js';
import { FastEntries } from '../../src/correlate/fast-entry.js';
import { IsolTracker } from '../../src/isol/state.js';
import { toNdjsonLine } from '../../src/output/ndjson.js';
import { symbolsFromTable } from '../../src/system/kallsyms.js';
import type { InterruptionRecord } from '../../src/types.js';

const MAX_RET = -4095n;

function records(): RawInterruption[] {
  const base = syscallRecord(10_000_000_000n, 1, 4242);
  const fault = (ts: bigint, addr: bigint, code: number, flags: number): RawInterruption => ({
    ...base, ts_ns: ts, duration_ns: 0n, flags, cause_ctx: IW.IW_CTX_SELF,
    chain: [{ func: addr, start_ns: ts, duration_ns: 0, kind: code, class: IW.IW_CLASS_PAGE_FAULT, depth: 0, name: '' }],
  });
  const sys = (ts: bigint, nr: number, ret: bigint, flags = 0, pid = 4242, tid = 4242, comm = 'syscalls'): RawInterruption => ({
    ...base, ts_ns: ts, duration_ns: 1234n, victim_pid: pid, victim_tid: tid, cause_pid: pid, cause_tid: tid, victim_comm: comm, cause_comm: comm, flags,
    chain: [{ func: BigInt.asUintN(64, ret), start_ns: ts, duration_ns: 1234, kind: nr, class: IW.IW_CLASS_SYSCALL, depth: 0, name: '' }],
  });
  return [
    sys(1n, 110, 4241n),
    sys(2n, 0, MAX_RET), // read returning -errno
    sys(3n, 39, 2n ** 40n + 5n),
    sys(4n, 110, 1n, IW.IW_F_IN_SYSCALL | IW.IW_F_OPEN_END),
    sys(5n, 110, 1n, IW.IW_F_SELF_CAUSED, process.pid, process.pid, 'node'),
    sys(6n, 110, 1n, 0, 5000, 5001, 'app'),
    sys(7n, 110, 1n, 0, 5000, 5001, 'app-renamed'), // exec'd: the comm bytes changed
    fault(8n, 0x7f12_3456_7000n, 6, IW.IW_F_NO_EXIT),
    fault(9n, 0x1000n, 0, IW.IW_F_NO_EXIT | IW.IW_F_KERNEL_MODE),
    { ...base, ts_ns: 10n, duration_ns: 7000n, flags: IW.IW_F_FROM_USER, cause_ctx: IW.IW_CTX_NONE, cause_pid: 0, cause_tid: 0, cause_cpu: 0, cause_comm: '',
      chain: [{ func: 0n, start_ns: 10n, duration_ns: 7000, kind: 0, class: IW.IW_CLASS_KERNEL, depth: 0, name: '' }] },
    { ...sys(11n, 110, 1n), duration_ns: 2n ** 33n }, // a duration past 32 bits saturates in the chain
  ];
}

function engines(declared: number[] = [], filter?: (pid: number, tid: number) => boolean) {
  const make = () => {
    const tracker = new IsolTracker({ prIsol: 'absent' });
    for (const pid of declared) tracker.declare({ pid }, { children: true });
    return { tracker, engine: new Engine({ symbols: symbolsFromTable({}), tracker, prIsol: 'absent', arch: 'x86_64', victimFilter: filter }) };
  };
  return { fast: make(), full: make() };
}

/** Each record through both paths: ingestRaw (fast for these) and decodeRecord + ingest. */
function both(raws: RawInterruption[], e = engines()): { fast: (InterruptionRecord | null)[]; full: (InterruptionRecord | null)[] } {
  const fast: (InterruptionRecord | null)[] = [];
  const full: (InterruptionRecord | null)[] = [];
  for (const r of raws) {
    const bytes = encodeEntryRecord(r);
    const dv = new DataView(bytes.buffer);
    expect(FastEntries.takes(dv, 0)).toBe(true);
    fast.push(e.fast.engine.ingestRaw(dv, 0, bytes.length) as InterruptionRecord | null);
    full.push(e.full.engine.ingest(decodeRecord(bytes)) as InterruptionRecord | null);
  }
  return { fast, full };
}

describe('the fast path for one-entry records', () => {
  it('gives the full path\'s records, field for field and byte for byte in NDJSON', () => {
    const { fast, full } = both(records());
    fast.forEach((f, i) => {
      const g = full[i]!;
      expect(f, `record ${i}`).toEqual(g);
      expect(toNdjsonLine(f!), `record ${i}`).toBe(toNdjsonLine(g));
      // and the template is really what wrote it: a plain copy goes through the generic writer
      expect(toNdjsonLine(f!)).toBe(toNdjsonLine(JSON.parse(JSON.stringify(f))));
    });
    expect(fast[1]!.chain[0].ret).toBe(-4095);
    expect(fast[7]!.chain[0].address).toBe('0x7f1234567000');
    expect(fast[4]!.cause.origin).toBe('isolwatch');
    expect(fast[6]!.victim.comm).toBe('app-renamed');
    expect(fast[10]!.chain[0].duration_ns).toBe(0xffffffff);
  });

  it('judges a declared victim as the full path does, and follows the tracker when it changes', () => {
    const e = engines([4242]);
    const first = both(records().slice(0, 3), e);
    first.fast.forEach((f, i) => expect(f).toEqual(first.full[i]));
    expect(first.fast[0]!.isol.state).toBe('declared');
    expect(first.fast[0]!.violation).toBe(true);
    // the declaration ends: records after it are not violations (the template is rebuilt)
    e.fast.tracker.undeclare({ pid: 4242 });
    e.full.tracker.undeclare({ pid: 4242 });
    const after = both(records().slice(0, 1), e);
    expect(after.fast[0]).toEqual(after.full[0]);
    expect(after.fast[0]!.violation).toBe(false);
  });

  it('judges an interruption by the state at its time, not when its record arrives (run\'s warm-up)', () => {
    // the task is declared at 5: its records from before (start-up syscalls) reach the engine after
    const e = engines();
    for (const k of [e.fast, e.full]) k.tracker.declare({ pid: 4242 }, { children: true, ts_ns: 5 });
    const { fast, full } = both(records().slice(0, 8), e); // ts 1..8
    fast.forEach((f, i) => expect(f, `record ${i}`).toEqual(full[i]));
    const mine = fast.filter((r) => r?.victim.pid === 4242);
    expect(mine.filter((r) => r!.ts_ns < 5).map((r) => r!.isol.state)).toEqual(['none', 'none', 'none', 'none']);
    expect(mine.filter((r) => r!.ts_ns < 5).some((r) => r!.violation)).toBe(false);
    expect(mine.filter((r) => r!.ts_ns >= 5).every((r) => r!.isol.state === 'declared' && r!.violation)).toBe(true);
  });

  it('leaves out what the --pid filter leaves out, and counts it', () => {
    const e = engines([], (pid) => pid === 5000);
    const { fast, full } = both(records(), e);
    expect(fast.map((r) => r?.victim.pid ?? null)).toEqual(full.map((r) => r?.victim.pid ?? null));
    expect(e.fast.engine.filteredCount).toBe(e.full.engine.filteredCount);
    expect(e.fast.engine.filteredCount).toBeGreaterThan(0);
  });

  it('is not taken with a policy, nor for records carrying kernel PR_ISOL masks', () => {
    const withMasks = encodeEntryRecord({ ...records()[0], flags: IW.IW_F_ISOL_KERNEL, isol_active_mask: 1n });
    expect(FastEntries.takes(new DataView(withMasks.buffer), 0)).toBe(false);
    const tracker = new IsolTracker({ prIsol: 'absent' });
    const engine = new Engine({ symbols: symbolsFromTable({}), tracker, prIsol: 'absent', arch: 'x86_64', policy: () => ({ violation: true }) });
    const bytes = encodeEntryRecord(records()[0]);
    const r = engine.ingestRaw(new DataView(bytes.buffer), 0, bytes.length) as InterruptionRecord;
    expect(r.violation).toBe(true); // the policy saw it
    expect(Object.getOwnPropertySymbols(Object.getPrototypeOf(r))).toEqual([]); // a plain record
  });
});
