// Policies read durations ("50us", "1s", "2m") with the one grammar every
// command uses (src/verdict/durations.ts).
export { DURATION_UNITS, DurationError, formatDuration, parseDuration } from '../verdict/durations.js';
