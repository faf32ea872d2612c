/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-CPU episode state machine: nested kernel entries on a watched CPU
 * become one interruption with its chain.
 *  - hard: entries that cannot be switched away from (IRQs, vectors,
 *    softirqs, timer callbacks, cross-CPU calls) plus work items executed by
 *    a kworker (force-closed at a context switch, since work may sleep).
 *    An episode that ends moves the CPU to the next of IW_HARD_SLOTS slots
 *    before it is counted and sent: an interrupt that arrives meanwhile (a
 *    softirq's or a work item's end runs with interrupts on) starts its own
 *    episode in the next slot instead of overwriting the one being sent.
 *  - pre: the victim was switched out while still runnable, until it runs
 *    again here. Whatever runs meanwhile is appended to its chain.
 * Syscalls are per task (a task can block inside one): task storage.
 */
#ifndef __IW_EPISODE_BPF_H
#define __IW_EPISODE_BPF_H

/* One access the compiler may neither cache nor split: what an interrupt changed is seen. */
#define IW_ONCE(x) (*(volatile typeof(x) *)&(x))
/* Stores before it are not moved after it (volatile orders only volatile accesses). */
#define IW_BARRIER() asm volatile("" ::: "memory")

static __always_inline struct iw_episode *hard_ep(struct iw_cpu_state *st)
{
	return &st->hard[st->slot & (IW_HARD_SLOTS - 1)];
}

/* The cause fields of one record from another's. */
static __always_inline void copy_cause(struct iw_interruption *dst, const struct iw_interruption *src)
{
	dst->cause_pid = src->cause_pid;
	dst->cause_tid = src->cause_tid;
	dst->cause_cpu = src->cause_cpu;
	dst->cause_ctx = src->cause_ctx;
	dst->cause_callsite = src->cause_callsite;
	dst->cause_func = src->cause_func;
	dst->cause_ts_ns = src->cause_ts_ns;
	__builtin_memcpy(dst->cause_comm, src->cause_comm, IW_COMM_LEN);
}

static __always_inline void set_cause(struct iw_interruption *rec, struct iw_sender *s)
{
	rec->cause_pid = s->pid;
	rec->cause_tid = s->tid;
	rec->cause_cpu = s->cpu;
	rec->cause_ctx = s->ctx;
	rec->cause_callsite = s->callsite;
	rec->cause_func = s->func;
	rec->cause_ts_ns = s->ts;
	__builtin_memcpy(rec->cause_comm, s->comm, IW_COMM_LEN);
}

/* Is the task inside a traced syscall (task storage, not created here)? */
static __always_inline int in_syscall(struct task_struct *t)
{
	struct iw_task_state *ts = bpf_task_storage_get(&iw_task, t, 0, 0);
	return ts && ts->sys_start_ns;
}

/* Starts a record whose victim is t: its header part only (chain entries are written as they come). */
static __always_inline void begin_episode_of(struct iw_episode *ep, struct task_struct *t, __u32 cpu, __u64 now)
{
	struct iw_interruption *rec = &ep->rec;

	__builtin_memset(rec, 0, __builtin_offsetof(struct iw_interruption, chain));
	rec->hdr.ts_ns = now;
	rec->hdr.type = IW_REC_INTERRUPTION;
	rec->hdr.cpu = cpu;
	ep->cause_prio = 0;
	rec->victim_pid = BPF_CORE_READ(t, tgid);
	rec->victim_tid = BPF_CORE_READ(t, pid);
	BPF_CORE_READ_STR_INTO(&rec->victim_comm, t, comm);
	if (iw_read_isol(t, &ep->isol))
		rec->flags |= IW_F_ISOL_KERNEL;
	if (rec->victim_tid && in_syscall(t))
		rec->flags |= IW_F_IN_SYSCALL;
}

static __always_inline void begin_episode(struct iw_episode *ep, __u32 cpu, __u64 now)
{
	begin_episode_of(ep, (struct task_struct *)bpf_get_current_task_btf(), cpu, now);
}

