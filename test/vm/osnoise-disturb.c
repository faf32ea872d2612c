// SPDX-License-Identifier: GPL-2.0-only
/*
 * osnoise-disturb: a known, countable disturbance of one CPU for the side-by-side
 * comparison with the kernel's osnoise tracer (test/vm/osnoise-compare.sh).
 *
 * A SCHED_FIFO worker thread bound to --cpu C (from birth) wakes up exactly
 *   --timer-wakes N   times from its own timer: clock_nanosleep(--interval-ms), an hrtimer
 *                     in hard-IRQ mode (RT task). With kernel.timer_migration=0 it expires
 *                     on C: one local-timer interrupt on C (hrtimer_wakeup) and one run of
 *                     the worker. (With migration on, nohz_full CPUs hand unpinned timers to
 *                     a housekeeping CPU, and the wake-up arrives as a reschedule IPI.)
 *   --remote-wakes M  times from a (SCHED_FIFO) waker thread on --waker-cpu W: a FUTEX_WAKE
 *                     --interval-ms after the worker blocked -> one reschedule IPI on C and
 *                     one run of the worker.
 * Each wake-up preempts whatever runs on C (the osnoise workload thread): osnoise counts it
 * as one IRQ and one THREAD noise. The worker does nothing else: between wake-ups it is
 * blocked, not spinning, so it never competes with the osnoise thread for the CPU.
 *
 * Protocol (test/workloads/README.md): "ready pid= tid= cpu= ..." -> "go" on stdin (or
 * --no-wait) -> the wake-ups -> "done timer_wakes=N remote_wakes=M remote_unslept=K" -> EOF on
 * stdin -> exit 0. Until "go" the worker waits blocked in FUTEX_WAIT (not spinning: it is
 * a real-time thread on the CPU that osnoise measures).
 */
#include "../workloads/common.h"
#include <linux/futex.h>
#include <sys/mman.h>

static const char usage[] =
	"--cpu C [--timer-wakes N] [--remote-wakes M] [--interval-ms MS (default 50)] "
	"[--waker-cpu W] [--prio P (SCHED_FIFO, default 20)] [--no-wait] [--linger-ms MS] [--main-cpu M]";

static long cpu = -1, timer_wakes = 0, remote_wakes = 0, interval_ms = 50, waker_cpu = -1, prio = 20;
static atomic_int go_word, wake_word, armed, finished, worker_tid;
static long timer_done, remote_done;
/* remote wake-ups that found the worker not asleep in FUTEX_WAIT (FUTEX_WAKE woke nobody): no switch, no IPI */
static long remote_unslept;

static long futex(atomic_int *uaddr, int op, int val)
{
	return syscall(SYS_futex, (int *)uaddr, op, val, NULL, NULL, 0);
}

static void wait_word_changes(atomic_int *w, int seen)
{
	while (atomic_load_explicit(w, memory_order_acquire) == seen)
		futex(w, FUTEX_WAIT_PRIVATE, seen);
}

static void *worker(void *arg)
{
	struct timespec rel = { .tv_sec = interval_ms / 1000, .tv_nsec = (interval_ms % 1000) * 1000000L };
	int seen = 0;

	(void)arg;
	wl_pin_self(cpu);
	atomic_store(&worker_tid, wl_gettid());
	wait_word_changes(&go_word, 0);

	for (long i = 0; i < timer_wakes; i++) {
		struct timespec left = rel;
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left) == EINTR)
			;
		timer_done++;
	}
	for (long i = 0; i < remote_wakes; i++) {
		/* tell the waker which wake-up we are about to block for, then block */
		atomic_store_explicit(&armed, (int)i + 1, memory_order_release);
		futex(&armed, FUTEX_WAKE_PRIVATE, 1);
		wait_word_changes(&wake_word, seen);
		seen = atomic_load_explicit(&wake_word, memory_order_acquire);
		remote_done++;
	}
	atomic_store_explicit(&finished, 1, memory_order_release);
	futex(&finished, FUTEX_WAKE_PRIVATE, 1);
	return NULL;
}

