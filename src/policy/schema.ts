// The strict policy schema, hand-written over the YAML syntax tree so that
// every problem carries its line:col and key path. Unknown keys are errors
// (with a did-you-mean). POLICY_KEYS is the single list of allowed keys; a
// test checks policies/policy.schema.json against it.
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node, type Pair } from 'yaml';
import { CLASSES, type InterruptionClass, type IsolStateName } from '../types.js';
import { CpuListError, parseCpuList } from '../system/cpus.js';
import { DurationError, parseDuration } from './duration.js';
import { didYouMean } from '../verdict/suggest.js';
import type { PolicyIssue } from './errors.js';
import { signalNumber, SIGNAL_NAMES } from './signals.js';
import {
  BUDGET_PER,
  DEFAULT_RULE_ISOL,
  ISOL_STATES,
  SENDER_CONTEXTS,
  type Budget,
  type BudgetPer,
  type Policy,
  type PolicyAction,
  type PolicyRule,
  type ProcessSelector,
  type RuleMatch,
  type SenderContext,
  type SenderMatch,
  type SignalAction,
} from './types.js';

/** Allowed keys per mapping, by schematic path ("[]" = any list element). */
export const POLICY_KEYS = {
  '': ['version', 'name', 'description', 'scope', 'rules'],
  scope: ['cpus', 'processes'],
  'scope.processes[]': ['pid', 'comm', 'cgroup'],
  'rules[]': ['name', 'description', 'match', 'budget', 'actions'],
  'rules[].match': ['class', 'kind', 'func', 'self', 'sender', 'isol'],
  'rules[].match.sender': ['comm', 'cpu', 'context'],
  'rules[].budget': ['count', 'stolen', 'window', 'per'],
  'rules[].actions[]': ['log', 'signal', 'fail'],
  'rules[].actions[].signal': ['name', 'target', 'mode', 'rate_limit', 'cooldown'],
  'rules[].actions[].signal.rate_limit': ['count', 'window'],
  'rules[].actions[].fail': ['message'],
} as const satisfies Record<string, readonly string[]>;
export type KeySetId = keyof typeof POLICY_KEYS;

/** Keys that must be present, by the same schematic paths. */
export const POLICY_REQUIRED: Partial<Record<KeySetId, readonly string[]>> = {
  '': ['rules'],
  'rules[]': ['name', 'actions'],
  'rules[].actions[].signal': ['name'],
  'rules[].actions[].signal.rate_limit': ['count', 'window'],
};

export const SIGNAL_TARGETS = ['victim', 'cause'] as const;
export const SIGNAL_MODES = ['user', 'in-kernel'] as const;

const suggest = didYouMean;

function oneOf(options: readonly string[]): string {
  return `expected one of ${options.join(', ')}`;
}

interface Entry {
  key: Node;
  value: Node | null;
}

