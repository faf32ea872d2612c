// SPDX-License-Identifier: GPL-2.0
/*
 * isolwatch kernel side: every kernel entry on watched CPUs is counted, by
 * key, in the kernel (aggregate.bpf.h), with its nested chain, its stolen
 * time and who caused it; records reach user space for what must be seen one
 * by one. Sender-side tracepoints (csd_queue_cpu, ipi_send_*, queue_work,
 * sched_waking) run on every CPU but only remember facts for watched
 * targets; victim-side tracepoints return at once on unwatched CPUs.
 *
 * This file holds the programs (thin SEC handlers); the logic is in the
 * headers beside it, one concern each:
 *   common       watched CPUs, per-CPU state, clamps, histogram buckets
 *   ctxtrack     the interrupt context a sender is in
 *   tasks        tracked tasks (declared processes, PR_ISOL callers)
 *   aggregate    counting, aggregates, sampling, the ring
 *   enforce      in-kernel signals
 *   episode      the per-CPU episode state machine
 *   senders      sender facts and the kprobe fallback for IPI senders
 *   isol         PR_ISOL-numbered prctls
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
const volatile __u32 iw_trace_syscalls = 0;  /* syscall interruptions on watched CPUs */
const volatile __u32 iw_kthread_victims = 0; /* preemptions of kernel threads too (--kthreads) */
const volatile __u32 iw_trace_prctl = 0;     /* PR_ISOL-numbered prctls on every CPU */
const volatile __u32 iw_record_mode = IW_RECORDS_SAMPLED;
const volatile __u32 iw_exemplars_per_s = 10; /* records a second per key after its first */
const volatile __u32 iw_signals = 0;          /* in-kernel signals may be armed (--enforce): look them up at entries */

/* Anchor the contract types into BTF so TypeScript can read their layout. */
struct iw_interruption *iw_anchor_interruption __attribute__((unused));
struct iw_entry_record *iw_anchor_entry_record __attribute__((unused));
struct iw_isol_masks *iw_anchor_isol_masks __attribute__((unused));
struct iw_isol_call *iw_anchor_isol_call __attribute__((unused));
struct iw_counter *iw_anchor_counter __attribute__((unused));
struct iw_agg_key *iw_anchor_agg_key __attribute__((unused));
struct iw_agg_value *iw_anchor_agg_value __attribute__((unused));
struct iw_signal_arm *iw_anchor_signal_arm __attribute__((unused));
struct iw_task_event *iw_anchor_task_event __attribute__((unused));
struct iw_kread_page *iw_anchor_kread_page __attribute__((unused));
struct iw_kaddr_args *iw_anchor_kaddr_args __attribute__((unused));

#include "common.bpf.h"
#include "ctxtrack.bpf.h"
#include "tasks.bpf.h"
#include "aggregate.bpf.h"
#include "enforce.bpf.h"
#include "episode.bpf.h"
#include "senders.bpf.h"
#include "isol.bpf.h"

/* ------------------------------------------------------- x86 irq_vectors */

/*
 * A local timer interrupt more than IW_TIMER_EARLY_NS before the expiry its
 * device was last programmed for has nothing due: the device fired because
 * it cannot count that far (clockevents cap each programming at the device's
 * max_delta: 34 s for the lapic timer at qemu's bus clock, 600 s for TSC
 * deadline) and the kernel re-arms it. A nohz_full CPU whose next timer is
 * further away than that takes one such interrupt per max_delta. Its cause is
 * nobody: the CPU's own timer device, with the expiry it was set for.
 */
#define IW_TIMER_EARLY_NS 1000000ULL

static __always_inline struct iw_sender *timer_early(__u32 cpu)
{
	struct iw_cpu_state *st = cpu_state();
	__u32 seed = IW_MAX_CPUS + cpu;
	__u64 *next, due = 0;

	if (!st)
		return NULL;
	next = bpf_map_lookup_elem(&iw_timer_dev, &cpu);
	if (next && *next)
		due = *next;
	else if ((next = bpf_map_lookup_elem(&iw_timer_dev, &seed)))
		due = *next;
	if (!due || due <= bpf_ktime_get_ns() + IW_TIMER_EARLY_NS)
		return NULL;
	__builtin_memset(&st->early, 0, sizeof(st->early));
	st->early.ts = due;
	st->early.cpu = cpu;
	st->early.ctx = IW_CTX_TIMER_EARLY;
	return &st->early;
}

