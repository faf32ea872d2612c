// SPDX-License-Identifier: GPL-2.0-only
/*
 * membarrier: the process registers MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED; a spinner
 * thread pinned to --spin-cpu spins in pure user space (no system calls, no clock reads)
 * for the whole life of the process; in the window a sender thread pinned to
 * --sender-cpu issues exactly --count membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
 * calls, sleeping --interval-us between them (default 0). The kernel IPIs every other
 * CPU currently running a thread of this mm, i.e. the spinner's CPU: one ipi_mb
 * cross-CPU call (call_function_single on x86) per membarrier. Before each call the
 * sender pings the spinner through an atomic and waits for its answer (no system
 * calls), so the call is made while the spinner is known to be running: on a CPU
 * shared with other busy tasks an IPI would otherwise be skipped whenever the
 * spinner happened to be switched out.
 *
 *   ready pid=<tgid> tid=<sender tid> sender_tid=<tid> spinner_tid=<tid> spin_cpu=<S> sender_cpu=<C> count=<N>
 *   done sent=<N> errors=0 spin_cpu=<S> spinner_switches=<K>
 *
 * spinner_switches=0 means the spinner never left its CPU in the window, so exactly N
 * ipi_mb calls reached it; otherwise calls made while it was switched out sent none.
 */
#include "common.h"
#include <linux/membarrier.h>

static const char usage[] =
	"--spin-cpu S --sender-cpu C --count N [--interval-us U] [--no-wait | --start-ms MS] [--linger-ms MS] "
	"[--main-cpu M]";

static long spin_cpu = -1, sender_cpu = -1, count = -1, interval_us = 0;
static atomic_int spinner_ready, sender_ready, go, finished, printed, release;
static atomic_int spinner_tid, sender_tid;
static atomic_long ping_seq, ping_ack;
static long sent, errors;
static int first_errno;

static int membarrier(int cmd, unsigned int flags, int cpu_id)
{
	return (int)syscall(__NR_membarrier, cmd, flags, cpu_id);
}

static void *spinner(void *arg)
{
	volatile unsigned long counter = 0;
	(void)arg;
	wl_thread_ready(spin_cpu, &spinner_tid, &spinner_ready);
	while (!atomic_load_explicit(&release, memory_order_relaxed)) {
		counter++;
		long p = atomic_load_explicit(&ping_seq, memory_order_relaxed);
		if (p != atomic_load_explicit(&ping_ack, memory_order_relaxed))
			atomic_store_explicit(&ping_ack, p, memory_order_relaxed);
	}
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	wl_thread_ready(sender_cpu, &sender_tid, &sender_ready);

	wl_spin_until(&go);
	for (long i = 0; i < count; i++) {
		if (i > 0 && interval_us > 0)
			wl_sleep_ns((uint64_t)interval_us * 1000ull);
		/* Ping the spinner (user-space atomics only) so it is known to be on its CPU. */
		atomic_store_explicit(&ping_seq, i + 1, memory_order_relaxed);
		while (atomic_load_explicit(&ping_ack, memory_order_relaxed) != i + 1)
			wl_cpu_relax();
		if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
			sent++;
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
		WL_OPT_LONG("spin-cpu", &spin_cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("sender-cpu", &sender_cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("count", &count, 0, 1000000000L, 1),
		WL_OPT_LONG("interval-us", &interval_us, 0, 60000000L, 0),
		WL_OPT_END,
	};
	pthread_t ts, tx;

	wl_init("membarrier", usage);
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("spin-cpu", spin_cpu);
	wl_check_cpu("sender-cpu", sender_cpu);
	if (spin_cpu == sender_cpu)
		wl_usage_error("--spin-cpu and --sender-cpu must differ (the sender's own CPU gets no IPI)");
	wl_pin_main(&c, wl_first_cpu_except(&spin_cpu, 1));

	int q = membarrier(MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		wl_die("this kernel does not support MEMBARRIER_CMD_PRIVATE_EXPEDITED (query=%d)", q);
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
		wl_die("membarrier(REGISTER_PRIVATE_EXPEDITED): %s", strerror(errno));

	wl_start_thread(&ts, spinner, NULL, spin_cpu);
	wl_start_thread(&tx, sender, NULL, sender_cpu);
	wl_wait_flag(&spinner_ready);
	wl_wait_flag(&sender_ready);
	printf("ready pid=%d tid=%d sender_tid=%d spinner_tid=%d spin_cpu=%ld sender_cpu=%ld "
	       "count=%ld\n",
	       getpid(), atomic_load(&sender_tid), atomic_load(&sender_tid),
	       atomic_load(&spinner_tid), spin_cpu, sender_cpu, count);
	wl_wait_go(&c);
	long sw0 = wl_thread_switches(atomic_load(&spinner_tid));
	atomic_store_explicit(&go, 1, memory_order_release);
	wl_wait_flag(&finished);
	long sw1 = wl_thread_switches(atomic_load(&spinner_tid));
	printf("done sent=%ld errors=%ld spin_cpu=%ld spinner_switches=%ld\n", sent, errors,
	       spin_cpu, sw1 - sw0);
	atomic_store_explicit(&printed, 1, memory_order_release);
	if (errors)
		fprintf(stderr, "membarrier: %ld calls failed, first: %s\n", errors, strerror(first_errno));
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(tx, NULL);
	pthread_join(ts, NULL);
	return errors ? 1 : 0;
}
