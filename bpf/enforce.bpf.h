/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel enforcement: a thread user space armed (iw_signal) is signalled
 * from its own kernel entry. Thread-directed (bpf_send_signal_thread): the
 * handler runs in this thread, before the entry returns to user space; a
 * process-directed signal could be taken by another thread. The cooldown and
 * rate limit live here so a handler's own syscalls and its rt_sigreturn
 * cannot re-trigger it without end.
 */
#ifndef __IW_ENFORCE_BPF_H
#define __IW_ENFORCE_BPF_H

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

#endif /* __IW_ENFORCE_BPF_H */
