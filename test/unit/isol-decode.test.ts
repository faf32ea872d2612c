// decodeIsolCall: every option 63..67 on a kernel with the PR_ISOL ABI (the
// documented struct contents, as the BPF side reads them) and on a stock
// kernel (what the colliding upstream option really did).
import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../src/contract/decode.js';
import { IW, LAYOUT } from '../../src/contract/layout.generated.js';
import { decodeIsolCall, type IsolCall } from '../../src/isol/decode.js';

const PTR = 0x7ffd_1234_5a30n;
const PTR2 = 0x7ffd_1234_5a70n;
const EINVAL = -22n;
const EPERM = -1n;

function call(p: Partial<IsolCall> & { option: number }): IsolCall {
  return {
    ts_ns: 1_000n,
    cpu: 3,
    arg2: 0n,
    arg3: 0n,
    arg4: 0n,
    arg5: 0n,
    result: 0n,
    in_mask: 0n,
    out_mask: 0n,
    ctl: [0n, 0n],
    pid: 100,
    tid: 101,
    read_ok: 0,
    comm: 'app',
    ...p,
  };
}

const ABI = { prIsol: 'kernel' as const, arch: 'x86_64' };
const STOCK = { prIsol: 'absent' as const, arch: 'x86_64' };
const STOCK_ARM = { prIsol: 'absent' as const, arch: 'aarch64' };

