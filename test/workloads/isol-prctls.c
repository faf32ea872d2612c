/* SPDX-License-Identifier: GPL-2.0 */
/*
 * isol-prctls: issues prctl options 63..67 exactly as a PR_ISOL application
 * would (documented argument shapes and structs, knowledge/task-isolation-abi.md),
 * plus a few degenerate variants, and prints one line per call:
 *
 *   call label=L option=N arg2=0x.. arg3=0x.. arg4=0x.. arg5=0x.. ret=R errno=E
 *        pre0=0x.. pre1=0x.. post0=0x.. post1=0x.. ptr=argN|none
 *
 * pre0/pre1 and post0/post1 are the first two u64 at the pointer argument before/after the
 * call (what the BPF side reads at entry/exit); `ctl label=L ctl0= ctl1=` follows for
 * ACTIVATE_SET's second struct; `state after=L ksm=K mdwe=M` lines show what really changed.
 *
 * RUN ONLY AS A THROWAWAY PROCESS. On a stock kernel option 65 is PR_SET_MDWE
 * (this process loses W^X-violating mappings forever) and 67 is
 * PR_SET_MEMORY_MERGE (KSM for this whole process). Both die with it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#define I_CFG_FEAT 1
#define I_CFG_INHERIT 2
#define ISOL_F_QUIESCE (1ULL << 0)
#define ISOL_F_QUIESCE_VMSTATS (1ULL << 0)
#define ISOL_INHERIT_CONF (1 << 0)
#define ISOL_INHERIT_ACTIVE (1 << 1)

struct task_isol_quiesce_extensions { uint64_t flags; uint64_t supported_quiesce_bits; uint64_t pad[6]; };
struct task_isol_quiesce_control { uint64_t flags; uint64_t quiesce_mask; uint64_t pad[6]; };
struct task_isol_activate_control { uint64_t flags; uint64_t quiesce_oneshot_mask; uint64_t pad[6]; };
struct task_isol_inherit_control { uint8_t inherit_mask; uint8_t pad[7]; };

/* Every pointed-to object lives in a 64-byte buffer so two u64 can always be read. */
union arg_buf {
	uint64_t words[8];
	struct task_isol_quiesce_extensions ext;
	struct task_isol_quiesce_control qc;
	struct task_isol_activate_control ac;
	struct task_isol_inherit_control ic;
};

static void call(const char *label, int option, unsigned long a2, unsigned long a3, unsigned long a4,
		 unsigned long a5, const union arg_buf *ptr, const char *ptr_name, const union arg_buf *ctl)
{
	uint64_t pre0 = ptr ? ptr->words[0] : 0, pre1 = ptr ? ptr->words[1] : 0;
	errno = 0;
	long ret = prctl(option, a2, a3, a4, a5);
	int err = ret < 0 ? errno : 0;
	uint64_t post0 = ptr ? ptr->words[0] : 0, post1 = ptr ? ptr->words[1] : 0;
	printf("call label=%s option=%d arg2=0x%lx arg3=0x%lx arg4=0x%lx arg5=0x%lx ret=%ld errno=%d "
	       "pre0=0x%llx pre1=0x%llx post0=0x%llx post1=0x%llx ptr=%s\n",
	       label, option, a2, a3, a4, a5, ret, err, (unsigned long long)pre0, (unsigned long long)pre1,
	       (unsigned long long)post0, (unsigned long long)post1, ptr ? ptr_name : "none");
	if (ctl) /* the second struct argument (ACTIVATE_SET's arg3), as passed */
		printf("ctl label=%s ctl0=0x%llx ctl1=0x%llx\n", label, (unsigned long long)ctl->words[0],
		       (unsigned long long)ctl->words[1]);
	fflush(stdout);
}

#define P(b) ((unsigned long)&(b))

