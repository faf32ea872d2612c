// SPDX-License-Identifier: GPL-2.0-only
/*
 * spin: a pure user-space busy loop pinned to --cpu: a counter, no system calls and no
 * clock_gettime() in the loop (in the emulated quiet-CPU guest clock_gettime is a real
 * system call). How the loop knows the time:
 *   default      the CPU's cycle counter (x86 rdtsc, arm64 cntvct_el0), calibrated
 *                against CLOCK_MONOTONIC before "ready";
 *   --timer-cpu T a timer thread pinned to CPU T sleeps and publishes the elapsed time
 *                in an atomic the spinner reads (no counter needed).
 * --seconds 0 spins until a line "stop" (or EOF) arrives on stdin after "go".
 * With --syscalls-per-sec R > 0 the loop makes about R getppid() calls per second
 * (raw syscall), and reports exactly how many it made.
 *
 *   ready pid=<tgid> tid=<spinner tid> cpu=<C> seconds=<S> syscalls_per_sec=<R> clock=tsc|timer
 *   done iterations=<I> syscalls=<K> elapsed_ms=<ms> cpu=<C> switches=<K>
 */
#include "common.h"

static const char usage[] =
	"--cpu C [--seconds S (default 10; 0 = until 'stop'/EOF on stdin)] [--ms MS] "
	"[--syscalls-per-sec R] [--timer-cpu T] [--no-wait | --start-ms MS] [--linger-ms MS] [--main-cpu M]";

static long cpu = -1, seconds = 10, ms = -1, rate = 0, timer_cpu = -1;
static uint64_t duration_ns; /* 0: until stop */
static int use_timer;
static double counter_hz;
static atomic_int spinner_ready, timer_ready, go, finished, printed, release, stop;
static atomic_int spinner_tid;
static atomic_long allowed_calls; /* timer mode: calls due so far */
static unsigned long iterations, calls;
static uint64_t elapsed_ns;

static void *spinner(void *arg)
{
	(void)arg;
	wl_pin_self(cpu);
	atomic_store(&spinner_tid, wl_gettid());
	syscall(SYS_getppid); /* warm-up, before the window */
	(void)wl_counter();
	atomic_store_explicit(&spinner_ready, 1, memory_order_release);

	wl_spin_until(&go);
	unsigned long it = 0, k = 0;
	if (!use_timer) {
		const uint64_t start = wl_counter();
		const uint64_t end = duration_ns ? start + (uint64_t)(counter_hz * (double)duration_ns / 1e9) : 0;
		const double per_call = rate > 0 ? counter_hz / (double)rate : 0;
		uint64_t next = rate > 0 ? start + (uint64_t)per_call : UINT64_MAX;
		uint64_t now = start;
		for (;;) {
			it++;
			if ((it & 255) != 0)
				continue;
			if (!duration_ns && atomic_load_explicit(&stop, memory_order_relaxed))
				break;
			now = wl_counter();
			if (end && now >= end)
				break;
			if (now >= next) {
				syscall(SYS_getppid);
				k++;
				next = start + (uint64_t)(per_call * (double)(k + 1));
			}
		}
		elapsed_ns = (uint64_t)((double)(now - start) * 1e9 / counter_hz);
	} else {
		for (;;) {
			it++;
			if ((it & 255) != 0)
				continue;
			if (atomic_load_explicit(&stop, memory_order_relaxed))
				break;
			if ((long)k < atomic_load_explicit(&allowed_calls, memory_order_relaxed)) {
				syscall(SYS_getppid);
				k++;
			}
		}
	}
	iterations = it;
	calls = k;
	atomic_store_explicit(&finished, 1, memory_order_release);
	wl_park(&printed, &release, 1);
	return NULL;
}

