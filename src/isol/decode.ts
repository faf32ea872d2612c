// Turns one raw iw_isol_call (a prctl with a PR_ISOL option number that returned, see
// bpf/events.h) into the output contract's IsolRecord: which PR_ISOL operation
// the caller meant, its decoded arguments, and what the call meant on THIS
// kernel. On a kernel without the PR_ISOL ABI the same numbers are upstream
// options (SME, MDWE, KSM); the meaning then says what really happened and the
// record carries warning: true. Pure: the caller passes the kernel facts.
import type { RawIsolCall } from '../contract/decode.js';
import { IW } from '../contract/layout.generated.js';
import type { IsolRecord } from '../types.js';
import {
  FEATURE_BITS,
  I_CFG_FEAT,
  I_CFG_INHERIT,
  I_CFG_ONESHOT,
  INHERIT_BITS,
  ISOL_F_QUIESCE,
  MDWE_BITS,
  PR_ISOL_OPS,
  PR_MDWE_NO_INHERIT,
  PR_MDWE_REFUSE_EXEC_GAIN,
  PR_SME_SET_VL_ONEXEC,
  PR_SME_VL_INHERIT,
  PR_SME_VL_LEN_MASK,
  QUIESCE_BITS,
  STOCK_OPS,
  bitNames,
  errnoName,
  hex,
} from './abi.js';

/** struct iw_isol_call (src/contract/decode.ts), as decodeIsolCall reads it: the record tag is not needed here. */
export type IsolCall = Omit<RawIsolCall, 'rec'>;

const IW_ISOL_READ_IN = IW.IW_ISOL_READ_IN_MASK;
const IW_ISOL_READ_OUT = IW.IW_ISOL_READ_OUT_MASK;
const IW_ISOL_READ_CTL = IW.IW_ISOL_READ_CTL;

export interface DecodeContext {
  /** start.pr_isol: 'kernel' only when detectPrIsol() found the ABI. */
  prIsol: 'kernel' | 'absent';
  /** start.arch as uname -m prints it ('x86_64', 'aarch64', ...). SME exists only on arm64. */
  arch: string;
  /** The configured quiesce mask of a task (IsolTracker.quiesceMaskFor), to name what ACTIVATE_SET turned on. */
  quiesceMaskFor?: (pid: number, tid: number) => bigint | undefined;
}

const isArm64 = (arch: string) => arch === 'aarch64' || arch === 'arm64';

type Args = Record<string, string | number>;

/** The caller's intent under the PR_ISOL ABI, from the raw words. Also used on stock kernels to show what was meant. */
interface Intent {
  args: Args;
  /** Short description of the requested operation, e.g. "PR_ISOL_CFG_SET(I_CFG_FEAT, ISOL_F_QUIESCE, quiesce=vmstats)". */
  text: string;
}

function whatName(what: bigint): string {
  if (what === BigInt(I_CFG_FEAT)) return 'I_CFG_FEAT';
  if (what === BigInt(I_CFG_INHERIT)) return 'I_CFG_INHERIT';
  if (what === BigInt(I_CFG_ONESHOT)) return 'I_CFG_ONESHOT';
  return hex(what);
}

function featName(feat: bigint): string {
  if (feat === 0n) return '0 (supported-feature mask)';
  if (feat === ISOL_F_QUIESCE) return 'ISOL_F_QUIESCE';
  return hex(feat);
}

/**
 * outputs=false drops what GET calls "returned" through pointers: when the call
 * failed or the kernel has no ABI, the kernel wrote nothing there and the BPF
 * side's exit read shows stale caller memory.
 */
