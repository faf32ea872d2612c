// Root, real kernel: test/workloads/isol-prctls issues options 63..67 with the
// documented PR_ISOL argument shapes in a THROWAWAY child process (on a stock
// kernel 65 may set MDWE for good and 67 enables KSM — for that child only),
// and prints what the kernel returned. Each call is turned into the record the
// BPF side would emit (its read rules: bpf/isolwatch.bpf.c prctl_enter/exit)
// and decoded for this kernel; the meaning must match what really happened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { machine } from 'node:os';
import { decodeIsolCall, type IsolCall } from '../../src/isol/decode.js';
import { detectPrIsol } from '../../src/isol/detect.js';
import { vmlinuxBtf } from '../../src/libbpf/btf.js';
import type { RawIsolCall, RawRecord } from '../../src/contract/decode.js';
import { Session, defaultObjectPath } from '../../src/live/session.js';

const SRC = 'test/workloads/isol-prctls.c';
const BIN = 'test/workloads/bin/isol-prctls';

interface WorkloadCall {
  label: string;
  option: number;
  arg2: bigint;
  arg3: bigint;
  arg4: bigint;
  arg5: bigint;
  ret: number;
  errno: number;
  pre: [bigint, bigint];
  post: [bigint, bigint];
  ctl?: [bigint, bigint];
}

function kv(line: string): Record<string, string> {
  return Object.fromEntries(line.split(' ').slice(1).map((f) => f.split('=') as [string, string]));
}

/** What bpf/isolwatch.bpf.c records for this call (entry reads for SET, exit reads for GET). */
function asBpfRecord(c: WorkloadCall, pid: number): IsolCall {
  const r: IsolCall = {
    ts_ns: 1n,
    cpu: 0,
    arg2: c.arg2,
    arg3: c.arg3,
    arg4: c.arg4,
    arg5: c.arg5,
    result: c.ret < 0 ? BigInt(-c.errno) : BigInt(c.ret),
    in_mask: 0n,
    out_mask: 0n,
    ctl: [0n, 0n],
    pid,
    tid: pid,
    option: c.option,
    read_ok: 0,
    comm: 'isol-prctls',
  };
  if (c.option === 65 && c.arg4) Object.assign(r, { ctl: c.pre, in_mask: c.pre[0], read_ok: 1 | 4 });
  if (c.option === 67) {
    if (c.arg2) Object.assign(r, { in_mask: c.pre[0], read_ok: r.read_ok | 1 });
    if (c.arg3 && c.ctl) Object.assign(r, { ctl: c.ctl, read_ok: r.read_ok | 4 });
  }
  if ((c.option === 63 && c.arg3) || (c.option === 64 && c.arg4)) Object.assign(r, { ctl: c.post, out_mask: c.post[0], read_ok: 2 | 4 });
  if (c.option === 66 && c.arg2) Object.assign(r, { out_mask: c.post[0], read_ok: 2 });
  return r;
}

type States = Record<string, { ksm: number; mdwe: number }>;
let calls: WorkloadCall[] = [];
let states: States = {};

function parseWorkload(stdout: string): { calls: WorkloadCall[]; states: States } {
  const calls: WorkloadCall[] = [];
  const states: States = {};
  for (const line of stdout.trim().split('\n')) {
    const f = kv(line);
    if (line.startsWith('call ')) {
      calls.push({
        label: f.label,
        option: Number(f.option),
        arg2: BigInt(f.arg2),
        arg3: BigInt(f.arg3),
        arg4: BigInt(f.arg4),
        arg5: BigInt(f.arg5),
        ret: Number(f.ret),
        errno: Number(f.errno),
        pre: [BigInt(f.pre0), BigInt(f.pre1)],
        post: [BigInt(f.post0), BigInt(f.post1)],
      });
    } else if (line.startsWith('ctl ')) {
      calls.find((c) => c.label === f.label)!.ctl = [BigInt(f.ctl0), BigInt(f.ctl1)];
    } else if (line.startsWith('state ')) {
      states[f.after] = { ksm: Number(f.ksm), mdwe: Number(f.mdwe) };
    }
  }
  return { calls, states };
}
let childPid = 0;
const btf = vmlinuxBtf();
const detection = detectPrIsol({ hasStructField: (s, f) => btf.hasStructField(s, f) });
afterAll(() => btf.close());
const arch = machine();

