// SPDX-License-Identifier: GPL-2.0
/*
 * isolwatch kernel side: every kernel entry on watched CPUs becomes one
 * interruption record with its nested chain, its stolen time, and who caused
 * it. Sender-side tracepoints (csd_queue_cpu, ipi_send_*, queue_work,
 * sched_waking) run on every CPU but only remember facts for watched
 * targets; victim-side tracepoints return at once on unwatched CPUs.
 *
 * Per watched CPU there are two episode slots:
 *  - hard: nested entries that cannot be switched away from (IRQs, vectors,
 *    softirqs, timer callbacks, cross-CPU calls) plus work items executed by
 *    a kworker (force-closed at a context switch, since work may sleep);
 *  - pre: the victim was switched out while still runnable, until it runs
 *    again here. Whatever runs meanwhile is appended to its chain.
 * Syscalls are per task (a task can block inside one).
 *
 * Records are submitted with BPF_RB_NO_WAKEUP: a wakeup would raise an
 * irq_work interrupt on the watched CPU itself. User space drains from a
 * timer on a housekeeping CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "core_fixes.bpf.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Settings (.rodata), written by the loader between open and load. */
const volatile __u32 iw_self_tgid = 0;
const volatile __u32 iw_trace_syscalls = 0; /* syscall interruptions on watched CPUs */
const volatile __u32 iw_kthread_victims = 0; /* preemptions of kernel threads too (--kthreads) */
const volatile __u32 iw_trace_prctl = 0;    /* PR_ISOL-numbered prctls on every CPU */
/* syscall records only for tracked tasks (--pid, run's CMD, PR_ISOL callers): a busy neighbour on a watched CPU cannot flood the ring */
const volatile __u32 iw_syscalls_tracked_only = 0;

/* Anchor the contract types into BTF so TypeScript can read their layout. */
struct iw_interruption *iw_anchor_interruption __attribute__((unused));
struct iw_isol_call *iw_anchor_isol_call __attribute__((unused));
struct iw_counter *iw_anchor_counter __attribute__((unused));
struct iw_signal_arm *iw_anchor_signal_arm __attribute__((unused));
struct iw_task_event *iw_anchor_task_event __attribute__((unused));
struct iw_kread_page *iw_anchor_kread_page __attribute__((unused));

#define TASK_RUNNING 0
#define PF_KTHREAD 0x00200000
#define IW_NR_PRCTL 157 /* x86_64 */
#define IW_NR_EXIT 60 /* x86_64 */
#define IW_NR_EXIT_GROUP 231 /* x86_64 */

/* ---------------------------------------------------------------- helpers */

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

/*
 * bpf_send_signal*() from a tracepoint defers the signal to an irq_work: a
 * self-IPI on this CPU, or the one already on its way, runs it. So the first
 * irq_work vector to enter after a send is the one that carries it, however
 * long a busy host delays the IPI (a 1 ms bound once missed 2 of 10 in CI);
 * the bound only keeps a send whose IPI never came from claiming an unrelated
 * one much later. It is the record's own only when it opens the episode:
 * nested in another entry's chain, it is not what the victim was interrupted
 * for. The mark is consumed either way.
 */
#define IW_SIGNAL_IPI_WITHIN_NS (100ULL * 1000 * 1000)

static __always_inline void signal_irq_work(struct iw_episode *ep, int opened)
{
	__u32 zero = 0;
	__u64 *sent = bpf_map_lookup_elem(&iw_signal_sent_ns, &zero);
	__u64 ts;

	if (!ep || !sent || !*sent)
		return;
	ts = ep->rec.hdr.ts_ns; /* the episode began at this entry when it opened it */
	if (opened && ts >= *sent && ts - *sent < IW_SIGNAL_IPI_WITHIN_NS)
		ep->rec.flags |= IW_F_SELF_CAUSED;
	*sent = 0;
}

/* Every record goes out here; one that does not fit is counted as lost. */
static __always_inline void ring_output(void *data, __u64 size)
{
	if (bpf_ringbuf_output(&iw_events, data, size, BPF_RB_NO_WAKEUP)) {
		__u32 k = IW_COUNTER_LOST;
		struct iw_counter *lost = bpf_map_lookup_elem(&iw_counts, &k);
		if (lost)
			lost->count += 1;
	}
}

static __always_inline void emit(struct iw_interruption *rec)
{
	__u32 cls = rec->chain[0].class;
	struct iw_counter *c;

	/* only a sender in task context is isolwatch itself (not an IRQ that happened to hit it) */
	if (rec->cause_pid && rec->cause_pid == iw_self_tgid && (rec->cause_ctx == IW_CTX_TASK || rec->cause_ctx == IW_CTX_SELF))
		rec->flags |= IW_F_SELF_CAUSED;
	c = bpf_map_lookup_elem(&iw_counts, &cls);
	if (c) {
		c->count += 1;
		if (!(rec->flags & IW_F_IN_PREEMPT))
			c->stolen_ns += rec->duration_ns;
		if (rec->duration_ns > c->max_ns)
			c->max_ns = rec->duration_ns;
	}
	ring_output(rec, sizeof(*rec));
}

static __always_inline void set_victim(struct iw_interruption *rec, struct task_struct *t)
{
	__u32 pid = BPF_CORE_READ(t, tgid);
	rec->victim_pid = pid;
	rec->victim_tid = BPF_CORE_READ(t, pid);
	BPF_CORE_READ_STR_INTO(&rec->victim_comm, t, comm);
	if (iw_read_isol(t, rec))
		rec->flags |= IW_F_ISOL_KERNEL;
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

static __always_inline struct iw_ctx_state *ctx_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&iw_ctx, &zero);
}

