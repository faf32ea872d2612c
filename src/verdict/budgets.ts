// Budgets (`--budget CLASS=N,total=N,stolen=DURATION`): parsing, merging and
// the rule for which limits hold.
//
// The rule (README, "What run judges"):
// - no --budget and no --policy: every class is held to zero (a quiet run);
// - a policy and no --budget: the policy alone judges (its fail actions);
// - --budget naming classes: those classes get their limits and every
//   class not named stays at zero; total= and stolen= add run-wide limits;
// - --budget with only total= and/or stolen=: those limits alone, no
//   per-class zeros.
// Budgets are totals over all watched CPUs, counted while the victim was
// isolated, in the judged window.
import { CLASSES, type InterruptionClass } from '../types.js';
import { didYouMean } from './suggest.js';
import { formatDuration, parseDuration, DurationError } from './durations.js';

export interface Budgets {
  /** count limits per class given on the command line */
  classes: Partial<Record<InterruptionClass, number>>;
  /** limit on all counted interruptions together */
  total?: number;
  /** limit on time stolen from isolated tasks, summed over watched CPUs */
  stolen_ns?: number;
}

export class BudgetError extends Error {}

const EXTRA_KEYS = ['stolen', 'total'] as const;

/**
 * Parses a `--budget` value: "CLASS=N[,CLASS=N]", "stolen=DURATION", "total=N".
 * Errors quote the option and say what to write instead:
 * `--budget 'ipis=3': unknown class 'ipis' (expected syscall, page_fault, ...); did you mean 'ipi'?`
 */
export function parseBudget(spec: string): Budgets {
  const out: Budgets = { classes: {} };
  const where = `--budget '${spec}'`;
  const seen = new Set<string>();
  if (spec.trim() === '') throw new BudgetError(`${where}: empty budget (write CLASS=N[,CLASS=N], e.g. --budget ipi=0,syscall=10,stolen=50us)`);
  spec.split(',').forEach((rawPart, i) => {
    const part = rawPart.trim();
    if (part === '') throw new BudgetError(`${where}: empty entry at position ${i + 1} (remove the extra comma)`);
    const eq = part.indexOf('=');
    if (eq < 0) throw new BudgetError(`${where}: '${part}' has no '=' (write CLASS=N or stolen=DURATION, e.g. ipi=0)`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (seen.has(key)) throw new BudgetError(`${where}: '${key}' is given twice (keep one)`);
    seen.add(key);
    if (value === '') throw new BudgetError(`${where}: '${key}' has no value (write ${key}=${key === 'stolen' ? '50us' : '0'})`);
    if (key === 'stolen') {
      try {
        out.stolen_ns = parseDuration(value);
      } catch (e) {
        if (e instanceof DurationError) throw new BudgetError(`${where}: stolen ${e.message}`);
        throw e;
      }
      return;
    }
    const isClass = (CLASSES as readonly string[]).includes(key);
    if (!isClass && key !== 'total') {
      const known = [...CLASSES, ...EXTRA_KEYS];
      throw new BudgetError(`${where}: unknown class '${key}' (expected ${known.join(', ')})${didYouMean(key, known)}`);
    }
    if (!/^\d+$/.test(value)) throw new BudgetError(`${where}: '${key}=${value}': the limit must be a whole number of interruptions >= 0 (e.g. ${key}=3)`);
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new BudgetError(`${where}: '${key}=${value}': limit too large`);
    if (key === 'total') out.total = n;
    else out.classes[key as InterruptionClass] = n;
  });
  return out;
}

/** Later budgets override earlier ones key by key (e.g. several --budget flags). */
export function mergeBudgets(...budgets: Array<Budgets | undefined>): Budgets | undefined {
  const given = budgets.filter((b): b is Budgets => b !== undefined);
  if (!given.length) return undefined;
  const out: Budgets = { classes: {} };
  for (const b of given) {
    for (const c of CLASSES) if (b.classes[c] !== undefined) out.classes[c] = b.classes[c];
    if (b.total !== undefined) out.total = b.total;
    if (b.stolen_ns !== undefined) out.stolen_ns = b.stolen_ns;
  }
  return out;
}

/** Budgets back as a --budget value. */
export function formatBudgets(b: Budgets): string {
  const parts: string[] = [];
  for (const c of CLASSES) if (b.classes[c] !== undefined) parts.push(`${c}=${b.classes[c]}`);
  if (b.total !== undefined) parts.push(`total=${b.total}`);
  if (b.stolen_ns !== undefined) parts.push(`stolen=${formatDuration(b.stolen_ns)}`);
  return parts.join(',');
}

/** One limit that holds: a class, the run-wide total or the stolen time. */
export interface Limit {
  /** class name, "total" or "stolen" */
  name: InterruptionClass | 'total' | 'stolen';
  unit: 'count' | 'ns';
  limit: number;
  /** given by the user (false: the zero of a class that was not named) */
  explicit: boolean;
}

/** The limits that hold, by the rule at the top of this file. */
export function limitsFor(budgets: Budgets | undefined, policyGiven: boolean): Limit[] {
  const out: Limit[] = [];
  const named = budgets ? CLASSES.filter((c) => budgets.classes[c] !== undefined) : [];
  const zeros = budgets === undefined ? !policyGiven : named.length > 0;
  for (const c of CLASSES) {
    if (budgets?.classes[c] !== undefined) out.push({ name: c, unit: 'count', limit: budgets.classes[c]!, explicit: true });
    else if (zeros) out.push({ name: c, unit: 'count', limit: 0, explicit: false });
  }
  if (budgets?.total !== undefined) out.push({ name: 'total', unit: 'count', limit: budgets.total, explicit: true });
  if (budgets?.stolen_ns !== undefined) out.push({ name: 'stolen', unit: 'ns', limit: budgets.stolen_ns, explicit: true });
  return out;
}

/** "ipi<=0", "stolen<=50us", "total<=10": how a limit is named in reports. */
export function limitLabel(l: Pick<Limit, 'name' | 'limit' | 'unit'>): string {
  return `${l.name}<=${l.unit === 'ns' ? formatDuration(l.limit) : l.limit}`;
}
