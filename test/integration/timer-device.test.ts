// Root, real kernel: the clockevents_program_event kprobe that tells an early
// local timer interrupt (cause timer_early) from the tick. Where the kernel
// has kprobes, what it records for a CPU agrees with the kernel's own view in
// /proc/timer_list (the device's next_event, both within the device's range of
// now); where it has none (some of our hosts' kernels), the session says the
// probe is missing instead of failing. The early interrupts themselves need a
// nohz_full CPU: test/vm (guest case timer_early).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kprobesSupported, Session } from '../../src/live/session.js';
import { readTickDevices, timerListNow } from '../../src/system/timer-list.js';
import { readFileSync } from 'node:fs';
import { requireRoot } from './harness.js';

describe('the timer device kprobe (clockevents_program_event)', () => {
  let session: Session;
  beforeAll(() => {
    requireRoot();
    session = Session.open({ cpus: [1], probes: new Set(['core', 'vectors']) });
  });
  afterAll(() => session?.close());

  it('is attached where the kernel has kprobes, else listed as missing', () => {
    const attached = session.attached.includes('clockevents_program_event');
    expect(attached).toBe(kprobesSupported());
    expect(session.missing.includes('clockevents_program_event')).toBe(!attached);
  });

  it("records what each CPU's device is set for, as /proc/timer_list shows it", async () => {
    if (!session.attached.includes('clockevents_program_event')) {
      expect(session.timerDeviceExpiry(1)).toBeUndefined(); // nothing seeded without the kprobe
      return;
    }
    await new Promise((r) => setTimeout(r, 200)); // CPU 1's tick reprograms it every few ms
    const text = readFileSync('/proc/timer_list', 'utf8');
    const now = timerListNow(text)!;
    const dev = readTickDevices()!.find((d) => d.cpu === 1)!;
    const seen = session.timerDeviceExpiry(1);
    expect(seen).toBeDefined();
    // a stopped device (idle, no timer) shows no next event: the last one it was set for is all there is
    if (dev.next_event_ns === undefined) return;
    // the same programming, or one a few ticks apart (the two reads are not atomic)
    expect(Math.abs(seen! - dev.next_event_ns)).toBeLessThan(2e9);
    expect(seen!).toBeLessThanOrEqual(now + dev.max_delta_ns + 2e9);
  });
});
