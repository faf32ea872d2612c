// The cause of an interruption, named one way for records, one-entry records
// read from the ring and aggregate keys (src/correlate/engine.ts,
// fast-entry.ts, aggregates.ts).
import { CTX_NAMES } from '../contract/vocabulary.js';
import type { Symbolizer } from '../system/kallsyms.js';
import type { Cause } from '../types.js';

/** What a record or an aggregate key says of the sender. */
export interface CauseFields {
  cause_ctx: number;
  cause_pid: number;
  cause_tid: number;
  cause_cpu: number;
  victim_tid: number;
  /** the callsite address (cause_callsite of a record, callsite of a key) */
  cause_callsite?: bigint;
  callsite?: bigint;
}

/**
 * The cause of an interruption (record or aggregate key): the sender task
 * with its CPU, or the interrupt context; the victim itself for its own
 * syscalls and faults (or a task-context sender that is the victim).
 */
export function causeOf(f: CauseFields, comm: string, sym: Symbolizer): Cause {
  const ctx = CTX_NAMES[f.cause_ctx] ?? 'unknown';
  const cause: Cause = { self: false, context: ctx };
  if (ctx === 'self' || (ctx === 'task' && f.cause_tid !== 0 && f.cause_tid === f.victim_tid)) {
    cause.self = true;
    cause.context = 'self';
  }
  if (ctx === 'task' || ctx === 'self') {
    cause.pid = f.cause_pid;
    cause.tid = f.cause_tid;
    cause.comm = comm;
  }
  if (ctx !== 'unknown') cause.cpu = f.cause_cpu;
  const addr = f.cause_callsite ?? f.callsite ?? 0n;
  const callsite = addr ? sym.lookup(addr) : undefined;
  if (callsite) cause.callsite = callsite;
  return cause;
}

