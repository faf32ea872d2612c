// Types of osnoise-compare.mjs for the type-checked test (the module itself
// is plain JavaScript: it also runs inside the guest, without a build step).
export const IRQ_ROOTS: string[];
export const PREEMPT_NAMES: number;
export const TOLERANCE: { unpairedOsnoise: number; extraIsolwatch: number; rtlaSlack: number; noisyMin: number; matchSlackNs: number; lateNs: number; sampleEndGapNs: number };
export const DISTURBER: string;
export function compare(input: { events: unknown; samples: unknown; rtla: unknown; records: unknown; cpus: number[]; disturbCpu: number; tolerance?: typeof TOLERANCE }): any;
export function formatTable(result: unknown): string;
export function loadRun(dir: string): any;
export function parseTrace(text: string): { cpu: number; ts_ns: number; task: string; pid: number; name: string; body: string }[];
export function parseSamples(text: string): { cpu: number; ts_ns: number; runtime_us: number; noise_us: number; hw: number; nmi: number; irq: number; softirq: number; thread: number }[];
export function sampledTime(
  events: unknown,
  samples: unknown,
  cpu: number,
  win: { start: number; end: number },
  records?: unknown[],
): { samples: { from: number; to: number }[]; problems: string[]; preemptedAtStart: { unlock_ns: number; irq_ns: number; irq: string; switch_ns: number; next: string; from_ns: number }[] };
