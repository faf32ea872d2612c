/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only contract between the BPF programs and TypeScript.
 *
 * Plain fixed-width structs, largest fields first, explicit padding, no
 * bool/long/enum/bitfields. Every ring-buffer record starts with struct
 * iw_hdr. TypeScript does not hand-copy these layouts: it reads them from
 * the compiled object's BTF (each struct is anchored below) and a test
 * checks the decoder against them.
 */
#ifndef __IW_EVENTS_H
#define __IW_EVENTS_H

/* Bumped whenever a struct below changes shape. Recordings carry it. */
#define IW_ABI_VERSION 2

#define IW_COMM_LEN 16
#define IW_NAME_LEN 24
#define IW_CHAIN_MAX 6
#define IW_MAX_CPUS 1024
/* Watched CPUs isolwatch can attribute IPI senders for (the cpumask walk): all of them. */
#define IW_MAX_WATCH IW_MAX_CPUS

/* Record types (iw_hdr.type). */
#define IW_REC_INTERRUPTION 1
#define IW_REC_ISOL 2 /* a PR_ISOL-numbered prctl (63..67) returned */
#define IW_REC_FORK 3 /* a tracked task forked or cloned (struct iw_task_event) */
#define IW_REC_EXIT 4 /* a tracked thread exited (struct iw_task_event) */
#define IW_REC_ENTRY 5 /* a one-entry interruption without a sender: syscall, fault, generic entry (struct iw_entry_record) */

/* Longest record: an interruption with a full chain and the isolation masks. */
#define IW_REC_MAX (112 + 56 * 6 + 40)

/* Interruption classes (stable; names live in TypeScript). */
#define IW_CLASS_SYSCALL 0
#define IW_CLASS_PAGE_FAULT 1
#define IW_CLASS_EXCEPTION 2
#define IW_CLASS_IRQ 3
#define IW_CLASS_TIMER 4
#define IW_CLASS_IPI 5
#define IW_CLASS_SOFTIRQ 6
#define IW_CLASS_WORKQUEUE 7
#define IW_CLASS_PREEMPT 8
#define IW_CLASS_NMI 9
#define IW_CLASS_KERNEL 10
#define IW_CLASS_MAX 11

/*
 * Kinds for the x86 irq_vectors class entries (iw_entry.kind when class is
 * IPI or TIMER and the entry came from irq_vectors). Other classes put their
 * own number in kind: IRQ number, softirq vector, syscall number.
 */
#define IW_VEC_LOCAL_TIMER 1
#define IW_VEC_RESCHEDULE 2
#define IW_VEC_CALL_FUNCTION 3
#define IW_VEC_CALL_FUNCTION_SINGLE 4
#define IW_VEC_IRQ_WORK 5
#define IW_VEC_X86_PLATFORM_IPI 6
#define IW_VEC_THERMAL_APIC 7
#define IW_VEC_THRESHOLD_APIC 8
#define IW_VEC_DEFERRED_ERROR_APIC 9
#define IW_VEC_ERROR_APIC 10
#define IW_VEC_SPURIOUS_APIC 11
#define IW_VEC_HRTIMER 12   /* hrtimer_expire_entry: func = hrtimer->function */
#define IW_VEC_TIMER_LIST 13 /* timer_expire_entry: func = timer->function */
#define IW_VEC_CSD 14        /* csd_function_entry: func = the cross-CPU call */

/* Where the cause was recorded from (iw_interruption.cause_ctx). */
#define IW_CTX_NONE 0     /* no sender facts found */
#define IW_CTX_TASK 1     /* process context: cause_* name the task */
#define IW_CTX_HARDIRQ 2  /* queued from hard interrupt context */
#define IW_CTX_SOFTIRQ 3  /* queued from softirq (incl. timer callbacks) */
#define IW_CTX_NMI 4
#define IW_CTX_SELF 5     /* the victim itself (syscall, fault) */
#define IW_CTX_TIMER_EARLY 6 /* nobody: the CPU's timer device fired before the expiry it was set for (cause_ts_ns) */