/* Called on every CPU at hardirq/softirq entry and exit (see core_fixes.bpf.h). */
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

/* The victim caused it itself (syscall, fault). */
static __always_inline void set_self_cause(struct iw_interruption *rec, __u32 cpu)
{
	rec->cause_ctx = IW_CTX_SELF;
	rec->cause_pid = rec->victim_pid;
	rec->cause_tid = rec->victim_tid;
	rec->cause_cpu = cpu;
	__builtin_memcpy(rec->cause_comm, rec->victim_comm, IW_COMM_LEN);
}

/* Starts a record whose victim is t. */
static __always_inline void begin_episode_of(struct iw_episode *ep, struct task_struct *t, __u32 cpu, __u64 now)
{
	__u32 tid;

	__builtin_memset(&ep->rec, 0, sizeof(ep->rec));
	ep->rec.hdr.ts_ns = now;
	ep->rec.hdr.type = IW_REC_INTERRUPTION;
	ep->rec.hdr.cpu = cpu;
	ep->cause_prio = 0;
	set_victim(&ep->rec, t);
	tid = ep->rec.victim_tid;
	if (tid && bpf_map_lookup_elem(&iw_sys, &tid))
		ep->rec.flags |= IW_F_IN_SYSCALL;
}

static __always_inline void begin_episode(struct iw_episode *ep, __u32 cpu, __u64 now)
{
	begin_episode_of(ep, (struct task_struct *)bpf_get_current_task_btf(), cpu, now);
}

/* Appends one chain entry; returns its index or IW_CHAIN_MAX when full. */
static __always_inline __u32 chain_add(struct iw_interruption *rec, __u16 class, __u32 kind, __u64 func,
				       __u16 depth, __u64 now)
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
static __always_inline void merge_into_pre(struct iw_cpu_state *st)
{
	struct iw_interruption *h = &st->hard.rec;
	struct iw_interruption *p = &st->pre.rec;

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
	if (st->hard.cause_prio > st->pre.cause_prio) {
		p->cause_pid = h->cause_pid;
		p->cause_tid = h->cause_tid;
		p->cause_cpu = h->cause_cpu;
		p->cause_ctx = h->cause_ctx;
		p->cause_callsite = h->cause_callsite;
		p->cause_func = h->cause_func;
		p->cause_ts_ns = h->cause_ts_ns;
		__builtin_memcpy(p->cause_comm, h->cause_comm, IW_COMM_LEN);
		st->pre.cause_prio = st->hard.cause_prio;
	}
}

static __always_inline void finish_hard(struct iw_cpu_state *st, __u64 now, __u32 extra_flags)
{
	st->hard.rec.duration_ns = now - st->hard.rec.hdr.ts_ns;
	st->hard.rec.flags |= extra_flags;
	st->hard.depth = 0;
	if (st->pre.open && st->hard.rec.chain[0].class == IW_CLASS_WORKQUEUE) {
		/*
		 * A work item is why the victim was preempted: it is listed in the
		 * preemption's chain and is also its own record, charged to the
		 * preempted victim with its own queuer (several items may run in
		 * one preemption, each queued by someone else).
		 */
		merge_into_pre(st);
		st->hard.rec.victim_pid = st->pre.rec.victim_pid;
		st->hard.rec.victim_tid = st->pre.rec.victim_tid;
		__builtin_memcpy(st->hard.rec.victim_comm, st->pre.rec.victim_comm, IW_COMM_LEN);
		st->hard.rec.isol_conf_mask = st->pre.rec.isol_conf_mask;
		st->hard.rec.isol_active_mask = st->pre.rec.isol_active_mask;
		st->hard.rec.isol_quiesce_mask = st->pre.rec.isol_quiesce_mask;
		st->hard.rec.isol_oneshot_mask = st->pre.rec.isol_oneshot_mask;
		st->hard.rec.isol_inherit_mask = st->pre.rec.isol_inherit_mask;
		st->hard.rec.flags &= ~(IW_F_IN_SYSCALL | IW_F_ISOL_KERNEL);
		st->hard.rec.flags |= st->pre.rec.flags & (IW_F_IN_SYSCALL | IW_F_ISOL_KERNEL);
	}
	if (st->pre.open && (st->hard.rec.chain[0].class == IW_CLASS_WORKQUEUE || current_is_kthread()))
		st->hard.rec.flags |= IW_F_IN_PREEMPT;
	emit(&st->hard.rec);
}

/*
 * Nested entry on a watched CPU. cause/prio: sender facts, if any, and how
 * much to trust them (csd > ipi > wakeup).
 */
static __always_inline struct iw_episode *hard_enter(__u16 class, __u32 kind, __u64 func, struct iw_sender *cause,
						     __u32 prio, int *idx_out)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	__u64 now;
	__u32 d, idx;

	if (!watched(cpu))
		return NULL;
	st = cpu_state();
	if (!st)
		return NULL;
	now = bpf_ktime_get_ns();
	if (st->hard.depth == 0) {
		begin_episode(&st->hard, cpu, now);
		st->ct_specific += 1;
	}
	d = st->hard.depth;
	idx = chain_add(&st->hard.rec, class, kind, func, d, now);
	if (d < IW_STACK_MAX) {
		st->hard.stack_idx[d] = idx;
		st->hard.stack_start[d] = now;
	}
	st->hard.depth = d + 1;
	maybe_cause(&st->hard, cause, prio);
	if (idx_out)
		*idx_out = idx;
	return &st->hard;
}

