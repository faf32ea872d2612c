// Policies: strict YAML schema, loading with positioned errors, pure evaluation.
export { PolicyError, formatIssue, type PolicyIssue } from './errors.js';
export { parsePolicy, loadPolicy } from './load.js';
export { POLICY_KEYS, POLICY_REQUIRED, SIGNAL_MODES, SIGNAL_TARGETS, validatePolicyDocument, type KeySetId } from './schema.js';
export {
  createPolicyState,
  evaluate,
  inKernelSignalFor,
  inProcessScope,
  ruleMatches,
  victimInScope,
  type Evaluation,
  type InKernelPlan,
  type PlannedAction,
  type PolicyState,
  type ScopeSubject,
} from './evaluate.js';
export { parseDuration, formatDuration, DurationError } from './duration.js';
export { globMatch } from './glob.js';
export { signalNumber, SIGNAL_NAMES } from './signals.js';
export type * from './types.js';
export { DEFAULT_RULE_ISOL, ISOL_STATES, SENDER_CONTEXTS, BUDGET_PER } from './types.js';