/* iw_interruption.flags */
#define IW_F_IN_SYSCALL (1 << 0)   /* hit while the victim was inside a syscall */
#define IW_F_NO_EXIT (1 << 1)      /* no exit event exists: duration_ns is 0 */
#define IW_F_CHAIN_TRUNC (1 << 2)  /* more nested entries than IW_CHAIN_MAX */
#define IW_F_ISOL_KERNEL (1 << 3)  /* isol_* masks read from the kernel's task state */
#define IW_F_OPEN_END (1 << 4)     /* ended without a matching exit (migration, lost pairing) */
#define IW_F_FROM_USER (1 << 5)    /* context tracking saw the user->kernel entry */
#define IW_F_SELF_CAUSED (1 << 6)  /* caused by isolwatch's own process */
#define IW_F_SIGNAL_SENT (1 << 7)  /* in-kernel signal sent to the victim at this entry */
#define IW_F_SIGNAL_FAILED (1 << 8) /* bpf_send_signal refused (EPERM, EBUSY, ...) */
#define IW_F_KERNEL_MODE (1 << 9)  /* page fault taken in kernel mode */
#define IW_F_IN_PREEMPT (1 << 10)  /* ran in the kernel thread that preempted a victim: its time is in that preemption */
#define IW_F_SIGNAL_HELD (1 << 11) /* armed for an in-kernel signal, held back by its cooldown / rate limit */
#define IW_F_HOTPLUG (1 << 12)     /* its CPU went offline meanwhile: it ends there (with IW_F_OPEN_END) */

/* Indexes of map iw_counts: the classes, then the records that are not interruptions (isol, fork, exit). */
#define IW_COUNTER_OTHER IW_CLASS_MAX
#define IW_COUNTERS (IW_CLASS_MAX + 1)

/*
 * One nested entry of an interruption (the root is chain[0]). `func` holds
 * one thing per class: the kernel function that ran (IRQ handler, timer
 * callback, work function, cross-CPU call) for irq, timer, ipi, workqueue,
 * nmi; the faulting address for page_fault; the return value for syscall;
 * 0 for the rest. The decoder names them func, address and ret.
 */
struct iw_entry {
	__u64 func;        /* see above: function, faulting address or return value */
	__u64 start_ns;
	__u32 duration_ns; /* saturates at 2^32-1 */
	__u32 kind;
	__u16 class;
	__u16 depth;       /* nesting depth, 0 = root */
	__u32 _pad;
	char name[IW_NAME_LEN]; /* IRQ action name, workqueue name, preempting comm */
};

struct iw_hdr {
	__u64 ts_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u32 type;   /* IW_REC_* */
	__u32 cpu;
};

/*
 * The isolation state the kernel keeps for a task (PR_ISOL kernels only):
 * appended to a record (after its chain) when flags has IW_F_ISOL_KERNEL.
 */
struct iw_isol_masks {
	__u64 conf_mask;
	__u64 active_mask;
	__u64 quiesce_mask;
	__u64 oneshot_mask;
	__u8 inherit_mask;
	__u8 _pad[7];
};

/*
 * An interruption with its chain. Variable length on the ring: the header
 * part, chain_len entries, then struct iw_isol_masks when flags has
 * IW_F_ISOL_KERNEL.
 */
struct iw_interruption {
	struct iw_hdr hdr;     /* hdr.ts_ns = start of the root entry */
	__u64 duration_ns;     /* stolen time: root entry to last exit */
	__u64 cause_callsite;  /* kernel address that queued the IPI / work; 0 if none */
	__u64 cause_func;      /* function queued (csd func, work func) */
	__u64 cause_ts_ns;     /* when the cause was queued; IW_CTX_TIMER_EARLY: the expiry the device was set for */
	__u32 victim_pid;      /* tgid; 0 = idle */
	__u32 victim_tid;
	__u32 cause_pid;
	__u32 cause_tid;
	__u32 cause_cpu;
	__u32 flags;           /* IW_F_* */
	__u16 cause_ctx;       /* IW_CTX_* */
	__u16 chain_len;
	__u32 _pad;
	char victim_comm[IW_COMM_LEN];
	char cause_comm[IW_COMM_LEN];
	struct iw_entry chain[IW_CHAIN_MAX];
};