static void *waker(void *arg)
{
	(void)arg;
	wl_pin_self(waker_cpu);
	wait_word_changes(&go_word, 0);
	for (long i = 0; i < remote_wakes; i++) {
		/*
		 * One wake-up per FUTEX_WAIT: wait until the worker has armed wake-up i+1 (the
		 * timer phase comes first), then give it the interval to be asleep for sure.
		 */
		for (int a; (a = atomic_load_explicit(&armed, memory_order_acquire)) < (int)i + 1;)
			futex(&armed, FUTEX_WAIT_PRIVATE, a);
		wl_sleep_ns((uint64_t)interval_ms * 1000000ull);
		atomic_fetch_add_explicit(&wake_word, 1, memory_order_release);
		/*
		 * 0 woken: the worker had not blocked yet (a stalled guest vCPU can hold it past the
		 * interval); it sees the new word and goes on without sleeping: no wake-up happened
		 */
		if (futex(&wake_word, FUTEX_WAKE_PRIVATE, 1) == 0)
			remote_unslept++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("cpu", &cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("timer-wakes", &timer_wakes, 0, 1000000, 0),
		WL_OPT_LONG("remote-wakes", &remote_wakes, 0, 1000000, 0),
		WL_OPT_LONG("interval-ms", &interval_ms, 1, 10000, 0),
		WL_OPT_LONG("waker-cpu", &waker_cpu, 0, CPU_SETSIZE - 1, 0),
		WL_OPT_LONG("prio", &prio, 1, 99, 0),
		WL_OPT_END,
	};
	pthread_t wt, kt;
	pthread_attr_t attr;
	struct sched_param sp;
	cpu_set_t set;
	char line[64];
	long main_cpu;
	int err;

	wl_init("osnoise-disturb", usage);
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("cpu", cpu);
	main_cpu = c.main_cpu >= 0 ? c.main_cpu : wl_first_cpu_except(&cpu, 1);
	if (main_cpu < 0)
		wl_usage_error("no CPU other than --cpu %ld for the main thread (use --main-cpu)", cpu);
	if (waker_cpu < 0)
		waker_cpu = main_cpu;
	wl_check_cpu("waker-cpu", waker_cpu);
	if (waker_cpu == cpu)
		wl_usage_error("--waker-cpu must differ from --cpu (the wake-ups are remote)");
	wl_pin_main(&c, main_cpu);
	/* no page faults on the measured CPU once the window runs */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		wl_die("mlockall: %s", strerror(errno));

	pthread_attr_init(&attr);
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	sp.sched_priority = (int)prio;
	err = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!err)
		err = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	if (!err)
		err = pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	if (!err)
		err = pthread_attr_setschedparam(&attr, &sp);
	if (!err)
		err = pthread_create(&wt, &attr, worker, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		wl_die("SCHED_FIFO %ld worker on CPU %ld: %s (needs root or CAP_SYS_NICE)", prio, cpu, strerror(err));
	/* the waker is real-time too: on a busy housekeeping CPU (the tools' user space) it must not queue */
	pthread_attr_init(&attr);
	CPU_ZERO(&set);
	CPU_SET((int)waker_cpu, &set);
	err = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!err)
		err = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	if (!err)
		err = pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	if (!err)
		err = pthread_attr_setschedparam(&attr, &sp);
	if (!err)
		err = pthread_create(&kt, &attr, waker, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		wl_die("SCHED_FIFO %ld waker on CPU %ld: %s", prio, waker_cpu, strerror(err));
	while (!atomic_load(&worker_tid))
		wl_sleep_ns(1000000);

	printf("ready pid=%d tid=%d cpu=%ld timer_wakes=%ld remote_wakes=%ld interval_ms=%ld waker_cpu=%ld prio=%ld\n",
	       getpid(), atomic_load(&worker_tid), cpu, timer_wakes, remote_wakes, interval_ms, waker_cpu, prio);
	if (!c.no_wait) {
		if (!fgets(line, sizeof(line), stdin))
			wl_die("stdin closed before 'go'");
		if (strncmp(line, "go", 2) != 0)
			wl_die("expected 'go', got '%s'", line);
	}
	atomic_store_explicit(&go_word, 1, memory_order_release);
	futex(&go_word, FUTEX_WAKE_PRIVATE, 2);
	wait_word_changes(&finished, 0);
	pthread_join(wt, NULL);
	pthread_join(kt, NULL);
	printf("done timer_wakes=%ld remote_wakes=%ld remote_unslept=%ld\n", timer_done, remote_done, remote_unslept);
	if (c.linger_ms >= 0)
		wl_sleep_ns((uint64_t)c.linger_ms * 1000000ull);
	else
		while (fgets(line, sizeof(line), stdin))
			;
	return 0;
}
