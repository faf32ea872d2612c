/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who sent it: facts about the sending context remembered on the sender's
 * CPU (csd_queue_cpu, ipi_send_*, queue_work, sched_waking, and the kprobe
 * fallback for IPI senders on kernels before 6.4), keyed by what the victim
 * side will see (csd, work item, target CPU, wakee).
 */
#ifndef __IW_SENDERS_BPF_H
#define __IW_SENDERS_BPF_H

/* Facts about the current (sending) context. */
static __always_inline void fill_sender(struct iw_sender *s, __u64 callsite, __u64 func)
{
	__u64 id = bpf_get_current_pid_tgid();
	s->ts = bpf_ktime_get_ns();
	s->callsite = callsite;
	s->func = func;
	s->pid = id >> 32;
	s->tid = (__u32)id;
	s->cpu = bpf_get_smp_processor_id();
	s->ctx = iw_current_ctx();
	bpf_get_current_comm(s->comm, sizeof(s->comm));
}

static __always_inline void remember_ipi(__u32 cpu, unsigned long callsite, void *callback)
{
	struct iw_sender *s = bpf_map_lookup_elem(&iw_ipi, &cpu);
	if (s)
		fill_sender(s, callsite, (__u64)callback);
}

struct mask_walk {
	const struct cpumask *mask;
	unsigned long callsite;
	void *callback;
	__u32 self;
};

static long remember_ipi_one(__u32 i, void *data)
{
	struct mask_walk *w = data;
	unsigned long word = 0;
	__u32 key = i + 1, cpu;
	__u32 *c = bpf_map_lookup_elem(&iw_watch_list, &key);

	if (!c)
		return 1;
	cpu = *c;
	if (cpu >= IW_MAX_CPUS || cpu == w->self) /* the sender never IPIs itself */
		return 0;
	bpf_probe_read_kernel(&word, sizeof(word), (void *)w->mask + (cpu / 64) * 8);
	if ((word >> (cpu % 64)) & 1)
		remember_ipi(cpu, w->callsite, w->callback);
	return 0;
}

/*
 * The watched CPUs set in a kernel cpumask get this sender. bpf_loop, not a
 * bounded loop: 6.1's verifier rejects the loop in a kprobe ("infinite loop
 * detected").
 */
static __always_inline void remember_ipi_mask(const struct cpumask *mask, unsigned long callsite, void *callback)
{
	__u32 zero = 0;
	__u32 *n = bpf_map_lookup_elem(&iw_watch_list, &zero);
	struct mask_walk w = { .mask = mask, .callsite = callsite, .callback = callback, .self = bpf_get_smp_processor_id() };

	if (n && *n)
		bpf_loop(*n < IW_MAX_WATCH ? *n : IW_MAX_WATCH, remember_ipi_one, &w, 0);
}

/*
 * Kernels before 6.4 have neither ipi_send_* nor csd_* tracepoints (Debian
 * 12's 6.1 among them). There the senders are taken from kprobes on the two
 * functions every cross-CPU call goes through, and the reschedule sender.
 * User space attaches these only when ipi_send_cpu is missing. The callsite
 * is the probed function's return address (at entry, the word at the stack
 * pointer): the caller, e.g. membarrier_private_expedited when the wrapper
 * smp_call_function_many() tail-calls, or on_each_cpu_cond_mask for TLB
 * shootdowns.
 */
static __always_inline unsigned long entry_return_address(struct pt_regs *regs)
{
	unsigned long ret = 0;

	bpf_probe_read_kernel(&ret, sizeof(ret), (void *)PT_REGS_SP(regs));
	return ret;
}

#endif /* __IW_SENDERS_BPF_H */