/*
 * A one-entry interruption the victim caused itself or that has no sender
 * (a syscall, a page fault outside any other entry, a generic kernel entry):
 * a few dozen bytes instead of a chain. value: the syscall's return value, or
 * the faulting address. Followed by struct iw_isol_masks when flags has
 * IW_F_ISOL_KERNEL.
 */
struct iw_entry_record {
	struct iw_hdr hdr;     /* hdr.ts_ns = the entry's start */
	__u64 duration_ns;
	__u64 value;
	__u32 victim_pid;
	__u32 victim_tid;
	__u32 kind;            /* syscall number, fault error code */
	__u32 flags;           /* IW_F_* */
	__u16 class;
	__u16 cause_ctx;       /* IW_CTX_SELF, or IW_CTX_NONE for a generic entry */
	__u32 _pad;
	char victim_comm[IW_COMM_LEN];
};

/*
 * In-kernel aggregates (map iw_agg, struct iw_agg_key -> struct
 * iw_agg_value): every interruption on a watched CPU is counted under the
 * key users group by, whether a record of it reaches user space or not.
 * kind/func are the record's headline (what a reader sees first: the IPI's
 * function, the timer callback, the work function, the syscall number).
 * When the map is full, the interruption is counted in iw_agg_overflow under
 * a key that keeps only cpu, class, flags and epoch (IW_AGG_F_OVERFLOW).
 */
#define IW_HIST_BUCKETS 32 /* log2 buckets of duration: [2^i, 2^(i+1)) ns, the last one open */

#define IW_AGG_F_SELF_CAUSED (1 << 0) /* caused by isolwatch itself */
#define IW_AGG_F_IN_PREEMPT (1 << 1)  /* ran inside a preemption of the victim (its time is there) */
#define IW_AGG_F_ISOL_KERNEL (1 << 2) /* the kernel keeps PR_ISOL state for the victim */
#define IW_AGG_F_ISOL_ACTIVE (1 << 3) /* ... and it says active */
#define IW_AGG_F_DECLARED (1 << 4)    /* the victim's process is tracked (declared: --pid, run) */
#define IW_AGG_F_OVERFLOW (1 << 5)    /* an overflow key: victim, cause, kind and func not kept */
#define IW_AGG_F_ISOL_CONF (1 << 6)   /* the kernel's PR_ISOL state for the victim is configured (conf_mask != 0) */

struct iw_agg_key {
	__u64 func;            /* headline function; 0 if none */
	__u64 callsite;        /* cause callsite */
	__u32 cpu;
	__u32 kind;            /* headline kind */
	__u32 victim_pid;
	__u32 victim_tid;
	__u32 cause_pid;
	__u32 cause_tid;
	__u32 cause_cpu;
	__u16 class;
	__u16 cause_ctx;
	__u16 flags;           /* IW_AGG_F_* */
	__u16 epoch;           /* the judged phase (map iw_epoch) when it happened */
	__u32 _pad;
};

struct iw_agg_value {
	__u64 count;
	__u64 stolen_ns;       /* without the time of entries inside a preemption (counted there) */
	__u64 max_ns;
	__u64 last_ns;         /* when an interruption was last counted under this key */
	__u64 window_start_ns; /* exemplar records: the current one-second window */
	__u32 window_records;  /* records sent in the window */
	__u32 records;         /* records sent for this key */
	__u32 hist[IW_HIST_BUCKETS];
	char victim_comm[IW_COMM_LEN];
	char cause_comm[IW_COMM_LEN];
	char name[IW_NAME_LEN]; /* the root entry's name: IRQ action, preempting comm, workqueue */
};

/* Which records reach user space (.rodata iw_record_mode). */
#define IW_RECORDS_SAMPLED 0 /* the first of each key, iw_exemplars_per_s more a second, and what enforcement needs */
#define IW_RECORDS_ALL 1     /* every one (what does not fit the ring is counted as lost) */

