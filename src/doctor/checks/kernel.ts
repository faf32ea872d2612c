// doctor: Kernel build: config, BTF, BPF, PR_ISOL.
import { PR_ISOL_KALLSYMS, detectPrIsol, prIsolField } from '../../isol/detect.js';
import { kallsymsHas } from '../../system/kallsyms.js';
import { makeFinding } from '../findings.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

export function configEvidence(ctx: Ctx, key: string): Evidence {
  return { path: ctx.config.facts.source ?? 'kernel config', value: ctx.config.lines[key] ?? 'unknown' };
}

export function checkKernel(ctx: Ctx): void {
  const { sys, config, facts } = ctx;
  const cfg = config.facts;
  if (cfg.source === null) {
    ctx.findings.push(
      makeFinding('kernel-config-unreadable', {
        title: 'Kernel config not found: cannot tell what this kernel was built with',
        evidence: [
          { path: sys.shown('proc/config.gz'), value: 'missing' },
          { path: sys.shown(`boot/config-${facts.kernel ?? '<release>'}`), value: 'missing' },
        ],
        remedy: ['modprobe configs   # provides /proc/config.gz', `install the kernel's config as /boot/config-${facts.kernel ?? '$(uname -r)'}`],
      }),
    );
  }

  if (!facts.btf || cfg.DEBUG_INFO_BTF === 'n') {
    const evidence: Evidence[] = [{ path: sys.shown('sys/kernel/btf/vmlinux'), value: facts.btf ? 'present' : 'missing' }];
    if (cfg.source) evidence.push(configEvidence(ctx, 'DEBUG_INFO_BTF'));
    ctx.findings.push(
      makeFinding('kernel-no-btf', {
        title: 'Kernel BTF missing: isolwatch cannot attach its programs',
        evidence,
        remedy: ['boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels are)'],
      }),
    );
  }
  if (cfg.BPF_SYSCALL === 'n' || cfg.BPF === 'n') {
    ctx.findings.push(
      makeFinding('kernel-no-bpf', {
        title: 'Kernel built without the bpf() syscall: isolwatch cannot load programs',
        evidence: [configEvidence(ctx, 'BPF'), configEvidence(ctx, 'BPF_SYSCALL')],
        remedy: ['boot a kernel built with CONFIG_BPF=y and CONFIG_BPF_SYSCALL=y'],
      }),
    );
  }

  // One detector for the whole tool (src/isol/detect.ts), so doctor agrees with
  // the start record's pr_isol: positive evidence only, BTF when the caller can
  // query it, else the ABI's prctl handlers in kallsyms.
  const detection = detectPrIsol({ root: ctx.sys.root, hasStructField: ctx.opts.hasStructField });
  facts.prIsol = prIsolField(detection);
  facts.prIsolEvidence = detection.evidence.map((line) => (line.startsWith(ctx.sys.root) ? sys.shown(line.slice(ctx.sys.root.length)) : line));
  const kallsyms = sys.text('proc/kallsyms');
  let evidence: Evidence;
  if (detection.via === 'btf:task_isol_info' || detection.via === 'btf:isol_info') {
    evidence = { path: sys.shown('sys/kernel/btf/vmlinux'), value: `task_struct.${detection.via.slice(4)} present` };
  } else if (detection.via === 'kallsyms') {
    evidence = { path: sys.shown('proc/kallsyms'), value: kallsymsHas(kallsyms ?? '', PR_ISOL_KALLSYMS).join(', ') };
  } else {
    evidence = {
      path: sys.shown('proc/kallsyms'),
      value: (kallsyms === undefined ? 'unreadable' : 'no prctl_task_isol_* symbols') + (ctx.opts.hasStructField ? '; BTF: task_struct has no task_isol_info/isol_info' : ''),
    };
  }
  if (facts.prIsol === 'kernel') {
    ctx.findings.push(makeFinding('pr-isol-present', { title: 'PR_ISOL task isolation ABI present', evidence: [evidence], remedy: [] }));
  } else {
    ctx.findings.push(
      makeFinding('pr-isol-absent', {
        title: 'PR_ISOL task isolation ABI absent (stock kernel): nothing quiesces kernel work on return to user space',
        evidence: [evidence],
        remedy: [
          'applications must not issue PR_ISOL prctls (63-67) here: 65 is PR_SET_MDWE, 67 PR_SET_MEMORY_MERGE',
          'rely on nohz_full=, isolcpus= and the sysctls below; or boot a kernel carrying the task-isolation patches',
        ],
      }),
    );
  }
}
