// `isolwatch doctor`: audit the isolation set-up and name the remedy.
// The CLI parses --cpus/--json and calls runDoctor(); everything else is here.
import { auditSystem } from './audit.js';
import { exitCodeFor, renderJson, renderText } from './render.js';

export { auditSystem, parseInterrupts } from './audit.js';
export { FINDING_DEFS, FINDING_IDS, type FindingId } from './findings.js';
export { exitCodeFor, renderJson, renderText, sortFindings } from './render.js';
export type { AuditOptions, DoctorFacts, DoctorReport, Evidence, Finding, Severity, Why } from './types.js';

export interface RunDoctorOptions {
  root?: string;
  cpus?: number[];
  json: boolean;
  out: (s: string) => void;
  /** see AuditOptions.hasStructField */
  hasStructField?: (struct: string, field: string) => boolean;
}

/** Audits, writes the text or JSON report through `out`, and returns the exit code (0 clean, 1 findings above info). */
export function runDoctor(opts: RunDoctorOptions): number {
  const root = opts.root ?? '/';
  const report = auditSystem({
    root,
    cpus: opts.cpus,
    hasStructField: opts.hasStructField,
    // On the live system, isolwatch itself is not one of the user's stray tasks.
    excludePids: root === '/' ? [process.pid] : [],
  });
  opts.out(opts.json ? renderJson(report) : renderText(report));
  return exitCodeFor(report);
}