class Checker {
  readonly issues: PolicyIssue[] = [];
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
    private readonly fallback: Node | null,
  ) {}

  at(node: Node | null | undefined, path: string, message: string): void {
    const offset = node?.range?.[0] ?? this.fallback?.range?.[0] ?? 0;
    const { line, col } = this.lc.linePos(offset);
    this.issues.push({ file: this.file, line, col, path, message });
  }

  /** Checks a mapping against its key set; returns its entries by key. */
  map(node: Node | null, path: string, id: KeySetId, what: string, anchor?: Node): Map<string, Entry> | undefined {
    if (!isMap(node)) {
      this.at(node, path, `expected a mapping (${what}) with keys ${POLICY_KEYS[id].join(', ')}, found ${describe(node)}`);
      return undefined;
    }
    const allowed: readonly string[] = POLICY_KEYS[id];
    const out = new Map<string, Entry>();
    for (const pair of node.items as Pair<Node, Node | null>[]) {
      const k = pair.key;
      if (!isScalar(k) || typeof k.value !== 'string') {
        this.at(k, path, `keys must be plain words, found ${describe(k)}`);
        continue;
      }
      const key = k.value;
      const sub = path ? `${path}.${key}` : key;
      if (!allowed.includes(key)) {
        const hint = suggest(key, allowed);
        this.at(k, sub, `unknown key '${key}' (${oneOf(allowed)})${hint ? hint + ' Rename' : '. Remove'} it.`.replace('Rename it', "Rename it or remove it"));
        continue;
      }
      out.set(key, { key: k, value: pair.value ?? null });
    }
    for (const req of POLICY_REQUIRED[id] ?? [])
      if (!out.has(req)) this.at(anchor ?? node, path, `missing required key '${req}' in ${what}`);
    return out;
  }

  str(node: Node | null, path: string, what: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string' && node.value !== '') return node.value;
    this.at(node, path, `expected ${what} (a non-empty string), found ${describe(node)}`);
    return undefined;
  }

  int(node: Node | null, path: string, what: string, min: number): number | undefined {
    if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= min) return node.value;
    this.at(node, path, `expected ${what} (an integer >= ${min}), found ${describe(node)}`);
    return undefined;
  }

  bool(node: Node | null, path: string, what: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.at(node, path, `expected ${what} (true or false), found ${describe(node)}`);
    return undefined;
  }

  enumOne<T extends string>(node: Node | null, path: string, what: string, options: readonly T[]): T | undefined {
    const s = this.str(node, path, what);
    if (s === undefined) return undefined;
    if ((options as readonly string[]).includes(s)) return s as T;
    this.at(node, path, `unknown ${what} '${s}' (${oneOf(options)})${suggest(s, options)}`);
    return undefined;
  }

  /** A string or a list of strings; each checked by `each`. */
  list<T>(node: Node | null, path: string, what: string, each: (n: Node | null, p: string) => T | undefined): T[] | undefined {
    if (isSeq(node)) {
      if (node.items.length === 0) {
        this.at(node, path, `empty list of ${what}: remove the key to match any`);
        return undefined;
      }
      const out: T[] = [];
      let ok = true;
      (node.items as (Node | null)[]).forEach((item, i) => {
        const v = each(item, `${path}[${i}]`);
        if (v === undefined) ok = false;
        else out.push(v);
      });
      return ok ? out : undefined;
    }
    const v = each(node, path);
    return v === undefined ? undefined : [v];
  }

  duration(node: Node | null, path: string, what: string, allowZero: boolean): number | undefined {
    let text: string | undefined;
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) text = String(node.value);
    if (text === undefined) {
      this.at(node, path, `expected ${what} (a duration such as 50us, 10ms, 1s), found ${describe(node)}`);
      return undefined;
    }
    try {
      const ns = parseDuration(text);
      if (ns === 0 && !allowZero) {
        this.at(node, path, `${what} must be longer than 0`);
        return undefined;
      }
      return ns;
    } catch (e) {
      if (e instanceof DurationError) {
        this.at(node, path, e.message);
        return undefined;
      }
      throw e;
    }
  }

  cpus(node: Node | null, path: string): number[] | undefined {
    let text: string | undefined;
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) text = String(node.value);
    if (text === undefined) {
      this.at(node, path, `expected a CPU list string such as "2-3,6", found ${describe(node)}`);
      return undefined;
    }
    try {
      const cpus = parseCpuList(text);
      if (cpus.length === 0) {
        this.at(node, path, `empty CPU list: remove the key to mean every CPU`);
        return undefined;
      }
      return cpus;
    } catch (e) {
      if (e instanceof CpuListError) {
        this.at(node, path, e.message);
        return undefined;
      }
      throw e;
    }
  }
}

function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `'${v}'`;
    return `${typeof v} ${String(v)}`;
  }
  return 'an unsupported YAML node';
}

