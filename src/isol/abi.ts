// PR_ISOL constants and the upstream options that took the same numbers
// (knowledge/task-isolation-abi.md). One place for the numbers, bit names and
// errno names that detect/decode/state/chisol share; chisol.c repeats the few
// it needs and says so.
import { IW } from '../contract/layout.generated.js';

// the option numbers are the kernel/TypeScript contract's (bpf/events.h)
export const PR_ISOL_FEAT_GET = IW.IW_PR_ISOL_FEAT_GET;
export const PR_ISOL_CFG_GET = IW.IW_PR_ISOL_CFG_GET;
export const PR_ISOL_CFG_SET = IW.IW_PR_ISOL_CFG_SET;
export const PR_ISOL_ACTIVATE_GET = IW.IW_PR_ISOL_ACTIVATE_GET;
export const PR_ISOL_ACTIVATE_SET = IW.IW_PR_ISOL_ACTIVATE_SET;

export const PR_ISOL_OPS: Readonly<Record<number, string>> = {
  [PR_ISOL_FEAT_GET]: 'PR_ISOL_FEAT_GET',
  [PR_ISOL_CFG_GET]: 'PR_ISOL_CFG_GET',
  [PR_ISOL_CFG_SET]: 'PR_ISOL_CFG_SET',
  [PR_ISOL_ACTIVATE_GET]: 'PR_ISOL_ACTIVATE_GET',
  [PR_ISOL_ACTIVATE_SET]: 'PR_ISOL_ACTIVATE_SET',
};

/** What the same numbers mean on a stock (mainline) kernel. */
export const STOCK_OPS: Readonly<Record<number, string>> = {
  [PR_ISOL_FEAT_GET]: 'PR_SME_SET_VL',
  [PR_ISOL_CFG_GET]: 'PR_SME_GET_VL',
  [PR_ISOL_CFG_SET]: 'PR_SET_MDWE',
  [PR_ISOL_ACTIVATE_GET]: 'PR_GET_MDWE',
  [PR_ISOL_ACTIVATE_SET]: 'PR_SET_MEMORY_MERGE',
};

export const I_CFG_FEAT = 1;
export const I_CFG_INHERIT = 2;
export const I_CFG_ONESHOT = 3; // one revision only

export const ISOL_F_QUIESCE = 1n << 0n; // feature bit
export const ISOL_F_QUIESCE_VMSTATS = 1n << 0n; // quiesce bit
export const ISOL_INHERIT_CONF = 1 << 0;
export const ISOL_INHERIT_ACTIVE = 1 << 1;

// Stock-kernel flags the collision touches.
export const PR_MDWE_REFUSE_EXEC_GAIN = 1n << 0n;
export const PR_MDWE_NO_INHERIT = 1n << 1n;
export const PR_SME_VL_LEN_MASK = 0xffffn;
export const PR_SME_VL_INHERIT = 1n << 17n;
export const PR_SME_SET_VL_ONEXEC = 1n << 18n;

export const FEATURE_BITS: ReadonlyArray<[bigint, string]> = [[ISOL_F_QUIESCE, 'quiesce']];
export const QUIESCE_BITS: ReadonlyArray<[bigint, string]> = [[ISOL_F_QUIESCE_VMSTATS, 'vmstats']];
export const INHERIT_BITS: ReadonlyArray<[bigint, string]> = [
  [BigInt(ISOL_INHERIT_CONF), 'conf'],
  [BigInt(ISOL_INHERIT_ACTIVE), 'active'],
];
export const MDWE_BITS: ReadonlyArray<[bigint, string]> = [
  [PR_MDWE_REFUSE_EXEC_GAIN, 'PR_MDWE_REFUSE_EXEC_GAIN'],
  [PR_MDWE_NO_INHERIT, 'PR_MDWE_NO_INHERIT'],
];

/** "vmstats", "vmstats|bit5", "none". Unknown bits are kept as bitN so nothing is hidden. */
export function bitNames(mask: bigint, table: ReadonlyArray<[bigint, string]>, sep = '|'): string {
  const names: string[] = [];
  let rest = mask;
  for (const [bit, name] of table) {
    if (mask & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  for (let i = 0n; rest !== 0n && i < 64n; i++) {
    if (rest & (1n << i)) {
      names.push(`bit${i}`);
      rest &= ~(1n << i);
    }
  }
  return names.length ? names.join(sep) : 'none';
}

export function hex(v: bigint | number): string {
  const b = BigInt(v);
  return b < 0n ? `-0x${(-b).toString(16)}` : `0x${b.toString(16)}`;
}

const ERRNO: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  4: 'EINTR',
  7: 'E2BIG',
  9: 'EBADF',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  19: 'ENODEV',
  22: 'EINVAL',
  38: 'ENOSYS',
  95: 'EOPNOTSUPP',
};

export function errnoName(errno: number): string {
  return ERRNO[errno] ?? `errno ${errno}`;
}
