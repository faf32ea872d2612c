// doctor: Device interrupts and irqbalance.
import { parseCpuList } from '../../system/cpus.js';
import { makeFinding } from '../findings.js';
import { intersect, minus, parseCpuMask } from '../masks.js';
import { EVIDENCE_LIMIT, list, readList, readMask, shownValue, toMask } from './context.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

interface IrqLine {
  name: string;
  counts: number[];
}

/** /proc/interrupts: numbered lines only; the name is what follows the chip and hwirq columns. */
export function parseInterrupts(text: string): Map<number, IrqLine> {
  const lines = text.split('\n');
  const ncpu = (lines[0] ?? '').trim().split(/\s+/).filter((t) => /^CPU\d+$/.test(t)).length;
  const out = new Map<number, IrqLine>();
  for (const line of lines.slice(1)) {
    const m = /^\s*(\d+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const tokens = m[2].trim().split(/\s+/);
    const counts = tokens.slice(0, ncpu).map(Number);
    const rest = tokens.slice(ncpu);
    // chip, hwirq (e.g. "5-edge"), optional trigger word (arm64 "Level"/"Edge"), then action names.
    let i = 2;
    if (/^(level|edge)$/i.test(rest[i] ?? '')) i++;
    out.set(Number(m[1]), { name: rest.slice(i).join(' '), counts });
  }
  return out;
}

export function checkIrqs(ctx: Ctx): void {
  const { sys, cpus, facts } = ctx;
  const hk = ctx.housekeeping;
  const defRel = 'proc/irq/default_smp_affinity';
  const def = readMask(sys, defRel);
  if (def && intersect(def, cpus).length) {
    ctx.findings.push(
      makeFinding('irq-default-affinity', {
        title: facts.cmdline?.irqaffinity
          ? `${facts.cmdline.irqaffinity.text} on the command line, yet new IRQs default to CPUs including ${list(intersect(def, cpus))}`
          : `New IRQs default to CPUs including ${list(intersect(def, cpus))}`,
        evidence: [
          { path: sys.shown(defRel), value: shownValue(sys.text(defRel)) },
          { path: sys.shown('proc/cmdline'), value: facts.cmdline?.irqaffinity?.text ?? 'no irqaffinity=' },
        ],
        remedy: [`boot with irqaffinity=${list(hk)}`, `echo ${toMask(hk)} > /proc/irq/default_smp_affinity`],
      }),
    );
  }

  const interruptsText = sys.text('proc/interrupts');
  const names = interruptsText === undefined ? undefined : parseInterrupts(interruptsText);
  const hits: Array<{ irq: number; evidence: Evidence }> = [];
  const irqs = sys
    .list('proc/irq')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .sort((a, b) => a - b);
  for (const irq of irqs) {
    // /proc/interrupts lists only IRQs with a handler (or counts); the others never fire.
    const line = names?.get(irq);
    if (names && !line) continue;
    const effRel = `proc/irq/${irq}/effective_affinity_list`;
    const affRel = `proc/irq/${irq}/smp_affinity_list`;
    const eff = readList(sys, effRel);
    const aff = readList(sys, affRel);
    // Effective affinity is where it fires now; the affinity list is where the kernel may move it.
    const effHit = eff ? intersect(eff, cpus) : [];
    const affHit = aff ? intersect(aff, cpus) : [];
    if (!effHit.length && !affHit.length) continue;
    const useEff = effHit.length > 0 || !aff;
    const rel = useEff ? effRel : affRel;
    const counts = line ? cpus.filter((c) => (line.counts[c] ?? 0) > 0).map((c) => `${line.counts[c]} on CPU ${c}`) : [];
    const name = line?.name ? ` ${line.name}` : '';
    hits.push({
      irq,
      evidence: { path: sys.shown(rel), value: `${shownValue(sys.text(rel))} (IRQ ${irq}${name}${counts.length ? '; ' + counts.join(', ') + ' since boot' : ''})` },
    });
  }
  facts.irqsOnWatched = hits.length;
  if (hits.length) {
    const shown = hits.slice(0, EVIDENCE_LIMIT);
    const evidence = shown.map((h) => h.evidence);
    if (hits.length > shown.length) evidence.push({ path: sys.shown('proc/irq'), value: `... and ${hits.length - shown.length} more` });
    ctx.findings.push(
      makeFinding('irq-on-isolated-cpu', {
        title: `${hits.length} IRQ${hits.length > 1 ? 's' : ''} can fire on watched CPU ${list(cpus)}`,
        evidence,
        remedy: [
          `for irq in ${hits.map((h) => h.irq).join(' ')}; do echo ${list(hk)} > /proc/irq/$irq/smp_affinity_list; done`,
          `boot with irqaffinity=${list(hk)}`,
          'managed IRQs refuse the write (EIO): boot with isolcpus=managed_irq,...',
        ],
      }),
    );
  }
}

export function checkIrqbalance(ctx: Ctx): void {
  const { sys, cpus, facts } = ctx;
  const pids: number[] = [];
  for (const d of sys.list('proc')) {
    if (!/^\d+$/.test(d)) continue;
    if (sys.line(`proc/${d}/comm`) === 'irqbalance') pids.push(Number(d));
  }
  let banned: number[] | null = null;
  let configPath: string | null = null;
  let configLine = 'missing';
  for (const rel of ['etc/default/irqbalance', 'etc/sysconfig/irqbalance']) {
    const text = sys.text(rel);
    if (text === undefined) continue;
    configPath = sys.shown(rel);
    configLine = 'no IRQBALANCE_BANNED_CPULIST / IRQBALANCE_BANNED_CPUS';
    for (const line of text.split('\n')) {
      const m = /^\s*(IRQBALANCE_BANNED_CPULIST|IRQBALANCE_BANNED_CPUS)\s*=\s*"?([^"#]*)"?/.exec(line);
      if (!m || !m[2].trim()) continue;
      try {
        const cpusBanned = m[1] === 'IRQBALANCE_BANNED_CPULIST' ? parseCpuList(m[2]) : parseCpuMask(m[2]);
        banned = [...new Set([...(banned ?? []), ...cpusBanned])].sort((a, b) => a - b);
        configLine = line.trim();
      } catch {
        configLine = `${line.trim()} (unreadable CPU list)`;
      }
    }
    break;
  }
  facts.irqbalance = { running: pids.length > 0, pids, bannedCpus: banned, configPath };
  if (!pids.length) return;
  // irqbalance leaves isolated and nohz_full CPUs alone by itself; the rest must be banned.
  const covered = [...(banned ?? []), ...facts.isolated, ...(facts.nohzFull ?? [])];
  const exposed = minus(cpus, covered);
  if (!exposed.length) return;
  ctx.findings.push(
    makeFinding('irqbalance-moves-irqs', {
      title: `irqbalance is running and may move IRQs onto CPU ${list(exposed)}`,
      evidence: [
        { path: sys.shown(`proc/${pids[0]}/comm`), value: 'irqbalance' },
        { path: configPath ?? sys.shown('etc/default/irqbalance'), value: configLine },
      ],
      remedy: [
        `IRQBALANCE_BANNED_CPULIST=${list([...(banned ?? []), ...exposed])} in ${configPath ?? '/etc/default/irqbalance'}, then systemctl restart irqbalance`,
        'or: systemctl disable --now irqbalance (and set affinities once at boot)',
      ],
    }),
  );
}
