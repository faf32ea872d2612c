/* SPDX-License-Identifier: GPL-2.0 */
/* Maps and kernel-internal state of the programs (not part of the user ABI except where noted). */
#ifndef __IW_MAPS_BPF_H
#define __IW_MAPS_BPF_H

#define IW_STACK_MAX 8

/* How much a sender fact is trusted when several apply to one interruption. */
#define IW_PRIO_WAKEUP 1
#define IW_PRIO_IPI 2
#define IW_PRIO_WORK 3
#define IW_PRIO_CSD 4

/* Who queued an IPI, a cross-CPU call or a work item, or woke a task. */
struct iw_sender {
	__u64 ts;
	__u64 callsite;
	__u64 func;
	__u32 pid;
	__u32 tid;
	__u32 cpu;
	__s32 target_cpu;
	__u16 ctx;
	__u16 _pad[3];
	char comm[IW_COMM_LEN];
	char name[IW_NAME_LEN];
};

/*
 * A record being built. `rec` is sent as it is (its chain_len entries), so
 * the isolation masks, when present, are copied right after the last chain
 * entry: `room` keeps space for them after a full chain.
 */
struct iw_episode {
	struct iw_interruption rec;
	struct iw_isol_masks room;
	struct iw_isol_masks isol; /* the victim's PR_ISOL state, when the kernel has it */
	__u64 stack_start[IW_STACK_MAX];
	__u64 stack_id[IW_STACK_MAX]; /* what each level's exit names: see IW_ID_* (episode.bpf.h) */
	__u32 stack_idx[IW_STACK_MAX];
	__u32 depth;
	__u32 open;
	__u32 cause_prio;
	__u32 sending; /* a hard episode being counted and sent: no new one may start here (next_slot) */
	__u64 victim_task; /* task_struct of a preempted victim, to notice it migrated */
};

/* Hard episodes in flight on one CPU at most: task, softirq and hardirq context each sending one (a power of 2). */
#define IW_HARD_SLOTS 4

struct iw_cpu_state {
	struct iw_episode hard[IW_HARD_SLOTS];
	struct iw_episode pre;
	__u64 ct_start;    /* context tracking: user->kernel entry time */
	__u32 ct_specific; /* specific entries seen since ct_start */
	__u32 slot;        /* hard[slot % IW_HARD_SLOTS] is the current hard episode */
	struct iw_sender early; /* the cause of a local timer interrupt that came early (timer_early) */
};

/* Interrupt nesting on every CPU, for naming the context a sender was in. */
struct iw_ctx_state {
	__u32 hardirq;
	__u32 softirq;
};

/* Per task (task storage): the syscall it is in, on a watched CPU. */
struct iw_task_state {
	__u64 sys_start_ns; /* 0: not in a traced syscall */
	__u32 sys_nr;
	__u32 sys_cpu;
	__u32 sys_flags;    /* IW_F_SIGNAL_* set at its entry */
	__u32 _pad;
};

/* User ABI: watched CPUs (cpu -> 1), changeable at run time. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IW_MAX_CPUS);
	__type(key, __u32);
	__type(value, __u8);
} iw_watched SEC(".maps");

/* User ABI: [0] = number of watched CPUs, [1..n] = their ids (for cpumask scans). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IW_MAX_WATCH + 1);
	__type(key, __u32);
	__type(value, __u32);
} iw_watch_list SEC(".maps");

/* User ABI: the records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} iw_events SEC(".maps");

/* User ABI: per-CPU totals per class (+ IW_COUNTER_OTHER), struct iw_counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IW_COUNTERS);
	__type(key, __u32);
	__type(value, struct iw_counter);
} iw_counts SEC(".maps");

/*
 * User ABI: the aggregates (events.h). A plain hash with the CPU in the key:
 * each CPU only writes keys of its own CPU. A program that counts can be
 * interrupted on its CPU by another that counts (a hardirq or softirq over
 * a syscall exit or a work item in task context, an NMI over anything), and
 * the interrupting one counts another class, so a value is never written
 * from two contexts at once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct iw_agg_key);
	__type(value, struct iw_agg_value);
} iw_agg SEC(".maps");

/*
 * Per CPU: the value a new aggregate key starts from, built here rather than
 * on the 512-byte BPF stack. One slot per nesting level (task, softirq,
 * hardirq, NMI; iw_agg_nest says how many are in use): a program that
 * creates a key while another one it interrupted was creating one must not
 * build in the same slot, or the interrupted key is created with the
 * interrupting one's comms and name.
 */
