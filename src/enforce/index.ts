// Enforcement: executes planned policy actions (signals) safely and records each one.
export {
  Enforcer,
  IN_KERNEL_SIGNAL_FAILED,
  IN_KERNEL_SIGNAL_HELD,
  IN_KERNEL_SIGNAL_SENT,
  type EnforcedAction,
  type EnforcerOptions,
  type InKernelArm,
  type InKernelSignaller,
  type PolicyFailure,
  type SignalSent,
} from './enforcer.js';
export { PF_KTHREAD, parseProcCgroup, parseProcStat, readProcFacts, sharedSignalPending, type ProcFacts } from './proc.js';
export { charge, newLimitState, tryTake, type LimitSpec, type LimitState } from './limit.js';
export { policyVerdict, type PolicyVerdict } from './verdict.js';
export { engineHook } from './hook.js';
