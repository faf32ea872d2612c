// SPDX-License-Identifier: GPL-2.0-only
/*
 * syscalls: a worker pinned to --cpu makes exactly --count getppid() system calls
 * (raw syscall(SYS_getppid), so libc cannot cache the result) in the window.
 *
 *   ready pid=<tgid> tid=<worker tid> cpu=<C> count=<N> syscall=getppid nr=<syscall nr>
 *   done calls=<N> syscall=getppid cpu=<C> switches=<K>
 *
 * switches: the worker's context switches in the window (0 = never left its CPU).
 */
#include "common.h"

static const char usage[] =
	"--cpu C --count N [--syscall getppid] [--no-wait | --start-ms MS] [--linger-ms MS] [--main-cpu M]";

static long cpu = -1, count = -1;
static atomic_int worker_ready, go, finished, release;
static atomic_int worker_tid;
static long calls_made;

static void *worker(void *arg)
{
	(void)arg;
	wl_pin_self(cpu);
	atomic_store(&worker_tid, wl_gettid());
	syscall(SYS_getppid); /* warm up: code pages and PLT resolved before the window */
	atomic_store_explicit(&worker_ready, 1, memory_order_release);

	wl_spin_until(&go);
	long i;
	for (i = 0; i < count; i++)
		syscall(SYS_getppid);
	calls_made = i;
	atomic_store_explicit(&finished, 1, memory_order_release);
	wl_spin_until(&release); /* stay on the CPU, silent, until the process ends */
	return NULL;
}

int main(int argc, char **argv)
{
	const char *name = "getppid";
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("cpu", &cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("count", &count, 0, 1000000000L, 1),
		WL_OPT_STR("syscall", &name, 0),
		WL_OPT_END,
	};
	pthread_t t;

	wl_init("syscalls", usage);
	wl_parse_args(argc, argv, opts, &c);
	if (strcmp(name, "getppid") != 0)
		wl_usage_error("--syscall: only 'getppid' is supported, not '%s'", name);
	wl_check_cpu("cpu", cpu);
	wl_pin_main(&c, wl_first_cpu_except(&cpu, 1));

	wl_start_thread(&t, worker, NULL, cpu);
	wl_wait_flag(&worker_ready);
	printf("ready pid=%d tid=%d cpu=%ld count=%ld syscall=getppid nr=%d\n", getpid(),
	       atomic_load(&worker_tid), cpu, count, (int)SYS_getppid);
	wl_wait_go(&c);
	long sw0 = wl_thread_switches(atomic_load(&worker_tid));
	atomic_store_explicit(&go, 1, memory_order_release);
	wl_wait_flag(&finished);
	long sw1 = wl_thread_switches(atomic_load(&worker_tid));
	printf("done calls=%ld syscall=getppid cpu=%ld switches=%ld\n", calls_made, cpu, sw1 - sw0);
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(t, NULL);
	return 0;
}
