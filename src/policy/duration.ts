// Durations in policies ("50us", "1.5ms", "1s", "2m") to nanoseconds.
// A bare number is rejected: a missing unit is the most common budget mistake.

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
};

export const DURATION_UNITS = Object.keys(UNITS);

export class DurationError extends Error {}

export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zµ]+)\s*$/.exec(text);
  if (!m) {
    if (/^\s*\d+(\.\d+)?\s*$/.test(text))
      throw new DurationError(`duration '${text}' has no unit (write e.g. '${text.trim()}us'; units: ${DURATION_UNITS.join(', ')})`);
    throw new DurationError(`bad duration '${text}' (expected a number and a unit, e.g. 50us, 10ms, 1s; units: ${DURATION_UNITS.join(', ')})`);
  }
  const unit = UNITS[m[2]];
  if (unit === undefined)
    throw new DurationError(`unknown unit '${m[2]}' in duration '${text}' (units: ${DURATION_UNITS.join(', ')})`);
  return Math.round(Number(m[1]) * unit);
}

export function formatDuration(ns: number): string {
  if (ns % 60e9 === 0 && ns >= 60e9) return `${ns / 60e9}m`;
  if (ns % 1e9 === 0 && ns >= 1e9) return `${ns / 1e9}s`;
  if (ns % 1e6 === 0 && ns >= 1e6) return `${ns / 1e6}ms`;
  if (ns % 1e3 === 0 && ns >= 1e3) return `${ns / 1e3}us`;
  return `${ns}ns`;
}
