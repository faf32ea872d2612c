// What enforcement adds to a verdict: rules whose `fail` action fired (they
// fail the run / watch) and, when the command died of a signal isolwatch
// sent, which rule sent it and why.
import type { Enforcer } from './enforcer.js';

export interface PolicyVerdict {
  /** one sentence per failed rule; non-empty means exit 1 */
  failures: string[];
  /** why the command died, when isolwatch killed it */
  notes: string[];
}

export function policyVerdict(enforcer: Enforcer | undefined, command?: { pid?: number; signal?: string | null }): PolicyVerdict {
  const out: PolicyVerdict = { failures: [], notes: [] };
  if (!enforcer) return out;
  const policy = enforcer.policy.name;
  for (const f of enforcer.policyFailures()) {
    const times = f.count === 1 ? 'once' : `${f.count} times`;
    out.failures.push(`policy '${policy}' rule '${f.rule}' failed the run${f.message ? `: ${f.message}` : ''} (${times}; first: ${f.firstReason})`);
  }
  if (command?.pid !== undefined && command.signal) {
    const s = enforcer.firstSignalTo(command.pid, command.signal);
    if (s) out.notes.push(`isolwatch sent ${s.signal} (${s.mode}, policy '${policy}' rule '${s.rule}'): ${s.reason}`);
  }
  return out;
}
