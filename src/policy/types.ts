// The validated, typed form of a policy file (policies/*.yaml). The schema
// module turns YAML into these objects; evaluation and enforcement only ever
// see them, never raw YAML.
import type { InterruptionClass, IsolStateName } from '../types.js';

export const SENDER_CONTEXTS = ['task', 'hardirq', 'softirq', 'nmi', 'self', 'timer_early', 'unknown'] as const;
export type SenderContext = (typeof SENDER_CONTEXTS)[number];

export const ISOL_STATES = ['active', 'declared', 'inactive', 'none'] as const;

/** Default isolation states a rule applies to (DESIGN.md "violation"). */
export const DEFAULT_RULE_ISOL: readonly IsolStateName[] = ['active', 'declared'];

export type ProcessSelector = { pid: number } | { comm: string } | { cgroup: string };

export interface PolicyScope {
  /** Victim CPUs this policy judges; undefined = every watched CPU. */
  cpus?: number[];
  /** Tasks this policy judges and may signal; empty = every task. */
  processes: ProcessSelector[];
}

export interface SenderMatch {
  comm?: string[]; // globs
  cpus?: number[];
  context?: SenderContext[];
}

export interface RuleMatch {
  class?: InterruptionClass[];
  kind?: string[]; // globs
  func?: string[]; // globs
  /** true: only entries the victim caused itself; false: only external causes. */
  self?: boolean;
  sender?: SenderMatch;
  /** Isolation states of the victim in which the rule applies. */
  isol: IsolStateName[];
}

export const BUDGET_PER = ['task', 'cpu', 'rule'] as const;
export type BudgetPer = (typeof BUDGET_PER)[number];

export interface Budget {
  /** Entries allowed per window (undefined = unlimited). */
  count?: number;
  /** Stolen nanoseconds allowed per window (undefined = unlimited). */
  stolenNs?: number;
  /** Sliding window; undefined = the whole run. */
  windowNs?: number;
  /** What the budget is kept per: each victim task (default), each CPU, or the rule as a whole. */
  per: BudgetPer;
}

export interface RateLimit {
  count: number;
  windowNs: number;
}

export type SignalTarget = 'victim' | 'cause';
export type SignalMode = 'in-kernel' | 'user';

export interface LogAction {
  kind: 'log';
}
export interface FailAction {
  kind: 'fail';
  message?: string;
}
export interface SignalAction {
  kind: 'signal';
  /** e.g. "SIGUSR1" */
  signal: string;
  signo: number;
  target: SignalTarget;
  mode: SignalMode;
  rateLimit?: RateLimit;
  cooldownNs?: number;
}
export type PolicyAction = LogAction | FailAction | SignalAction;

export interface PolicyRule {
  name: string;
  description?: string;
  match: RuleMatch;
  /** undefined = every matching entry is a violation (same as count: 0). */
  budget?: Budget;
  actions: PolicyAction[];
}

export interface Policy {
  /** Path (or label) the policy came from, for messages. */
  file: string;
  version: 1;
  name: string;
  description?: string;
  scope: PolicyScope;
  rules: PolicyRule[];
}
