// CPU hotplug of the watched CPUs: which are online, when one goes offline
// or comes back (a `cpu` record), and for how long each was offline, in all
// and inside a window (run's judged one). Polled from the session's timers;
// the BPF side ends an episode a CPU left open where it went offline
// (bpf/isolwatch.bpf.c handle_cpuhp_enter, flag `hotplug`).
import type { CpuRecord } from '../types.js';

export class CpuHotplug {
  private readonly online = new Map<number, boolean>();
  /** cpu -> [offline since, back online at | undefined] */
  private readonly spans = new Map<number, [number, number | undefined][]>();

  constructor(
    private readonly cpus: readonly number[],
    /** the online CPUs now (/sys/devices/system/cpu/online) */
    private readonly readOnline: () => readonly number[],
    private readonly now: () => number,
  ) {
    const on = new Set(readOnline());
    for (const c of cpus) this.online.set(c, on.has(c));
    const t = now();
    for (const c of cpus) if (!on.has(c)) this.spans.set(c, [[t, undefined]]);
  }

  /** The watched CPUs whose state changed since the last poll, as records. */
  poll(): CpuRecord[] {
    let on: Set<number>;
    try {
      on = new Set(this.readOnline());
    } catch {
      return []; // sysfs unreadable for a moment: the next poll tells
    }
    const t = this.now();
    const out: CpuRecord[] = [];
    for (const c of this.cpus) {
      const now = on.has(c);
      if (now === this.online.get(c)) continue;
      this.online.set(c, now);
      const spans = this.spans.get(c) ?? this.spans.set(c, []).get(c)!;
      if (!now) spans.push([t, undefined]);
      else if (spans.length && spans[spans.length - 1][1] === undefined) spans[spans.length - 1][1] = t;
      out.push({ type: 'cpu', ts_ns: t, cpu: c, online: now });
    }
    return out;
  }

  /** The watched CPUs offline now. */
  offline(): number[] {
    return this.cpus.filter((c) => this.online.get(c) === false);
  }

  /** ns each watched CPU was offline inside [from, to) (to: now when absent); CPUs never offline are left out. */
  offlineNs(from = 0, to?: number): Record<string, number> {
    const end = to ?? this.now();
    const out: Record<string, number> = {};
    for (const [c, spans] of this.spans) {
      let ns = 0;
      for (const [a, b] of spans) ns += Math.max(0, Math.min(b ?? end, end) - Math.max(a, from));
      if (ns > 0) out[String(c)] = ns;
    }
    return out;
  }
}
