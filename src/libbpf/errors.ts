// The libbpf layer's error taxonomy (cilium/ebpf style). Pure: no native
// calls, so messages and the verifier-log trimming are unit-testable.
//   LibbpfError        an operation failed: op + errno, message says which object/program
//   PermissionError    EPERM/EACCES without a verifier log: say how to get the privileges
//   VerifierError      the verifier rejected a program: keeps the full log, prints its last useful lines
//   NotSupportedError  the kernel lacks a feature (e.g. a tracepoint), with the minimum that has it
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

export const EPERM = osConstants.errno.EPERM;
export const EACCES = osConstants.errno.EACCES;
export const ENOENT = osConstants.errno.ENOENT;
export const ESRCH = osConstants.errno.ESRCH;
export const EINVAL = osConstants.errno.EINVAL;
export const E2BIG = osConstants.errno.E2BIG;
export const EOPNOTSUPP = osConstants.errno.EOPNOTSUPP;

// libbpf's own codes (libbpf.h enum libbpf_errno), above the system range.
const LIBBPF_ERRNO: Record<number, [string, string]> = {
  4000: ['LIBBPF_ERRNO__LIBELF', 'Something wrong in libelf'],
  4001: ['LIBBPF_ERRNO__FORMAT', 'BPF object format invalid'],
  4002: ['LIBBPF_ERRNO__KVERSION', 'Incorrect or no kernel version section'],
  4003: ['LIBBPF_ERRNO__ENDIAN', 'Endian mismatch'],
  4004: ['LIBBPF_ERRNO__INTERNAL', 'Internal error in libbpf'],
  4005: ['LIBBPF_ERRNO__RELOC', 'Relocation failed'],
  4006: ['LIBBPF_ERRNO__LOAD', 'Load program failed for unknown reason'],
  4007: ['LIBBPF_ERRNO__VERIFY', 'Kernel verifier blocks program loading'],
  4008: ['LIBBPF_ERRNO__PROG2BIG', 'Program too big'],
  4009: ['LIBBPF_ERRNO__KVER', 'Incorrect kernel version'],
  4010: ['LIBBPF_ERRNO__PROGTYPE', 'Kernel does not support this program type'],
  4011: ['LIBBPF_ERRNO__WRNGPID', 'Wrong pid in netlink message'],
  4012: ['LIBBPF_ERRNO__INVSEQ', 'Invalid netlink sequence'],
  4013: ['LIBBPF_ERRNO__NLPARSE', 'Incorrect netlink message parsing'],
};

// Where libuv's wording misleads for BPF, or the code is kernel-internal but
// leaks out of the bpf() syscall.
const OVERRIDES: Record<number, [string, string]> = {
  95: ['EOPNOTSUPP', 'Operation not supported'],
  524: ['ENOTSUPP', 'Operation not supported by this kernel (kernel-internal ENOTSUPP)'],
};

let systemErrors: Map<number, [string, string]> | null = null;

/** "Operation not permitted (EPERM)" for 1 (or -1); unknown codes say "error N". */
export function describeErrno(errno: number): string {
  const e = Math.abs(errno);
  if (e === 0) return 'unknown error (errno 0)';
  const lib = LIBBPF_ERRNO[e] ?? OVERRIDES[e];
  if (lib) return `${lib[1]} (${lib[0]})`;
  systemErrors ??= getSystemErrorMap();
  // libuv's map is keyed by negative codes, with lower-case messages.
  const sys = systemErrors.get(-e);
  if (sys) return `${sys[1].charAt(0).toUpperCase()}${sys[1].slice(1)} (${sys[0]})`;
  return `error ${e}`;
}

export interface LibbpfErrorOptions {
  /** What libbpf printed while the operation ran (warnings), quoted in the message when useful. */
  libbpfLog?: string[];
  /** Advice appended to the message: what to do next. */
  hint?: string;
  cause?: unknown;
}

/** A libbpf or kernel operation failed. `op` names the call and its subject: "bpf_object__load(x.bpf.o)". */
export class LibbpfError extends Error {
  override name = 'LibbpfError';
  readonly op: string;
  /** positive errno (or libbpf's 4000+ code) */
  readonly errno: number;
  /** libbpf's warnings printed during the operation */
  readonly libbpfLog: string[];