int main(void)
{
	union arg_buf b;

	/* PR_ISOL_FEAT_GET(0, &u64): supported features. */
	memset(&b, 0, sizeof(b));
	call("feat_get_all", 63, 0, P(b), 0, 0, &b, "arg3", NULL);
	/* PR_ISOL_FEAT_GET(ISOL_F_QUIESCE, &task_isol_quiesce_extensions). */
	memset(&b, 0, sizeof(b));
	call("feat_get_quiesce", 63, ISOL_F_QUIESCE, P(b), 0, 0, &b, "arg3", NULL);
	/* PR_ISOL_CFG_GET(I_CFG_FEAT, 0, &u64): configured features. */
	memset(&b, 0, sizeof(b));
	call("cfg_get_feat", 64, I_CFG_FEAT, 0, P(b), 0, &b, "arg4", NULL);
	/* PR_ISOL_CFG_GET(I_CFG_FEAT, ISOL_F_QUIESCE, &task_isol_quiesce_control). */
	memset(&b, 0, sizeof(b));
	call("cfg_get_quiesce", 64, I_CFG_FEAT, ISOL_F_QUIESCE, P(b), 0, &b, "arg4", NULL);
	/* PR_ISOL_CFG_GET(I_CFG_INHERIT, 0, &task_isol_inherit_control). */
	memset(&b, 0, sizeof(b));
	call("cfg_get_inherit", 64, I_CFG_INHERIT, 0, P(b), 0, &b, "arg4", NULL);
	/* PR_ISOL_CFG_SET(I_CFG_FEAT, ISOL_F_QUIESCE, &{flags 0, quiesce_mask VMSTATS}). */
	memset(&b, 0, sizeof(b));
	b.qc.quiesce_mask = ISOL_F_QUIESCE_VMSTATS;
	call("cfg_set_quiesce", 65, I_CFG_FEAT, ISOL_F_QUIESCE, P(b), 0, &b, "arg4", NULL);
	/* PR_ISOL_CFG_SET(I_CFG_INHERIT, 0, &{inherit_mask CONF|ACTIVE}). */
	memset(&b, 0, sizeof(b));
	b.ic.inherit_mask = ISOL_INHERIT_CONF | ISOL_INHERIT_ACTIVE;
	call("cfg_set_inherit", 65, I_CFG_INHERIT, 0, P(b), 0, &b, "arg4", NULL);
	/* PR_ISOL_ACTIVATE_GET(&u64). */
	memset(&b, 0, sizeof(b));
	call("activate_get", 66, P(b), 0, 0, 0, &b, "arg2", NULL);
	/* PR_ISOL_ACTIVATE_SET(&QUIESCE, &{flags 0, oneshot VMSTATS}). */
	{
		union arg_buf ac;
		memset(&b, 0, sizeof(b));
		memset(&ac, 0, sizeof(ac));
		b.words[0] = ISOL_F_QUIESCE;
		ac.ac.quiesce_oneshot_mask = ISOL_F_QUIESCE_VMSTATS;
		call("activate_set_oneshot", 67, P(b), P(ac), 0, 0, &b, "arg2", &ac);
	}
	/* PR_ISOL_ACTIVATE_SET(&QUIESCE, NULL): on a stock kernel this enables KSM. */
	memset(&b, 0, sizeof(b));
	b.words[0] = ISOL_F_QUIESCE;
	call("activate_set", 67, P(b), 0, 0, 0, &b, "arg2", NULL);
	printf("state after=activate_set ksm=%d mdwe=%d\n", prctl(68, 0, 0, 0, 0), prctl(66, 0, 0, 0, 0));
	/* PR_ISOL_ACTIVATE_SET(&0, NULL): "deactivate" — still a non-zero arg2 on a stock kernel. */
	memset(&b, 0, sizeof(b));
	call("deactivate", 67, P(b), 0, 0, 0, &b, "arg2", NULL);

	/* Degenerate variants (NULL pointers), to exercise the other stock-kernel outcomes. */
	call("variant_activate_get_null", 66, 0, 0, 0, 0, NULL, NULL, NULL);
	call("variant_cfg_set_null", 65, I_CFG_FEAT, 0, 0, 0, NULL, NULL, NULL);
	printf("state after=variant_cfg_set_null ksm=%d mdwe=%d\n", prctl(68, 0, 0, 0, 0), prctl(66, 0, 0, 0, 0));
	call("variant_cfg_set_zero", 65, 0, 0, 0, 0, NULL, NULL, NULL);
	call("variant_activate_get_null_after", 66, 0, 0, 0, 0, NULL, NULL, NULL);
	call("variant_deactivate_null", 67, 0, 0, 0, 0, NULL, NULL, NULL);
	printf("state after=variant_deactivate_null ksm=%d mdwe=%d\n", prctl(68, 0, 0, 0, 0), prctl(66, 0, 0, 0, 0));
	return 0;
}
