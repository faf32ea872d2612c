// The policy hook of the correlation engine: each interruption goes through
// the Enforcer, which judges it by the policy and plans (and, enforcing,
// takes) its actions. Live sessions and replays use the same hook.
import type { EngineOptions } from '../correlate/engine.js';
import type { Enforcer } from './enforcer.js';

export function engineHook(enforcer: Enforcer): NonNullable<EngineOptions['policy']> {
  return (rec) => {
    const r = enforcer.handle(rec, rec.ts_ns);
    const action = r.records.find((a) => a.kind === 'signal') ?? r.records.find((a) => a.kind !== 'log') ?? r.records[0];
    if (r.records.length) rec.actions = r.records; // every action, taken or would-be, with its result
    return { violation: r.evaluation.violation, ...(action ? { action } : {}) };
  };
}