/** Validates a parsed YAML document; returns the policy or the issues found. */
export function validatePolicyDocument(doc: Document, file: string, lc: LineCounter): { policy?: Policy; issues: PolicyIssue[] } {
  const root = (doc.contents as Node | null) ?? null;
  const c = new Checker(file, lc, root);
  const top = c.map(root, '', '', 'the policy document');
  if (!top) return { issues: c.issues };

  let version: 1 = 1;
  const v = top.get('version');
  if (v) {
    const n = c.int(v.value, 'version', 'the policy format version', 1);
    if (n !== undefined && n !== 1) c.at(v.value, 'version', `unsupported version ${n} (this isolwatch reads version 1)`);
    else version = 1;
  }
  const name = top.has('name') ? c.str(top.get('name')!.value, 'name', 'the policy name') : undefined;
  const description = top.has('description') ? c.str(top.get('description')!.value, 'description', 'a description') : undefined;

  const scope = { cpus: undefined as number[] | undefined, processes: [] as ProcessSelector[] };
  const s = top.get('scope');
  if (s) {
    const sm = c.map(s.value, 'scope', 'scope', 'the scope');
    if (sm) {
      if (sm.has('cpus')) scope.cpus = c.cpus(sm.get('cpus')!.value, 'scope.cpus');
      const p = sm.get('processes');
      if (p) {
        if (!isSeq(p.value) || p.value.items.length === 0) c.at(p.value, 'scope.processes', `expected a non-empty list of {pid: N} / {comm: GLOB} / {cgroup: PATH}, found ${describe(p.value)}`);
        else
          (p.value.items as (Node | null)[]).forEach((item, i) => {
            const path = `scope.processes[${i}]`;
            const e = c.map(item, path, 'scope.processes[]', 'a process selector');
            if (!e) return;
            if (e.size !== 1) {
              c.at(item, path, `a process selector has exactly one of pid, comm, cgroup (found ${e.size}); write one list entry per selector`);
              return;
            }
            const [[key, entry]] = [...e];
            if (key === 'pid') {
              const pid = c.int(entry.value, `${path}.pid`, 'a process id', 1);
              if (pid !== undefined) scope.processes.push({ pid });
            } else if (key === 'comm') {
              const comm = c.str(entry.value, `${path}.comm`, 'a command-name glob');
              if (comm !== undefined) scope.processes.push({ comm });
            } else {
              const cg = c.str(entry.value, `${path}.cgroup`, 'a cgroup path');
              if (cg !== undefined) {
                if (!cg.startsWith('/')) c.at(entry.value, `${path}.cgroup`, `cgroup path '${cg}' must start with '/' (as in /proc/PID/cgroup, e.g. /isolated.slice)`);
                else scope.processes.push({ cgroup: cg.length > 1 ? cg.replace(/\/+$/, '') : cg });
              }
            }
          });
      }
    }
  }

  const rules: PolicyRule[] = [];
  const r = top.get('rules');
  if (r) {
    if (!isSeq(r.value) || r.value.items.length === 0) c.at(r.value ?? r.key, 'rules', `expected a non-empty list of rules, found ${describe(r.value)}`);
    else {
      const seen = new Map<string, number>();
      (r.value.items as (Node | null)[]).forEach((item, i) => {
        const rule = checkRule(c, item, `rules[${i}]`);
        if (!rule) return;
        const prev = seen.get(rule.name);
        if (prev !== undefined) c.at(item, `rules[${i}].name`, `duplicate rule name '${rule.name}' (also rules[${prev}]): rule names identify actions, make them unique`);
        seen.set(rule.name, i);
        rules.push(rule);
      });
    }
  }

  if (c.issues.length) return { issues: c.issues };
  const base = file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  return { policy: { file, version, name: name ?? base, description, scope, rules }, issues: [] };
}

function checkRule(c: Checker, node: Node | null, path: string): PolicyRule | undefined {
  const e = c.map(node, path, 'rules[]', 'a rule');
  if (!e) return undefined;
  const before = c.issues.length;
  const name = e.has('name') ? c.str(e.get('name')!.value, `${path}.name`, 'the rule name') : undefined;
  const description = e.has('description') ? c.str(e.get('description')!.value, `${path}.description`, 'a description') : undefined;
  const match = checkMatch(c, e.get('match')?.value ?? null, `${path}.match`, e.has('match'));
  const budget = e.has('budget') ? checkBudget(c, e.get('budget')!.value, `${path}.budget`, e.get('budget')!.key) : undefined;
  const actions: PolicyAction[] = [];
  const a = e.get('actions');
  if (a) {
    if (!isSeq(a.value) || a.value.items.length === 0)
      c.at(a.value ?? a.key, `${path}.actions`, `expected a non-empty list of actions (log, fail, or {signal: {...}}), found ${describe(a.value)}`);
    else
      (a.value.items as (Node | null)[]).forEach((item, i) => {
        const act = checkAction(c, item, `${path}.actions[${i}]`);
        if (act) actions.push(act);
      });
  }
  if (c.issues.length > before || name === undefined || !match) return undefined;
  return { name, description, match, budget, actions };
}

