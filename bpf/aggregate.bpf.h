/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every interruption is counted here, exactly, whatever reaches user space:
 * the per-CPU class totals (iw_counts), the aggregates by key (iw_agg, or
 * iw_agg_overflow when it is full), and the record accounting (delivered,
 * sampled, lost). Then the sampling decision: a record goes to the ring for
 * the first interruption of a key, for iw_exemplars_per_s more a second, for
 * what enforcement needs, and for everything with IW_RECORDS_ALL.
 */
#ifndef __IW_AGGREGATE_BPF_H
#define __IW_AGGREGATE_BPF_H

/* A record that is not an interruption (isol, fork, exit): always sent, counted under IW_COUNTER_OTHER. */
static __always_inline void output_other(void *data, __u64 size)
{
	__u32 k = IW_COUNTER_OTHER;
	struct iw_counter *c = bpf_map_lookup_elem(&iw_counts, &k);

	if (bpf_ringbuf_output(&iw_events, data, size, BPF_RB_NO_WAKEUP)) {
		if (c)
			c->lost += 1;
	} else if (c) {
		c->delivered += 1;
	}
}

static __always_inline __u16 current_epoch(void)
{
	__u32 zero = 0;
	__u32 *e = bpf_map_lookup_elem(&iw_epoch, &zero);
	return e ? (__u16)*e : 0;
}

/*
 * The headline of an interruption, as the key counts it (src/correlate's
 * headline() names the same fields for records): the root entry's class and
 * kind; func the IPI's cross-CPU function (or the one its sender queued),
 * the timer callback under a tick, the work function, the IRQ handler, the
 * first work item a preemption ran. Syscalls and faults carry no function.
 */
static __always_inline void headline(const struct iw_interruption *rec, __u32 *kind, __u64 *func)
{
	__u16 cls = rec->chain[0].class;
	__u32 n = rec->chain_len;

	*kind = rec->chain[0].kind;
	*func = 0;
	if (cls == IW_CLASS_WORKQUEUE || cls == IW_CLASS_IRQ || cls == IW_CLASS_NMI) {
		*func = rec->chain[0].func;
		return;
	}
	for (__u32 i = 0; i < IW_CHAIN_MAX && i < n; i++) {
		const struct iw_entry *e = &rec->chain[i];
		if (cls == IW_CLASS_PREEMPT && e->class == IW_CLASS_WORKQUEUE) {
			*func = e->func;
			return;
		}
		if (cls == IW_CLASS_IPI && e->class == IW_CLASS_IPI && e->kind == IW_VEC_CSD) {
			*func = e->func;
			return;
		}
		if (cls == IW_CLASS_TIMER && e->class == IW_CLASS_TIMER && (e->kind == IW_VEC_HRTIMER || e->kind == IW_VEC_TIMER_LIST)) {
			*func = e->func;
			return;
		}
	}
	/* without csd_* tracepoints (before 6.5) the function is the one the sender queued */
	if (cls == IW_CLASS_IPI && (*kind == IW_VEC_CALL_FUNCTION || *kind == IW_VEC_CALL_FUNCTION_SINGLE))
		*func = rec->cause_func;
}

/* The key's flags for a victim: declared (tracked process), kernel PR_ISOL state. */
static __always_inline __u16 victim_flags(__u32 victim_pid, const struct iw_isol_masks *isol, __u32 rec_flags)
{
	__u16 f = 0;

	if (victim_pid && bpf_map_lookup_elem(&iw_track_pid, &victim_pid))
		f |= IW_AGG_F_DECLARED;
	if (isol && (rec_flags & IW_F_ISOL_KERNEL)) {
		f |= IW_AGG_F_ISOL_KERNEL;
		if (isol->active_mask)
			f |= IW_AGG_F_ISOL_ACTIVE;
		if (isol->conf_mask)
			f |= IW_AGG_F_ISOL_CONF;
	}
	if (rec_flags & IW_F_SELF_CAUSED)
		f |= IW_AGG_F_SELF_CAUSED;
	if (rec_flags & IW_F_IN_PREEMPT)
		f |= IW_AGG_F_IN_PREEMPT;
	return f;
}

/* What a new key's value is filled from (agg_value's `copy`). */
#define IW_COPY_CAUSE (1 << 0)
#define IW_COPY_NAME (1 << 1)
#define IW_COPY_CURRENT (1 << 2) /* the victim is the current task: its comm is read here, only for a new key */

/*
 * Creates the value of a new key in iw_agg from init, with the comms and name
 * (nothing counted yet), or, when iw_agg is full, the overflow key's, which
 * keeps only what the verdict needs.
 */
