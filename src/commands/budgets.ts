// The repeatable --budget flags of run and report, merged; a bad one is a
// usage error (exit 2). undefined when none was given (see the rule in
// src/verdict/budgets.ts).
import { UsageError } from '../errors.js';
import { BudgetError, mergeBudgets, parseBudget, type Budgets } from '../verdict/index.js';

export function budgetsFromFlags(specs: readonly string[]): Budgets | undefined {
  try {
    return mergeBudgets(...specs.map((b) => parseBudget(b)));
  } catch (e) {
    if (e instanceof BudgetError) throw new UsageError(e.message);
    throw e;
  }
}
