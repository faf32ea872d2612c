// The repeatable --budget flags of run and report. Kept apart from the live
// pipeline so a replay needs no libbpf.
import { BudgetError, mergeBudgets, parseBudget, type Budgets } from '../budget.js';
import { UsageError } from '../errors.js';

/** The repeatable --budget flags of run and report, merged; a bad one is a usage error. */
export function budgetsFromFlags(specs: readonly string[]): Budgets {
  try {
    return mergeBudgets(...specs.map((b) => parseBudget(b)));
  } catch (e) {
    if (e instanceof BudgetError) throw new UsageError(e.message);
    throw e;
  }
}
