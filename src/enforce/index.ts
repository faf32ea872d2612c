// Enforcement: executes planned policy actions (signals) safely and records each one.
export {
  Enforcer,
  IN_KERNEL_SIGNAL_FAILED,
  IN_KERNEL_SIGNAL_SENT,
  type EnforcedAction,
  type EnforcerOptions,
  type InKernelSignaller,
} from './enforcer.js';
export { PF_KTHREAD, parseProcCgroup, parseProcStat, readProcFacts, type ProcFacts } from './proc.js';