/*
 * The prctl options the PR_ISOL series numbers 63..67 (upstream kernels give
 * the same numbers to other options: see knowledge/task-isolation-abi.md).
 */
#define IW_PR_ISOL_FEAT_GET 63
#define IW_PR_ISOL_CFG_GET 64
#define IW_PR_ISOL_CFG_SET 65
#define IW_PR_ISOL_ACTIVATE_GET 66
#define IW_PR_ISOL_ACTIVATE_SET 67

/* iw_isol_call.read_ok: which user memory the BPF side could read. */
#define IW_ISOL_READ_IN_MASK (1 << 0)
#define IW_ISOL_READ_OUT_MASK (1 << 1)
#define IW_ISOL_READ_CTL (1 << 2)

/* A prctl with option IW_PR_ISOL_FEAT_GET..IW_PR_ISOL_ACTIVATE_SET returned. */
struct iw_isol_call {
	struct iw_hdr hdr;
	__u64 arg2;
	__u64 arg3;
	__u64 arg4;
	__u64 arg5;
	__s64 result;
	__u64 in_mask;      /* *(u64*)arg2/arg4 read at entry where the option takes one */
	__u64 out_mask;     /* the same word read at exit */
	__u64 ctl[2];       /* first two u64 of the struct argument: entry view for SET, exit view for GET */
	__u32 pid;
	__u32 tid;
	__u32 option;
	__u32 read_ok;      /* IW_ISOL_READ_* */
	char comm[IW_COMM_LEN];
};

/*
 * Fork/clone and exit of tracked tasks, so user space can apply PR_ISOL
 * inheritance and declarations to children and forget exited threads.
 * Tracked: a thread that made a successful PR_ISOL-numbered SET prctl (65,
 * 67), a process user space declared (map iw_track_pid), and their
 * descendants.
 */
#define IW_TASK_TRACKED_TID (1 << 0) /* the forking / exiting thread is tracked itself */
#define IW_TASK_TRACKED_PID (1 << 1) /* its process is tracked */
#define IW_TASK_GROUP_DEAD (1 << 2)  /* exit: the last thread of the process */

struct iw_task_event {
	struct iw_hdr hdr;
	__u32 pid;          /* fork: the child's tgid (= parent_pid for a new thread); exit: the thread's tgid */
	__u32 tid;          /* fork: the child's tid; exit: the exiting thread */
	__u32 parent_pid;   /* fork: the forking thread's tgid; exit: 0 */
	__u32 parent_tid;   /* fork: the forking thread; exit: 0 */
	__u32 flags;        /* IW_TASK_* */
	__u32 _pad;
	char comm[IW_COMM_LEN];
};

/*
 * In-kernel enforcement (map iw_signal, tid -> struct iw_signal_arm): user
 * space arms a thread from the policy; the BPF side sends the signal to that
 * thread from its own kernel entries and keeps the cooldown / rate-limit state
 * (last_ns, window_start_ns, sent_in_window). A rate-limit window starts at
 * the first signal sent after the previous window ended (src/enforce/limit.ts
 * is the same rule in TypeScript).
 */
#define IW_SIG_ON_SYSCALL (1 << 0) /* signal at the thread's sys_enter */
#define IW_SIG_ON_FAULT (1 << 1)   /* signal at its user-mode page faults */

struct iw_signal_arm {
	__u64 cooldown_ns;     /* minimum time between two signals; 0: none */
	__u64 window_ns;       /* rate-limit window; 0: no rate limit */
	__u64 last_ns;         /* when the last signal was sent; 0: never */
	__u64 window_start_ns; /* start of the current rate-limit window */
	__u32 signo;
	__u32 on;              /* IW_SIG_ON_* */
	__u32 max_per_window;  /* signals allowed per window (with window_ns) */
	__u32 sent_in_window;
};