/* Appends one chain entry; returns its index or IW_CHAIN_MAX when full. */
static __always_inline __u32 chain_add(struct iw_interruption *rec, __u16 class, __u32 kind, __u64 func, __u16 depth, __u64 now)
{
	__u32 i = rec->chain_len;
	if (i >= IW_CHAIN_MAX) {
		rec->flags |= IW_F_CHAIN_TRUNC;
		return IW_CHAIN_MAX;
	}
	rec->chain[i].class = class;
	rec->chain[i].kind = kind;
	rec->chain[i].func = func;
	rec->chain[i].depth = depth;
	rec->chain[i].start_ns = now;
	rec->chain[i].duration_ns = 0;
	rec->chain[i].name[0] = 0;
	rec->chain_len = i + 1;
	return i;
}

static __always_inline void maybe_cause(struct iw_episode *ep, struct iw_sender *s, __u32 prio)
{
	if (s && prio > ep->cause_prio) {
		set_cause(&ep->rec, s);
		ep->cause_prio = prio;
	}
}

/* Moves a finished hard episode into the open preemption episode's chain. */
static __always_inline void merge_into_pre(struct iw_episode *hard, struct iw_episode *pre)
{
	struct iw_interruption *h = &hard->rec;
	struct iw_interruption *p = &pre->rec;

#pragma unroll
	for (int i = 0; i < IW_CHAIN_MAX; i++) {
		if (i >= h->chain_len)
			break;
		__u32 j = p->chain_len;
		if (j >= IW_CHAIN_MAX) {
			p->flags |= IW_F_CHAIN_TRUNC;
			break;
		}
		p->chain[j] = h->chain[i];
		p->chain[j].depth += 1;
		p->chain_len = j + 1;
	}
	if (h->flags & IW_F_CHAIN_TRUNC)
		p->flags |= IW_F_CHAIN_TRUNC;
	if (hard->cause_prio > pre->cause_prio) {
		copy_cause(p, h);
		pre->cause_prio = hard->cause_prio;
	}
}

/*
 * Moves the CPU on from the hard episode ep, which is about to be sent: to the
 * next slot that no episode being sent holds. Sending runs with interrupts on
 * in task and softirq context, and what interrupts it ends episodes of its
 * own: taking simply the next slot, a task sending in slot 0, a softirq
 * ending in slot 2 and sending it (after an IRQ in slot 1), and IRQs in slots
 * 3 and then 0 again, wrote over the task's record while it was being copied
 * to the ring (a record whose chain was longer than its size). Two senders at
 * most are interrupted at a time (task, softirq), so of IW_HARD_SLOTS one is
 * free. The slot number only grows: hard_enter sees any move.
 */
static __always_inline void next_slot(struct iw_cpu_state *st, struct iw_episode *ep)
{
	__u32 s = st->slot, n = s + 1;

	ep->sending = 1;
	IW_BARRIER();
#pragma unroll
	for (int i = IW_HARD_SLOTS - 1; i >= 1; i--) {
		if (!IW_ONCE(st->hard[(s + i) & (IW_HARD_SLOTS - 1)].sending))
			n = s + i;
	}
	IW_ONCE(st->slot) = n;
}

/* Ends the hard episode ep (its depth already 0, the CPU moved on by next_slot): count, send, and free its slot. */
static __always_inline void finish_hard(struct iw_cpu_state *st, struct iw_episode *ep, __u64 now, __u32 extra_flags)
{
	struct iw_interruption *rec = &ep->rec;

	rec->duration_ns = now - rec->hdr.ts_ns;
	rec->flags |= extra_flags;
	if (st->pre.open && rec->chain[0].class == IW_CLASS_WORKQUEUE) {
		/*
		 * A work item is why the victim was preempted: it is listed in the
		 * preemption's chain and is also its own record, charged to the
		 * preempted victim with its own queuer (several items may run in
		 * one preemption, each queued by someone else).
		 */
		merge_into_pre(ep, &st->pre);
		rec->victim_pid = st->pre.rec.victim_pid;
		rec->victim_tid = st->pre.rec.victim_tid;
		__builtin_memcpy(rec->victim_comm, st->pre.rec.victim_comm, IW_COMM_LEN);
		ep->isol = st->pre.isol;
		rec->flags &= ~(IW_F_IN_SYSCALL | IW_F_ISOL_KERNEL);
		rec->flags |= st->pre.rec.flags & (IW_F_IN_SYSCALL | IW_F_ISOL_KERNEL);
	}
	if (st->pre.open && (rec->chain[0].class == IW_CLASS_WORKQUEUE || current_is_kthread()))
		rec->flags |= IW_F_IN_PREEMPT;
	iw_emit(ep);
	IW_BARRIER();
	IW_ONCE(ep->sending) = 0;
}

