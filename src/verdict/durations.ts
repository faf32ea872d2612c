// The one duration grammar and the one duration formatter: budgets
// (`--budget stolen=50us`), policies (`window: 1s`), the CLI's time flags
// (`--duration 2m`) and every report read and write durations the same way.

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** The units, in the order messages list them. */
export const DURATION_UNITS = Object.keys(UNITS);

export class DurationError extends Error {}

/**
 * "50us", "1.5ms", ".5us", "2s", "2m", "100ns" (also "µs") to nanoseconds,
 * rounded. `bareUnit`: the unit of a number written without one (the CLI's
 * seconds); without it a bare number is an error, the commonest budget mistake.
 */
export function parseDuration(text: string, bareUnit?: 's'): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zµ]*)\s*$/i.exec(text);
  if (!m) throw new DurationError(`'${text}' is not a duration (write e.g. 50us, 1.5ms, 2s, 2m; units: ${DURATION_UNITS.join(', ')})`);
  const unit = m[2] === '' ? bareUnit : m[2].toLowerCase();
  if (unit === undefined) throw new DurationError(`'${text}' needs a unit (e.g. ${m[1]}us; units: ${DURATION_UNITS.join(', ')})`);
  const scale = UNITS[unit];
  if (scale === undefined) throw new DurationError(`unknown unit '${m[2]}' in '${text}' (units: ${DURATION_UNITS.join(', ')})`);
  const ns = Math.round(Number(m[1]) * scale);
  if (!Number.isSafeInteger(ns)) throw new DurationError(`'${text}' is too long`);
  return ns;
}

/**
 * At most three significant digits with the unit glued on, in a spelling
 * parseDuration() reads back: "850ns", "3.1us", "250us", "1.25ms", "2s", "90s".
 */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns) || ns < 0) return '-';
  if (ns < 1_000) return `${Math.round(ns)}ns`;
  const units: Array<[string, number]> = [
    ['us', 1e3],
    ['ms', 1e6],
    ['s', 1e9],
  ];
  for (let i = 0; i < units.length; i++) {
    const [unit, scale] = units[i];
    const text = threeDigits(ns / scale);
    // 999.7us rounds to "1000": move up a unit instead of printing four digits
    if (Number(text) < 1000 || i === units.length - 1) return `${text}${unit}`;
  }
  /* c8 ignore next */
  return `${ns}ns`;
}

function threeDigits(v: number): string {
  if (v >= 1000) return String(Math.round(v));
  const s = v.toPrecision(3);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
