// A local timer interrupt with nothing due: the CPU's timer device fired at
// the end of its range (max_delta) and was re-armed. The BPF side names its
// cause IW_CTX_TIMER_EARLY with the expiry the device was set for; here the
// rest of the way: /proc/timer_list as recorded in the 6.12 qemu guest (where
// it happened every 34.4 s) and on this kind of VM, the record the engine
// makes of it, its sender in every report, the remedy it gets and a policy
// matching it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RawInterruption } from '../../src/contract/decode.js';
import { IW } from '../../src/contract/layout.generated.js';
import { Engine } from '../../src/correlate/engine.js';
import { IsolTracker } from '../../src/isol/state.js';
import { senderOf as pictureSender } from '../../src/output/picture-data.js';
import { ruleMatches } from '../../src/policy/evaluate.js';
import { remedyFor } from '../../src/remedies.js';
import { symbolsFromTable } from '../../src/system/kallsyms.js';
import { parseTimerList, timerListNow } from '../../src/system/timer-list.js';
import { ISOL_STATES, type PolicyRule, type SenderContext } from '../../src/policy/types.js';
import { causeText, senderName, senderOf } from '../../src/verdict/senders.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'timer_list');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

describe('/proc/timer_list', () => {
  it('reads the per-CPU tick devices of the 6.12 qemu guest: the lapic timer reaches 34.4 s', () => {
    const text = fixture('qemu-tcg-6.12.txt');
    expect(timerListNow(text)).toBe(50205486507);
    const devs = parseTimerList(text);
    expect(devs.map((d) => d.cpu)).toEqual([0, 1, 2, 3]); // the hpet broadcast device is not a CPU's
    expect(devs[3]).toEqual({ cpu: 3, device: 'lapic', max_delta_ns: 34359738352, next_event_ns: 316624000000, event_handler: 'hrtimer_interrupt' });
    expect(devs[0].next_event_ns).toBe(50212000000); // a housekeeping CPU: its tick, 4 ms on
  });

  it('reads a TSC-deadline VM: a range of 28 minutes', () => {
    const devs = parseTimerList(fixture('vm-6.18-lapic-deadline.txt'));
    expect(devs.length).toBeGreaterThan(0);
    for (const d of devs) expect(d).toMatchObject({ device: 'lapic-deadline', max_delta_ns: 1691556412470 });
  });

  it('a stopped device (KTIME_MAX) has no next event; a CPU without a device is left out', () => {
    const text = [
      'now at 1000 nsecs',
      'Tick Device: mode:     1',
      'Per CPU device: 2',
      'Clock Event Device: lapic-deadline',
      ' max_delta_ns:   1691556412470',
      ' next_event:     9223372036854775807 nsecs',
      'Tick Device: mode:     1',
      'Per CPU device: 3',
      'Clock Event Device: <NULL>',
    ].join('\n');
    expect(parseTimerList(text)).toEqual([{ cpu: 2, device: 'lapic-deadline', max_delta_ns: 1691556412470 }]);
  });
});

describe('the cause of an early local timer interrupt', () => {
  const raw: RawInterruption = {
    rec: 'interruption', ts_ns: 74_677_237_000n, cpu: 3, duration_ns: 459_917n,
    cause_callsite: 0n, cause_func: 0n, cause_ts_ns: 316_632_000_000n,
    isol_conf_mask: 0n, isol_active_mask: 0n, isol_quiesce_mask: 0n, isol_oneshot_mask: 0n, isol_inherit_mask: 0,
    victim_pid: 265, victim_tid: 266, cause_pid: 0, cause_tid: 0, cause_cpu: 3, flags: 0, cause_ctx: IW.IW_CTX_TIMER_EARLY,
    victim_comm: 'spin', cause_comm: '',
    chain: [{ func: 0n, start_ns: 74_677_237_000n, duration_ns: 459_917, kind: IW.IW_VEC_LOCAL_TIMER, class: IW.IW_CLASS_TIMER, depth: 0, name: '' }],
  };
  const engine = new Engine({ symbols: symbolsFromTable({}), tracker: new IsolTracker({ prIsol: 'absent' }), prIsol: 'absent', arch: 'x86_64' });
  const rec = engine.toInterruption(raw);

  it('is the CPU itself, with the expiry its device was set for, and no sender time', () => {
    expect(rec.kind).toBe('local_timer');
    expect(rec.cause).toEqual({ self: false, context: 'timer_early', cpu: 3, due_ns: 316_632_000_000 });
  });

  it('reads the same in every report: text, metrics label, no sender arrow in pictures', () => {
    expect(causeText(rec.cause)).toBe('its timer device, fired early on CPU 3');
    expect(senderName(senderOf(rec.cause))).toBe('timer_early');
    expect(pictureSender(rec)).toBeUndefined();
  });

  it('gets its own remedy, not the tick', () => {
    expect(remedyFor({ class: 'timer', kind: 'local_timer', context: 'timer_early' })?.id).toBe('timer-early');
    expect(remedyFor({ class: 'timer', kind: 'local_timer' })?.id).toBe('tick');
    expect(remedyFor({ class: 'timer', kind: 'local_timer', context: 'unknown' })?.id).toBe('tick');
  });

  it('policies match it by sender context', () => {
    const rule = (context: SenderContext[]): PolicyRule =>
      ({ name: 'r', match: { isol: [...ISOL_STATES], sender: { context } }, actions: ['log'] }) as unknown as PolicyRule;
    expect(ruleMatches(rule(['timer_early']), rec)).toBe(true);
    expect(ruleMatches(rule(['unknown']), rec)).toBe(false);
  });
});
