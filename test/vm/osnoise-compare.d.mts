// Types of osnoise-compare.mjs for the type-checked test (the module itself
// is plain JavaScript: it also runs inside the guest, without a build step).
export const IRQ_ROOTS: string[];
export const PREEMPT_NAMES: number;
export const TOLERANCE: { unpairedOsnoise: number; extraIsolwatch: number; rtlaSlack: number; noisyMin: number; matchSlackNs: number; lateNs: number; sampleEndGapNs: number };
export const DISTURBER: string;
export function compare(input: { events: unknown; samples: unknown; rtla: unknown; records: unknown; cpus: number[]; disturbCpu: number; tolerance?: typeof TOLERANCE }): any;
export function formatTable(result: unknown): string;
export function loadRun(dir: string): any;