/* Closes the hard episode at once (a context switch: hard contexts cannot switch, work items may sleep). */
static __always_inline void close_hard(struct iw_cpu_state *st, __u64 now, __u32 flags)
{
	struct iw_episode *ep = hard_ep(st);

	if (ep->depth == 0)
		return;
	next_slot(st, ep);
	ep->depth = 0;
	finish_hard(st, ep, now, flags);
}

/*
 * What pairs an exit with its entry (iw_episode.stack_id): the kernel object
 * both name (an hrtimer, a timer_list, a csd, a work item: an address), or a
 * tag and a number for a vector, an IRQ and a softirq (never an address).
 */
#define IW_ID_VEC(k) ((1ULL << 48) | (__u64)(k))
#define IW_ID_IRQ(n) ((2ULL << 48) | (__u64)(__u32)(n))
#define IW_ID_SOFTIRQ(v) ((3ULL << 48) | (__u64)(v))

/* How often hard_enter builds an episode again after an interrupt took its slot. */
#define IW_OPEN_TRIES 3

/*
 * Nested entry on a watched CPU. cause/prio: sender facts, if any, and how
 * much to trust them (csd > ipi > wakeup).
 *
 * Opening an episode is several stores, and task and softirq context run
 * with interrupts on (a work item's start, a softirq's): an interrupt that
 * came after the free slot was seen, but before it was claimed, opened its
 * own episode in the same slot over the half-built one, ended and sent it,
 * and the resumed entry was then appended to a slot already sent, behind the
 * interrupt's entries, never counted as what it was. So an episode is built
 * complete in the free slot first and claimed by one store of its depth;
 * interrupts on one CPU are last-in first-out, so one that came meanwhile
 * has ended by the time this resumes, and has moved the CPU to the next
 * slot: then it is built again there. One that comes after the claim nests
 * in it, as it should.
 */
static __always_inline struct iw_episode *hard_enter(__u16 class, __u32 kind, __u64 func, __u64 id, struct iw_sender *cause, __u32 prio,
						      int *idx_out)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	struct iw_episode *ep = NULL;
	__u64 now;
	__u32 d = 0, idx = 0, slot;

	if (!watched(cpu))
		return NULL;
	st = cpu_state();
	if (!st)
		return NULL;
	now = bpf_ktime_get_ns();
	for (int i = 0; i < IW_OPEN_TRIES; i++) {
		slot = IW_ONCE(st->slot);
		ep = &st->hard[slot & (IW_HARD_SLOTS - 1)];
		d = IW_ONCE(ep->depth);
		if (d)
			break; /* one is open: this entry nests in it */
		begin_episode(ep, cpu, now);
		idx = chain_add(&ep->rec, class, kind, func, 0, now);
		ep->stack_idx[0] = idx;
		ep->stack_start[0] = now;
		ep->stack_id[0] = id;
		IW_BARRIER(); /* built before it is claimed */
		IW_ONCE(ep->depth) = 1;
		if (IW_ONCE(st->slot) == slot) {
			st->ct_specific += 1;
			goto opened;
		}
		IW_ONCE(ep->depth) = 0; /* an interrupt took the slot and sent its episode */
	}
	if (!d || !ep)
		return NULL; /* an interrupt took the slot every time: this entry is not seen */
	idx = chain_add(&ep->rec, class, kind, func, d, now);
	if (d < IW_STACK_MAX) {
		ep->stack_idx[d] = idx;
		ep->stack_start[d] = now;
		ep->stack_id[d] = id;
	}
	ep->depth = d + 1;
opened:
	maybe_cause(ep, cause, prio);
	if (idx_out)
		*idx_out = idx;
	return ep;
}

