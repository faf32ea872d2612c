// Pure policy evaluation: one interruption in, a verdict and planned actions
// out. Budgets over sliding windows live in a PolicyState the caller owns; the
// clock is the caller's (nowNs), so recorded streams replay identically.
//
// Semantics (see policies/README.md):
// - the victim must be in scope (scope.cpus, scope.processes) or nothing happens;
// - interruptions isolwatch caused itself (cause.origin) never count;
// - rules are tried in order and the FIRST rule whose matcher matches owns the
//   interruption (its budget is charged, later rules are not consulted);
// - a rule applies only while the victim's isolation state is in match.isol
//   (default: active, declared);
// - without a budget every match is a violation; with one, a match is a
//   violation once the window holds more than `count` entries or more than
//   `stolen` time.
import type { InterruptionRecord, TaskRef } from '../types.js';
import { formatDuration } from './duration.js';
import { anyGlob, globMatch } from './glob.js';
import type { Budget, Policy, PolicyRule, PolicyScope, RateLimit, SignalAction, SignalMode, SignalTarget } from './types.js';

export interface PlannedAction {
  kind: 'log' | 'signal' | 'fail';
  rule: string;
  /** Position of the action in its rule: with rule, the identity rate limits are kept by. */
  actionIndex: number;
  /** Why: rule, what happened to whom, which budget was exceeded. */
  reason: string;
  victim: TaskRef;
  cpu: number;
  signal?: string;
  signo?: number;
  target?: SignalTarget;
  mode?: SignalMode;
  /** Process to signal (tgid); undefined when the target is not a task (e.g. a cause in hardirq context). */
  pid?: number;
  tid?: number;
  comm?: string;
  rateLimit?: RateLimit;
  cooldownNs?: number;
  /** For fail. */
  message?: string;
}

export interface Evaluation {
  violation: boolean;
  rule?: string;
  reason?: string;
  actions: PlannedAction[];
}

interface WindowEvent {
  t: number;
  stolen: number;
}
interface BudgetWindow {
  events: WindowEvent[];
  head: number;
  count: number;
  stolen: number;
}

export interface PolicyState {
  budgets: Map<string, BudgetWindow>;
  /** Resolves a pid's cgroup v2 path for cgroup scopes; without it cgroup selectors never match. */
  cgroupOf?: (pid: number) => string | undefined;
}

export function createPolicyState(opts: { cgroupOf?: (pid: number) => string | undefined } = {}): PolicyState {
  return { budgets: new Map(), cgroupOf: opts.cgroupOf };
}

export interface ScopeSubject {
  pid: number;
  comm?: string;
  /** cgroup v2 path, e.g. "/isolated.slice/app.scope" */
  cgroup?: string;
}

