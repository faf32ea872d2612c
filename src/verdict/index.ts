// One verdict, one cause grouping, one duration grammar: what run, report,
// watch, the live view and the reporters all judge and name things with.
export { DURATION_UNITS, DurationError, formatDuration, parseDuration } from './durations.js';
export { didYouMean, editDistance, nearest } from './suggest.js';
export { causeText, senderKey, senderLabel, senderName, senderOf, symbolName, taskLabel, type Sender } from './senders.js';
export { bucketFloorNs, histBucket, HIST_BUCKETS, phaseOf, rowKey, rowsFromRecords, RowTable, type AggregateRow, type JudgedWindow, type Phase } from './rows.js';
export { addToCause, byCost, causeKeyOf, topCauses, topCauseText, whatText, type TopCause } from './causes.js';
export { BudgetError, formatBudgets, limitLabel, limitsFor, mergeBudgets, parseBudget, type Budgets, type Limit } from './budgets.js';
export { judge, limitsText, verdictBlock, type BudgetResult, type CpuJudgement, type Judgement, type Reason, type ReasonKind, type Tally, type VerdictInput } from './judge.js';
