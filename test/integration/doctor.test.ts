// doctor on the machine running the tests. Expectations are derived from the
// machine itself (kernel config, sysfs), read here independently of the
// doctor, so the test holds on any kernel and fails when the doctor misses
// what is there. Our CI machines: no CONFIG_NO_HZ_FULL, no isolated CPUs.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseCpuList } from '../../src/system/cpus.js';
import { runDoctor, type DoctorReport } from '../../src/doctor/index.js';

function tryRead(path: string, gz = false): string | undefined {
  try {
    const buf = readFileSync(path);
    return gz ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
  } catch {
    return undefined;
  }
}

const configGz = tryRead('/proc/config.gz', true);
const config = configGz ?? tryRead(`/boot/config-${release()}`);
const configPath = configGz !== undefined ? '/proc/config.gz' : `/boot/config-${release()}`;
const online = parseCpuList(tryRead('/sys/devices/system/cpu/online') ?? '0');
const isolated = parseCpuList(tryRead('/sys/devices/system/cpu/isolated') ?? '');
const nohzText = tryRead('/sys/devices/system/cpu/nohz_full');

describe('doctor on this machine (cpus: [1])', () => {
  let text = '';
  const code = runDoctor({ cpus: [1], json: true, out: (s) => (text += s) });
  const report = JSON.parse(text) as DoctorReport;
  const find = (id: string) => report.findings.find((f) => f.id === id);

  it('runs on a machine with CPU 1 online', () => {
    expect(online, 'these tests need CPU 1 online: run them on a machine with at least 2 CPUs').toContain(1);
  });

  it('writes well-formed JSON with the report shape', () => {
    expect(report.type).toBe('doctor');
    expect(report.cpus).toEqual([1]);
    expect(report.watchedReason).toBe('user');
    expect(report.facts.kernel).toBe(release());
    expect(Array.isArray(report.findings)).toBe(true);
    for (const f of report.findings) {
      expect(['info', 'warning', 'error']).toContain(f.severity);
      expect(f.evidence.length, f.id).toBeGreaterThan(0);
    }
    expect(text.endsWith('\n')).toBe(true);
  });

  it('reads the kernel config from where this machine has it', () => {
    expect(report.facts.config.source).toBe(config === undefined ? null : configPath);
  });

  it('a kernel without NO_HZ_FULL is a finding, with the config line as evidence', () => {
    const noNohz = config !== undefined ? /^# CONFIG_NO_HZ_FULL is not set$/m.test(config) || !/^CONFIG_NO_HZ_FULL=/m.test(config) : nohzText === undefined;
    if (!noNohz) {
      // A NO_HZ_FULL kernel: then CPU 1 outside nohz_full must be reported instead.
      const inNohz = nohzText !== undefined && parseCpuList(nohzText.trim() === '(null)' ? '' : nohzText).includes(1);
      if (!inNohz) expect(find('cpus-not-nohz-full') ?? find('nohz-full-ignored')).toBeDefined();
      return;
    }
    const f = find('kernel-no-nohz-full') ?? find('nohz-full-ignored');
    expect(f, `findings: ${report.findings.map((x) => x.id).join(', ')}`).toBeDefined();
    expect(f!.severity).not.toBe('info');
    if (config !== undefined) expect(f!.evidence).toContainEqual({ path: configPath, value: '# CONFIG_NO_HZ_FULL is not set' });
    expect(f!.why.remedies).toContain('tick');
  });

  it('CPU 1 not isolated is a finding', () => {
    if (isolated.includes(1)) {
      expect(find('cpus-not-isolated')).toBeUndefined();
      return;
    }
    const f = find('cpus-not-isolated') ?? find('isolcpus-ignored');
    expect(f).toBeDefined();
    expect(f!.severity).not.toBe('info');
    expect(f!.title).toContain('CPU 1');
    expect(f!.evidence.map((e) => e.path)).toContain('/sys/devices/system/cpu/isolated');
  });

  it('exits 1 when anything is above info', () => {
    expect(code).toBe(report.findings.some((f) => f.severity !== 'info') ? 1 : 0);
  });

  it('text output fits 80 columns', () => {
    let out = '';
    runDoctor({ cpus: [1], json: false, out: (s) => (out += s) });
    for (const line of out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(out).toMatch(/^isolwatch doctor: kernel /);
  });

  it('detects PR_ISOL only where kallsyms has it', () => {
    const kallsyms = tryRead('/proc/kallsyms') ?? '';
    expect(report.facts.prIsol).toBe(/\sprctl_task_isol_\w+$/m.test(kallsyms) ? 'kernel' : 'absent');
  });
});
