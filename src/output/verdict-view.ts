// The one door from the pictures (Perfetto trace, HTML report) to the verdict
// module: the judgement, its top causes and how budgets are named. When the
// verdict code moves, the import below is the only line that changes.
export { budgetLabel, fromText, judgeRun, topCauses, type Judgement, type TopCause } from '../budget.js';
