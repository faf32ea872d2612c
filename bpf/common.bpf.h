/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers every part of the kernel side uses: watched CPUs, per-CPU state, clamps. */
#ifndef __IW_COMMON_BPF_H
#define __IW_COMMON_BPF_H

#define TASK_RUNNING 0
#define PF_KTHREAD 0x00200000
#define IW_NR_PRCTL 157 /* x86_64 */
#define IW_NR_EXIT 60 /* x86_64 */
#define IW_NR_EXIT_GROUP 231 /* x86_64 */
#define IW_SEC 1000000000ULL

static __always_inline int watched(__u32 cpu)
{
	__u8 *w = bpf_map_lookup_elem(&iw_watched, &cpu);
	return w && *w;
}

static __always_inline struct iw_cpu_state *cpu_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&iw_cpu, &zero);
}

/* Kernel threads (the kworker, ksoftirqd, migration/N that preempted someone) are never victims. */
static __always_inline int current_is_kthread(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	return (t->flags & PF_KTHREAD) != 0;
}

/* chain entries keep durations in 32 bits */
static __always_inline __u32 sat32(__u64 v)
{
	return v > 0xffffffffULL ? 0xffffffff : (__u32)v;
}

/*
 * The log2 histogram bucket of a duration: [2^i, 2^(i+1)) ns, the last
 * bucket open. A global function: inlined, its six branches would make the
 * verifier follow every caller 64 times, once per bucket range.
 */
__noinline int iw_hist_bucket(__u64 ns)
{
	__u32 b = 0;

	if (ns >> 32) {
		ns >>= 32;
		b += 32;
	}
	if (ns >> 16) {
		ns >>= 16;
		b += 16;
	}
	if (ns >> 8) {
		ns >>= 8;
		b += 8;
	}
	if (ns >> 4) {
		ns >>= 4;
		b += 4;
	}
	if (ns >> 2) {
		ns >>= 2;
		b += 2;
	}
	if (ns >> 1)
		b += 1;
	return b < IW_HIST_BUCKETS ? b : IW_HIST_BUCKETS - 1;
}

#endif /* __IW_COMMON_BPF_H */