/*
 * What the CPU's timer device is set to fire for (every programming goes
 * through here): on every CPU, so that a CPU watched later has it too.
 */
SEC("kprobe/clockevents_program_event")
int BPF_KPROBE(handle_clockevents_program, struct clock_event_device *dev, ktime_t expires)
{
	__u32 cpu = bpf_get_smp_processor_id();

	bpf_map_update_elem(&iw_timer_dev, &cpu, &expires, BPF_ANY);
	return 0;
}

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
	if (kind == IW_VEC_LOCAL_TIMER)
		s = timer_early(cpu);
	ep = hard_enter(class, kind, 0, IW_ID_VEC(kind), s, s && s->ts ? IW_PRIO_IPI : 0, &idx);
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
		hard_exit(IW_ID_VEC(kind));                                \
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
	ep = hard_enter(IW_CLASS_IRQ, irq, (__u64)BPF_CORE_READ(action, handler), IW_ID_IRQ(irq), NULL, 0, &idx);
	name_from(ep, idx, BPF_CORE_READ(action, name));
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(handle_irq_handler_exit, int irq, struct irqaction *action, int ret)
{
	ctx_exit(1);
	hard_exit(IW_ID_IRQ(irq));
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(handle_softirq_entry, unsigned int vec)
{
	ctx_enter(0);
	hard_enter(IW_CLASS_SOFTIRQ, vec, 0, IW_ID_SOFTIRQ(vec), NULL, 0, NULL);
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(handle_softirq_exit, unsigned int vec)
{
	ctx_exit(0);
	hard_exit(IW_ID_SOFTIRQ(vec));
	return 0;
}

/* ---------------------------------------------------------------- timers */

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(handle_timer_hrtimer_entry, struct hrtimer *timer, ktime_t *now)
{
	hard_enter(IW_CLASS_TIMER, IW_VEC_HRTIMER, (__u64)BPF_CORE_READ(timer, function), (__u64)timer, NULL, 0, NULL);
	return 0;
}

SEC("tp_btf/hrtimer_expire_exit")
int BPF_PROG(handle_timer_hrtimer_exit, struct hrtimer *timer)
{
	hard_exit((__u64)timer);
	return 0;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(handle_timer_list_entry, struct timer_list *timer, unsigned long baseclk)
{
	hard_enter(IW_CLASS_TIMER, IW_VEC_TIMER_LIST, (__u64)BPF_CORE_READ(timer, function), (__u64)timer, NULL, 0, NULL);
	return 0;
}

SEC("tp_btf/timer_expire_exit")
int BPF_PROG(handle_timer_list_exit, struct timer_list *timer)
{
	hard_exit((__u64)timer);
	return 0;
}

/* ------------------------------------------------------ cross-CPU calls (IPIs) */

/*
 * csd_* take a function pointer argument, which tp_btf programs may not read
 * ("arg type FUNC_PROTO is not a struct"): these three are raw_tp programs,
 * whose context is a plain u64 array.
 */
SEC("raw_tp/csd_queue_cpu")
int BPF_PROG(handle_csd_queue_cpu, const unsigned int cpu, unsigned long callsite, smp_call_func_t func, call_single_data_t *csd)
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
	hard_enter(IW_CLASS_IPI, IW_VEC_CSD, (__u64)func, key, s, s ? IW_PRIO_CSD : 0, NULL);
	if (s)
		bpf_map_delete_elem(&iw_csd, &key);
	return 0;
}

SEC("raw_tp/csd_function_exit")
int BPF_PROG(handle_csd_function_exit, smp_call_func_t func, call_single_data_t *csd)
{
	hard_exit((__u64)csd);
	return 0;
}

SEC("tp_btf/ipi_send_cpu")
int BPF_PROG(handle_ipi_send_cpu, const unsigned int cpu, unsigned long callsite, void *callback)
{
	if (watched(cpu))
		remember_ipi(cpu, callsite, callback);
	return 0;
}

SEC("tp_btf/ipi_send_cpumask")
int BPF_PROG(handle_ipi_send_cpumask, const struct cpumask *mask, unsigned long callsite, void *callback)
{
	remember_ipi_mask(mask, callsite, callback);
	return 0;
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
	ep = hard_enter(IW_CLASS_WORKQUEUE, 0, func, key, s, s ? IW_PRIO_WORK : 0, &idx);
	if (ep && s && idx >= 0 && idx < IW_CHAIN_MAX)
		__builtin_memcpy(ep->rec.chain[idx].name, s->name, IW_NAME_LEN);
	if (ep && idx == 0) {
		/* it opened the episode: a kworker woke on an idle CPU, nobody's time was stolen but the CPU's */
		struct iw_cpu_state *st = cpu_state();
		if (st && !st->pre.open) {
			ep->rec.victim_pid = 0;
			ep->rec.victim_tid = 0;
			ep->rec.flags &= ~(IW_F_IN_SYSCALL | IW_F_ISOL_KERNEL);
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
	hard_exit((__u64)work);
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

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct iw_cpu_state *st;
	__u32 next_tid, prev_tid, idx, flags;
	__u64 now, cut, end, *hp;

	ctx_reset();
	if (!watched(cpu))
		return 0;
	st = cpu_state();
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	/*
	 * An episode older than the CPU's last hotplug callback was cut by the CPU
	 * going offline: it ends there, not at this first switch after its return.
	 * One close_hard and one finish_pre call site: each is inlined, and 6.1's
	 * verifier loses the bounds of the chain index when there are more.
	 */
	hp = bpf_map_lookup_elem(&iw_hotplug_ns, &cpu);
	cut = hp ? *hp : 0;
	end = now;
	flags = IW_F_OPEN_END;
	if (cut && hard_ep(st)->depth && hard_ep(st)->rec.hdr.ts_ns < cut) {
		end = cut;
		flags |= IW_F_HOTPLUG;
	}
	/* work items may sleep; hard contexts cannot switch: whatever is open ends here */
	close_hard(st, end, flags);

	next_tid = BPF_CORE_READ(next, pid);
	prev_tid = BPF_CORE_READ(prev, pid);
	if (st->pre.open) {
		struct task_struct *victim = (struct task_struct *)st->pre.victim_task;

		end = now;
		if (cut && st->pre.rec.hdr.ts_ns < cut) {
			end = cut;
			flags = IW_F_OPEN_END | IW_F_HOTPLUG;
		} else if (next_tid == st->pre.rec.victim_tid) {
			/* the victim is back; the task it displaces may be a victim itself (below) */
			flags = 0;
		} else if (next_tid == 0 || iw_task_cpu(victim) != cpu) {
			/* runnable but no longer ours: the load balancer moved it (or the CPU idles) */
			flags = IW_F_OPEN_END;
		} else {
			/* name at most two more tasks: the chain keeps room for the work items */
			if (st->pre.rec.chain_len < 3) {
				idx = chain_add(&st->pre.rec, IW_CLASS_PREEMPT, next_tid, 0, 1, now);
				if (idx < IW_CHAIN_MAX)
					BPF_CORE_READ_STR_INTO(&st->pre.rec.chain[idx].name, next, comm);
			}
			return 0;
		}
		finish_pre(st, end, flags);
	}
	if (prev_state != TASK_RUNNING || prev_tid == 0 || ((BPF_CORE_READ(prev, flags) & PF_KTHREAD) && !iw_kthread_victims) || next_tid == 0)
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

/* ------------------------------------------------------------- CPU hotplug */

/*
 * A hotplug state callback for a watched CPU (it is going down or coming
 * up): remember when, so an episode the CPU left open ends at it. raw_tp:
 * the tracepoint passes a function pointer, which tp_btf may not read.
 */
SEC("raw_tp/cpuhp_enter")
int BPF_PROG(handle_cpuhp_enter, unsigned int cpu, int target, int idx)
{
	__u64 now;

	if (cpu >= IW_MAX_CPUS || !watched(cpu))
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&iw_hotplug_ns, &cpu, &now, BPF_ANY);
	return 0;
}

/* ------------------------------------------------------------ NMI, faults */

SEC("tp_btf/nmi_handler")
int BPF_PROG(handle_nmi_handler, void *handler, s64 delta_ns, int handled)
{
	/* NMIs interrupt our own programs: they build their record in a scratch slot of their own */
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 key = IW_SCRATCH_NMI;
	struct iw_episode *ep;
	struct iw_interruption *rec;

	if (!watched(cpu))
		return 0;
	ep = bpf_map_lookup_elem(&iw_scratch, &key);
	if (!ep)
		return 0;
	rec = &ep->rec;
	begin_episode(ep, cpu, bpf_ktime_get_ns() - delta_ns);
	rec->duration_ns = delta_ns;
	rec->chain_len = 1;
	rec->chain[0].class = IW_CLASS_NMI;
	rec->chain[0].kind = handled;
	rec->chain[0].func = (__u64)handler;
	rec->chain[0].depth = 0;
	rec->chain[0].start_ns = rec->hdr.ts_ns;
	rec->chain[0].duration_ns = sat32(delta_ns);
	rec->chain[0].name[0] = 0;
	iw_emit(ep);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(handle_exc_page_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u32 flags = IW_F_NO_EXIT;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!watched(bpf_get_smp_processor_id()))
		return 0;
	if (iw_signals)
		signal_on_entry(tid, &flags, IW_SIG_ON_FAULT);
	instant_self(IW_CLASS_PAGE_FAULT, (__u32)error_code, address, flags);
	return 0;
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(handle_exc_page_fault_kernel, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u32 flags = IW_F_NO_EXIT | IW_F_KERNEL_MODE;

	if (!watched(bpf_get_smp_processor_id()))
		return 0;
	if (in_syscall((struct task_struct *)bpf_get_current_task_btf()))
		flags |= IW_F_IN_SYSCALL;
	instant_self(IW_CLASS_PAGE_FAULT, (__u32)error_code, address, flags);
	return 0;
}

/* ---------------------------------------------------------------- syscalls */

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_raw_syscalls_sys_enter, struct pt_regs *regs, long id)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct iw_task_state *ts;
	__u32 flags = 0;

	__u64 start;

	if (iw_trace_prctl && id == IW_NR_PRCTL)
		prctl_enter(regs, tid);
	if (!iw_trace_syscalls || !watched(cpu))
		return 0;
	/* the start comes first: a signal sent below raises its irq_work at once, inside the syscall */
	start = bpf_ktime_get_ns();
	/* a task ending is not a break: a signal now would only turn its exit status into the signal's */
	if (iw_signals && id != IW_NR_EXIT && id != IW_NR_EXIT_GROUP)
		signal_on_entry(tid, &flags, IW_SIG_ON_SYSCALL);
	ts = bpf_task_storage_get(&iw_task, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts)
		return 0;
	ts->sys_start_ns = start;
	ts->sys_nr = id;
	ts->sys_cpu = cpu;
	ts->sys_flags = flags;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_raw_syscalls_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct task_struct *t;
	struct iw_task_state *ts;
	struct iw_cpu_state *st;
	struct iw_entry_buf b = {};
	__u64 now;

	__u64 id;

	/* regs is a trusted BTF pointer here: a plain load, no probe read */
	if (iw_trace_prctl && regs->orig_ax == IW_NR_PRCTL)
		prctl_exit(ret, (__u32)bpf_get_current_pid_tgid());
	if (!iw_trace_syscalls || !watched(cpu))
		return 0;
	t = (struct task_struct *)bpf_get_current_task_btf();
	ts = bpf_task_storage_get(&iw_task, t, 0, 0);
	if (!ts || !ts->sys_start_ns)
		return 0;
	now = bpf_ktime_get_ns();
	id = bpf_get_current_pid_tgid();
	b.e.hdr.ts_ns = ts->sys_start_ns;
	b.e.hdr.type = IW_REC_ENTRY;
	b.e.hdr.cpu = cpu;
	b.e.duration_ns = now - ts->sys_start_ns;
	b.e.value = (__u64)ret;
	b.e.victim_pid = id >> 32;
	b.e.victim_tid = (__u32)id;
	b.e.kind = ts->sys_nr;
	b.e.class = IW_CLASS_SYSCALL;
	b.e.cause_ctx = IW_CTX_SELF;
	b.e.flags = ts->sys_flags | (ts->sys_cpu != cpu ? IW_F_OPEN_END : 0);
	ts->sys_start_ns = 0;
	/* victim_comm: read by iw_emit_entry only when needed (a new key, a record sent) */
	if (iw_read_isol(t, &b.isol))
		b.e.flags |= IW_F_ISOL_KERNEL;
	st = cpu_state();
	if (st)
		st->ct_specific += 1;
	iw_emit_entry(&b);
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
	output_other(&e, sizeof(e));
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
	output_other(&e, sizeof(e));
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
	struct task_struct *t;
	struct iw_cpu_state *st;
	struct iw_entry_buf b = {};
	__u64 now;

	if (!watched(cpu))
		return 0;
	st = cpu_state();
	if (!st || !st->ct_start)
		return 0;
	now = bpf_ktime_get_ns();
	if (st->ct_specific == 0) {
		/* entered the kernel and came back, and no specific probe saw why */
		t = (struct task_struct *)bpf_get_current_task_btf();
		b.e.hdr.ts_ns = st->ct_start;
		b.e.hdr.type = IW_REC_ENTRY;
		b.e.hdr.cpu = cpu;
		b.e.duration_ns = now - st->ct_start;
		b.e.victim_pid = bpf_get_current_pid_tgid() >> 32;
		b.e.victim_tid = (__u32)bpf_get_current_pid_tgid();
		b.e.class = IW_CLASS_KERNEL;
		b.e.cause_ctx = IW_CTX_NONE;
		b.e.flags = IW_F_FROM_USER;
		if (iw_read_isol(t, &b.isol))
			b.e.flags |= IW_F_ISOL_KERNEL;
		iw_emit_entry(&b);
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

/*
 * The kernel's symbol for an address, as printk's "%pS" prints it (see
 * events.h): user space symbolizes the few addresses it shows this way
 * instead of reading and indexing all of /proc/kallsyms. Returns the
 * length written, or a negative error.
 */
static const char iw_ksym_fmt[] = "%pS";

SEC("raw_tp")
int iw_ksym(__u64 *ctx)
{
	__u32 zero = 0;
	struct iw_kread_page *page = bpf_map_lookup_elem(&iw_kread_buf, &zero);
	__u64 args[1];

	if (!page)
		return -1;
	args[0] = ctx[0];
	return bpf_snprintf((char *)page->data, IW_KSYM_TEXT, iw_ksym_fmt, args, sizeof(args));
}

/* A kernel symbol's address by name (events.h struct iw_kaddr_args). */
SEC("syscall")
int iw_kaddr(struct iw_kaddr_args *a)
{
	char name[IW_KSYM_NAME];
	__u64 addr = 0;

	/* the helper takes memory, not the context: through the stack */
	__builtin_memcpy(name, a->name, sizeof(name));
	name[IW_KSYM_NAME - 1] = 0;
	a->err = bpf_kallsyms_lookup_name(name, sizeof(name), 0, &addr);
	a->addr = addr;
	return 0;
}

/* What CO-RE found in this kernel's BTF at load (IW_FEAT_*): the PR_ISOL task state, without parsing BTF in user space. */
SEC("raw_tp")
int iw_features(__u64 *ctx)
{
	int f = 0;

	if (bpf_core_field_exists(struct task_struct___isol_v12, task_isol_info))
		f |= IW_FEAT_ISOL_V12;
	if (bpf_core_field_exists(struct task_struct___isol_v5, isol_info))
		f |= IW_FEAT_ISOL_V5;
	return f;
}