  constructor(op: string, errno: number, opts: LibbpfErrorOptions = {}, detail?: string) {
    const e = Math.abs(errno);
    const log = opts.libbpfLog ?? [];
    let msg = `${op}: ${describeErrno(e)}`;
    if (detail) msg += `: ${detail}`;
    else if (log.length > 0) msg += `\n  libbpf: ${lastLines(log, 3).join('\n  libbpf: ')}`;
    if (opts.hint) msg += `\n  ${opts.hint}`;
    super(msg, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.op = op;
    this.errno = e;
    this.libbpfLog = log;
  }
}

export const PRIVILEGE_HINT =
  'loading and attaching BPF needs root, or CAP_BPF + CAP_PERFMON (and CAP_SYS_ADMIN on some kernels): run isolwatch as root (sudo)';
export const ROOT_REFUSED_HINT =
  'loading and attaching BPF needs root, or CAP_BPF + CAP_PERFMON; this process is root, so a kernel policy refused it ' +
  '(lockdown, an LSM, a container/sandbox seccomp or capability drop) or the target is read-only (a frozen .rodata map)';

/** EPERM / EACCES that is not a verifier rejection: missing privileges (or a lockdown/sandbox policy). */
export class PermissionError extends LibbpfError {
  override name = 'PermissionError';
  constructor(op: string, errno: number, opts: LibbpfErrorOptions = {}) {
    super(op, errno, { ...opts, hint: opts.hint ?? (process.geteuid?.() === 0 ? ROOT_REFUSED_HINT : PRIVILEGE_HINT) });
  }
}

// Lines that close every verifier log but say nothing about why it failed.
const NOISE = [
  /^processed \d+ insns/,
  /^verification time/,
  /^stack depth/,
  /^max_states_per_insn/,
  /^-- (BEGIN|END) PROG LOAD LOG --/,
  /^libbpf: prog '.*': (BPF program load failed|failed to load)/,
];

/** The last n lines that carry information (stats trailer and blanks dropped). */
export function usefulVerifierLines(log: string, n = 5): string[] {
  const lines = log.split('\n').map((l) => l.trimEnd());
  const useful = lines.filter((l) => l.trim() !== '' && !NOISE.some((re) => re.test(l.trim())));
  return useful.slice(-n);
}

function lastLines(lines: string[], n: number): string[] {
  return lines
    .flatMap((l) => l.split('\n'))
    .map((l) => l.replace(/^libbpf: /, '').trimEnd())
    .filter((l) => l !== '')
    .slice(-n);
}

/** The kernel verifier rejected a program. `.log` holds the whole verifier log; the message its last useful lines. */
export class VerifierError extends LibbpfError {
  override name = 'VerifierError';
  readonly log: string;
  readonly program: string;

  constructor(op: string, errno: number, program: string, log: string, opts: LibbpfErrorOptions = {}) {
    const useful = usefulVerifierLines(log, 5);
    const total = log.split('\n').filter((l) => l.trim() !== '').length;
    const detail =
      `the verifier rejected program '${program}':\n    ${useful.join('\n    ')}\n` +
      `  (last ${useful.length} useful lines of a ${total}-line verifier log; the full log is in err.log)`;
    super(op, errno, opts, detail);
    this.log = log;
    this.program = program;
  }

  usefulLines(n = 5): string[] {
    return usefulVerifierLines(this.log, n);
  }
}

/** The running kernel lacks something isolwatch needs (a tracepoint, a program type, a helper). */
export class NotSupportedError extends Error {
  override name = 'NotSupportedError';
  readonly feature: string;
  readonly minimum?: string;

  constructor(feature: string, minimum?: string, hint?: string) {
    let msg = `${feature} is not supported by this kernel`;
    if (minimum) msg += ` (needs ${minimum})`;
    if (hint) msg += `: ${hint}`;
    super(msg);
    this.feature = feature;
    this.minimum = minimum;
  }
}

/**
 * Split a failed load's libbpf log into the verifier log and the failing
 * program. libbpf 1.1 prints "prog 'NAME': -- BEGIN PROG LOAD LOG --\n<log>-- END PROG LOAD LOG --".
 */
export function extractVerifierLog(messages: string[]): { program: string; log: string } | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    const begin = m.indexOf('-- BEGIN PROG LOAD LOG --');
    if (begin < 0) continue;
    const prog = /prog '([^']+)'/.exec(m.slice(0, begin));
    const endIdx = m.indexOf('-- END PROG LOAD LOG --', begin);
    const body = m.slice(begin + '-- BEGIN PROG LOAD LOG --'.length, endIdx < 0 ? undefined : endIdx).replace(/^\n/, '');
    return { program: prog ? prog[1] : '?', log: body };
  }
  return null;
}

/** The program a load failure is about, from libbpf's "prog 'NAME': ..." warnings. */
export function failingProgram(messages: string[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = /prog '([^']+)'/.exec(messages[i]);
    if (m) return m[1];
  }
  return undefined;
}