/*
 * The exit of the entry `id` names. It ends that entry's level, the innermost
 * with its id, not simply the innermost one: the kernel skips a tracing
 * program on a CPU where it is already running (recursion_misses), so a hard
 * timer expiring while hrtimer_expire_exit's program runs for a soft one
 * loses its exit, and one expiring during hrtimer_expire_entry's its entry.
 * Levels above the one ended lost their exits: they end here too (open_end).
 * An exit whose entry is not open was not seen entering (skipped, or it began
 * before the programs were attached): nothing is ended. Before, each exit
 * ended the innermost level, so a lost exit left its episode open, and what
 * came after, until the next context switch, was counted in it.
 */
static __always_inline void hard_exit(__u64 id)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	struct iw_episode *ep;
	__u64 now;
	__u32 d, idx, lvl = IW_STACK_MAX;

	if (!watched(cpu))
		return;
	st = cpu_state();
	if (!st)
		return;
	ep = hard_ep(st);
	d = ep->depth;
	if (d == 0) /* attached mid-entry: nothing to pair */
		return;
	if (d > IW_STACK_MAX) {
		lvl = d - 1; /* deeper than the ids kept: the innermost */
	} else {
#pragma unroll
		for (int i = IW_STACK_MAX - 1; i >= 0; i--) {
			if (i < d && lvl == IW_STACK_MAX && ep->stack_id[i] == id)
				lvl = i;
		}
	}
	if (lvl >= d)
		return;
	now = bpf_ktime_get_ns();
#pragma unroll
	for (int i = 0; i < IW_STACK_MAX; i++) {
		if (i < lvl || i >= d)
			continue;
		idx = ep->stack_idx[i];
		if (idx < IW_CHAIN_MAX)
			ep->rec.chain[idx].duration_ns = sat32(now - ep->stack_start[i]);
	}
	if (lvl + 1 < d)
		ep->rec.flags |= IW_F_OPEN_END;
	if (lvl == 0)
		next_slot(st, ep); /* before the depth drops: what interrupts from here on starts in the next slot */
	ep->depth = lvl;
	if (lvl == 0)
		finish_hard(st, ep, now, 0);
}

/* The victim caused it itself, with no exit event (a page fault): a chain entry, or a record of its own. */
static __always_inline void instant_self(__u16 class, __u32 kind, __u64 value, __u32 flags)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct iw_entry_buf b = {};
	struct iw_cpu_state *st;
	struct iw_episode *ep;
	__u64 now;
	__u32 idx;

	if (!watched(cpu))
		return;
	st = cpu_state();
	if (!st)
		return;
	now = bpf_ktime_get_ns();
	ep = hard_ep(st);
	if (ep->depth > 0) {
		/* inside an open nest: one more entry of its chain */
		idx = chain_add(&ep->rec, class, kind, value, ep->depth, now);
		if (idx < IW_CHAIN_MAX)
			ep->rec.chain[idx].duration_ns = 0;
		return;
	}
	st->ct_specific += 1;
	b.e.hdr.ts_ns = now;
	b.e.hdr.type = IW_REC_ENTRY;
	b.e.hdr.cpu = cpu;
	b.e.value = value;
	b.e.victim_pid = bpf_get_current_pid_tgid() >> 32;
	b.e.victim_tid = (__u32)bpf_get_current_pid_tgid();
	b.e.kind = kind;
	b.e.class = class;
	b.e.cause_ctx = IW_CTX_SELF;
	b.e.flags = flags | (st->pre.open && current_is_kthread() ? IW_F_IN_PREEMPT : 0);
	if (iw_read_isol(t, &b.isol))
		b.e.flags |= IW_F_ISOL_KERNEL;
	iw_emit_entry(&b);
}

static __always_inline void name_from(struct iw_episode *ep, int idx, const char *src)
{
	if (ep && idx >= 0 && idx < IW_CHAIN_MAX)
		bpf_probe_read_kernel_str(ep->rec.chain[idx].name, IW_NAME_LEN, src);
}

static __always_inline void finish_pre(struct iw_cpu_state *st, __u64 now, __u32 flags)
{
	st->pre.rec.duration_ns = now - st->pre.rec.hdr.ts_ns;
	st->pre.rec.chain[0].duration_ns = sat32(st->pre.rec.duration_ns);
	st->pre.rec.flags |= flags;
	st->pre.open = 0;
	iw_emit(&st->pre);
}

#endif /* __IW_EPISODE_BPF_H */
