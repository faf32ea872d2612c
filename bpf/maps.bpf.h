/* SPDX-License-Identifier: GPL-2.0 */
/* Maps and kernel-internal state of isolwatch.bpf.c (not part of the user ABI except where noted). */
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

struct iw_episode {
	struct iw_interruption rec;
	__u64 stack_start[IW_STACK_MAX];
	__u32 stack_idx[IW_STACK_MAX];
	__u32 depth;
	__u32 open;
	__u32 cause_prio;
	__u32 _pad;
	__u64 victim_task; /* task_struct of a preempted victim, to notice it migrated */
};

struct iw_cpu_state {
	struct iw_episode hard;
	struct iw_episode pre;
	struct iw_episode scratch; /* one-shot records (syscall, fault, context tracking) */
	__u64 ct_start;            /* context tracking: user->kernel entry time */
	__u32 ct_specific;         /* specific entries seen since ct_start */
	__u32 _pad;
};

/* Interrupt nesting on every CPU, for naming the context a sender was in. */
struct iw_ctx_state {
	__u32 hardirq;
	__u32 softirq;
};

struct iw_sys_state {
	__u64 start_ns;
	__u64 nr;
	__u32 cpu;
	__u32 flags;
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

/* User ABI: per-CPU totals per class (+ lost), struct iw_counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IW_COUNTERS);
	__type(key, __u32);
	__type(value, struct iw_counter);
} iw_counts SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iw_interruption);
} iw_nmi_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iw_ctx_state);
} iw_ctx SEC(".maps");

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

/* tid -> open syscall on a watched CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct iw_sys_state);
} iw_sys SEC(".maps");

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
