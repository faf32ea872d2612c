// The environment checks of tracing commands: CapEff parsing, which capabilities
// are missing, and the one line per missing thing (src/system/preflight.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../src/errors.js';
import { assertCanTrace, CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, missingCapabilities, parseCapEff, tracingProblems } from '../../src/system/preflight.js';

// /proc/self/status of a root shell on the development VM (kernel 6.18), abridged
const STATUS_ROOT = `Name:\tcat
Umask:\t0022
State:\tR (running)
Tgid:\t4242
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
CapInh:\t0000000000000000
CapPrm:\t000001fffeffffff
CapEff:\t000001fffeffffff
CapBnd:\t000001fffeffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t0
`;
const withCapEff = (hex: string) => STATUS_ROOT.replace(/^CapEff:.*$/m, `CapEff:\t${hex}`);
const bit = (c: number) => 1n << BigInt(c);

describe('parseCapEff', () => {
  it('reads the effective set, not its neighbours', () => {
    expect(parseCapEff(STATUS_ROOT)).toBe(0x1fffeffffffn);
    expect(parseCapEff(withCapEff('000000c000000000'))).toBe(bit(CAP_BPF) | bit(CAP_PERFMON));
    expect(parseCapEff(withCapEff('0000000000000000'))).toBe(0n);
  });

  it('undefined when the line is absent or malformed', () => {
    expect(parseCapEff('')).toBeUndefined();
    expect(parseCapEff(STATUS_ROOT.replace(/^CapEff:.*\n/m, ''))).toBeUndefined();
    expect(parseCapEff(withCapEff('zz'))).toBeUndefined();
  });

  it("parses this process's own status", () => {
    expect(typeof parseCapEff(readFileSync('/proc/self/status', 'utf8'))).toBe('bigint');
  });
});

describe('missingCapabilities', () => {
  it('root with a full set, or CAP_BPF + CAP_PERFMON alone, lacks nothing', () => {
    expect(missingCapabilities(0x1ffffffffffn)).toEqual([]);
    expect(missingCapabilities(0x1fffeffffffn)).toEqual([]); // without CAP_SYS_RESOURCE
    expect(missingCapabilities(bit(CAP_BPF) | bit(CAP_PERFMON))).toEqual([]);
  });

  it('CAP_SYS_ADMIN stands in for both', () => {
    expect(missingCapabilities(bit(CAP_SYS_ADMIN))).toEqual([]);
  });

  it('names what is missing', () => {
    expect(missingCapabilities(0n)).toEqual(['CAP_BPF', 'CAP_PERFMON']);
    expect(missingCapabilities(bit(CAP_BPF))).toEqual(['CAP_PERFMON']);
    expect(missingCapabilities(bit(CAP_PERFMON))).toEqual(['CAP_BPF']);
    // a container runtime's default set for root: no CAP_SYS_ADMIN, CAP_BPF or CAP_PERFMON
    expect(missingCapabilities(0xa80425fbn)).toEqual(['CAP_BPF', 'CAP_PERFMON']);
  });
});

describe('tracingProblems', () => {
  it('none for root with BTF', () => {
    expect(tracingProblems({ euid: 0, capEff: 0x1fffeffffffn, btf: true })).toEqual([]);
  });

  it('a non-root process with both capabilities may go on', () => {
    expect(tracingProblems({ euid: 1000, capEff: bit(CAP_BPF) | bit(CAP_PERFMON), btf: true })).toEqual([]);
  });

  it('non-root without them: one line naming both and the remedy', () => {
    const p = tracingProblems({ euid: 65534, capEff: 0n, btf: true });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/needs root, or CAP_BPF and CAP_PERFMON.*uid 65534 lacks CAP_BPF and CAP_PERFMON.*sudo/);
  });

  it('root in a container: told which are missing', () => {
    const p = tracingProblems({ euid: 0, capEff: 0xa80425fbn | bit(CAP_BPF), btf: true });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/root but without CAP_PERFMON in its effective capabilities \(CapEff 00000080a80425fb/);
    expect(p[0]).not.toMatch(/without CAP_BPF/);
  });

  it('no BTF and no privileges: one line each, BTF first', () => {
    const p = tracingProblems({ euid: 1000, capEff: 0n, btf: false });
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/no BTF \(\/sys\/kernel\/btf\/vmlinux is missing\).*CONFIG_DEBUG_INFO_BTF=y/);
    expect(p[1]).toMatch(/CAP_BPF/);
  });

  it('unreadable capabilities: root goes on, others are told to use root', () => {
    expect(tracingProblems({ euid: 0, capEff: undefined, btf: true })).toEqual([]);
    expect(tracingProblems({ euid: 1000, capEff: undefined, btf: true })[0]).toMatch(/needs root/);
  });
});

describe('assertCanTrace', () => {
  it('throws one EnvironmentError (exit 3), every line prefixed for the CLI', () => {
    let err: unknown;
    try {
      assertCanTrace({ euid: 1000, capEff: 0n, btf: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).exitCode).toBe(3);
    const lines = (err as Error).message.split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^isolwatch: /);
    expect(() => assertCanTrace({ euid: 0, capEff: 0x1ffffffffffn, btf: true })).not.toThrow();
  });
});
