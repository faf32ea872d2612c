// Records several unit tests share.
import type { IsolRecord } from '../../src/types.js';

/** A PR_ISOL-numbered prctl (65) that was PR_SET_MDWE on a stock kernel: reported as a warning. */
export const MDWE_WARNING: IsolRecord = {
  type: 'isol',
  ts_ns: 5_000_100_000_000,
  pid: 5000,
  tid: 5001,
  comm: 'rt-app',
  op: 'PR_ISOL_CFG_SET',
  args: {},
  result: 0,
  meaning: 'PR_SET_MDWE (stock kernel): memory-deny-write-execute turned on, irreversibly',
  warning: true,
};
