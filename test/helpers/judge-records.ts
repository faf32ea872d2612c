// Tests judge record lists the way run and report do: rows from the records,
// the judged window, the command's end (src/verdict judge()).
import type { InterruptionRecord } from '../../src/types.js';
import { judge, rowsFromRecords, type Budgets, type Judgement } from '../../src/verdict/index.js';

export function judgeRecords(o: {
  interruptions: readonly InterruptionRecord[];
  watchedCpus: number[];
  budgets?: Budgets;
  allowSelf?: boolean;
  warmupEndNs?: number;
  windowEndNs?: number;
  exit_status?: number | null;
  signal?: string;
  failOnCmdError?: boolean;
  policy?: { name: string; failures: string[]; notes: string[] };
}): Judgement {
  return judge({
    rows: rowsFromRecords(o.interruptions, { warmupEndNs: o.warmupEndNs, windowEndNs: o.windowEndNs }),
    watchedCpus: o.watchedCpus,
    budgets: o.budgets,
    allowSelf: o.allowSelf,
    policy: o.policy,
    command:
      o.exit_status !== undefined || o.signal ? { exit_status: o.exit_status ?? null, signal: o.signal, failOnError: o.failOnCmdError !== false } : undefined,
  });
}