function checkMatch(c: Checker, node: Node | null, path: string, present: boolean): RuleMatch | undefined {
  const m: RuleMatch = { isol: [...DEFAULT_RULE_ISOL] };
  if (!present) return m;
  const e = c.map(node, path, 'rules[].match', 'a matcher');
  if (!e) return undefined;
  const before = c.issues.length;
  const get = (k: string) => e.get(k)?.value ?? null;
  if (e.has('class'))
    m.class = c.list(get('class'), `${path}.class`, 'classes', (n, p) => c.enumOne<InterruptionClass>(n, p, 'class', CLASSES));
  if (e.has('kind')) m.kind = c.list(get('kind'), `${path}.kind`, 'kinds', (n, p) => c.str(n, p, 'a kind glob'));
  if (e.has('func')) m.func = c.list(get('func'), `${path}.func`, 'functions', (n, p) => c.str(n, p, 'a function glob'));
  if (e.has('self')) m.self = c.bool(get('self'), `${path}.self`, "'self' (true: the victim's own entries; false: external causes)");
  if (e.has('isol')) {
    const states = c.list(get('isol'), `${path}.isol`, 'isolation states', (n, p) => {
      if (isScalar(n) && n.value === 'any') return 'any' as const;
      return c.enumOne<IsolStateName>(n, p, 'isolation state', [...ISOL_STATES, 'any' as IsolStateName]);
    });
    if (states) m.isol = states.includes('any') ? [...ISOL_STATES] : (states as IsolStateName[]);
  }
  if (e.has('sender')) {
    const sp = `${path}.sender`;
    const s = c.map(get('sender'), sp, 'rules[].match.sender', 'a sender matcher');
    if (s) {
      const sender: SenderMatch = {};
      if (s.has('comm')) sender.comm = c.list(s.get('comm')!.value, `${sp}.comm`, 'comm globs', (n, p) => c.str(n, p, 'a command-name glob'));
      if (s.has('cpu')) sender.cpus = c.cpus(s.get('cpu')!.value, `${sp}.cpu`);
      if (s.has('context'))
        sender.context = c.list(s.get('context')!.value, `${sp}.context`, 'contexts', (n, p) => c.enumOne<SenderContext>(n, p, 'sender context', SENDER_CONTEXTS));
      if (m.self === true) c.at(get('sender'), sp, `'sender' never matches with 'self: true' (the victim caused those entries itself); remove one of them`);
      m.sender = sender;
    }
  }
  return c.issues.length > before ? undefined : m;
}

function checkBudget(c: Checker, node: Node | null, path: string, anchor: Node): Budget | undefined {
  const e = c.map(node, path, 'rules[].budget', 'a budget', anchor);
  if (!e) return undefined;
  const b: Budget = { per: 'task' };
  if (e.has('count')) b.count = c.int(e.get('count')!.value, `${path}.count`, 'the number of entries allowed per window', 0);
  if (e.has('stolen')) b.stolenNs = c.duration(e.get('stolen')!.value, `${path}.stolen`, 'the stolen time allowed per window', true);
  if (e.has('window')) b.windowNs = c.duration(e.get('window')!.value, `${path}.window`, 'the budget window', false);
  if (e.has('per')) b.per = c.enumOne<BudgetPer>(e.get('per')!.value, `${path}.per`, "budget 'per'", BUDGET_PER) ?? 'task';
  if (!e.has('count') && !e.has('stolen')) c.at(anchor, path, `a budget needs 'count' and/or 'stolen' (e.g. count: 0, or stolen: 50us with window: 1s)`);
  return b;
}

