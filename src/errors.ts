// The two errors every command maps to an exit code (DESIGN.md): a usage or
// configuration mistake (2) and an environment that cannot run isolwatch (3).
export class UsageError extends Error {
  readonly exitCode = 2;
}
export class EnvironmentError extends Error {
  readonly exitCode = 3;
}