function cgroupMatches(selector: string, path: string): boolean {
  if (selector === '/') return true;
  if (/[*?[]/.test(selector)) return globMatch(selector, path) || globMatch(selector + '/*', path);
  return path === selector || path.startsWith(selector + '/');
}

/** Whether a task is among scope.processes (an empty list means every task). */
export function inProcessScope(scope: PolicyScope, t: ScopeSubject): boolean {
  if (scope.processes.length === 0) return true;
  return scope.processes.some((s) => {
    if ('pid' in s) return s.pid === t.pid;
    if ('comm' in s) return t.comm !== undefined && globMatch(s.comm, t.comm);
    return t.cgroup !== undefined && cgroupMatches(s.cgroup, t.cgroup);
  });
}

export function victimInScope(policy: Policy, rec: InterruptionRecord, state?: PolicyState): boolean {
  if (policy.scope.cpus && !policy.scope.cpus.includes(rec.cpu)) return false;
  const needCgroup = policy.scope.processes.some((s) => 'cgroup' in s);
  const cgroup = needCgroup ? state?.cgroupOf?.(rec.victim.pid) : undefined;
  return inProcessScope(policy.scope, { pid: rec.victim.pid, comm: rec.victim.comm, cgroup });
}

function senderContext(rec: InterruptionRecord): string {
  if (rec.cause.self) return 'self';
  return rec.cause.context ?? (rec.cause.pid !== undefined ? 'task' : 'unknown');
}

export function ruleMatches(rule: PolicyRule, rec: InterruptionRecord): boolean {
  const m = rule.match;
  if (!m.isol.includes(rec.isol.state)) return false;
  if (m.class && !m.class.includes(rec.class)) return false;
  if (m.kind && !anyGlob(m.kind, rec.kind)) return false;
  if (m.func && !anyGlob(m.func, rec.func)) return false;
  if (m.self !== undefined && rec.cause.self !== m.self) return false;
  if (m.sender) {
    if (rec.cause.self) return false;
    const s = m.sender;
    if (s.comm && !anyGlob(s.comm, rec.cause.comm)) return false;
    if (s.cpus && (rec.cause.cpu === undefined || !s.cpus.includes(rec.cause.cpu))) return false;
    if (s.context && !(s.context as string[]).includes(senderContext(rec))) return false;
  }
  return true;
}

function budgetKey(rule: PolicyRule, b: Budget, rec: InterruptionRecord): string {
  const who = b.per === 'task' ? `t${rec.victim.tid}` : b.per === 'cpu' ? `c${rec.cpu}` : '';
  return `${rule.name}\u0000${who}`;
}

/** Charges the budget; returns a description of what was exceeded, or undefined when within budget. */
function charge(state: PolicyState, rule: PolicyRule, rec: InterruptionRecord, nowNs: number): string | undefined {
  const b = rule.budget;
  if (!b) return 'no entries allowed';
  const key = budgetKey(rule, b, rec);
  let w = state.budgets.get(key);
  if (!w) state.budgets.set(key, (w = { events: [], head: 0, count: 0, stolen: 0 }));
  const stolen = Math.max(0, rec.duration_ns);
  if (b.windowNs !== undefined) {
    const horizon = nowNs - b.windowNs;
    while (w.head < w.events.length && w.events[w.head].t <= horizon) {
      w.count--;
      w.stolen -= w.events[w.head].stolen;
      w.head++;
    }
    if (w.head > 1024 && w.head * 2 > w.events.length) {
      w.events = w.events.slice(w.head);
      w.head = 0;
    }
    w.events.push({ t: nowNs, stolen });
  }
  w.count++;
  w.stolen += stolen;
  const per = b.windowNs !== undefined ? ` per ${formatDuration(b.windowNs)}` : ' for the run';
  const over: string[] = [];
  if (b.count !== undefined && w.count > b.count) over.push(`count ${w.count} > ${b.count}${per}`);
  if (b.stolenNs !== undefined && w.stolen > b.stolenNs) over.push(`stolen ${formatDuration(w.stolen)} > ${formatDuration(b.stolenNs)}${per}`);
  return over.length ? `budget exceeded: ${over.join(', ')}` : undefined;
}

function describeEntry(rec: InterruptionRecord): string {
  const what = `${rec.class}${rec.kind ? `/${rec.kind}` : ''}${rec.func ? ` (${rec.func})` : ''}`;
  const victim = `${rec.victim.comm}[${rec.victim.pid}${rec.victim.tid !== rec.victim.pid ? `/${rec.victim.tid}` : ''}]`;
  const c = rec.cause;
  const by = c.self
    ? 'caused by itself'
    : c.pid !== undefined
      ? `sent by ${c.comm ?? '?'}[${c.pid}]${c.cpu !== undefined ? ` on CPU ${c.cpu}` : ''}`
      : `from ${c.context ?? 'unknown'} context${c.cpu !== undefined ? ` on CPU ${c.cpu}` : ''}`;
  return `${what} on CPU ${rec.cpu} hit ${victim} while isolation ${rec.isol.state}, ${by}`;
}

export function evaluate(policy: Policy, rec: InterruptionRecord, state: PolicyState, nowNs: number): Evaluation {
  if (rec.cause.origin === 'isolwatch') return { violation: false, actions: [] };
  if (!victimInScope(policy, rec, state)) return { violation: false, actions: [] };
  const rule = policy.rules.find((r) => ruleMatches(r, rec));
  if (!rule) return { violation: false, actions: [] };
  const over = charge(state, rule, rec, nowNs);
  if (over === undefined) return { violation: false, rule: rule.name, actions: [] };
  const reason = `rule '${rule.name}': ${describeEntry(rec)}; ${over}`;
  const actions = rule.actions.map((a, actionIndex): PlannedAction => {
    const base = { rule: rule.name, actionIndex, reason, victim: rec.victim, cpu: rec.cpu };
    if (a.kind === 'log') return { kind: 'log', ...base };
    if (a.kind === 'fail') return { kind: 'fail', ...base, message: a.message };
    const toCause = a.target === 'cause' && !rec.cause.self;
    const who = toCause
      ? { pid: rec.cause.pid, tid: rec.cause.tid, comm: rec.cause.comm }
      : { pid: rec.victim.pid, tid: rec.victim.tid, comm: rec.victim.comm };
    return {
      kind: 'signal',
      ...base,
      signal: a.signal,
      signo: a.signo,
      target: a.target,
      mode: a.mode,
      ...who,
      rateLimit: a.rateLimit,
      cooldownNs: a.cooldownNs,
    };
  });
  return { violation: true, rule: rule.name, reason, actions };
}

/**
 * What the kernel side may do on its own for a task's own entries: send
 * `signo` to the thread at its syscall entries (onSyscall) and/or user page
 * faults (onFault), with the action's cooldown and rate limit.
 */
export interface InKernelPlan {
  rule: string;
  actionIndex: number;
  signal: string;
  signo: number;
  onSyscall: boolean;
  onFault: boolean;
  cooldownNs?: number;
  rateLimit?: RateLimit;
}

/**
 * The in-kernel signal a policy asks for on a task's own syscalls and user
 * page faults while its isolation is in `isolState`, if the kernel side can
 * carry it out exactly as evaluate() would decide. For each of the two entry
 * classes the first rule that could own such an entry decides (as in
 * evaluate()); the class is armed only when that rule matches every such
 * entry (no kind/func matcher), makes every match a violation (no budget, or
 * count 0 without a stolen-time budget) and has an in-kernel signal to the
 * victim. Anything else is left to user space.
 */
export function inKernelSignalFor(policy: Policy, task: ScopeSubject, isolState: InterruptionRecord['isol']['state']): InKernelPlan | undefined {
  if (!inProcessScope(policy.scope, task)) return undefined;
  const owner = (cls: InterruptionRecord['class']): { rule: PolicyRule; actionIndex: number } | undefined => {
    for (const r of policy.rules) {
      const m = r.match;
      if (!m.isol.includes(isolState)) continue;
      if (m.self === false || m.sender) continue; // never owns the task's own entries
      if (m.class && !m.class.includes(cls)) continue;
      if (m.kind || m.func) return undefined; // owns some of them: only user space can tell which
      const b = r.budget;
      if (b && (b.count !== 0 || b.stolenNs !== undefined)) return undefined; // a budget the kernel does not keep
      const actionIndex = r.actions.findIndex((a) => a.kind === 'signal' && a.mode === 'in-kernel' && a.target === 'victim');
      return actionIndex >= 0 ? { rule: r, actionIndex } : undefined;
    }
    return undefined;
  };
  const sys = owner('syscall');
  const fault = owner('page_fault');
  const pick = sys ?? fault;
  if (!pick) return undefined;
  const same = (o?: { rule: PolicyRule; actionIndex: number }) => o !== undefined && o.rule === pick.rule && o.actionIndex === pick.actionIndex;
  const a = pick.rule.actions[pick.actionIndex] as SignalAction;
  return {
    rule: pick.rule.name,
    actionIndex: pick.actionIndex,
    signal: a.signal,
    signo: a.signo,
    onSyscall: same(sys),
    onFault: same(fault),
    ...(a.cooldownNs !== undefined ? { cooldownNs: a.cooldownNs } : {}),
    ...(a.rateLimit ? { rateLimit: a.rateLimit } : {}),
  };
}
