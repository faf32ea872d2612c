// doctor: The clocksource: vDSO or a syscall per clock read.
import { makeFinding } from '../findings.js';
import { VDSO_CLOCKSOURCES } from './context.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

export function checkClocksource(ctx: Ctx): void {
  const cs = ctx.facts.clocksource;
  if (cs === null || VDSO_CLOCKSOURCES.has(cs)) return;
  const rel = 'sys/devices/system/clocksource/clocksource0/current_clocksource';
  const available = ctx.sys.line('sys/devices/system/clocksource/clocksource0/available_clocksource');
  const evidence: Evidence[] = [{ path: ctx.sys.shown(rel), value: cs }];
  if (available !== undefined) evidence.push({ path: ctx.sys.shown('sys/devices/system/clocksource/clocksource0/available_clocksource'), value: available });
  const tsc = available === undefined || available.split(/\s+/).includes('tsc');
  ctx.findings.push(
    makeFinding('clocksource-no-vdso', {
      title: `Clocksource ${cs} has no vDSO: every clock_gettime() is a syscall`,
      evidence,
      remedy: tsc
        ? [`echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource`, 'boot with clocksource=tsc tsc=reliable if the kernel marked the TSC unstable']
        : ['select a vDSO-capable clocksource (tsc, kvm-clock, arch_sys_counter) from available_clocksource'],
    }),
  );
}
