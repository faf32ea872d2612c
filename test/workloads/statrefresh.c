// SPDX-License-Identifier: GPL-2.0-only
/*
 * statrefresh: a worker pinned to --cpu (normally the housekeeping CPU 0) writes "1\n" to
 * /proc/sys/vm/stat_refresh exactly --count times in the window. Each write makes the
 * kernel run the work item refresh_vm_stats on every online CPU (schedule_on_each_cpu)
 * and wait for all of them: N kworker runs per CPU, including the watched ones. Needs
 * root (the file is mode 0600). With --spin-cpu S a spinner thread of this process runs
 * on S from before "ready" until exit, so the work item there interrupts a known task
 * (the victim) instead of the idle loop.
 *
 *   ready pid=<tgid> tid=<writer tid> cpu=<C> count=<N> [spinner_tid=<tid> spin_cpu=<S>]
 *   done writes=<N> errors=0 cpu=<C> [spinner_switches=<K>]
 */
#include "common.h"

static const char usage[] =
	"--cpu C --count N [--spin-cpu S] [--no-wait | --start-ms MS] [--linger-ms MS] [--main-cpu M]";
static const char path[] = "/proc/sys/vm/stat_refresh";

static long cpu = -1, count = -1, spin_cpu = -1;
static int fd = -1;
static atomic_int worker_ready, spinner_ready, go, finished, printed, release;
static atomic_int worker_tid, spinner_tid;
static long writes, errors;
static int first_errno;

static void *spinner(void *arg)
{
	volatile unsigned long counter = 0;
	(void)arg;
	wl_thread_ready(spin_cpu, &spinner_tid, &spinner_ready);
	while (!atomic_load_explicit(&release, memory_order_relaxed))
		counter++;
	return NULL;
}

static void *worker(void *arg)
{
	(void)arg;
	wl_thread_ready(cpu, &worker_tid, &worker_ready);

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
		WL_OPT_LONG("spin-cpu", &spin_cpu, 0, CPU_SETSIZE - 1, 0),
		WL_OPT_END,
	};
	pthread_t t, ts;
	long sw0 = 0;

	wl_init("statrefresh", usage);
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("cpu", cpu);
	if (spin_cpu >= 0) {
		wl_check_cpu("spin-cpu", spin_cpu);
		if (spin_cpu == cpu)
			wl_usage_error("--spin-cpu and --cpu must differ");
	}
	/* The control thread shares the writer's CPU: every other CPU is a victim here. */
	wl_pin_main(&c, cpu);

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		wl_die("open %s: %s%s", path, strerror(errno),
		       errno == EACCES || errno == EPERM ? " (needs root)" : "");

	wl_start_thread(&t, worker, NULL, cpu);
	wl_wait_flag(&worker_ready);
	if (spin_cpu >= 0) {
		wl_start_thread(&ts, spinner, NULL, spin_cpu);
		wl_wait_flag(&spinner_ready);
		printf("ready pid=%d tid=%d cpu=%ld count=%ld spinner_tid=%d spin_cpu=%ld\n", getpid(),
		       atomic_load(&worker_tid), cpu, count, atomic_load(&spinner_tid), spin_cpu);
	} else {
		printf("ready pid=%d tid=%d cpu=%ld count=%ld\n", getpid(), atomic_load(&worker_tid), cpu,
		       count);
	}
	wl_wait_go(&c);
	if (spin_cpu >= 0)
		sw0 = wl_thread_switches(atomic_load(&spinner_tid));
	atomic_store_explicit(&go, 1, memory_order_release);
	wl_wait_flag(&finished);
	if (spin_cpu >= 0)
		printf("done writes=%ld errors=%ld cpu=%ld spinner_switches=%ld\n", writes, errors, cpu,
		       wl_thread_switches(atomic_load(&spinner_tid)) - sw0);
	else
		printf("done writes=%ld errors=%ld cpu=%ld\n", writes, errors, cpu);
	atomic_store_explicit(&printed, 1, memory_order_release);
	if (errors)
		fprintf(stderr, "statrefresh: %ld writes failed, first: %s\n", errors,
			strerror(first_errno));
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(t, NULL);
	if (spin_cpu >= 0)
		pthread_join(ts, NULL);
	return errors ? 1 : 0;
}