static __always_inline void hard_exit(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	__u64 now;
	__u32 d, idx;

	if (!watched(cpu))
		return;
	st = cpu_state();
	if (!st || st->hard.depth == 0) /* attached mid-entry: nothing to pair */
		return;
	now = bpf_ktime_get_ns();
	d = st->hard.depth - 1;
	if (d < IW_STACK_MAX) {
		idx = st->hard.stack_idx[d];
		if (idx < IW_CHAIN_MAX) {
			st->hard.rec.chain[idx].duration_ns = sat32(now - st->hard.stack_start[d]);
		}
	}
	st->hard.depth = d;
	if (d == 0)
		finish_hard(st, now, 0);
}

/* An event without an exit (page fault, NMI): a chain entry or a record of its own. */
static __always_inline void instant(__u16 class, __u32 kind, __u64 func, __u64 duration_ns, __u32 flags)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	__u64 now;
	__u32 idx;

	if (!watched(cpu))
		return;
	st = cpu_state();
	if (!st)
		return;
	now = bpf_ktime_get_ns();
	if (st->hard.depth > 0) {
		/* inside an open nest: one more entry of its chain */
		idx = chain_add(&st->hard.rec, class, kind, func, st->hard.depth, now);
		if (idx < IW_CHAIN_MAX)
			st->hard.rec.chain[idx].duration_ns = sat32(duration_ns);
		return;
	}
	st->ct_specific += 1;
	begin_episode(&st->scratch, cpu, now);
	chain_add(&st->scratch.rec, class, kind, func, 0, now);
	st->scratch.rec.chain[0].duration_ns = sat32(duration_ns);
	st->scratch.rec.duration_ns = duration_ns;
	st->scratch.rec.flags |= flags | (st->pre.open && current_is_kthread() ? IW_F_IN_PREEMPT : 0);
	set_self_cause(&st->scratch.rec, cpu);
	emit(&st->scratch.rec);
}

static __always_inline void name_from(struct iw_episode *ep, int idx, const char *src)
{
	if (ep && idx >= 0 && idx < IW_CHAIN_MAX)
		bpf_probe_read_kernel_str(ep->rec.chain[idx].name, IW_NAME_LEN, src);
}

/* ------------------------------------------------------- x86 irq_vectors */

static __always_inline void vector_enter(__u16 class, __u32 kind)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_sender *s = NULL;
	struct iw_episode *ep;
	int idx = -1;

	if (!watched(cpu))
		return;
	if (kind == IW_VEC_RESCHEDULE) {
		__u32 key = IW_MAX_CPUS + cpu;
		s = bpf_map_lookup_elem(&iw_ipi, &key);
		if (s && !s->ts)
			s = NULL;
	}
	if (class == IW_CLASS_IPI && !s)
		s = bpf_map_lookup_elem(&iw_ipi, &cpu);
	ep = hard_enter(class, kind, 0, s, s && s->ts ? IW_PRIO_IPI : 0, &idx);
	if (kind == IW_VEC_IRQ_WORK)
		signal_irq_work(ep, idx == 0);
	if (s)
		s->ts = 0; /* consumed: a later IPI must not reuse it */
}

