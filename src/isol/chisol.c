/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chisol: configure PR_ISOL task isolation (quiesce), optionally inheritance,
 * activate it, then execvp CMD — like the chisol tool proposed with the
 * task-isolation series. isolwatch starts it for `--isolate` only after it
 * detected the ABI and passes --abi-confirmed.
 *
 * Safety: on kernels without the ABI, prctl options 63..67 are PR_SME_*,
 * PR_SET_MDWE (irreversible), PR_GET_MDWE and PR_SET_MEMORY_MERGE. chisol
 * therefore issues no prctl at all without --abi-confirmed (exit 3), checks
 * /proc/kallsyms itself, and probes with option 66 first: a stock kernel's
 * PR_GET_MDWE rejects a non-zero arg2 with EINVAL before touching anything.
 *
 * Constants repeat src/isol/abi.ts (knowledge/task-isolation-abi.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PR_ISOL_CFG_SET 65
#define PR_ISOL_ACTIVATE_GET 66
#define PR_ISOL_ACTIVATE_SET 67
#define I_CFG_FEAT 1
#define I_CFG_INHERIT 2
#define ISOL_F_QUIESCE (1ULL << 0)
#define ISOL_INHERIT_CONF (1 << 0)
#define ISOL_INHERIT_ACTIVE (1 << 1)

struct task_isol_quiesce_control { uint64_t flags; uint64_t quiesce_mask; uint64_t pad[6]; };
struct task_isol_activate_control { uint64_t flags; uint64_t quiesce_oneshot_mask; uint64_t pad[6]; };
struct task_isol_inherit_control { uint8_t inherit_mask; uint8_t pad[7]; };

#define EXIT_USAGE 2
#define EXIT_ENV 3

static void usage(void)
{
	fprintf(stderr,
		"usage: chisol --abi-confirmed [--via=HOW] --quiesce MASK [--inherit conf|active] [--oneshot MASK] -- CMD [ARGS..]\n"
		"  MASK is a number (0x1 = ISOL_F_QUIESCE_VMSTATS). Normally started by isolwatch --isolate.\n");
}

static int parse_mask(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* 1 = a prctl_task_isol_* symbol is listed, 0 = file read and none listed, -1 = unreadable. */
static int kallsyms_has_pr_isol(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512];
	int found = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, " prctl_task_isol_")) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	int confirmed = 0, have_quiesce = 0, i;
	uint64_t quiesce = 0, oneshot = 0;
	int inherit = 0;
	const char *via = "unknown";

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--abi-confirmed")) {
			confirmed = 1;
		} else if (!strncmp(a, "--via=", 6)) {
			via = a + 6;
		} else if (!strcmp(a, "--quiesce") && i + 1 < argc) {
			if (parse_mask(argv[++i], &quiesce)) {
				fprintf(stderr, "chisol: --quiesce '%s' is not a number; use e.g. 0x1 (vmstats)\n", argv[i]);
				return EXIT_USAGE;
			}
			have_quiesce = 1;
		} else if (!strcmp(a, "--oneshot") && i + 1 < argc) {
			if (parse_mask(argv[++i], &oneshot)) {
				fprintf(stderr, "chisol: --oneshot '%s' is not a number; use e.g. 0x1 (vmstats)\n", argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--inherit") && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(v, "conf"))
				inherit = ISOL_INHERIT_CONF;
			else if (!strcmp(v, "active"))
				inherit = ISOL_INHERIT_CONF | ISOL_INHERIT_ACTIVE; /* ACTIVE requires CONF */
			else {
				fprintf(stderr, "chisol: --inherit '%s': use conf or active\n", v);
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "chisol: unknown or incomplete argument '%s'\n", a);
			usage();
			return EXIT_USAGE;
		}
	}
	if (i >= argc || !have_quiesce) {
		fprintf(stderr, "chisol: %s\n", !have_quiesce ? "--quiesce MASK is required" : "no command given after --");
		usage();
		return EXIT_USAGE;
	}

	if (!confirmed) {
		fprintf(stderr,
			"chisol: refusing: the PR_ISOL task-isolation ABI was not confirmed (--abi-confirmed missing).\n"
			"  On kernels without it, prctl options 63..67 are other options: 65 = PR_SET_MDWE\n"
			"  (irreversible memory-deny-write-execute), 67 = PR_SET_MEMORY_MERGE (KSM for the whole\n"
			"  process). No prctl was issued. Use `isolwatch run --isolate ...`, which detects the ABI\n"
			"  first, or boot a kernel with the task-isolation patches.\n");
		return EXIT_ENV;
	}
	if (kallsyms_has_pr_isol() == 0) {
		fprintf(stderr,
			"chisol: refusing: isolwatch confirmed the ABI (via %s) but /proc/kallsyms lists no\n"
			"  prctl_task_isol_* handler; not issuing PR_ISOL prctls on a kernel that may not have them.\n"
			"  Run `isolwatch doctor` to see the detection evidence.\n", via);
		return EXIT_ENV;
	}

	/* Harmless probe: stock PR_GET_MDWE returns EINVAL for any non-zero arg2 and changes nothing. */
	uint64_t active = 0;
	if (prctl(PR_ISOL_ACTIVATE_GET, (unsigned long)&active, 0, 0, 0) != 0) {
		fprintf(stderr,
			"chisol: refusing: probe PR_ISOL_ACTIVATE_GET failed (%s), so this kernel does not implement\n"
			"  PR_ISOL as expected; nothing was configured.\n", strerror(errno));
		return EXIT_ENV;
	}

	struct task_isol_quiesce_control qc = { .flags = 0, .quiesce_mask = quiesce };
	if (prctl(PR_ISOL_CFG_SET, I_CFG_FEAT, ISOL_F_QUIESCE, (unsigned long)&qc, 0) != 0) {
		fprintf(stderr, "chisol: PR_ISOL_CFG_SET(I_CFG_FEAT, ISOL_F_QUIESCE, quiesce_mask=0x%llx) failed: %s\n",
			(unsigned long long)quiesce, strerror(errno));
		return 1;
	}
	if (inherit) {
		struct task_isol_inherit_control ic = { .inherit_mask = (uint8_t)inherit };
		if (prctl(PR_ISOL_CFG_SET, I_CFG_INHERIT, 0, (unsigned long)&ic, 0) != 0) {
			fprintf(stderr, "chisol: PR_ISOL_CFG_SET(I_CFG_INHERIT, 0x%x) failed: %s\n", inherit, strerror(errno));
			return 1;
		}
	}
	uint64_t mask = ISOL_F_QUIESCE;
	struct task_isol_activate_control ac = { .flags = 0, .quiesce_oneshot_mask = oneshot };
	if (prctl(PR_ISOL_ACTIVATE_SET, (unsigned long)&mask, oneshot ? (unsigned long)&ac : 0UL, 0, 0) != 0) {
		fprintf(stderr, "chisol: PR_ISOL_ACTIVATE_SET(ISOL_F_QUIESCE) failed: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[i], &argv[i]);
	fprintf(stderr, "chisol: cannot run '%s': %s\n", argv[i], strerror(errno));
	return 127;
}
