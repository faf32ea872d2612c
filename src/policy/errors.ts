// PolicyError: a policy file that cannot be used. Always names the file,
// line and column, the key path, and what to do. The CLI maps it to exit 2.

export interface PolicyIssue {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
  /** Key path, e.g. "rules[0].match.class"; "" for the document itself. */
  path: string;
  message: string;
}

export function formatIssue(i: PolicyIssue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

export class PolicyError extends Error {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly path: string;
  /** Every problem found; the message is the first one. */
  readonly issues: PolicyIssue[];
  /** Exit code the CLI should use (DESIGN.md: configuration error). */
  readonly exitCode = 2;

  constructor(issues: PolicyIssue[]) {
    if (issues.length === 0) throw new TypeError('PolicyError needs at least one issue');
    const first = issues[0];
    super(formatIssue(first));
    this.name = 'PolicyError';
    this.file = first.file;
    this.line = first.line;
    this.col = first.col;
    this.path = first.path;
    this.issues = issues;
  }

  /** All issues, one per line, for printing. */
  report(): string {
    return this.issues.map(formatIssue).join('\n');
  }
}
