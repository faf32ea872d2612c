// doctor: Timers that reach the watched CPUs however quiet they are: the
// machine-check poll, and the range of each CPU's timer device.
import { formatDuration } from '../../output/format.js';
import { remedyById } from '../../remedies.js';
import { parseTimerList, timerListNow } from '../../system/timer-list.js';
import { makeFinding } from '../findings.js';
import { list } from './context.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

export function checkTimers(ctx: Ctx): void {
  checkMcePoll(ctx);
  checkTimerDeviceRange(ctx);
}

function checkMcePoll(ctx: Ctx): void {
  const polled: number[] = [];
  const evidence: Evidence[] = [];
  let interval = 0;
  for (const cpu of ctx.cpus) {
    const rel = `sys/devices/system/machinecheck/machinecheck${cpu}/check_interval`;
    const v = ctx.sys.line(rel);
    if (v === undefined || !/^\d+$/.test(v) || Number(v) === 0) continue;
    polled.push(cpu);
    interval = Math.max(interval, Number(v));
    if (evidence.length < 4) evidence.push({ path: ctx.sys.shown(rel), value: v });
  }
  if (!polled.length) return;
  ctx.findings.push(
    makeFinding('mce-poll', {
      title: `Machine-check poll every ${interval} s on CPU ${list(polled)}`,
      evidence,
      remedy: [...remedyById('timer-mce')!.remedy], // the catalogue's commands are already exact
    }),
  );
}

function checkTimerDeviceRange(ctx: Ctx): void {
  const rel = 'proc/timer_list';
  const text = ctx.sys.text(rel);
  if (text === undefined) return;
  const now = timerListNow(text);
  if (now === undefined) return;
  const short = parseTimerList(text).filter(
    (d) => ctx.cpus.includes(d.cpu) && d.max_delta_ns > 0 && d.next_event_ns !== undefined && d.next_event_ns - now > d.max_delta_ns,
  );
  if (!short.length) return;
  const d = short[0];
  const ahead = d.next_event_ns! - now;
  ctx.findings.push(
    makeFinding('timer-device-range', {
      title:
        `CPU ${list(short.map((x) => x.cpu))}: next timer ${formatDuration(ahead)} away, the ${d.device} timer device reaches ` +
        `${formatDuration(d.max_delta_ns)}: an empty local timer interrupt every ${formatDuration(d.max_delta_ns)} until then`,
      evidence: short.slice(0, 4).map((x) => ({
        path: ctx.sys.shown(rel),
        value: `CPU ${x.cpu}: ${x.device} max_delta_ns ${x.max_delta_ns}, next_event ${x.next_event_ns} nsecs (now at ${now})`,
      })),
      remedy: [
        "find the CPU's far timer (its active timers in /proc/timer_list; tick_nohz_handler stands for its next timer-wheel timer, often the machine-check poll: mce-poll) and remove it",
        'a timer device with a longer range: TSC deadline mode (the tsc_deadline_timer CPU flag)',
      ],
    }),
  );
}