beforeAll(() => {
  if (!existsSync(BIN) || statSync(BIN).mtimeMs < statSync(SRC).mtimeMs) {
    mkdirSync('test/workloads/bin', { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', BIN, SRC, '-lrt']);
  }
  // The throwaway process: spawned, never reused, gone when it returns.
  const run = spawnSync(BIN, [], { encoding: 'utf8', timeout: 10_000 });
  expect(run.status, run.stderr).toBe(0);
  childPid = run.pid ?? 0;
  ({ calls, states } = parseWorkload(run.stdout));
});

// What this stock x86_64 6.x kernel does with each call, and what the decoded meaning must say.
const EXPECTED: Array<{ label: string; ret: number; errno: number; meaning: RegExp; x86Only?: boolean }> = [
  { label: 'feat_get_all', ret: -1, errno: 22, meaning: /^PR_SME_SET_VL \(stock kernel, no PR_ISOL ABI\): SME exists only on arm64, so on x86_64 the kernel returned -EINVAL and did nothing/, x86Only: true },
  { label: 'feat_get_quiesce', ret: -1, errno: 22, meaning: /^PR_SME_SET_VL .*-EINVAL and did nothing; the caller meant PR_ISOL_FEAT_GET\(ISOL_F_QUIESCE\)/, x86Only: true },
  { label: 'cfg_get_feat', ret: -1, errno: 22, meaning: /^PR_SME_GET_VL .*-EINVAL and did nothing/, x86Only: true },
  { label: 'cfg_get_quiesce', ret: -1, errno: 22, meaning: /^PR_SME_GET_VL .*-EINVAL and did nothing/, x86Only: true },
  { label: 'cfg_get_inherit', ret: -1, errno: 22, meaning: /^PR_SME_GET_VL .*-EINVAL and did nothing/, x86Only: true },
  { label: 'cfg_set_quiesce', ret: -1, errno: 22, meaning: /^PR_SET_MDWE .*: -EINVAL: PR_SET_MDWE takes its flags in arg2 and requires arg3, arg4 and arg5 to be 0, here arg3=0x1, arg4=0x[0-9a-f]+; MDWE not changed; the caller meant PR_ISOL_CFG_SET\(I_CFG_FEAT, ISOL_F_QUIESCE, quiesce=vmstats\)/ },
  { label: 'cfg_set_inherit', ret: -1, errno: 22, meaning: /^PR_SET_MDWE .*: -EINVAL: .*here arg4=0x[0-9a-f]+; MDWE not changed; the caller meant PR_ISOL_CFG_SET\(I_CFG_INHERIT, inherit=conf\|active\)/ },
  { label: 'activate_get', ret: -1, errno: 22, meaning: /^PR_GET_MDWE .*: -EINVAL: PR_GET_MDWE requires arg2..arg5 to be 0, here arg2=0x[0-9a-f]+ \(the caller's pmask pointer\); nothing read or written/ },
  { label: 'activate_set_oneshot', ret: -1, errno: 22, meaning: /^PR_SET_MEMORY_MERGE .*: -EINVAL: PR_SET_MEMORY_MERGE requires arg3, arg4 and arg5 to be 0, here arg3=0x[0-9a-f]+ .*KSM not changed; the caller meant PR_ISOL_ACTIVATE_SET\(active=quiesce, oneshot=vmstats\)/ },
  { label: 'activate_set', ret: 0, errno: 0, meaning: /^PR_SET_MEMORY_MERGE .*: arg2=0x[0-9a-f]+ \(the caller's pmask pointer\) was taken as "on": enabled KSM merging for the whole process.*believes isolation was activated/ },
  { label: 'deactivate', ret: 0, errno: 0, meaning: /^PR_SET_MEMORY_MERGE .*enabled KSM merging for the whole process.*the caller meant PR_ISOL_ACTIVATE_SET\(active=none\)/ },
  { label: 'variant_activate_get_null', ret: 0, errno: 0, meaning: /^PR_GET_MDWE .*: returned the process's MDWE flags 0x0 \(none\), not an isolation mask/ },
  { label: 'variant_cfg_set_null', ret: 0, errno: 0, meaning: /^PR_SET_MDWE .*: arg2=0x1 was taken as MDWE flags PR_MDWE_REFUSE_EXEC_GAIN: enabled memory-deny-write-execute for the whole process, cannot be undone/ },
  { label: 'variant_cfg_set_zero', ret: -1, errno: 1, meaning: /^PR_SET_MDWE .*: -EPERM: MDWE is already enabled on this process .*can never be changed or cleared/ },
  { label: 'variant_activate_get_null_after', ret: 1, errno: 0, meaning: /^PR_GET_MDWE .*returned the process's MDWE flags 0x1 \(PR_MDWE_REFUSE_EXEC_GAIN\)/ },
  { label: 'variant_deactivate_null', ret: 0, errno: 0, meaning: /^PR_SET_MEMORY_MERGE .*: arg2=0 was taken as "off": disabled process-wide KSM merging/ },
];

describe.runIf(!detection.supported)('PR_ISOL-numbered prctls on this stock kernel (pr_isol absent)', () => {
  it('detection says absent, by BTF and kallsyms', () => {
    expect(detection).toMatchObject({ supported: false, via: null, procTaskIsolation: false });
    expect(detection.evidence.join('\n')).toMatch(/BTF task_struct.task_isol_info: absent/);
    expect(detection.evidence.join('\n')).toMatch(/kallsyms: no prctl_task_isol_\* symbols/);
  });

  it('the workload made every call', () => {
    expect(calls.map((c) => c.label)).toEqual(EXPECTED.map((e) => e.label));
  });

  for (const e of EXPECTED) {
    it(`${e.label}: kernel result and decoded meaning`, (ctx) => {
      if (e.x86Only && arch !== 'x86_64') ctx.skip();
      const c = calls.find((x) => x.label === e.label)!;
      expect({ ret: c.ret, errno: c.errno }).toEqual({ ret: e.ret, errno: e.errno });
      const rec = decodeIsolCall(asBpfRecord(c, childPid), { prIsol: 'absent', arch });
      expect(rec.warning).toBe(true);
      expect(rec.args.kernel).toBe('stock');
      expect(rec.result).toBe(c.ret < 0 ? -c.errno : c.ret);
      expect(rec.meaning).toMatch(e.meaning);
      expect(rec.meaning).toMatch(/the task is NOT isolated$/);
    });
  }

  it('the meanings match the real state changes the throwaway child observed', () => {
    // "enabled KSM" was true, MDWE was untouched by the documented calls...
    expect(states.activate_set).toEqual({ ksm: 1, mdwe: 0 });
    // ..."enabled MDWE, cannot be undone" was true...
    expect(states.variant_cfg_set_null).toEqual({ ksm: 1, mdwe: 1 });
    // ...and "disabled KSM" was true while MDWE stayed.
    expect(states.variant_deactivate_null).toEqual({ ksm: 0, mdwe: 1 });
  });

  it('PR_SET_MEMORY_MERGE needs no capability on this kernel (only an early RFC had CAP_SYS_RESOURCE)', (ctx) => {
    // Same throwaway workload as nobody with every capability dropped.
    if (spawnSync('sh', ['-c', 'command -v setpriv']).status !== 0) ctx.skip();
    const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', BIN], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const { calls: unpriv, states: st } = parseWorkload(run.stdout);
    expect(unpriv.find((c) => c.label === 'activate_set')).toMatchObject({ ret: 0, errno: 0 });
    expect(st.activate_set).toEqual({ ksm: 1, mdwe: 0 });
  });

  it('the test runner itself was not touched (the calls ran in the throwaway child only)', () => {
    expect(readFileSync('/proc/self/ksm_stat', 'utf8')).toMatch(/ksm_merge_any: no/);
  });
});

// The same calls through the real BPF programs (bpf/isolwatch.bpf.c prctl_enter/exit):
// the records it emits must carry what asBpfRecord() assumed, and decode to the same meanings.
describe.runIf(!detection.supported)('the same calls seen by the real BPF side', () => {
  it('every call arrives as an iw_isol_call and decodes to the expected meaning', () => {
    expect(existsSync(defaultObjectPath()), `${defaultObjectPath()} is missing: run npm run build`).toBe(true);
    const cpus = [Math.max(...readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(/[,-]/).map(Number))];
    const session = Session.open({ cpus, probes: new Set(['core', 'syscalls']) });
    const seen: RawIsolCall[] = [];
    let pid = 0;
    let bpfCalls: WorkloadCall[] = [];
    try {
      const run = spawnSync(BIN, [], { encoding: 'utf8', timeout: 10_000 });
      expect(run.status, run.stderr).toBe(0);
      pid = run.pid ?? 0;
      bpfCalls = parseWorkload(run.stdout).calls;
      const collect = (recs: RawRecord[]) => recs.forEach((r) => r.rec === 'isol' && r.pid === pid && seen.push(r));
      while (session.drain(collect) > 0);
    } finally {
      session.close();
    }
    // 16 calls plus the three PR_GET_MDWE(0) probes of the "state" lines.
    expect(seen.length).toBe(bpfCalls.length + 3);
    let i = 0;
    for (const c of bpfCalls) {
      while (i < seen.length && !(seen[i].option === c.option && seen[i].arg2 === c.arg2 && seen[i].arg3 === c.arg3 && seen[i].arg4 === c.arg4)) i++;
      expect(i, `no BPF record for ${c.label}`).toBeLessThan(seen.length);
      const bpf = seen[i++];
      const assumed = asBpfRecord(c, pid);
      expect({ label: c.label, result: bpf.result, read_ok: bpf.read_ok, in_mask: bpf.in_mask, ctl: bpf.ctl, out_mask: bpf.out_mask, comm: bpf.comm }).toEqual({
        label: c.label,
        result: assumed.result,
        read_ok: assumed.read_ok,
        in_mask: assumed.in_mask,
        ctl: assumed.ctl,
        out_mask: assumed.out_mask,
        comm: 'isol-prctls',
      });
      const rec = decodeIsolCall(bpf, { prIsol: 'absent', arch });
      expect(rec.meaning).toMatch(EXPECTED.find((e) => e.label === c.label)!.meaning);
      expect(rec).toMatchObject({ type: 'isol', pid, tid: pid, warning: true });
    }
  });
});