/* Timer mode: publish the number of calls due and raise stop after the duration. */
static uint64_t timer_elapsed;
static void *timer(void *arg)
{
	(void)arg;
	wl_pin_self(timer_cpu);
	atomic_store_explicit(&timer_ready, 1, memory_order_release);
	while (!atomic_load_explicit(&go, memory_order_acquire))
		wl_sleep_ns(100000);
	uint64_t start = wl_now_ns();
	uint64_t step = rate > 0 ? 1000000000ull / (uint64_t)rate : 10000000ull;
	if (step > 10000000ull)
		step = 10000000ull; /* check at least every 10 ms */
	if (step < 50000ull)
		step = 50000ull;
	for (;;) {
		uint64_t el = wl_now_ns() - start;
		if (duration_ns && el >= duration_ns) {
			timer_elapsed = el;
			atomic_store_explicit(&stop, 1, memory_order_release);
			break;
		}
		if (!duration_ns && atomic_load_explicit(&stop, memory_order_acquire)) {
			timer_elapsed = el;
			break;
		}
		if (rate > 0)
			atomic_store_explicit(&allowed_calls, (long)((double)rate * (double)el / 1e9),
					      memory_order_relaxed);
		wl_sleep_ns(step);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("cpu", &cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("seconds", &seconds, 0, 86400L, 0),
		WL_OPT_LONG("ms", &ms, 1, 86400000L, 0),
		WL_OPT_LONG("syscalls-per-sec", &rate, 0, 10000000L, 0),
		WL_OPT_LONG("timer-cpu", &timer_cpu, 0, CPU_SETSIZE - 1, 0),
		WL_OPT_END,
	};
	pthread_t ts, tt;

	wl_init("spin", usage);
	wl_parse_args(argc, argv, opts, &c);
	if (opts[1].seen && opts[2].seen)
		wl_usage_error("give --seconds or --ms, not both");
	wl_check_cpu("cpu", cpu);
	use_timer = timer_cpu >= 0;
	if (use_timer) {
		wl_check_cpu("timer-cpu", timer_cpu);
		if (timer_cpu == cpu)
			wl_usage_error("--timer-cpu must differ from --cpu");
	} else if (!wl_have_counter()) {
		wl_usage_error("no user-space cycle counter on this architecture: use --timer-cpu T");
	}
	duration_ns = ms > 0 ? (uint64_t)ms * 1000000ull : (uint64_t)seconds * 1000000000ull;
	wl_pin_main(&c, wl_first_cpu_except(&cpu, 1));
	if (!use_timer) {
		counter_hz = wl_counter_hz();
		if (counter_hz <= 0)
			wl_die("cannot calibrate the cycle counter");
	}

	wl_start_thread(&ts, spinner, NULL, cpu);
	if (use_timer)
		wl_start_thread(&tt, timer, NULL, timer_cpu);
	wl_wait_flag(&spinner_ready);
	if (use_timer)
		wl_wait_flag(&timer_ready);
	printf("ready pid=%d tid=%d cpu=%ld seconds=%g syscalls_per_sec=%ld clock=%s", getpid(),
	       atomic_load(&spinner_tid), cpu, (double)duration_ns / 1e9, rate,
	       use_timer ? "timer" : "tsc");
	if (use_timer)
		printf(" timer_cpu=%ld\n", timer_cpu);
	else
		printf(" counter_hz=%.0f\n", counter_hz);
	wl_wait_go(&c);
	pid_t tid = atomic_load(&spinner_tid);
	long sw0 = wl_thread_switches(tid);
	uint64_t t0 = wl_now_ns();
	atomic_store_explicit(&go, 1, memory_order_release);
	if (!duration_ns) {
		char line[256];
		while (wl_read_line(line, sizeof(line)) && strncmp(line, "stop", 4) != 0)
			;
		atomic_store_explicit(&stop, 1, memory_order_release);
	}
	wl_wait_flag(&finished);
	uint64_t t1 = wl_now_ns();
	long sw1 = wl_thread_switches(tid);
	if (use_timer) {
		pthread_join(tt, NULL);
		elapsed_ns = timer_elapsed;
	}
	printf("done iterations=%lu syscalls=%lu elapsed_ms=%.1f wall_ms=%.1f cpu=%ld switches=%ld\n",
	       iterations, calls, (double)elapsed_ns / 1e6, (double)(t1 - t0) / 1e6, cpu, sw1 - sw0);
	atomic_store_explicit(&printed, 1, memory_order_release);
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(ts, NULL);
	return 0;
}
