/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PR_ISOL-numbered prctls (IW_PR_ISOL_FEAT_GET..IW_PR_ISOL_ACTIVATE_SET) on
 * every CPU: what the caller asked for (read at entry) and what the kernel
 * answered (read at exit). User space says what the call meant on this
 * kernel: on stock kernels the same numbers are other options.
 */
#ifndef __IW_ISOL_BPF_H
#define __IW_ISOL_BPF_H

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
	output_other(c, sizeof(*c));
	/* a SET that succeeded may have given the thread PR_ISOL state: follow its forks */
	if (ret == 0 && (c->option == IW_PR_ISOL_CFG_SET || c->option == IW_PR_ISOL_ACTIVATE_SET)) {
		__u8 one = 1;
		bpf_map_update_elem(&iw_track_tid, &tid, &one, BPF_ANY);
	}
	bpf_map_delete_elem(&iw_prctl, &tid);
}

#endif /* __IW_ISOL_BPF_H */