describe('decode on a PR_ISOL kernel', () => {
  it('FEAT_GET(0, &u64): supported feature mask', () => {
    const r = decodeIsolCall(call({ option: 63, arg2: 0n, arg3: PTR, out_mask: 1n, ctl: [1n, 0n], read_ok: 6 }), ABI);
    expect(r).toMatchObject({ type: 'isol', op: 'PR_ISOL_FEAT_GET', result: 0, pid: 100, tid: 101, comm: 'app', ts_ns: 1000 });
    expect(r.args).toMatchObject({ kernel: 'pr_isol', supported_mask: '0x1', supported: 'quiesce', arg3: '0x7ffd12345a30' });
    expect(r.meaning).toBe('supported features: quiesce');
    expect(r.warning).toBeUndefined();
  });

  it('FEAT_GET(ISOL_F_QUIESCE, &extensions): supported quiesce bits', () => {
    const r = decodeIsolCall(call({ option: 63, arg2: 1n, arg3: PTR, out_mask: 0n, ctl: [0n, 1n], read_ok: 6 }), ABI);
    expect(r.args).toMatchObject({ feat: 'ISOL_F_QUIESCE', supported_quiesce: 'vmstats', supported_quiesce_mask: '0x1' });
    expect(r.meaning).toBe('supported quiesce bits: vmstats');
  });

  it('CFG_GET(I_CFG_FEAT, 0, &u64): configured features', () => {
    const r = decodeIsolCall(call({ option: 64, arg2: 1n, arg4: PTR, out_mask: 1n, ctl: [1n, 0n], read_ok: 6 }), ABI);
    expect(r.op).toBe('PR_ISOL_CFG_GET');
    expect(r.args).toMatchObject({ what: 'I_CFG_FEAT', feature_mask: '0x1', features: 'quiesce' });
    expect(r.meaning).toBe('configured features: quiesce');
  });

  it('CFG_GET(I_CFG_FEAT, ISOL_F_QUIESCE, &quiesce_control)', () => {
    const r = decodeIsolCall(call({ option: 64, arg2: 1n, arg3: 1n, arg4: PTR, ctl: [0n, 1n], out_mask: 0n, read_ok: 6 }), ABI);
    expect(r.args).toMatchObject({ what: 'I_CFG_FEAT', feature: 'ISOL_F_QUIESCE', quiesce_mask: '0x1', quiesce: 'vmstats', flags: '0x0' });
    expect(r.meaning).toBe('quiesce configuration: vmstats');
  });

  it('CFG_GET(I_CFG_INHERIT, 0, &inherit_control): only byte 0 is the mask', () => {
    const r = decodeIsolCall(call({ option: 64, arg2: 2n, arg4: PTR, ctl: [0xdead_0000_0000_0003n, 0n], read_ok: 6 }), ABI);
    expect(r.args).toMatchObject({ what: 'I_CFG_INHERIT', inherit_mask: '0x3', inherit: 'conf|active' });
    expect(r.meaning).toBe('inheritance across fork/clone: conf|active');
  });

  it('CFG_SET(I_CFG_FEAT, ISOL_F_QUIESCE, {0, VMSTATS}): configured, not yet active', () => {
    const r = decodeIsolCall(call({ option: 65, arg2: 1n, arg3: 1n, arg4: PTR, in_mask: 0n, ctl: [0n, 1n], read_ok: 5 }), ABI);
    expect(r.op).toBe('PR_ISOL_CFG_SET');
    expect(r.args).toMatchObject({ what: 'I_CFG_FEAT', feature: 'ISOL_F_QUIESCE', quiesce_mask: '0x1', quiesce: 'vmstats' });
    expect(r.meaning).toBe('configured quiesce(vmstats); not active until PR_ISOL_ACTIVATE_SET');
  });

  it('CFG_SET(I_CFG_INHERIT, 0, {CONF}) and {0}', () => {
    const set = decodeIsolCall(call({ option: 65, arg2: 2n, arg4: PTR, in_mask: 1n, ctl: [1n, 0n], read_ok: 5 }), ABI);
    expect(set.args).toMatchObject({ inherit_mask: '0x1', inherit: 'conf' });
    expect(set.meaning).toBe('set inheritance across fork/clone: conf');
    const clear = decodeIsolCall(call({ option: 65, arg2: 2n, arg4: PTR, read_ok: 5 }), ABI);
    expect(clear.meaning).toBe('cleared inheritance across fork/clone');
  });

  it('ACTIVATE_GET(&u64)', () => {
    expect(decodeIsolCall(call({ option: 66, arg2: PTR, out_mask: 1n, read_ok: 2 }), ABI).meaning).toBe('active features: quiesce');
    expect(decodeIsolCall(call({ option: 66, arg2: PTR, out_mask: 0n, read_ok: 2 }), ABI).meaning).toBe('no feature active');
  });

  it('ACTIVATE_SET(&QUIESCE): names the configured quiesce bits when the tracker knows them', () => {
    const c = call({ option: 67, arg2: PTR, in_mask: 1n, read_ok: 1 });
    expect(decodeIsolCall(c, { ...ABI, quiesceMaskFor: () => 1n }).meaning).toBe('activated quiesce(vmstats)');
    expect(decodeIsolCall(c, ABI).meaning).toBe('activated quiesce');
    expect(decodeIsolCall(c, ABI).args).toMatchObject({ active_mask: '0x1', active: 'quiesce' });
  });

  it('ACTIVATE_SET(&QUIESCE, &{0, oneshot VMSTATS}): one-shot only on return from this call', () => {
    const r = decodeIsolCall(call({ option: 67, arg2: PTR, arg3: PTR2, in_mask: 1n, ctl: [0n, 1n], read_ok: 5 }), { ...ABI, quiesceMaskFor: () => 1n });
    expect(r.args).toMatchObject({ oneshot_mask: '0x1', oneshot: 'vmstats' });
    expect(r.meaning).toBe('activated quiesce(vmstats); one-shot quiesce(vmstats) on return from this call only');
  });

  it('ACTIVATE_SET(&0): deactivation', () => {
    expect(decodeIsolCall(call({ option: 67, arg2: PTR, in_mask: 0n, read_ok: 1 }), ABI).meaning).toBe(
      'deactivated task isolation (no feature active)',
    );
  });

  it('failed SET calls warn; failed GET calls do not, and their stale output is not decoded', () => {
    const set = decodeIsolCall(call({ option: 65, arg2: 1n, arg3: 1n, arg4: PTR, ctl: [0n, 1n], read_ok: 5, result: EINVAL }), ABI);
    expect(set.warning).toBe(true);
    expect(set.result).toBe(-22);
    expect(set.args.errno).toBe('EINVAL');
    expect(set.meaning).toMatch(/^PR_ISOL_CFG_SET failed with EINVAL .*the task is not isolated as requested$/);
    const get = decodeIsolCall(call({ option: 66, arg2: PTR, out_mask: 0x55n, read_ok: 2, result: -14n }), ABI);
    expect(get.warning).toBeUndefined();
    expect(get.args.active_mask).toBeUndefined();
    expect(get.meaning).toMatch(/failed with EFAULT/);
  });

  it('reads unknown bits as bitN instead of hiding them', () => {
    const r = decodeIsolCall(call({ option: 66, arg2: PTR, out_mask: 0x5n, read_ok: 2 }), ABI);
    expect(r.args.active).toBe('quiesce|bit2');
  });
});