function intentOf(c: IsolCall, outputs: boolean): Intent {
  const op = PR_ISOL_OPS[c.option] ?? `prctl(${c.option})`;
  const args: Args = {};
  const isGet = c.option === 63 || c.option === 64 || c.option === 66;
  const readIn = (c.read_ok & IW_ISOL_READ_IN) !== 0;
  const readOut = (c.read_ok & IW_ISOL_READ_OUT) !== 0 && (outputs || !isGet);
  const readCtl = (c.read_ok & IW_ISOL_READ_CTL) !== 0 && (outputs || !isGet);
  const parts: string[] = [];
  switch (c.option) {
    case 63: {
      args.feat = featName(c.arg2);
      parts.push(featName(c.arg2).split(' ')[0]);
      if (c.arg2 === 0n) {
        const sup = readOut ? c.out_mask : readCtl ? c.ctl[0] : undefined;
        if (sup !== undefined) {
          args.supported_mask = hex(sup);
          args.supported = bitNames(sup, FEATURE_BITS);
        }
      } else if (c.arg2 === ISOL_F_QUIESCE && readCtl) {
        args.flags = hex(c.ctl[0]);
        args.supported_quiesce_mask = hex(c.ctl[1]);
        args.supported_quiesce = bitNames(c.ctl[1], QUIESCE_BITS);
      }
      break;
    }
    case 64:
    case 65: {
      const set = c.option === 65;
      args.what = whatName(c.arg2);
      parts.push(whatName(c.arg2));
      if (c.arg2 === BigInt(I_CFG_FEAT)) {
        if (c.arg3 === 0n) {
          const word = set ? (readIn ? c.in_mask : readCtl ? c.ctl[0] : undefined) : readOut ? c.out_mask : readCtl ? c.ctl[0] : undefined;
          if (word !== undefined) {
            args.feature_mask = hex(word);
            args.features = bitNames(word, FEATURE_BITS);
            parts.push(`features=${args.features}`);
          }
        } else {
          args.feature = featName(c.arg3);
          parts.push(String(args.feature));
          if (c.arg3 === ISOL_F_QUIESCE && readCtl) {
            args.flags = hex(c.ctl[0]);
            args.quiesce_mask = hex(c.ctl[1]);
            args.quiesce = bitNames(c.ctl[1], QUIESCE_BITS);
            parts.push(`quiesce=${args.quiesce}`);
          }
        }
      } else if (c.arg2 === BigInt(I_CFG_INHERIT)) {
        // struct task_isol_inherit_control { u8 inherit_mask; ... }: byte 0 of the struct.
        const word = readCtl ? c.ctl[0] : set && readIn ? c.in_mask : !set && readOut ? c.out_mask : undefined;
        if (word !== undefined) {
          const m = word & 0xffn;
          args.inherit_mask = hex(m);
          args.inherit = bitNames(m, INHERIT_BITS);
          parts.push(`inherit=${args.inherit}`);
        }
      } else if (c.arg2 === BigInt(I_CFG_ONESHOT) && readCtl) {
        args.oneshot_mask = hex(c.ctl[1]);
        args.oneshot = bitNames(c.ctl[1], QUIESCE_BITS);
      }
      break;
    }
    case 66: {
      if (readOut) {
        args.active_mask = hex(c.out_mask);
        args.active = bitNames(c.out_mask, FEATURE_BITS);
      }
      break;
    }
    case 67: {
      if (readIn) {
        args.active_mask = hex(c.in_mask);
        args.active = bitNames(c.in_mask, FEATURE_BITS);
        parts.push(`active=${args.active}`);
      }
      if (c.arg3 !== 0n && readCtl) {
        args.flags = hex(c.ctl[0]);
        args.oneshot_mask = hex(c.ctl[1]);
        args.oneshot = bitNames(c.ctl[1], QUIESCE_BITS);
        parts.push(`oneshot=${args.oneshot}`);
      }
      break;
    }
  }
  return { args, text: `${op}(${parts.join(', ')})` };
}

function failure(result: bigint): string | undefined {
  return result < 0n ? errnoName(Number(-result)) : undefined;
}

