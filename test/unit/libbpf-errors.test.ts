// The libbpf error taxonomy: messages carry op + errno name + what to do;
// verifier logs are kept whole and trimmed to their useful tail.
import { describe, expect, it } from 'vitest';
import {
  EACCES,
  EPERM,
  LibbpfError,
  NotSupportedError,
  PermissionError,
  VerifierError,
  describeErrno,
  extractVerifierLog,
  failingProgram,
  usefulVerifierLines,
} from '../../src/libbpf/errors.js';

const LOAD_LOG = [
  "libbpf: prog 'handle_x': BPF program load failed: Permission denied\n",
  "libbpf: prog 'handle_x': -- BEGIN PROG LOAD LOG --\n" +
    'reg type unsupported for arg#0 function handle_x#5\n' +
    'func#0 @0\n' +
    '; __u32 zero = 0; @ x.bpf.c:9\n' +
    '0: R1=ctx(off=0,imm=0) R10=fp0\n' +
    '; int BPF_PROG(handle_x) @ x.bpf.c:10\n' +
    '0: (79) r1 = *(u64 *)(r0 +0)\n' +
    "R0 invalid mem access 'map_value_or_null'\n" +
    'processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n' +
    '-- END PROG LOAD LOG --\n',
  "libbpf: prog 'handle_x': failed to load: -13\n",
  "libbpf: failed to load object 'x.bpf.o'\n",
];

describe('libbpf errors', () => {
  it('describes errno values with their name, including libbpf codes', () => {
    expect(describeErrno(1)).toBe('Operation not permitted (EPERM)');
    expect(describeErrno(-13)).toBe('Permission denied (EACCES)');
    expect(describeErrno(4007)).toMatch(/verifier.*\(LIBBPF_ERRNO__VERIFY\)/);
    expect(describeErrno(99999)).toBe('error 99999');
  });

  it('LibbpfError: op, positive errno, quoted libbpf warnings and a hint', () => {
    const e = new LibbpfError('bpf_object__open_file(x.bpf.o)', -2, { libbpfLog: ['libbpf: elf: failed to open x.bpf.o: No such file or directory\n'], hint: 'build it first' });
    expect(e).toBeInstanceOf(Error);
    expect(e.op).toBe('bpf_object__open_file(x.bpf.o)');
    expect(e.errno).toBe(2);
    expect(e.message).toMatch(/^bpf_object__open_file\(x\.bpf\.o\): No such file or directory \(ENOENT\)/);
    expect(e.message).toContain('elf: failed to open x.bpf.o');
    expect(e.message).toContain('build it first');
  });

  it('PermissionError says how to get the privileges', () => {
    const e = new PermissionError('bpf_object__load(x.bpf.o)', -EPERM);
    expect(e).toBeInstanceOf(LibbpfError);
    expect(e.errno).toBe(EPERM);
    expect(e.message).toContain('(EPERM)');
    expect(e.message).toMatch(/root/);
    expect(e.message).toMatch(/CAP_BPF \+ CAP_PERFMON/);
  });

  it('extracts the verifier log and the failing program from libbpf warnings', () => {
    const v = extractVerifierLog(LOAD_LOG);
    expect(v?.program).toBe('handle_x');
    expect(v?.log.startsWith('reg type unsupported')).toBe(true);
    expect(v?.log).toContain('processed 9 insns');
    expect(v?.log).not.toContain('END PROG LOAD LOG');
    expect(extractVerifierLog(['libbpf: something else\n'])).toBeNull();
    expect(failingProgram(LOAD_LOG)).toBe('handle_x');
  });

  it('VerifierError keeps the whole log and prints its last useful lines', () => {
    const v = extractVerifierLog(LOAD_LOG)!;
    const e = new VerifierError('bpf_object__load(x.bpf.o)', -EACCES, v.program, v.log, { libbpfLog: LOAD_LOG });
    expect(e).toBeInstanceOf(LibbpfError);
    expect(e.log).toBe(v.log);
    expect(e.program).toBe('handle_x');
    expect(e.usefulLines(1)).toEqual(["R0 invalid mem access 'map_value_or_null'"]);
    expect(e.usefulLines(2)[0]).toBe('0: (79) r1 = *(u64 *)(r0 +0)');
    expect(e.message).toContain("verifier rejected program 'handle_x'");
    expect(e.message).toContain("R0 invalid mem access 'map_value_or_null'");
    expect(e.message).not.toContain('processed 9 insns');
    expect(e.message).not.toContain('reg type unsupported'); // beyond the last 5 useful lines
  });

  it('usefulVerifierLines drops blanks and the statistics trailer', () => {
    expect(usefulVerifierLines('a\n\nb\nprocessed 1 insns (limit 1)\nverification time 3 usec\nstack depth 8\n', 5)).toEqual(['a', 'b']);
  });

  it('NotSupportedError names the feature and the minimum', () => {
    const e = new NotSupportedError('tracepoint ipi_send_cpu', 'Linux 6.3');
    expect(e.feature).toBe('tracepoint ipi_send_cpu');
    expect(e.minimum).toBe('Linux 6.3');
    expect(e.message).toBe('tracepoint ipi_send_cpu is not supported by this kernel (needs Linux 6.3)');
  });
});
