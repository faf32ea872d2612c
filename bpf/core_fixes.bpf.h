/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-compatibility shims, one place. Each branches on what the running
 * kernel's BTF has (bpf_core_*_exists / weak ksyms), never on versions.
 */
#ifndef __IW_CORE_FIXES_BPF_H
#define __IW_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * Interrupt context of a sender is not read from preempt_count: its per-CPU
 * variable (__preempt_count, or pcpu_hot.preempt_count on 6.2..6.14) is a
 * typed ksym that the verifier resolves through kallsyms, and kernels built
 * without CONFIG_KALLSYMS_ALL (ours) do not list data symbols. isolwatch.bpf.c
 * counts hardirq/softirq nesting itself on every CPU instead (iw_ctx).
 */

/*
 * The CPU a task last ran on: thread_info.cpu with THREAD_INFO_IN_TASK
 * (x86, arm64 since 5.16's "sched: move CPU field back into thread_info"),
 * task_struct.cpu on kernels between 5.16 and that move.
 */
struct task_struct___cpu_field {
	unsigned int cpu;
} __attribute__((preserve_access_index));

static __always_inline __u32 iw_task_cpu(struct task_struct *t)
{
	if (bpf_core_field_exists(t->thread_info.cpu))
		return BPF_CORE_READ(t, thread_info.cpu);
	return BPF_CORE_READ((struct task_struct___cpu_field *)t, cpu);
}

/*
 * Task isolation state (PR_ISOL), only on kernels carrying the proposed
 * series (see knowledge/task-isolation-abi.md): revision v12 names the
 * pointer task_isol_info, revisions v5..v8 isol_info. Both point to the
 * same shape. Stock kernels have neither: the reads compile to nothing.
 */
struct task_isol_info___iw {
	__u64 conf_mask;
	__u64 active_mask;
	__u64 quiesce_mask;
	__u64 oneshot_mask;
	__u8 inherit_mask;
} __attribute__((preserve_access_index));

struct isol_info___iw {
	__u64 conf_mask;
	__u64 active_mask;
	__u64 quiesce_mask;
	__u64 oneshot_mask;
	__u8 inherit_mask;
} __attribute__((preserve_access_index));

struct task_struct___isol_v12 {
	struct task_isol_info___iw *task_isol_info;
} __attribute__((preserve_access_index));

struct task_struct___isol_v5 {
	struct isol_info___iw *isol_info;
} __attribute__((preserve_access_index));

/* Fills m from the task's kernel isolation state; returns 1 when read. */
static __always_inline int iw_read_isol(struct task_struct *t, struct iw_isol_masks *m)
{
	if (bpf_core_field_exists(((struct task_struct___isol_v12 *)t)->task_isol_info)) {
		struct task_isol_info___iw *ii = BPF_CORE_READ((struct task_struct___isol_v12 *)t, task_isol_info);
		if (!ii)
			return 0;
		m->conf_mask = BPF_CORE_READ(ii, conf_mask);
		m->active_mask = BPF_CORE_READ(ii, active_mask);
		m->quiesce_mask = BPF_CORE_READ(ii, quiesce_mask);
		m->oneshot_mask = BPF_CORE_READ(ii, oneshot_mask);
		m->inherit_mask = BPF_CORE_READ(ii, inherit_mask);
		return 1;
	}
	if (bpf_core_field_exists(((struct task_struct___isol_v5 *)t)->isol_info)) {
		struct isol_info___iw *ii = BPF_CORE_READ((struct task_struct___isol_v5 *)t, isol_info);
		if (!ii)
			return 0;
		m->conf_mask = BPF_CORE_READ(ii, conf_mask);
		m->active_mask = BPF_CORE_READ(ii, active_mask);
		m->quiesce_mask = BPF_CORE_READ(ii, quiesce_mask);
		m->oneshot_mask = BPF_CORE_READ(ii, oneshot_mask);
		m->inherit_mask = BPF_CORE_READ(ii, inherit_mask);
		return 1;
	}
	return 0;
}

#endif /* __IW_CORE_FIXES_BPF_H */