function checkAction(c: Checker, node: Node | null, path: string): PolicyAction | undefined {
  if (isScalar(node) && typeof node.value === 'string') {
    if (node.value === 'log') return { kind: 'log' };
    if (node.value === 'fail') return { kind: 'fail' };
    if (node.value === 'signal') {
      c.at(node, path, `'signal' needs settings: write signal: { name: SIGUSR1, target: victim, mode: user }`);
      return undefined;
    }
    c.at(node, path, `unknown action '${node.value}' (${oneOf(POLICY_KEYS['rules[].actions[]'])})${suggest(node.value, POLICY_KEYS['rules[].actions[]'])}`);
    return undefined;
  }
  const e = c.map(node, path, 'rules[].actions[]', 'an action');
  if (!e) return undefined;
  if (e.size !== 1) {
    c.at(node, path, `an action has exactly one of log, signal, fail (found ${e.size}); write one list entry per action`);
    return undefined;
  }
  const [[kind, entry]] = [...e];
  const sub = `${path}.${kind}`;
  if (kind === 'log') {
    if (!(isScalar(entry.value) && entry.value.value === null) && entry.value !== null && !(isMap(entry.value) && entry.value.items.length === 0))
      c.at(entry.value, sub, `'log' takes no settings: write '- log'`);
    return { kind: 'log' };
  }
  if (kind === 'fail') {
    if (entry.value === null || (isScalar(entry.value) && entry.value.value === null)) return { kind: 'fail' };
    const f = c.map(entry.value, sub, 'rules[].actions[].fail', "the 'fail' action");
    if (!f) return undefined;
    const message = f.has('message') ? c.str(f.get('message')!.value, `${sub}.message`, 'a failure message') : undefined;
    return { kind: 'fail', message };
  }
  const s = c.map(entry.value, sub, 'rules[].actions[].signal', "the 'signal' action", entry.key);
  if (!s) return undefined;
  const before = c.issues.length;
  let signal: string | undefined;
  let signo: number | undefined;
  const n = s.get('name');
  if (n) {
    signal = c.str(n.value, `${sub}.name`, 'a signal name such as SIGUSR1');
    if (signal !== undefined) {
      signo = signalNumber(signal);
      if (signo === undefined) {
        const alt = signalNumber(`SIG${signal.toUpperCase()}`) !== undefined ? `; did you mean 'SIG${signal.toUpperCase()}'?` : suggest(signal, SIGNAL_NAMES);
        c.at(n.value, `${sub}.name`, `unknown signal '${signal}' (expected a name such as SIGUSR1, SIGUSR2, SIGTERM, SIGKILL)${alt}`);
      }
    }
  }
  const target = s.has('target') ? c.enumOne(s.get('target')!.value, `${sub}.target`, 'signal target', SIGNAL_TARGETS) : 'victim';
  const mode = s.has('mode') ? c.enumOne(s.get('mode')!.value, `${sub}.mode`, 'signal mode', SIGNAL_MODES) : 'user';
  if (mode === 'in-kernel' && target === 'cause')
    c.at(s.get('mode')!.value, `${sub}.mode`, `'in-kernel' signals go to the task that entered the kernel (bpf_send_signal): use target: victim, or mode: user to signal the cause`);
  let rateLimit: SignalAction['rateLimit'];
  const rl = s.get('rate_limit');
  if (rl) {
    const rp = `${sub}.rate_limit`;
    const m = c.map(rl.value, rp, 'rules[].actions[].signal.rate_limit', 'a rate limit', rl.key);
    if (m) {
      const count = m.has('count') ? c.int(m.get('count')!.value, `${rp}.count`, 'signals allowed per window', 1) : undefined;
      const windowNs = m.has('window') ? c.duration(m.get('window')!.value, `${rp}.window`, 'the rate-limit window', false) : undefined;
      if (count !== undefined && windowNs !== undefined) rateLimit = { count, windowNs };
    }
  }
  const cooldownNs = s.has('cooldown') ? c.duration(s.get('cooldown')!.value, `${sub}.cooldown`, 'the cooldown', false) : undefined;
  // The kernel side signals at every kernel entry of the thread: a handler's own syscalls and its
  // rt_sigreturn are kernel entries too, so a signal the task survives needs a limit or it never ends.
  if (mode === 'in-kernel' && signal !== 'SIGKILL' && signo !== undefined && !s.has('cooldown') && !rl)
    c.at(
      s.get('mode')!.value,
      `${sub}.mode`,
      `an 'in-kernel' ${signal} without cooldown or rate_limit would be sent again at every kernel entry, including the handler's own rt_sigreturn: add cooldown: 1ms (or a rate_limit), or use SIGKILL`,
    );
  if (c.issues.length > before || signal === undefined || signo === undefined || !target || !mode) return undefined;
  return { kind: 'signal', signal, signo, target, mode, rateLimit, cooldownNs };
}