describe('decode on a stock kernel (no PR_ISOL ABI), x86_64', () => {
  const expectStock = (r: ReturnType<typeof decodeIsolCall>, kernelOp: string) => {
    expect(r.warning).toBe(true);
    expect(r.args.kernel).toBe('stock');
    expect(r.args.kernel_op).toBe(kernelOp);
    expect(r.meaning.startsWith(`${kernelOp} (stock kernel, no PR_ISOL ABI): `)).toBe(true);
    expect(r.meaning).toMatch(/the task is NOT isolated$/);
  };

  it('63 PR_SME_SET_VL: arm64-only, EINVAL, nothing done; stale output not decoded', () => {
    const r = decodeIsolCall(call({ option: 63, arg3: PTR, out_mask: 7n, ctl: [7n, 0n], read_ok: 6, result: EINVAL }), STOCK);
    expectStock(r, 'PR_SME_SET_VL');
    expect(r.op).toBe('PR_ISOL_FEAT_GET');
    expect(r.meaning).toMatch(/SME exists only on arm64, so on x86_64 the kernel returned -EINVAL and did nothing/);
    expect(r.args.supported).toBeUndefined();
  });

  it('64 PR_SME_GET_VL: EINVAL', () => {
    const r = decodeIsolCall(call({ option: 64, arg2: 1n, arg4: PTR, read_ok: 6, result: EINVAL }), STOCK);
    expectStock(r, 'PR_SME_GET_VL');
    expect(r.meaning).toMatch(/-EINVAL and did nothing/);
  });

  it('65 PR_SET_MDWE with the documented CFG_SET(I_CFG_FEAT, ISOL_F_QUIESCE, &ctl): EINVAL because arg3/arg4 are not 0', () => {
    const r = decodeIsolCall(call({ option: 65, arg2: 1n, arg3: 1n, arg4: PTR, ctl: [0n, 1n], read_ok: 5, result: EINVAL }), STOCK);
    expectStock(r, 'PR_SET_MDWE');
    expect(r.meaning).toMatch(/requires arg3, arg4 and arg5 to be 0, here arg3=0x1, arg4=0x7ffd12345a30; MDWE not changed/);
    // The caller's intent is still shown.
    expect(r.args).toMatchObject({ what: 'I_CFG_FEAT', feature: 'ISOL_F_QUIESCE', quiesce: 'vmstats' });
    expect(r.meaning).toMatch(/the caller meant PR_ISOL_CFG_SET\(I_CFG_FEAT, ISOL_F_QUIESCE, quiesce=vmstats\)/);
  });

  it('65 PR_SET_MDWE with arg2=1 and no pointers: MDWE enabled for good', () => {
    const r = decodeIsolCall(call({ option: 65, arg2: 1n }), STOCK);
    expectStock(r, 'PR_SET_MDWE');
    expect(r.meaning).toMatch(/enabled memory-deny-write-execute for the whole process, cannot be undone/);
    expect(r.meaning).toMatch(/PR_MDWE_REFUSE_EXEC_GAIN/);
    expect(r.meaning).toMatch(/inherited by fork\(\) children/);
  });

  it('65 PR_SET_MDWE other outcomes: no-op, bad bits, NO_INHERIT alone, EPERM', () => {
    expect(decodeIsolCall(call({ option: 65, arg2: 0n }), STOCK).meaning).toMatch(/a no-op that returned 0/);
    expect(decodeIsolCall(call({ option: 65, arg2: 4n, result: EINVAL }), STOCK).meaning).toMatch(/arg2=0x4 has bits other than/);
    expect(decodeIsolCall(call({ option: 65, arg2: 2n, result: EINVAL }), STOCK).meaning).toMatch(/PR_MDWE_NO_INHERIT without PR_MDWE_REFUSE_EXEC_GAIN/);
    expect(decodeIsolCall(call({ option: 65, arg2: 0n, result: EPERM }), STOCK).meaning).toMatch(/already enabled .* can never be changed or cleared/);
  });

  it('66 PR_GET_MDWE: EINVAL for the pmask pointer; flags when arg2 is 0', () => {
    const bad = decodeIsolCall(call({ option: 66, arg2: PTR, out_mask: 9n, read_ok: 2, result: EINVAL }), STOCK);
    expectStock(bad, 'PR_GET_MDWE');
    expect(bad.meaning).toMatch(/requires arg2..arg5 to be 0, here arg2=0x7ffd12345a30/);
    expect(bad.args.active_mask).toBeUndefined();
    const ok = decodeIsolCall(call({ option: 66, arg2: 0n, result: 1n }), STOCK);
    expect(ok.meaning).toMatch(/returned the process's MDWE flags 0x1 \(PR_MDWE_REFUSE_EXEC_GAIN\), not an isolation mask/);
  });

  it('67 PR_SET_MEMORY_MERGE with the documented ACTIVATE_SET(&mask): KSM for the whole process', () => {
    const r = decodeIsolCall(call({ option: 67, arg2: PTR, in_mask: 1n, read_ok: 1 }), STOCK);
    expectStock(r, 'PR_SET_MEMORY_MERGE');
    expect(r.meaning).toMatch(/enabled KSM merging for the whole process/);
    expect(r.meaning).toMatch(/believes isolation was activated/);
    // Even "deactivate" (pointer to 0) enables it: arg2 is a non-zero pointer.
    expect(decodeIsolCall(call({ option: 67, arg2: PTR, in_mask: 0n, read_ok: 1 }), STOCK).meaning).toMatch(/enabled KSM merging/);
  });

  it('67 other outcomes: EINVAL for the one-shot pointer, disable, EPERM, no CONFIG_KSM', () => {
    expect(decodeIsolCall(call({ option: 67, arg2: PTR, arg3: PTR2, read_ok: 5, result: EINVAL }), STOCK).meaning).toMatch(
      /requires arg3, arg4 and arg5 to be 0, here arg3=0x7ffd12345a70 .*KSM not changed/,
    );
    expect(decodeIsolCall(call({ option: 67, arg2: 0n }), STOCK).meaning).toMatch(/disabled process-wide KSM merging/);
    expect(decodeIsolCall(call({ option: 67, arg2: PTR, result: EPERM }), STOCK).meaning).toMatch(/-EPERM: refused, but not by mainline's own checks/);
    expect(decodeIsolCall(call({ option: 67, arg2: PTR, result: EINVAL }), STOCK).meaning).toMatch(/without CONFIG_KSM/);
  });
});

describe('decode on a stock arm64 kernel', () => {
  it('63 PR_SME_SET_VL can succeed and change the SME vector length', () => {
    const r = decodeIsolCall(call({ option: 63, arg2: 0n, arg3: PTR, result: 16n }), STOCK_ARM);
    expect(r.warning).toBe(true);
    expect(r.meaning).toMatch(/CHANGED this thread's SME vector length: arg2=0x0 was read as VL 0 bytes .*returned the new VL config 0x10 \(VL 16 bytes\)/);
  });
  it('64 PR_SME_GET_VL returns the VL config and writes nothing', () => {
    const r = decodeIsolCall(call({ option: 64, arg2: 1n, arg4: PTR, result: 0x20020n }), STOCK_ARM);
    expect(r.meaning).toMatch(/returned this thread's SME vector-length config 0x20020 \(VL 32 bytes\).*\*arg4 was NOT written/);
  });
  it('EINVAL when the CPU has no SME', () => {
    expect(decodeIsolCall(call({ option: 63, arg2: 1n, result: EINVAL }), STOCK_ARM).meaning).toMatch(/no SME on this CPU/);
    expect(decodeIsolCall(call({ option: 64, result: EINVAL }), STOCK_ARM).meaning).toMatch(/this CPU has no SME/);
  });
});

describe('iw_isol_call bytes -> decodeIsolCall (the generated layout is the only byte layout)', () => {
  it('a ring-buffer record written at the BTF-generated offsets decodes to the IsolCall decodeIsolCall takes', () => {
    const L = LAYOUT.iw_isol_call.fields;
    const H = LAYOUT.iw_hdr.fields;
    const buf = new Uint8Array(LAYOUT.iw_isol_call.size);
    const dv = new DataView(buf.buffer);
    dv.setBigUint64(L.hdr.offset + H.ts_ns.offset, 123456789n, true);
    dv.setUint32(L.hdr.offset + H.type.offset, IW.IW_REC_ISOL, true);
    dv.setUint32(L.hdr.offset + H.cpu.offset, 7, true);
    dv.setBigUint64(L.arg2.offset, PTR, true);
    dv.setBigUint64(L.arg3.offset, PTR2, true);
    dv.setBigInt64(L.result.offset, -22n, true);
    dv.setBigUint64(L.in_mask.offset, 1n, true);
    dv.setBigUint64(L.ctl.offset + 8, 1n, true);
    dv.setUint32(L.pid.offset, 100, true);
    dv.setUint32(L.tid.offset, 101, true);
    dv.setUint32(L.option.offset, 67, true);
    dv.setUint32(L.read_ok.offset, 5, true);
    buf.set(new TextEncoder().encode('dpdk-worker'), L.comm.offset);
    const { rec, ...c } = decodeRecord(buf) as IsolCall & { rec: string };
    expect(rec).toBe('isol');
    expect(c).toEqual({
      ts_ns: 123456789n,
      cpu: 7,
      arg2: PTR,
      arg3: PTR2,
      arg4: 0n,
      arg5: 0n,
      result: -22n,
      in_mask: 1n,
      out_mask: 0n,
      ctl: [0n, 1n],
      pid: 100,
      tid: 101,
      option: 67,
      read_ok: 5,
      comm: 'dpdk-worker',
    });
    expect(decodeIsolCall(c, { prIsol: 'absent', arch: 'x86_64' }).meaning).toMatch(/PR_SET_MEMORY_MERGE.*-EINVAL.*arg3=0x7ffd12345a70/);
    expect(() => decodeRecord(buf.subarray(0, LAYOUT.iw_isol_call.size - 8))).toThrow(/isol record of 112 bytes, expected 120/);
  });
});
