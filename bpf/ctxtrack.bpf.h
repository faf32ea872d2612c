/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interrupt context a sender is in: hardirq/softirq nesting counted on
 * every CPU by isolwatch itself (the kernel's preempt count is a per-CPU
 * variable only typed ksyms could read, and kernels without
 * CONFIG_KALLSYMS_ALL do not list it; see core_fixes.bpf.h).
 */
#ifndef __IW_CTXTRACK_BPF_H
#define __IW_CTXTRACK_BPF_H

static __always_inline struct iw_ctx_state *ctx_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&iw_ctx, &zero);
}

/* Called on every CPU at hardirq/softirq entry and exit. */
static __always_inline void ctx_enter(int hard)
{
	struct iw_ctx_state *c = ctx_state();
	if (!c)
		return;
	if (hard)
		c->hardirq += 1;
	else
		c->softirq += 1;
}

static __always_inline void ctx_exit(int hard)
{
	struct iw_ctx_state *c = ctx_state();
	if (!c)
		return;
	if (hard && c->hardirq)
		c->hardirq -= 1;
	else if (!hard && c->softirq)
		c->softirq -= 1;
}

/*
 * No context switch happens inside a hardirq or softirq: at sched_switch the
 * counters must be 0. Resetting them there heals a count left over from an
 * interrupt that was in flight while the programs were attached.
 */
static __always_inline void ctx_reset(void)
{
	struct iw_ctx_state *c = ctx_state();
	if (c) {
		c->hardirq = 0;
		c->softirq = 0;
	}
}

static __always_inline __u16 iw_current_ctx(void)
{
	struct iw_ctx_state *c = ctx_state();
	if (!c)
		return IW_CTX_NONE;
	if (c->hardirq)
		return IW_CTX_HARDIRQ;
	if (c->softirq)
		return IW_CTX_SOFTIRQ;
	return IW_CTX_TASK;
}

#endif /* __IW_CTXTRACK_BPF_H */