/*
 * Kernel memory read on request (program iw_kread, run with
 * bpf_prog_test_run): user space passes {address, length} as the raw_tp
 * context and reads the bytes from map iw_kread_buf. Used at start to see
 * which function the kernel's remote TLB flush calls (src/system/tlb-flush.ts).
 */
#define IW_KREAD_MAX 4096

struct iw_kread_page {
	__u8 data[IW_KREAD_MAX];
};

/*
 * Kernel symbols on request, so user space never reads all of /proc/kallsyms:
 * iw_ksym (raw_tp, run with bpf_prog_test_run, context {address}) writes the
 * kernel's own "%pS" text ("func+0x1c/0x80", the function's size after the
 * slash) into iw_kread_buf; iw_kaddr (a syscall program, context struct
 * iw_kaddr_args) looks a name up with bpf_kallsyms_lookup_name (5.16+).
 */
#define IW_KSYM_TEXT 256
#define IW_KSYM_NAME 128

struct iw_kaddr_args {
	char name[IW_KSYM_NAME]; /* NUL-terminated, zero-padded */
	__u64 addr;              /* out: the address, 0 when absent */
	__s64 err;               /* out: bpf_kallsyms_lookup_name's return */
};

/* iw_features' return value: what this kernel's BTF has, as CO-RE resolved it at load. */
#define IW_FEAT_ISOL_V12 (1 << 0) /* task_struct.task_isol_info (PR_ISOL series v12+) */
#define IW_FEAT_ISOL_V5 (1 << 1)  /* task_struct.isol_info (earlier series) */

/*
 * Authoritative per-CPU totals (map iw_counts, index = class, plus
 * IW_COUNTER_OTHER for records that are not interruptions). For each class:
 * count + self_caused = delivered + sampled + lost, exactly.
 */
struct iw_counter {
	__u64 count;           /* interruptions, not counting what isolwatch caused */
	__u64 stolen_ns;       /* their stolen time (entries inside a preemption are in it once) */
	__u64 max_ns;
	__u64 self_caused;     /* interruptions isolwatch caused itself */
	__u64 delivered;       /* records put on the ring */
	__u64 sampled;         /* records not sent (IW_RECORDS_SAMPLED) */
	__u64 lost;            /* records the ring had no room for */
	__u32 hist[IW_HIST_BUCKETS];
};

_Static_assert(sizeof(struct iw_entry) == 56, "iw_entry layout");
_Static_assert(sizeof(struct iw_hdr) == 16, "iw_hdr layout");
_Static_assert(sizeof(struct iw_isol_masks) == 40, "iw_isol_masks layout");
_Static_assert(__builtin_offsetof(struct iw_interruption, chain) == 112, "iw_interruption header part");
_Static_assert(sizeof(struct iw_interruption) == 112 + 56 * IW_CHAIN_MAX, "iw_interruption layout");
_Static_assert(sizeof(struct iw_interruption) + sizeof(struct iw_isol_masks) == IW_REC_MAX, "IW_REC_MAX");
_Static_assert(sizeof(struct iw_entry_record) == 72, "iw_entry_record layout");
_Static_assert(sizeof(struct iw_agg_key) == 56, "iw_agg_key layout");
_Static_assert(sizeof(struct iw_agg_value) == 8 * 5 + 4 * 2 + 4 * IW_HIST_BUCKETS + 16 * 2 + 24, "iw_agg_value layout");
_Static_assert(sizeof(struct iw_counter) == 8 * 7 + 4 * IW_HIST_BUCKETS, "iw_counter layout");
_Static_assert(sizeof(struct iw_isol_call) == 16 + 8 * 9 + 4 * 4 + 16, "iw_isol_call layout");
_Static_assert(sizeof(struct iw_signal_arm) == 8 * 4 + 4 * 4, "iw_signal_arm layout");
_Static_assert(sizeof(struct iw_task_event) == 16 + 4 * 6 + 16, "iw_task_event layout");
_Static_assert(sizeof(struct iw_kaddr_args) == IW_KSYM_NAME + 16, "iw_kaddr_args layout");

#endif /* __IW_EVENTS_H */
