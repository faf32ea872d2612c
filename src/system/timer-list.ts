// The CPUs' tick devices as /proc/timer_list shows them (kernel/time/timer_list.c):
// which clock event device each CPU has, how far ahead it can be programmed
// (max_delta_ns) and the expiry it is set for (next_event). A device cannot
// wait longer than max_delta_ns: a nohz_full CPU whose next timer is further
// away takes a local timer interrupt every max_delta_ns that runs nothing and
// re-arms the device (isolwatch names these cause.context "timer_early").
import { readFileSync } from 'node:fs';

export const TIMER_LIST = '/proc/timer_list';

export interface TickDevice {
  cpu: number;
  /** clock event device name: "lapic-deadline", "lapic", "arch_sys_timer", ... */
  device: string;
  max_delta_ns: number;
  /** the expiry it is set for (CLOCK_MONOTONIC ns); undefined when stopped (KTIME_MAX) */
  next_event_ns?: number;
  /** its handler: "hrtimer_interrupt" (high resolution), "tick_nohz_lowres_handler", ... */
  event_handler?: string;
}

const KTIME_MAX = 9223372036854775807n;

/** "now at N nsecs": when the text was made (CLOCK_MONOTONIC ns). */
export function timerListNow(text: string): number | undefined {
  const m = /^now at (\d+) nsecs/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The per-CPU tick devices of a /proc/timer_list text (the broadcast device is left out). */
export function parseTimerList(text: string): TickDevice[] {
  const out: TickDevice[] = [];
  for (const block of text.split(/^Tick Device:/m).slice(1)) {
    const cpu = /^Per CPU device:\s*(\d+)/m.exec(block);
    const dev = /^Clock Event Device:\s*(\S+)/m.exec(block);
    if (!cpu || !dev || dev[1] === '<NULL>') continue;
    const num = (field: string): bigint | undefined => {
      const m = new RegExp(`^\\s*${field}:\\s*(-?\\d+)`, 'm').exec(block);
      return m ? BigInt(m[1]) : undefined;
    };
    const maxDelta = num('max_delta_ns');
    const next = num('next_event');
    const handler = /^\s*event_handler:\s*(\S+)/m.exec(block);
    out.push({
      cpu: Number(cpu[1]),
      device: dev[1],
      max_delta_ns: maxDelta === undefined ? 0 : Number(maxDelta),
      ...(next !== undefined && next < KTIME_MAX && next > 0n ? { next_event_ns: Number(next) } : {}),
      ...(handler ? { event_handler: handler[1] } : {}),
    });
  }
  return out;
}

/** The tick devices; undefined when they cannot be read (/proc/timer_list is root's only). */
export function readTickDevices(path = TIMER_LIST): TickDevice[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return parseTimerList(text);
}
