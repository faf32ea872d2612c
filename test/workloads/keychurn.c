// SPDX-License-Identifier: GPL-2.0-only
/*
 * keychurn: new aggregate keys created in task context while interrupts that
 * create keys of their own arrive on the same CPU. In the window a spawner
 * pinned to --cpu starts --threads short-lived threads one after the other
 * (they inherit the CPU); each makes the KINDS system calls below once, its
 * first of each kind (so each makes a new key for a tracer that keys by task
 * and call), and exits. Meanwhile a sender thread pinned to --sender-cpu,
 * named "kcsender", issues membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) in a
 * loop: each one IPIs --cpu while a thread of this process runs there, and the
 * IPI interrupts whichever of the short-lived threads is running (a new task
 * for the tracer: a new key too), often inside the tracer's syscall exit.
 *
 *   ready pid=<tgid> tid=<spawner tid> sender_tid=<tid> cpu=<V> sender_cpu=<S> threads=<N> kinds=<K>
 *   done threads=<N> calls=<N*K> sent=<membarrier calls> errors=0
 *
 * Every thread but the sender keeps the process's comm (keychurn).
 */
#include "common.h"
#include <linux/membarrier.h>
#include <sys/times.h>
#include <sys/utsname.h>

static const char usage[] =
	"--cpu V --sender-cpu S --threads N [--no-wait | --start-ms MS] [--linger-ms MS] [--main-cpu M]";

static long cpu = -1, sender_cpu = -1, threads = -1;
static atomic_int spawner_ready, sender_ready, go, finished, sender_done, printed, release;
static atomic_int spawner_tid, sender_tid;
static long sent, errors, calls;

/* The calls each victim thread makes once: cheap, harmless, all different. */
#define KINDS 12

static void *victim(void *arg)
{
	struct tms t;
	struct utsname u;
	(void)arg;
	syscall(SYS_getppid);
	syscall(SYS_getuid);
	syscall(SYS_getgid);
	syscall(SYS_geteuid);
	syscall(SYS_getegid);
	syscall(SYS_getpgrp);
	syscall(SYS_getsid, 0);
	syscall(SYS_getpriority, 0, 0);
	syscall(SYS_times, &t);
	syscall(SYS_uname, &u);
	syscall(SYS_getpgid, 0);
	syscall(SYS_sched_getscheduler, 0);
	return NULL;
}

static void *spawner(void *arg)
{
	(void)arg;
	wl_thread_ready(cpu, &spawner_tid, &spawner_ready);
	wl_spin_until(&go);
	for (long i = 0; i < threads; i++) {
		pthread_t t;
		int e = pthread_create(&t, NULL, victim, NULL);
		if (e)
			wl_die("pthread_create: %s", strerror(e));
		pthread_join(t, NULL);
		calls += KINDS;
	}
	atomic_store_explicit(&finished, 1, memory_order_release);
	wl_park(&printed, &release, 0);
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	wl_thread_ready(sender_cpu, &sender_tid, &sender_ready);
	pthread_setname_np(pthread_self(), "kcsender");
	wl_spin_until(&go);
	while (!atomic_load_explicit(&finished, memory_order_acquire)) {
		if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
			sent++;
		else
			errors++;
	}
	atomic_store_explicit(&sender_done, 1, memory_order_release);
	wl_park(&printed, &release, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("cpu", &cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("sender-cpu", &sender_cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("threads", &threads, 1, 1000000L, 1),
		WL_OPT_END,
	};
	long both[2];
	pthread_t tp, ts;

	wl_init("keychurn", usage);
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("cpu", cpu);
	wl_check_cpu("sender-cpu", sender_cpu);
	if (cpu == sender_cpu)
		wl_usage_error("--cpu and --sender-cpu must differ (the sender's own CPU gets no IPI)");
	both[0] = cpu;
	both[1] = sender_cpu;
	wl_pin_main(&c, wl_first_cpu_except(both, 2));

	int q = (int)syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		wl_die("this kernel does not support MEMBARRIER_CMD_PRIVATE_EXPEDITED (query=%d)", q);
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
		wl_die("membarrier(REGISTER_PRIVATE_EXPEDITED): %s", strerror(errno));

	wl_start_thread(&tp, spawner, NULL, cpu);
	wl_start_thread(&ts, sender, NULL, sender_cpu);
	wl_wait_flag(&spawner_ready);
	wl_wait_flag(&sender_ready);
	printf("ready pid=%d tid=%d sender_tid=%d cpu=%ld sender_cpu=%ld threads=%ld kinds=%d\n", getpid(),
	       atomic_load(&spawner_tid), atomic_load(&sender_tid), cpu, sender_cpu, threads, KINDS);
	wl_wait_go(&c);
	atomic_store_explicit(&go, 1, memory_order_release);
	wl_wait_flag(&finished);
	wl_wait_flag(&sender_done); /* its count is final */
	printf("done threads=%ld calls=%ld sent=%ld errors=%ld\n", threads, calls, sent, errors);
	atomic_store_explicit(&printed, 1, memory_order_release);
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);
	return errors ? 1 : 0;
}
