// SPDX-License-Identifier: GPL-2.0-only
/*
 * isol-fork: after "go", the main thread optionally issues the documented
 * PR_ISOL_ACTIVATE_SET(&mask, NULL) (option 67), then forks --children N
 * processes (each forks one grandchild when --grandchildren is given, waits
 * for it and exits) and creates --threads M threads (each exits at once), and
 * reaps them all. Every task it creates is named on stdout, so a test can
 * check fork/exit records exactly:
 *
 *   ready pid=<tgid> tid=<main tid>
 *   prctl option=67 ret=<r> errno=<e>                       (with --prctl)
 *   child pid=<child pid> parent=<tgid>
 *   grandchild pid=<pid> parent=<child pid>                 (printed by the child)
 *   thread tid=<tid>
 *   done children=N grandchildren=G threads=M
 *
 * RUN ONLY AS A THROWAWAY PROCESS with --prctl: on a stock kernel option 67 is
 * PR_SET_MEMORY_MERGE and enables KSM merging for this process (and its
 * children); it dies with them.
 */
#include "common.h"
#include <sys/prctl.h>
#include <sys/wait.h>

static const char usage[] = "[--children N] [--threads M] [--grandchildren] [--prctl] [--no-wait] [--linger-ms MS]";

static void line(const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one write per line: parent and children share stdout */
	if (n > 0 && write(1, buf, (size_t)n) != n)
		_exit(1);
}

static atomic_int thread_tids[64];

static void *thread_fn(void *arg)
{
	atomic_store(&thread_tids[(long)arg], wl_gettid());
	return NULL;
}

int main(int argc, char **argv)
{
	long children = 1, threads = 1;
	int grandchildren = 0, do_prctl = 0, reaped = 0;
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("children", &children, 0, 64, 0),
		WL_OPT_LONG("threads", &threads, 0, 64, 0),
		WL_OPT_FLAG("grandchildren", &grandchildren),
		WL_OPT_FLAG("prctl", &do_prctl),
		WL_OPT_END,
	};
	pthread_t t[64];

	wl_init("isol-fork", usage);
	wl_parse_args(argc, argv, opts, &c);
	setvbuf(stdout, NULL, _IONBF, 0);
	line("ready pid=%d tid=%d\n", getpid(), wl_gettid());
	wl_wait_go(&c);

	if (do_prctl) {
		uint64_t mask = 1; /* ISOL_F_QUIESCE */
		errno = 0;
		long r = prctl(67, (unsigned long)&mask, 0, 0, 0);
		line("prctl option=67 ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
	}
	for (long i = 0; i < children; i++) {
		pid_t p = fork();
		if (p < 0)
			wl_die("fork: %s", strerror(errno));
		if (p == 0) {
			if (grandchildren) {
				pid_t g = fork();
				if (g < 0)
					_exit(1);
				if (g == 0)
					_exit(0);
				line("grandchild pid=%d parent=%d\n", g, getpid());
				if (waitpid(g, NULL, 0) != g)
					_exit(1);
			}
			_exit(0);
		}
		line("child pid=%d parent=%d\n", p, getpid());
	}
	for (long i = 0; i < threads; i++) {
		int e = pthread_create(&t[i], NULL, thread_fn, (void *)i);
		if (e)
			wl_die("pthread_create: %s", strerror(e));
	}
	for (long i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		line("thread tid=%d\n", atomic_load(&thread_tids[i]));
	}
	for (long i = 0; i < children; i++) {
		int st;
		if (wait(&st) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			reaped++;
	}
	if (reaped != children)
		wl_die("%d of %ld children exited cleanly", reaped, children);
	line("done children=%ld grandchildren=%ld threads=%ld\n", children, grandchildren ? children : 0, threads);
	wl_linger(&c);
	return 0;
}