/** Meaning on a kernel that has the ABI. */
function abiMeaning(c: IsolCall, intent: Intent, ctx: DecodeContext): { text: string; warning: boolean } {
  const op = PR_ISOL_OPS[c.option];
  const err = failure(c.result);
  if (err) {
    const why: Record<string, string> = {
      EINVAL: 'the kernel rejected the arguments',
      EFAULT: 'a pointer argument could not be read or written',
      EOPNOTSUPP: 'the feature is not supported by this kernel',
      ENOMEM: 'out of memory',
      EPERM: 'not permitted',
    };
    const isSet = c.option === 65 || c.option === 67;
    return {
      text: `${op} failed with ${err} (${why[err] ?? 'see the PR_ISOL documentation of this kernel'}); nothing changed${isSet ? ': the task is not isolated as requested' : ''}`,
      warning: isSet,
    };
  }
  const a = intent.args;
  switch (c.option) {
    case 63:
      if (c.arg2 === 0n) return { text: a.supported ? `supported features: ${a.supported}` : 'queried supported features (mask not readable)', warning: false };
      if (c.arg2 === ISOL_F_QUIESCE)
        return { text: a.supported_quiesce ? `supported quiesce bits: ${a.supported_quiesce}` : 'queried supported quiesce bits (struct not readable)', warning: false };
      return { text: `queried feature ${hex(c.arg2)}`, warning: false };
    case 64:
      if (a.features !== undefined) return { text: `configured features: ${a.features}`, warning: false };
      if (a.quiesce !== undefined) return { text: `quiesce configuration: ${a.quiesce}`, warning: false };
      if (a.inherit !== undefined) return { text: `inheritance across fork/clone: ${a.inherit}`, warning: false };
      return { text: `read configuration ${a.what} (struct not readable)`, warning: false };
    case 65:
      if (a.quiesce !== undefined) return { text: `configured quiesce(${a.quiesce}); not active until PR_ISOL_ACTIVATE_SET`, warning: false };
      if (a.features !== undefined) return { text: `configured features: ${a.features}`, warning: false };
      if (a.inherit !== undefined)
        return { text: a.inherit === 'none' ? 'cleared inheritance across fork/clone' : `set inheritance across fork/clone: ${a.inherit}`, warning: false };
      if (a.oneshot !== undefined) return { text: `configured one-shot quiesce(${a.oneshot})`, warning: false };
      return { text: `set configuration ${a.what} (struct not readable)`, warning: false };
    case 66:
      if (a.active === undefined) return { text: 'read the active feature mask (not readable)', warning: false };
      return { text: a.active === 'none' ? 'no feature active' : `active features: ${a.active}`, warning: false };
    case 67: {
      let text: string;
      if (a.active === undefined) text = 'changed the active feature mask (mask not readable)';
      else if (a.active === 'none') text = 'deactivated task isolation (no feature active)';
      else {
        const q = ctx.quiesceMaskFor?.(c.pid, c.tid);
        const feats = String(a.active)
          .split('|')
          .map((f) => (f === 'quiesce' && q !== undefined ? `quiesce(${bitNames(q, QUIESCE_BITS)})` : f));
        text = `activated ${feats.join(', ')}`;
      }
      if (a.oneshot !== undefined && a.oneshot !== 'none') text += `; one-shot quiesce(${a.oneshot}) on return from this call only`;
      return { text, warning: false };
    }
  }
  return { text: 'unknown option', warning: true };
}

const nonzeroArgs = (c: IsolCall, names: Array<'arg2' | 'arg3' | 'arg4' | 'arg5'>) =>
  names.filter((n) => c[n] !== 0n).map((n) => `${n}=${hex(c[n])}`);

