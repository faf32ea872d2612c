// SPDX-License-Identifier: GPL-2.0-only
/*
 * statrefresh: a worker pinned to --cpu (normally the housekeeping CPU 0) writes "1\n" to
 * /proc/sys/vm/stat_refresh exactly --count times in the window. Each write makes the
 * kernel run the work item refresh_vm_stats on every online CPU (schedule_on_each_cpu)
 * and wait for all of them: N kworker runs per CPU, including the watched ones. Needs
 * root (the file is mode 0600).
 *
 *   ready pid=<tgid> tid=<writer tid> cpu=<C> count=<N>
 *   done writes=<N> errors=0 cpu=<C>
 */
#include "common.h"

static const char usage[] = "--cpu C --count N [--no-wait] [--linger-ms MS] [--main-cpu M]";
static const char path[] = "/proc/sys/vm/stat_refresh";

static long cpu = -1, count = -1;
static int fd = -1;
static atomic_int worker_ready, go, finished, printed, release;
static atomic_int worker_tid;
static long writes, errors;
static int first_errno;

static void *worker(void *arg)
{
	(void)arg;
	wl_pin_self(cpu);
	atomic_store(&worker_tid, wl_gettid());
	atomic_store_explicit(&worker_ready, 1, memory_order_release);

	wl_spin_until(&go);
	for (long i = 0; i < count; i++) {
		if (pwrite(fd, "1\n", 2, 0) == 2) {
			writes++;
		} else {
			if (!errors)
				first_errno = errno;
			errors++;
		}
	}
	atomic_store_explicit(&finished, 1, memory_order_release);
	wl_park(&printed, &release, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("cpu", &cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("count", &count, 0, 100000000L, 1),
		WL_OPT_END,
	};
	pthread_t t;

	wl_init("statrefresh", usage);
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("cpu", cpu);
	/* The control thread shares the writer's CPU: every other CPU is a victim here. */
	wl_pin_main(&c, cpu);

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		wl_die("open %s: %s%s", path, strerror(errno),
		       errno == EACCES || errno == EPERM ? " (needs root)" : "");

	wl_start_thread(&t, worker, NULL, cpu);
	wl_wait_flag(&worker_ready);
	printf("ready pid=%d tid=%d cpu=%ld count=%ld\n", getpid(), atomic_load(&worker_tid), cpu,
	       count);
	wl_wait_go(&c);
	atomic_store_explicit(&go, 1, memory_order_release);
	wl_wait_flag(&finished);
	printf("done writes=%ld errors=%ld cpu=%ld\n", writes, errors, cpu);
	atomic_store_explicit(&printed, 1, memory_order_release);
	if (errors)
		fprintf(stderr, "statrefresh: %ld writes failed, first: %s\n", errors,
			strerror(first_errno));
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(t, NULL);
	return errors ? 1 : 0;
}