#define IW_AGG_INIT_SLOTS 4
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IW_AGG_INIT_SLOTS);
	__type(key, __u32);
	__type(value, struct iw_agg_value);
} iw_agg_init SEC(".maps");

/* Per CPU: how many iw_agg_init slots are being filled (nested programs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} iw_agg_nest SEC(".maps");

/* User ABI: where interruptions are counted when iw_agg is full (keys with IW_AGG_F_OVERFLOW). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct iw_agg_key);
	__type(value, struct iw_agg_value);
} iw_agg_overflow SEC(".maps");

/* User ABI: [0] = the current epoch, which user space moves on at the judged window's ends. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} iw_epoch SEC(".maps");

/* User ABI: tid -> the in-kernel signal armed for that thread (see events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct iw_signal_arm);
} iw_signal SEC(".maps");

/* User ABI: the bytes iw_kread read (see events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iw_kread_page);
} iw_kread_buf SEC(".maps");

/*
 * User ABI: cpu -> the expiry (ns, CLOCK_MONOTONIC) the CPU's timer device was
 * last programmed for, as clockevents_program_event saw it; IW_MAX_CPUS + cpu
 * -> the same read by user space from /proc/timer_list at start, for a device
 * programmed before the kprobe was attached (used while the first is 0).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * IW_MAX_CPUS);
	__type(key, __u32);
	__type(value, __u64);
} iw_timer_dev SEC(".maps");

/* Per CPU: when an in-kernel signal was last sent (its irq_work self-IPI is isolwatch's doing). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} iw_signal_sent_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iw_cpu_state);
} iw_cpu SEC(".maps");

/*
 * cpu -> when a CPU hotplug callback last ran for it (cpuhp_enter): an
 * episode open on a CPU that went offline and came back ends there.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IW_MAX_CPUS);
	__type(key, __u32);
	__type(value, __u64);
} iw_hotplug_ns SEC(".maps");

/* Per CPU: one-shot records (NMIs interrupt the other programs: they build theirs apart). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct iw_episode);
} iw_scratch SEC(".maps");

#define IW_SCRATCH_NMI 1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iw_ctx_state);
} iw_ctx SEC(".maps");

/* Per task: the syscall it is in (task storage: no table to fill, freed with the task). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct iw_task_state);
} iw_task SEC(".maps");

/* csd pointer -> who queued it (csd_queue_cpu, 6.5+). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct iw_sender);
} iw_csd SEC(".maps");

/*
 * target CPU -> last IPI sent to it (ipi_send_cpu/cpumask, 6.4+; the kprobe
 * fallback before that). The kprobe fallback keeps reschedule IPIs apart, at
 * IW_MAX_CPUS + CPU: a wake-up often sends both kinds back to back.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * IW_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct iw_sender);
} iw_ipi SEC(".maps");

/* work_struct pointer -> who queued it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct iw_sender);
} iw_work SEC(".maps");

/* wakee tid -> who woke it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct iw_sender);
} iw_waker SEC(".maps");

/* tid -> PR_ISOL-numbered prctl in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct iw_isol_call);
} iw_prctl SEC(".maps");

/*
 * Tasks whose fork/clone and exit user space wants (iw_task_event).
 * iw_track_tid: threads that made a successful PR_ISOL-numbered SET prctl,
 * and their descendants. iw_track_pid: processes declared isolated (written
 * by user space: --pid, run's CMD) and the processes they fork. LRU bounds
 * both; an evicted entry only means its later forks go unreported.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} iw_track_tid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} iw_track_pid SEC(".maps");

#endif /* __IW_MAPS_BPF_H */
