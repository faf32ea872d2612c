// `isolwatch --version`: isolwatch's version, the ABI of the BPF object it loads on
// this architecture (the record layout this isolwatch decodes, bpf/events.h), and the
// libbpf the loader would give it, found from files and never loaded: --version is
// fast and works where libbpf is missing.
import { existsSync } from 'node:fs';
import { IW } from '../contract/layout.generated.js';
import { bpfObjectPath, packageVersion } from '../paths.js';
import { describeLibbpf, findLibbpf } from '../system/libbpf-file.js';

export function versionText(): string {
  const obj = bpfObjectPath();
  const where = existsSync(obj) ? obj : `${obj} is missing`;
  return [`isolwatch ${packageVersion()}`, `bpf object: ABI ${IW.IW_ABI_VERSION}, ${process.arch} (${where})`, describeLibbpf(findLibbpf())].join('\n') + '\n';
}
