// The doctor's report: pure data, rendered as text or JSON by render.ts and
// consumed by tests. Finding ids are stable (users grep for them, CI keys on them).
import type { WatchedCpus } from '../system/cpus.js';

export type Severity = 'info' | 'warning' | 'error';

/** A value read from the audited system, and where it came from (a path on that system). */
export interface Evidence {
  path: string;
  value: string;
}

/** The interruption a finding leads to, and the remedy catalogue entries (src/remedies.ts) that explain it. */
export interface Why {
  text: string;
  interruptions: Array<{ class: string; kind?: string; func?: string }>;
  /** ids in REMEDIES */
  remedies: string[];
  /** the prose catalogue, for humans */
  doc: string;
}

export interface Finding {
  id: string;
  severity: Severity;
  title: string;
  evidence: Evidence[];
  /** exact parameters, sysctls or commands */
  remedy: string[];
  why: Why;
}

export interface KernelConfigFacts {
  /** where the config was read from, or null when neither /proc/config.gz nor /boot/config-<release> was readable */
  source: string | null;
  /** 'y' | 'm' | 'n' (explicitly "is not set" or absent from a readable config) | null (unknown) */
  NO_HZ_FULL: string | null;
  CPU_ISOLATION: string | null;
  DEBUG_INFO_BTF: string | null;
  BPF: string | null;
  BPF_SYSCALL: string | null;
  RCU_NOCB_CPU: string | null;
}

export interface BootParams {
  raw: string;
  isolcpus?: { cpus: number[]; flags: string[]; text: string };
  nohz_full?: { cpus: number[]; text: string };
  rcu_nocbs?: { cpus: number[] | 'all'; text: string };
  irqaffinity?: { cpus: number[]; text: string };
  /** parameters present but not parseable as CPU lists */
  unparsed: string[];
}

export interface DoctorFacts {
  kernel: string | null;
  config: KernelConfigFacts;
  btf: boolean;
  prIsol: 'kernel' | 'absent';
  /** every check the PR_ISOL detector made, one line each */
  prIsolEvidence: string[];
  cmdline: BootParams | null;
  online: number[];
  isolated: number[];
  /** null when sysfs has no nohz_full file (kernel without CONFIG_NO_HZ_FULL) */
  nohzFull: number[] | null;
  cpusetIsolated: number[];
  clocksource: string | null;
  sysctl: Record<string, string | null>;
  thp: string | null;
  ksm: string | null;
  irqbalance: { running: boolean; pids: number[]; bannedCpus: number[] | null; configPath: string | null };
  irqsOnWatched: number;
  tasksOnWatched: number;
  /** how remote TLB flushes are done (start record's tlb_flush spelling) and how that was found out */
  tlbFlush: { label: string; evidence: string };
  /** the steal clock (start.steal's clock spelling: "kvm_steal_clock", "none", "unknown"), whether this is a VM, and how that was found out */
  steal: { clock: string; vm?: boolean; hypervisor?: string; evidence: string[] };
}

export interface DoctorReport {
  type: 'doctor';
  cpus: number[];
  watchedReason: WatchedCpus['reason'];
  findings: Finding[];
  facts: DoctorFacts;
}

export interface AuditOptions {
  /** the system to audit; '/' for this machine, a fixture tree in tests */
  root?: string;
  cpus?: number[];
  /**
   * BTF query for PR_ISOL detection (task_struct.task_isol_info / isol_info), e.g.
   * vmlinuxBtf().hasStructField; without it, kallsyms decides. Injected so the
   * doctor works where libbpf or BTF is missing, which it reports.
   */
  hasStructField?: (struct: string, field: string) => boolean;
  /** pids to leave out of the task scan (isolwatch itself when auditing '/') */
  excludePids?: number[];
}