static __always_inline struct iw_agg_value *agg_create(struct iw_agg_key *k, struct iw_agg_value *init, const char *victim_comm,
						       const char *cause_comm, const char *name, __u32 copy)
{
	struct iw_agg_value *v;

	__builtin_memset(init, 0, sizeof(*init));
	if (copy & IW_COPY_CURRENT)
		bpf_get_current_comm(init->victim_comm, sizeof(init->victim_comm));
	else
		__builtin_memcpy(init->victim_comm, victim_comm, IW_COMM_LEN);
	if (copy & IW_COPY_CAUSE)
		__builtin_memcpy(init->cause_comm, (copy & IW_COPY_CURRENT) ? init->victim_comm : cause_comm, IW_COMM_LEN);
	if (copy & IW_COPY_NAME)
		__builtin_memcpy(init->name, name, IW_NAME_LEN);
	if (!bpf_map_update_elem(&iw_agg, k, init, BPF_NOEXIST))
		return bpf_map_lookup_elem(&iw_agg, k);
	v = bpf_map_lookup_elem(&iw_agg, k); /* created meanwhile by a program that interrupted this one */
	if (v)
		return v;
	k->func = 0;
	k->callsite = 0;
	k->kind = 0;
	k->victim_pid = 0;
	k->victim_tid = 0;
	k->cause_pid = 0;
	k->cause_tid = 0;
	k->cause_cpu = 0;
	k->cause_ctx = 0;
	k->flags |= IW_AGG_F_OVERFLOW;
	v = bpf_map_lookup_elem(&iw_agg_overflow, k);
	if (v)
		return v;
	__builtin_memset(init, 0, sizeof(*init));
	bpf_map_update_elem(&iw_agg_overflow, k, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&iw_agg_overflow, k);
}

/*
 * The value of a key: found, or created in this CPU's next free iw_agg_init
 * slot. The slot is taken before it is written and given back after the map
 * update has copied it: a program that interrupts this one meanwhile (its
 * CPU's interrupts stay enabled in task and softirq context) takes the next
 * slot, and is done with it before this one resumes. NULL only when every
 * slot is in use (nesting deeper than task, softirq, hardirq, NMI).
 */
static __always_inline struct iw_agg_value *agg_value(struct iw_agg_key *k, const char *victim_comm, const char *cause_comm,
						      const char *name, __u32 copy)
{
	struct iw_agg_value *v = bpf_map_lookup_elem(&iw_agg, k);
	struct iw_agg_value *init;
	__u32 zero = 0, slot;
	__u32 *nest;

	if (v)
		return v;
	nest = bpf_map_lookup_elem(&iw_agg_nest, &zero);
	if (!nest)
		return NULL;
	slot = *nest;
	if (slot >= IW_AGG_INIT_SLOTS)
		return NULL;
	*nest = slot + 1;
	init = bpf_map_lookup_elem(&iw_agg_init, &slot);
	v = init ? agg_create(k, init, victim_comm, cause_comm, name, copy) : NULL;
	*nest = slot;
	return v;
}

/*
 * Counts one interruption everywhere (class totals, its key) and says
 * whether its record goes to the ring: every record with IW_RECORDS_ALL;
 * what enforcement needs (a signal sent, held or refused at it); otherwise
 * the first of its key and iw_exemplars_per_s more a second.
 */
static __always_inline int count(struct iw_agg_key *k, __u64 duration, __u32 rec_flags, const char *victim_comm,
				 const char *cause_comm, const char *name, __u32 copy)
{
	__u64 now;
	__u32 cls = k->class;
	struct iw_counter *c = bpf_map_lookup_elem(&iw_counts, &cls);
	__u64 stolen = (rec_flags & IW_F_IN_PREEMPT) ? 0 : duration;
	__u32 b = (__u32)iw_hist_bucket(duration) & (IW_HIST_BUCKETS - 1);
	struct iw_agg_value *v;
	int send = iw_record_mode == IW_RECORDS_ALL || (rec_flags & (IW_F_SIGNAL_SENT | IW_F_SIGNAL_HELD | IW_F_SIGNAL_FAILED)) != 0;

	if (c) {
		if (rec_flags & IW_F_SELF_CAUSED) {
			c->self_caused += 1;
		} else {
			c->count += 1;
			c->stolen_ns += stolen;
			if (duration > c->max_ns)
				c->max_ns = duration;
			c->hist[b] += 1;
		}
	}
	v = agg_value(k, victim_comm, cause_comm, name, copy);
	if (!v)
		return 1; /* not even counted by key: let the record carry it */
	if (v->count == 0)
		send = 1; /* the first of its key */
	/*
	 * When it was counted (not when it began: a preemption is counted when it
	 * ends): readers skip keys by it, and the exemplar window runs on it.
	 */
	now = bpf_ktime_get_ns();
	v->last_ns = now;
	v->count += 1;
	v->stolen_ns += stolen;
	if (duration > v->max_ns)
		v->max_ns = duration;
	v->hist[b] += 1;
	if (!send) {
		if (now - v->window_start_ns >= IW_SEC) {
			v->window_start_ns = now;
			v->window_records = 0;
		}
		if (v->window_records < iw_exemplars_per_s)
			send = 1;
	}
	if (send) {
		v->window_records += 1;
		v->records += 1;
	}
	return send;
}

/*
 * Global functions, like iw_emit and iw_emit_entry: the verifier checks each
 * once on its own instead of once for every path that reaches it (inlined
 * into the exit programs, the counting took 600k instructions and seconds to
 * verify per program).
 */