#define VECTOR(name, class, kind)                                          \
	SEC("tp_btf/" #name "_entry")                                      \
	int BPF_PROG(handle_vec_##name##_entry, int vector)                \
	{                                                                  \
		ctx_enter(1);                                              \
		vector_enter(class, kind);                                 \
		return 0;                                                  \
	}                                                                  \
	SEC("tp_btf/" #name "_exit")                                       \
	int BPF_PROG(handle_vec_##name##_exit, int vector)                 \
	{                                                                  \
		ctx_exit(1);                                               \
		hard_exit();                                               \
		return 0;                                                  \
	}

VECTOR(local_timer, IW_CLASS_TIMER, IW_VEC_LOCAL_TIMER)
VECTOR(reschedule, IW_CLASS_IPI, IW_VEC_RESCHEDULE)
VECTOR(call_function, IW_CLASS_IPI, IW_VEC_CALL_FUNCTION)
VECTOR(call_function_single, IW_CLASS_IPI, IW_VEC_CALL_FUNCTION_SINGLE)
VECTOR(irq_work, IW_CLASS_IPI, IW_VEC_IRQ_WORK)
VECTOR(x86_platform_ipi, IW_CLASS_IPI, IW_VEC_X86_PLATFORM_IPI)
VECTOR(thermal_apic, IW_CLASS_IRQ, IW_VEC_THERMAL_APIC)
VECTOR(threshold_apic, IW_CLASS_IRQ, IW_VEC_THRESHOLD_APIC)
VECTOR(deferred_error_apic, IW_CLASS_IRQ, IW_VEC_DEFERRED_ERROR_APIC)
VECTOR(error_apic, IW_CLASS_IRQ, IW_VEC_ERROR_APIC)
VECTOR(spurious_apic, IW_CLASS_IRQ, IW_VEC_SPURIOUS_APIC)

/* ------------------------------------------------------ device IRQs, softirqs */

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(handle_irq_handler_entry, int irq, struct irqaction *action)
{
	int idx = -1;
	struct iw_episode *ep;

	ctx_enter(1);
	ep = hard_enter(IW_CLASS_IRQ, irq, (__u64)BPF_CORE_READ(action, handler), NULL, 0, &idx);
	name_from(ep, idx, BPF_CORE_READ(action, name));
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(handle_irq_handler_exit, int irq, struct irqaction *action, int ret)
{
	ctx_exit(1);
	hard_exit();
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(handle_softirq_entry, unsigned int vec)
{
	ctx_enter(0);
	hard_enter(IW_CLASS_SOFTIRQ, vec, 0, NULL, 0, NULL);
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(handle_softirq_exit, unsigned int vec)
{
	ctx_exit(0);
	hard_exit();
	return 0;
}

/* ---------------------------------------------------------------- timers */

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(handle_timer_hrtimer_entry, struct hrtimer *timer, ktime_t *now)
{
	hard_enter(IW_CLASS_TIMER, IW_VEC_HRTIMER, (__u64)BPF_CORE_READ(timer, function), NULL, 0, NULL);
	return 0;
}

SEC("tp_btf/hrtimer_expire_exit")
int BPF_PROG(handle_timer_hrtimer_exit, struct hrtimer *timer)
{
	hard_exit();
	return 0;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(handle_timer_list_entry, struct timer_list *timer, unsigned long baseclk)
{
	hard_enter(IW_CLASS_TIMER, IW_VEC_TIMER_LIST, (__u64)BPF_CORE_READ(timer, function), NULL, 0, NULL);
	return 0;
}

SEC("tp_btf/timer_expire_exit")
int BPF_PROG(handle_timer_list_exit, struct timer_list *timer)
{
	hard_exit();
	return 0;
}

/* ------------------------------------------------------ cross-CPU calls (IPIs) */

/*
 * csd_* take a function pointer argument, which tp_btf programs may not read
 * ("arg type FUNC_PROTO is not a struct"): these three are raw_tp programs,
 * whose context is a plain u64 array.
 */
SEC("raw_tp/csd_queue_cpu")
int BPF_PROG(handle_csd_queue_cpu, const unsigned int cpu, unsigned long callsite, smp_call_func_t func,
	     call_single_data_t *csd)
{
	struct iw_sender s = {};
	__u64 key = (__u64)csd;

	if (!watched(cpu))
		return 0;
	fill_sender(&s, callsite, (__u64)func);
	bpf_map_update_elem(&iw_csd, &key, &s, BPF_ANY);
	return 0;
}

SEC("raw_tp/csd_function_entry")
int BPF_PROG(handle_csd_function_entry, smp_call_func_t func, call_single_data_t *csd)
{
	__u64 key = (__u64)csd;
	struct iw_sender *s;
	__u32 cpu = bpf_get_smp_processor_id();

	if (!watched(cpu))
		return 0;
	s = bpf_map_lookup_elem(&iw_csd, &key);
	/* only trust a record queued for this very CPU */
	if (s && s->func != (__u64)func)
		s = NULL;
	hard_enter(IW_CLASS_IPI, IW_VEC_CSD, (__u64)func, s, s ? IW_PRIO_CSD : 0, NULL);
	if (s)
		bpf_map_delete_elem(&iw_csd, &key);
	return 0;
}

SEC("raw_tp/csd_function_exit")
int BPF_PROG(handle_csd_function_exit, smp_call_func_t func, call_single_data_t *csd)
{
	hard_exit();
	return 0;
}

static __always_inline void remember_ipi(__u32 cpu, unsigned long callsite, void *callback)
{
	struct iw_sender *s = bpf_map_lookup_elem(&iw_ipi, &cpu);
	if (s)
		fill_sender(s, callsite, (__u64)callback);
}

SEC("tp_btf/ipi_send_cpu")
int BPF_PROG(handle_ipi_send_cpu, const unsigned int cpu, unsigned long callsite, void *callback)
{
	if (watched(cpu))
		remember_ipi(cpu, callsite, callback);
	return 0;
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

SEC("tp_btf/ipi_send_cpumask")
int BPF_PROG(handle_ipi_send_cpumask, const struct cpumask *mask, unsigned long callsite, void *callback)
{
	remember_ipi_mask(mask, callsite, callback);
	return 0;
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

SEC("kprobe/smp_call_function_many_cond")
int BPF_KPROBE(handle_ipi_fallback_many, const struct cpumask *mask, smp_call_func_t func)
{
	remember_ipi_mask(mask, entry_return_address(ctx), (void *)func);
	return 0;
}

SEC("kprobe/generic_exec_single")
int BPF_KPROBE(handle_ipi_fallback_single, int cpu, struct __call_single_data *csd)
{
	if (cpu >= 0 && (__u32)cpu != bpf_get_smp_processor_id() && watched(cpu))
		remember_ipi(cpu, entry_return_address(ctx), (void *)BPF_CORE_READ(csd, func));
	return 0;
}

/*
 * Every single-target call-function IPI, including the scheduler's remote
 * wake-ups (ttwu_queue_wakelist), which queue no function. Keeps what
 * smp_call_function_many_cond / generic_exec_single remembered for the same
 * CPU in the same call (no time limit: under emulation the two probes are
 * more than a millisecond apart).
 */
SEC("kprobe/send_call_function_single_ipi")
int BPF_KPROBE(handle_ipi_fallback_send_single, int cpu)
{
	__u32 c = cpu;
	struct iw_sender *s;

	if (cpu < 0 || !watched(c))
		return 0;
	s = bpf_map_lookup_elem(&iw_ipi, &c);
	if (!s)
		return 0;
	/* not yet consumed, with a function, from this very task: the call being sent now */
	if (s->ts && s->func && s->tid == (__u32)bpf_get_current_pid_tgid())
		return 0;
	fill_sender(s, entry_return_address(ctx), 0);
	return 0;
}

SEC("kprobe/native_smp_send_reschedule")
int BPF_KPROBE(handle_ipi_fallback_resched, int cpu)
{
	if (cpu >= 0 && cpu < IW_MAX_CPUS && watched(cpu))
		remember_ipi(IW_MAX_CPUS + cpu, entry_return_address(ctx), 0);
	return 0;
}

/* -------------------------------------------------------------- work items */

SEC("tp_btf/workqueue_queue_work")
int BPF_PROG(handle_workqueue_queue_work, int req_cpu, struct pool_workqueue *pwq, struct work_struct *work)
{
	struct iw_sender s = {};
	int cpu = BPF_CORE_READ(pwq, pool, cpu);
	__u64 key = (__u64)work;

	/* bound work for an unwatched CPU can never run on a watched one; unbound (-1) may */
	if (cpu >= 0 && !watched(cpu))
		return 0;
	fill_sender(&s, 0, (__u64)BPF_CORE_READ(work, func));
	s.target_cpu = cpu;
	bpf_probe_read_kernel_str(s.name, sizeof(s.name), BPF_CORE_READ(pwq, wq, name));
	bpf_map_update_elem(&iw_work, &key, &s, BPF_ANY);
	return 0;
}

SEC("tp_btf/workqueue_execute_start")
int BPF_PROG(handle_workqueue_execute_start, struct work_struct *work)
{
	__u64 key = (__u64)work;
	struct iw_sender *s;
	struct iw_episode *ep;
	int idx = -1;
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 func;

	if (!watched(cpu))
		return 0;
	s = bpf_map_lookup_elem(&iw_work, &key);
	func = (__u64)BPF_CORE_READ(work, func);
	ep = hard_enter(IW_CLASS_WORKQUEUE, 0, func, s, s ? IW_PRIO_WORK : 0, &idx);
	if (ep && s && idx >= 0 && idx < IW_CHAIN_MAX)
		__builtin_memcpy(ep->rec.chain[idx].name, s->name, IW_NAME_LEN);
	if (ep && ep->rec.chain_len == 1) {
		/* a kworker woke on an idle CPU: nobody's time was stolen but the CPU's */
		struct iw_cpu_state *st = cpu_state();
		if (st && !st->pre.open) {
			ep->rec.victim_pid = 0;
			ep->rec.victim_tid = 0;
			ep->rec.flags &= ~IW_F_IN_SYSCALL;
			__builtin_memcpy(ep->rec.victim_comm, "<idle>\0\0\0\0\0\0\0\0\0", IW_COMM_LEN);
		}
	}
	if (s)
		bpf_map_delete_elem(&iw_work, &key);
	return 0;
}

SEC("tp_btf/workqueue_execute_end")
int BPF_PROG(handle_workqueue_execute_end, struct work_struct *work, work_func_t function)
{
	hard_exit();
	return 0;
}

/* ------------------------------------------------- wakeups and preemption */

SEC("tp_btf/sched_waking")
int BPF_PROG(handle_sched_waking, struct task_struct *p)
{
	struct iw_sender s = {};
	__u32 tid;

	if (!watched(iw_task_cpu(p)))
		return 0;
	tid = BPF_CORE_READ(p, pid);
	fill_sender(&s, 0, 0);
	bpf_map_update_elem(&iw_waker, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline void finish_pre(struct iw_cpu_state *st, __u64 now, __u32 flags)
{
	st->pre.rec.duration_ns = now - st->pre.rec.hdr.ts_ns;
	st->pre.rec.chain[0].duration_ns = sat32(st->pre.rec.duration_ns);
	st->pre.rec.flags |= flags;
	st->pre.open = 0;
	emit(&st->pre.rec);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	__u32 next_tid, prev_tid, idx;
	struct iw_ctx_state *cx = ctx_state();
	__u64 now;

	/*
	 * No context switch happens inside a hardirq or softirq: the nesting
	 * counters must be 0 here. Resetting them heals a count left over from
	 * an interrupt that was in flight while the programs were attached
	 * (entry seen, exit not yet attached).
	 */
	if (cx) {
		cx->hardirq = 0;
		cx->softirq = 0;
	}
	if (!watched(cpu))
		return 0;
	st = cpu_state();
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	/* work items may sleep; hard contexts cannot switch: whatever is open ends here */
	if (st->hard.depth > 0)
		finish_hard(st, now, IW_F_OPEN_END);

	next_tid = BPF_CORE_READ(next, pid);
	prev_tid = BPF_CORE_READ(prev, pid);
	if (st->pre.open) {
		struct task_struct *victim = (struct task_struct *)st->pre.victim_task;

		if (next_tid == st->pre.rec.victim_tid) {
			/* the victim is back; the task it displaces may be a victim itself (below) */
			finish_pre(st, now, 0);
		} else if (next_tid == 0 || iw_task_cpu(victim) != cpu) {
			/* runnable but no longer ours: the load balancer moved it (or the CPU idles) */
			finish_pre(st, now, IW_F_OPEN_END);
		} else {
			/* name at most two more tasks: the chain keeps room for the work items */
			if (st->pre.rec.chain_len < 3) {
				idx = chain_add(&st->pre.rec, IW_CLASS_PREEMPT, next_tid, 0, 1, now);
				if (idx < IW_CHAIN_MAX)
					BPF_CORE_READ_STR_INTO(&st->pre.rec.chain[idx].name, next, comm);
			}
			return 0;
		}
	}
	if (prev_state != TASK_RUNNING || prev_tid == 0 || ((BPF_CORE_READ(prev, flags) & PF_KTHREAD) && !iw_kthread_victims) ||
	    next_tid == 0)
		return 0;
	/* a runnable user task (or kthread, with --kthreads) leaves the CPU: the victim until it runs here again */
	begin_episode_of(&st->pre, prev, cpu, now);
	st->pre.victim_task = (__u64)prev;
	idx = chain_add(&st->pre.rec, IW_CLASS_PREEMPT, next_tid, 0, 0, now);
	if (idx < IW_CHAIN_MAX)
		BPF_CORE_READ_STR_INTO(&st->pre.rec.chain[idx].name, next, comm);
	{
		struct iw_sender *w = bpf_map_lookup_elem(&iw_waker, &next_tid);
		maybe_cause(&st->pre, w, IW_PRIO_WAKEUP);
	}
	st->pre.open = 1;
	st->ct_specific += 1;
	return 0;
}

/* ------------------------------------------------------------ NMI, faults */

SEC("tp_btf/nmi_handler")
int BPF_PROG(handle_nmi_handler, void *handler, s64 delta_ns, int handled)
{
	/* NMIs interrupt our own programs: never touch the episode state here */
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 zero = 0;
	struct iw_interruption *rec;

	if (!watched(cpu))
		return 0;
	rec = bpf_map_lookup_elem(&iw_nmi_scratch, &zero);
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->hdr.ts_ns = bpf_ktime_get_ns() - delta_ns;
	rec->hdr.type = IW_REC_INTERRUPTION;
	rec->hdr.cpu = cpu;
	set_victim(rec, (struct task_struct *)bpf_get_current_task_btf());
	rec->duration_ns = delta_ns;
	rec->chain_len = 1;
	rec->chain[0].class = IW_CLASS_NMI;
	rec->chain[0].kind = handled;
	rec->chain[0].func = (__u64)handler;
	rec->chain[0].start_ns = rec->hdr.ts_ns;
	rec->chain[0].duration_ns = sat32(delta_ns);
	emit(rec);
	return 0;
}

/*
 * In-kernel enforcement: a thread user space armed (iw_signal) is signalled
 * from its own kernel entry. Thread-directed (bpf_send_signal_thread): the
 * handler runs in this thread, before the entry returns to user space; a
 * process-directed signal could be taken by another thread. The cooldown and
 * rate limit live here so a handler's own syscalls and its rt_sigreturn
 * cannot re-trigger it without end.
 */
static __always_inline void signal_on_entry(__u32 tid, __u32 *flags, __u32 on)
{
	struct iw_signal_arm *a = bpf_map_lookup_elem(&iw_signal, &tid);
	__u32 zero = 0;
	__u64 now, *sent;

	if (!a || !(a->on & on))
		return;
	now = bpf_ktime_get_ns();
	if (a->last_ns && now - a->last_ns < a->cooldown_ns)
		goto held;
	if (a->window_ns) {
		if (!a->window_start_ns || now - a->window_start_ns >= a->window_ns) {
			a->window_start_ns = now;
			a->sent_in_window = 0;
		}
		if (a->sent_in_window >= a->max_per_window)
			goto held;
	}
	/* before sending: the irq_work self-IPI can interrupt this very program */
	sent = bpf_map_lookup_elem(&iw_signal_sent_ns, &zero);
	if (sent)
		*sent = now;
	if (bpf_send_signal_thread(a->signo)) {
		if (sent)
			*sent = 0;
		*flags |= IW_F_SIGNAL_FAILED;
		return;
	}
	a->last_ns = now;
	a->sent_in_window += 1;
	*flags |= IW_F_SIGNAL_SENT;
	return;
held:
	*flags |= IW_F_SIGNAL_HELD;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(handle_exc_page_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u32 flags = IW_F_NO_EXIT;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!watched(bpf_get_smp_processor_id()))
		return 0;
	signal_on_entry(tid, &flags, IW_SIG_ON_FAULT);
	instant(IW_CLASS_PAGE_FAULT, (__u32)error_code, address, 0, flags);
	return 0;
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(handle_exc_page_fault_kernel, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 flags = IW_F_NO_EXIT | IW_F_KERNEL_MODE;

	if (!watched(bpf_get_smp_processor_id()))
		return 0;
	if (bpf_map_lookup_elem(&iw_sys, &tid))
		flags |= IW_F_IN_SYSCALL;
	instant(IW_CLASS_PAGE_FAULT, (__u32)error_code, address, 0, flags);
	return 0;
}

/* ---------------------------------------------------------------- syscalls */

static __always_inline void prctl_enter(struct pt_regs *regs, __u32 tid)
{
	struct iw_isol_call c = {};
	__u64 option = BPF_CORE_READ(regs, di);

	if (option < IW_PR_ISOL_FEAT_GET || option > IW_PR_ISOL_ACTIVATE_SET)
		return;
	c.option = option;
	c.arg2 = BPF_CORE_READ(regs, si);
	c.arg3 = BPF_CORE_READ(regs, dx);
	c.arg4 = BPF_CORE_READ(regs, r10);
	c.arg5 = BPF_CORE_READ(regs, r8);
	/* SET calls: what the caller asks for, read before the kernel acts */
	if (option == IW_PR_ISOL_CFG_SET && c.arg4) {
		if (!bpf_probe_read_user(&c.ctl, sizeof(c.ctl), (void *)c.arg4)) {
			c.in_mask = c.ctl[0];
			c.read_ok |= IW_ISOL_READ_IN_MASK | IW_ISOL_READ_CTL;
		}
	} else if (option == IW_PR_ISOL_ACTIVATE_SET) {
		if (c.arg2 && !bpf_probe_read_user(&c.in_mask, sizeof(c.in_mask), (void *)c.arg2))
			c.read_ok |= IW_ISOL_READ_IN_MASK;
		if (c.arg3 && !bpf_probe_read_user(&c.ctl, sizeof(c.ctl), (void *)c.arg3))
			c.read_ok |= IW_ISOL_READ_CTL;
	}
	c.hdr.ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&iw_prctl, &tid, &c, BPF_ANY);
}

static __always_inline void prctl_exit(long ret, __u32 tid)
{
	struct iw_isol_call *c = bpf_map_lookup_elem(&iw_prctl, &tid);
	__u64 id = bpf_get_current_pid_tgid();

	if (!c)
		return;
	c->hdr.type = IW_REC_ISOL;
	c->hdr.cpu = bpf_get_smp_processor_id();
	c->result = ret;
	c->pid = id >> 32;
	c->tid = (__u32)id;
	bpf_get_current_comm(c->comm, sizeof(c->comm));
	/* GET calls: what the kernel wrote back */
	if (c->option == IW_PR_ISOL_FEAT_GET && c->arg3) {
		if (!bpf_probe_read_user(&c->ctl, sizeof(c->ctl), (void *)c->arg3)) {
			c->out_mask = c->ctl[0];
			c->read_ok |= IW_ISOL_READ_OUT_MASK | IW_ISOL_READ_CTL;
		}
	} else if (c->option == IW_PR_ISOL_CFG_GET && c->arg4) {
		if (!bpf_probe_read_user(&c->ctl, sizeof(c->ctl), (void *)c->arg4)) {
			c->out_mask = c->ctl[0];
			c->read_ok |= IW_ISOL_READ_OUT_MASK | IW_ISOL_READ_CTL;
		}
	} else if (c->option == IW_PR_ISOL_ACTIVATE_GET && c->arg2) {
		if (!bpf_probe_read_user(&c->out_mask, sizeof(c->out_mask), (void *)c->arg2))
			c->read_ok |= IW_ISOL_READ_OUT_MASK;
	}
	ring_output(c, sizeof(*c));
	/* a SET that succeeded may have given the thread PR_ISOL state: follow its forks */
	if (ret == 0 && (c->option == IW_PR_ISOL_CFG_SET || c->option == IW_PR_ISOL_ACTIVATE_SET)) {
		__u8 one = 1;
		bpf_map_update_elem(&iw_track_tid, &tid, &one, BPF_ANY);
	}
	bpf_map_delete_elem(&iw_prctl, &tid);
}

/*
 * Is the task tracked (map iw_track_tid: PR_ISOL callers; iw_track_pid: the
 * processes user space declared, and what they fork)? IW_TASK_TRACKED_* bits.
 */
static __always_inline __u32 tracked(__u32 pid, __u32 tid)
{
	return (bpf_map_lookup_elem(&iw_track_tid, &tid) ? IW_TASK_TRACKED_TID : 0) |
	       (bpf_map_lookup_elem(&iw_track_pid, &pid) ? IW_TASK_TRACKED_PID : 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_raw_syscalls_sys_enter, struct pt_regs *regs, long id)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct iw_sys_state ss = {};
	struct iw_cpu_state *st;

	if (iw_trace_prctl && id == IW_NR_PRCTL)
		prctl_enter(regs, tid);
	if (!iw_trace_syscalls || !watched(cpu))
		return 0;
	if (iw_syscalls_tracked_only && !tracked(bpf_get_current_pid_tgid() >> 32, tid))
		return 0;
	ss.start_ns = bpf_ktime_get_ns();
	ss.nr = id;
	ss.cpu = cpu;
	/* a task ending is not a break: a signal now would only turn its exit status into the signal's */
	if (id != IW_NR_EXIT && id != IW_NR_EXIT_GROUP)
		signal_on_entry(tid, &ss.flags, IW_SIG_ON_SYSCALL);
	bpf_map_update_elem(&iw_sys, &tid, &ss, BPF_ANY);
	st = cpu_state();
	if (st)
		st->ct_specific += 1;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_raw_syscalls_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct iw_sys_state *ss;
	struct iw_cpu_state *st;
	__u64 now;

	if (iw_trace_prctl && BPF_CORE_READ(regs, orig_ax) == IW_NR_PRCTL)
		prctl_exit(ret, tid);
	if (!iw_trace_syscalls || !watched(cpu))
		return 0;
	ss = bpf_map_lookup_elem(&iw_sys, &tid);
	if (!ss)
		return 0;
	st = cpu_state();
	if (!st)
		goto out;
	now = bpf_ktime_get_ns();
	begin_episode(&st->scratch, cpu, ss->start_ns);
	/* keep what set_victim() read (isol_from_kernel); in_syscall says nothing about a syscall itself */
	st->scratch.rec.flags = (st->scratch.rec.flags & IW_F_ISOL_KERNEL) | ss->flags | (ss->cpu != cpu ? IW_F_OPEN_END : 0);
	chain_add(&st->scratch.rec, IW_CLASS_SYSCALL, (__u32)ss->nr, 0, 0, ss->start_ns);
	st->scratch.rec.duration_ns = now - ss->start_ns;
	st->scratch.rec.chain[0].duration_ns = sat32(st->scratch.rec.duration_ns);
	st->scratch.rec.chain[0].func = (__u64)ret;
	set_self_cause(&st->scratch.rec, cpu);
	emit(&st->scratch.rec);
out:
	bpf_map_delete_elem(&iw_sys, &tid);
	return 0;
}

/* ------------------------------------- fork/exit of tracked tasks (isol) */


/* Runs in the forking thread; two hash lookups for untracked tasks. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_task_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptid = BPF_CORE_READ(parent, pid), ppid = BPF_CORE_READ(parent, tgid);
	struct iw_task_event e = {};
	__u8 one = 1;

	e.flags = tracked(ppid, ptid);
	if (!e.flags)
		return 0;
	e.hdr.ts_ns = bpf_ktime_get_ns();
	e.hdr.type = IW_REC_FORK;
	e.hdr.cpu = bpf_get_smp_processor_id();
	e.pid = BPF_CORE_READ(child, tgid);
	e.tid = BPF_CORE_READ(child, pid);
	e.parent_pid = ppid;
	e.parent_tid = ptid;
	BPF_CORE_READ_STR_INTO(&e.comm, child, comm);
	if (e.flags & IW_TASK_TRACKED_TID)
		bpf_map_update_elem(&iw_track_tid, &e.tid, &one, BPF_ANY);
	if ((e.flags & IW_TASK_TRACKED_PID) && e.pid != ppid)
		bpf_map_update_elem(&iw_track_pid, &e.pid, &one, BPF_ANY);
	ring_output(&e, sizeof(e));
	return 0;
}

/* Runs in the exiting thread, after signal->live was decremented (0: the process is gone). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_task_exit, struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid), pid = BPF_CORE_READ(p, tgid);
	struct iw_task_event e = {};

	e.flags = tracked(pid, tid);
	if (!e.flags)
		return 0;
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		e.flags |= IW_TASK_GROUP_DEAD;
	e.hdr.ts_ns = bpf_ktime_get_ns();
	e.hdr.type = IW_REC_EXIT;
	e.hdr.cpu = bpf_get_smp_processor_id();
	e.pid = pid;
	e.tid = tid;
	BPF_CORE_READ_STR_INTO(&e.comm, p, comm);
	if (e.flags & IW_TASK_TRACKED_TID)
		bpf_map_delete_elem(&iw_track_tid, &tid);
	if (e.flags & IW_TASK_GROUP_DEAD)
		bpf_map_delete_elem(&iw_track_pid, &pid);
	ring_output(&e, sizeof(e));
	return 0;
}

/* ------------------------------------------- context tracking (nohz_full) */
#ifndef IW_NO_CONTEXT_TRACKING /* lets bpftool loadall verify the rest on kernels without them */

SEC("tp_btf/user_exit")
int BPF_PROG(handle_ct_user_exit, int dummy)
{
	struct iw_cpu_state *st;

	if (!watched(bpf_get_smp_processor_id()))
		return 0;
	st = cpu_state();
	if (!st)
		return 0;
	st->ct_start = bpf_ktime_get_ns();
	st->ct_specific = 0;
	return 0;
}

SEC("tp_btf/user_enter")
int BPF_PROG(handle_ct_user_enter, int dummy)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	__u64 now;

	if (!watched(cpu))
		return 0;
	st = cpu_state();
	if (!st || !st->ct_start)
		return 0;
	now = bpf_ktime_get_ns();
	if (st->ct_specific == 0) {
		/* entered the kernel and came back, and no specific probe saw why */
		begin_episode(&st->scratch, cpu, st->ct_start);
		chain_add(&st->scratch.rec, IW_CLASS_KERNEL, 0, 0, 0, st->ct_start);
		st->scratch.rec.duration_ns = now - st->ct_start;
		st->scratch.rec.chain[0].duration_ns = sat32(st->scratch.rec.duration_ns);
		st->scratch.rec.flags |= IW_F_FROM_USER;
		emit(&st->scratch.rec);
	}
	st->ct_start = 0;
	return 0;
}
#endif

/* ------------------------------------------------ kernel memory on request */

/*
 * Not attached anywhere: user space runs it with bpf_prog_test_run, the
 * context being {address, length}, and reads the bytes from iw_kread_buf.
 * Returns 0, or the negative error of bpf_probe_read_kernel.
 */
SEC("raw_tp")
int iw_kread(__u64 *ctx)
{
	__u32 zero = 0;
	struct iw_kread_page *page = bpf_map_lookup_elem(&iw_kread_buf, &zero);
	__u64 addr = ctx[0];
	__u32 len = ctx[1];

	if (!page)
		return -1;
	if (len >= IW_KREAD_MAX)
		len = IW_KREAD_MAX - 1;
	len &= IW_KREAD_MAX - 1; /* a bound the verifier can see */
	return bpf_probe_read_kernel(page->data, len, (void *)addr);
}
