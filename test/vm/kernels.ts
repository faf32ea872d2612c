// Which guest kernels the vm tests boot: ISOLWATCH_VM_KERNELS (a comma list of
// test/vm/run --kernel names), by default all four: Debian's 6.1 and 6.12 LTS,
// generic and PREEMPT_RT. Fewer, e.g. while working on one:
//   ISOLWATCH_VM_KERNELS=generic,rt npx vitest run test/vm
export const ALL_KERNELS = ['generic', 'rt', '6.12', '6.12-rt'] as const;
export type Kernel = (typeof ALL_KERNELS)[number];

export function vmKernels(env: NodeJS.ProcessEnv = process.env): Kernel[] {
  const spec = env.ISOLWATCH_VM_KERNELS?.trim();
  if (!spec) return [...ALL_KERNELS];
  const names = spec.split(',').map((s) => s.trim());
  for (const n of names) if (!(ALL_KERNELS as readonly string[]).includes(n)) throw new Error(`ISOLWATCH_VM_KERNELS: no kernel '${n}' (${ALL_KERNELS.join(', ')})`);
  return names as Kernel[];
}