__noinline int iw_count_interruption(struct iw_agg_key *k, struct iw_interruption *rec)
{
	struct iw_agg_key key;

	if (!k || !rec)
		return 1;
	/* a copy on the stack: before 6.x map helpers take keys from the stack or map values only */
	__builtin_memcpy(&key, k, sizeof(key));
	return count(&key, rec->duration_ns, rec->flags, rec->victim_comm, rec->cause_comm, rec->chain[0].name,
		     IW_COPY_CAUSE | IW_COPY_NAME);
}

__noinline int iw_count_entry(struct iw_agg_key *k, struct iw_entry_record *e)
{
	struct iw_agg_key key;

	if (!k || !e)
		return 1;
	__builtin_memcpy(&key, k, sizeof(key));
	return count(&key, e->duration_ns, e->flags, e->victim_comm, e->victim_comm, e->victim_comm,
		     IW_COPY_CURRENT | (e->cause_ctx == IW_CTX_SELF ? IW_COPY_CAUSE : 0));
}

/* The record accounting: put on the ring (delivered) or not (lost), or not sent (sampled). */
static __always_inline void output(__u32 cls, void *data, __u64 size, int send)
{
	struct iw_counter *c = bpf_map_lookup_elem(&iw_counts, &cls);

	if (!send) {
		if (c)
			c->sampled += 1;
		return;
	}
	if (bpf_ringbuf_output(&iw_events, data, size, BPF_RB_NO_WAKEUP)) {
		if (c)
			c->lost += 1;
	} else if (c) {
		c->delivered += 1;
	}
}

/* A sender in task context that is isolwatch's own process: what isolwatch caused itself. */
static __always_inline __u32 self_caused(__u32 cause_pid, __u16 cause_ctx)
{
	return cause_pid && cause_pid == iw_self_tgid && (cause_ctx == IW_CTX_TASK || cause_ctx == IW_CTX_SELF) ? IW_F_SELF_CAUSED : 0;
}

/* Counts and (maybe) sends an interruption built in an episode. */
__noinline int iw_emit(struct iw_episode *ep)
{
	struct iw_interruption *rec;
	struct iw_agg_key k = {};
	__u32 n;
	__u64 size;
	int send;

	if (!ep)
		return 0;
	rec = &ep->rec;
	rec->flags |= self_caused(rec->cause_pid, rec->cause_ctx);
	k.cpu = rec->hdr.cpu;
	k.class = rec->chain[0].class;
	headline(rec, &k.kind, &k.func);
	k.callsite = rec->cause_callsite;
	k.victim_pid = rec->victim_pid;
	k.victim_tid = rec->victim_tid;
	k.cause_pid = rec->cause_pid;
	k.cause_tid = rec->cause_tid;
	k.cause_cpu = rec->cause_cpu;
	k.cause_ctx = rec->cause_ctx;
	k.flags = victim_flags(rec->victim_pid, &ep->isol, rec->flags);
	k.epoch = current_epoch();
	send = iw_count_interruption(&k, rec);
	n = rec->chain_len;
	if (n > IW_CHAIN_MAX)
		n = IW_CHAIN_MAX;
	size = __builtin_offsetof(struct iw_interruption, chain) + n * sizeof(struct iw_entry);
	if (send && (rec->flags & IW_F_ISOL_KERNEL)) {
		/* the masks go right after the last chain entry (room keeps space after a full chain) */
		__builtin_memcpy((void *)rec + size, &ep->isol, sizeof(ep->isol));
		size += sizeof(ep->isol);
	}
	if (size > IW_REC_MAX)
		size = IW_REC_MAX;
	output(rec->chain[0].class, rec, size, send);
	return 0;
}

/* A one-entry record with room for the victim's masks right after it. */
struct iw_entry_buf {
	struct iw_entry_record e;
	struct iw_isol_masks isol;
};

/* Counts and (maybe) sends a one-entry interruption (syscall, fault, generic entry). */
__noinline int iw_emit_entry(struct iw_entry_buf *b)
{
	struct iw_entry_record *e;
	struct iw_agg_key k = {};
	int send;

	if (!b)
		return 0;
	e = &b->e;
	e->flags |= self_caused(e->cause_ctx == IW_CTX_SELF ? e->victim_pid : 0, e->cause_ctx);
	k.cpu = e->hdr.cpu;
	k.class = e->class;
	k.kind = e->kind;
	k.victim_pid = e->victim_pid;
	k.victim_tid = e->victim_tid;
	if (e->cause_ctx == IW_CTX_SELF) {
		k.cause_pid = e->victim_pid;
		k.cause_tid = e->victim_tid;
		k.cause_cpu = e->hdr.cpu;
	}
	k.cause_ctx = e->cause_ctx;
	k.flags = victim_flags(e->victim_pid, &b->isol, e->flags);
	k.epoch = current_epoch();
	send = iw_count_entry(&k, e);
	if (send)
		bpf_get_current_comm(e->victim_comm, sizeof(e->victim_comm)); /* the victim of a one-entry record is the current task */
	output(e->class, b, (e->flags & IW_F_ISOL_KERNEL) ? sizeof(*b) : sizeof(*e), send);
	return 0;
}

#endif /* __IW_AGGREGATE_BPF_H */