/** What the call really did on a stock kernel (options 63..67 are upstream options there). */
function stockMeaning(c: IsolCall, intent: Intent, ctx: DecodeContext): string {
  const err = failure(c.result);
  const r = c.result;
  const head = `${STOCK_OPS[c.option]} (stock kernel, no PR_ISOL ABI)`;
  const notIsolated = `the caller meant ${intent.text}: the task is NOT isolated`;
  switch (c.option) {
    case 63: {
      if (!isArm64(ctx.arch)) {
        if (err === 'EINVAL') return `${head}: SME exists only on arm64, so on ${ctx.arch} the kernel returned -EINVAL and did nothing; ${notIsolated}`;
        return `${head}: unexpected result ${r} on ${ctx.arch} (SME is arm64-only); ${notIsolated}`;
      }
      const vl = c.arg2 & PR_SME_VL_LEN_MASK;
      if (err === 'EINVAL')
        return `${head}: arg2=${hex(c.arg2)} was read as an SME vector length; -EINVAL (no SME on this CPU, or flags other than PR_SME_VL_INHERIT|PR_SME_SET_VL_ONEXEC): nothing changed; ${notIsolated}`;
      if (err) return `${head}: failed with ${err}: nothing changed; ${notIsolated}`;
      const flags: string[] = [];
      if (c.arg2 & PR_SME_VL_INHERIT) flags.push('PR_SME_VL_INHERIT');
      if (c.arg2 & PR_SME_SET_VL_ONEXEC) flags.push('PR_SME_SET_VL_ONEXEC');
      return `${head}: CHANGED this thread's SME vector length: arg2=${hex(c.arg2)} was read as VL ${vl} bytes${flags.length ? ` with ${flags.join('|')}` : ''} (rounded to a supported length); returned the new VL config ${hex(r)} (VL ${r & PR_SME_VL_LEN_MASK} bytes); *arg3 was not written; ${notIsolated}`;
    }
    case 64: {
      if (!isArm64(ctx.arch)) {
        if (err === 'EINVAL') return `${head}: SME exists only on arm64, so on ${ctx.arch} the kernel returned -EINVAL and did nothing; ${notIsolated}`;
        return `${head}: unexpected result ${r} on ${ctx.arch} (SME is arm64-only); ${notIsolated}`;
      }
      if (err === 'EINVAL') return `${head}: -EINVAL: this CPU has no SME; nothing read or written; ${notIsolated}`;
      if (err) return `${head}: failed with ${err}; ${notIsolated}`;
      return `${head}: returned this thread's SME vector-length config ${hex(r)} (VL ${r & PR_SME_VL_LEN_MASK} bytes); arguments ignored, *arg4 was NOT written: whatever the caller reads there as configuration is stale; ${notIsolated}`;
    }
    case 65: {
      // prctl_set_mdwe(bits=arg2, arg3, arg4, arg5): checks in this order.
      const flags = bitNames(c.arg2, MDWE_BITS);
      if (r === 0n) {
        if (c.arg2 & PR_MDWE_REFUSE_EXEC_GAIN) {
          const inherit = c.arg2 & PR_MDWE_NO_INHERIT ? 'not passed to fork() children (PR_MDWE_NO_INHERIT)' : 'inherited by fork() children';
          return `${head}: arg2=${hex(c.arg2)} was taken as MDWE flags ${flags}: enabled memory-deny-write-execute for the whole process, cannot be undone: mmap/mprotect that would make memory writable and executable, or executable when it was not, now fail with EACCES (breaks JITs); ${inherit}; the caller saw 0 and believes PR_ISOL_CFG_SET succeeded: ${notIsolated}`;
        }
        return `${head}: arg2=0 was taken as MDWE flags 0: a no-op that returned 0 (MDWE stays off); nothing was configured; ${notIsolated}`;
      }
      if (err === 'EINVAL') {
        const extra = nonzeroArgs(c, ['arg3', 'arg4', 'arg5']);
        let why: string;
        if (extra.length) why = `PR_SET_MDWE takes its flags in arg2 and requires arg3, arg4 and arg5 to be 0, here ${extra.join(', ')}`;
        else if (c.arg2 & ~(PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT)) why = `arg2=${hex(c.arg2)} has bits other than PR_MDWE_REFUSE_EXEC_GAIN|PR_MDWE_NO_INHERIT`;
        else if (c.arg2 & PR_MDWE_NO_INHERIT && !(c.arg2 & PR_MDWE_REFUSE_EXEC_GAIN)) why = 'PR_MDWE_NO_INHERIT without PR_MDWE_REFUSE_EXEC_GAIN';
        else why = 'this architecture does not support MDWE';
        return `${head}: -EINVAL: ${why}; MDWE not changed; ${notIsolated}`;
      }
      if (err === 'EPERM')
        return `${head}: -EPERM: MDWE is already enabled on this process with flags other than ${hex(c.arg2)}, and it can never be changed or cleared; MDWE stays on; ${notIsolated}`;
      return `${head}: failed with ${err}; ${notIsolated}`;
    }
    case 66: {
      if (r >= 0n)
        return `${head}: returned the process's MDWE flags ${hex(r)} (${bitNames(r, MDWE_BITS)}), not an isolation mask; arg2 was 0 so nothing was written for the caller to read; ${notIsolated}`;
      if (err === 'EINVAL') {
        const extra = nonzeroArgs(c, ['arg2', 'arg3', 'arg4', 'arg5']);
        return `${head}: -EINVAL: PR_GET_MDWE requires arg2..arg5 to be 0${extra.length ? `, here ${extra.join(', ')} (the caller's pmask pointer)` : ''}; nothing read or written; ${notIsolated}`;
      }
      return `${head}: failed with ${err}; ${notIsolated}`;
    }
    case 67: {
      if (r === 0n) {
        if (c.arg2 !== 0n)
          return `${head}: arg2=${hex(c.arg2)} (the caller's pmask pointer) was taken as "on": enabled KSM merging for the whole process: every current and future anonymous mapping is now mergeable, ksmd may deduplicate its pages (copy-on-write faults on later writes), inherited by fork() children until PR_SET_MEMORY_MERGE 0; the caller saw 0 and believes isolation was activated: ${notIsolated}`;
        return `${head}: arg2=0 was taken as "off": disabled process-wide KSM merging (merged pages unshared); ${notIsolated}`;
      }
      if (err === 'EINVAL') {
        const extra = nonzeroArgs(c, ['arg3', 'arg4', 'arg5']);
        if (extra.length)
          return `${head}: -EINVAL: PR_SET_MEMORY_MERGE requires arg3, arg4 and arg5 to be 0, here ${extra.join(', ')} (the one-shot control pointer); KSM not changed; ${notIsolated}`;
        return `${head}: -EINVAL: kernel built without CONFIG_KSM; nothing changed; ${notIsolated}`;
      }
      if (err === 'EPERM')
        return `${head}: -EPERM: refused, but not by mainline's own checks (they need no capability; only an early RFC required CAP_SYS_RESOURCE): a security module or seccomp filter, or a kernel carrying that check, refused it; KSM not changed; ${notIsolated}`;
      if (err === 'EINTR') return `${head}: -EINTR: killed while waiting for the mmap lock; KSM not changed; ${notIsolated}`;
      return `${head}: failed with ${err} while enabling KSM; ${notIsolated}`;
    }
  }
  return `${head}: unexpected option`;
}

export function decodeIsolCall(c: IsolCall, ctx: DecodeContext): IsolRecord {
  const intent = intentOf(c, ctx.prIsol === 'kernel' && c.result >= 0n);
  const args: Args = {
    kernel: ctx.prIsol === 'kernel' ? 'pr_isol' : 'stock',
    arg2: hex(c.arg2),
    arg3: hex(c.arg3),
    arg4: hex(c.arg4),
    arg5: hex(c.arg5),
    ...intent.args,
  };
  const err = failure(c.result);
  if (err) args.errno = err;
  let meaning: string;
  let warning: boolean;
  if (ctx.prIsol === 'kernel') {
    ({ text: meaning, warning } = abiMeaning(c, intent, ctx));
  } else {
    args.kernel_op = STOCK_OPS[c.option] ?? `prctl(${c.option})`;
    meaning = stockMeaning(c, intent, ctx);
    warning = true;
  }
  const rec: IsolRecord = {
    type: 'isol',
    ts_ns: Number(c.ts_ns),
    pid: c.pid,
    tid: c.tid,
    comm: c.comm,
    op: PR_ISOL_OPS[c.option] ?? `prctl(${c.option})`,
    args,
    result: Number(c.result),
    meaning,
  };
  if (warning) rec.warning = true;
  return rec;
}
