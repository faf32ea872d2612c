// One rule for a signal action's cooldown and rate limit, the same on both
// delivery paths: bpf/isolwatch.bpf.c signal_on_entry() keeps it per thread
// in the kernel (in-kernel signals), the Enforcer keeps it per process and
// action (user-space signals). Keep the two in step.
//
// - cooldown: no signal less than cooldownNs after the previous one;
// - rate limit: a window starts at the first signal sent after the previous
//   window ended and lasts windowNs; at most `count` signals per window.

export interface LimitSpec {
  cooldownNs?: number;
  rateLimit?: { count: number; windowNs: number };
}

export interface LimitState {
  lastNs?: number;
  windowStartNs?: number;
  sentInWindow: number;
}

export function newLimitState(): LimitState {
  return { sentInWindow: 0 };
}

function rollWindow(s: LimitState, spec: LimitSpec, nowNs: number): void {
  if (!spec.rateLimit) return;
  if (s.windowStartNs === undefined || nowNs - s.windowStartNs >= spec.rateLimit.windowNs) {
    s.windowStartNs = nowNs;
    s.sentInWindow = 0;
  }
}

/** Whether a signal could go out at nowNs (nothing is counted). */
export function allows(s: LimitState, spec: LimitSpec, nowNs: number): boolean {
  const probe = { ...s };
  return tryTake(probe, spec, nowNs);
}

/** Whether a signal may go out at nowNs; when it may, the send is counted. */
export function tryTake(s: LimitState, spec: LimitSpec, nowNs: number): boolean {
  if (s.lastNs !== undefined && spec.cooldownNs !== undefined && nowNs - s.lastNs < spec.cooldownNs) return false;
  rollWindow(s, spec, nowNs);
  if (spec.rateLimit && s.sentInWindow >= spec.rateLimit.count) return false;
  s.lastNs = nowNs;
  s.sentInWindow++;
  return true;
}

/** Counts a signal that went out on another path (the kernel's), allowed or not. */
export function charge(s: LimitState, spec: LimitSpec, nowNs: number): void {
  rollWindow(s, spec, nowNs);
  s.lastNs = nowNs;
  s.sentInWindow++;
}
