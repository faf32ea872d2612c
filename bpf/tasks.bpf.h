/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracked tasks: threads that made a successful PR_ISOL-numbered SET prctl
 * (iw_track_tid), processes user space declared (iw_track_pid: --pid, run's
 * CMD), and what they fork. Their fork/exit reach user space (isolation is
 * inherited; declared processes cover their children).
 */
#ifndef __IW_TASKS_BPF_H
#define __IW_TASKS_BPF_H

/* IW_TASK_TRACKED_* bits of a task. */
static __always_inline __u32 tracked(__u32 pid, __u32 tid)
{
	return (bpf_map_lookup_elem(&iw_track_tid, &tid) ? IW_TASK_TRACKED_TID : 0) |
	       (bpf_map_lookup_elem(&iw_track_pid, &pid) ? IW_TASK_TRACKED_PID : 0);
}

#endif /* __IW_TASKS_BPF_H */
