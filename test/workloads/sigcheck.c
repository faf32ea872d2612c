/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sigcheck: proves when an enforcement signal is handled, relative to the
 * syscall that earned it.
 *
 *   sigcheck --cpu C --count N [--interval-us U] [--signal NUM] [--block-in-worker]
 *
 * A worker thread pinned to CPU C makes N getppid system calls, U us apart
 * (spinning in user space in between: no other system call). Right before
 * each one it clears a flag; the signal handler sets it. The instruction
 * right after the `syscall` instruction reads the flag: if it is set, the
 * handler ran between the kernel entry and the next user instruction, i.e.
 * the signal was pending when the syscall returned to user space.
 *
 * stdout: "ready pid=P tid=T cpu=C signal=S"
 *         "done syscalls=N before=B late=L handled=H other=O"
 *   before  syscalls after which the handler had already run (flag set at the next instruction)
 *   late    handler runs in the worker at any other moment (during the spin)
 *   handled all handler runs in the worker (= before + late, counted independently)
 *   other   handler runs in other threads of the process (the main thread)
 * --block-in-worker blocks the signal in the worker (it then stays pending
 * there, or is handled by the main thread if it was process-directed).
 * Handlers are async-signal-safe and make no system call.
 */
#include "common.h"
#include <signal.h>

static long cpu = -1, count = -1, interval_us = 2000, signo = SIGUSR1;
static int block_in_worker;

static __thread int is_worker;
static volatile sig_atomic_t flag;
static atomic_long handled_worker, handled_other;
static atomic_int go, finished, printed, release_flag;
static long before, late;
static pid_t worker_tid;

static void on_signal(int sig)
{
	(void)sig;
	if (is_worker) {
		flag = 1;
		atomic_fetch_add_explicit(&handled_worker, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&handled_other, 1, memory_order_relaxed);
	}
}

/* getppid with the flag read by the very next instruction after `syscall`. */
static inline int syscall_then_flag(void)
{
#if defined(__x86_64__)
	long ret = __NR_getppid;
	int seen;
	__asm__ __volatile__("syscall\n\t"
			     "movl %[flag], %[seen]"
			     : "+a"(ret), [seen] "=r"(seen)
			     : [flag] "m"(flag)
			     : "rcx", "r11", "memory");
	return seen;
#else
	syscall(SYS_getppid);
	return flag;
#endif
}

static void spin_us(long us, double hz)
{
	uint64_t until = wl_counter() + (uint64_t)((double)us * hz / 1e6);
	while (wl_counter() < until)
		wl_cpu_relax();
}

static void *worker(void *arg)
{
	double hz = *(double *)arg;
	char stack[256 * 1024];

	is_worker = 1;
	wl_pin_self(cpu);
	worker_tid = wl_gettid();
	if (block_in_worker) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, (int)signo);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
	}
	/* warm up: stack pages the signal frame lands on, the handler, the syscall path */
	memset(stack, 1, sizeof(stack));
	__asm__ __volatile__("" ::"r"(stack) : "memory");
	on_signal(0);
	flag = 0;
	atomic_store(&handled_worker, 0);
	(void)syscall_then_flag();
	atomic_store_explicit(&finished, -1, memory_order_release); /* warmed up */

	wl_spin_until(&go);
	for (long i = 0; i < count; i++) {
		spin_us(interval_us, hz);
		flag = 0;
		if (syscall_then_flag())
			before++;
	}
	spin_us(interval_us, hz); /* give a stray late signal time to land inside the window */
	late = atomic_load(&handled_worker) - before;
	atomic_store_explicit(&finished, 1, memory_order_release);
	wl_park(&printed, &release_flag, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("cpu", &cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("count", &count, 0, 10000000, 1),
		WL_OPT_LONG("interval-us", &interval_us, 0, 10000000, 0),
		WL_OPT_LONG("signal", &signo, 1, 64, 0),
		WL_OPT_FLAG("block-in-worker", &block_in_worker),
		WL_OPT_END,
	};
	struct sigaction sa;
	pthread_t t;
	double hz;

	wl_init("sigcheck", "--cpu C --count N [--interval-us U] [--signal NUM] [--block-in-worker] [--no-wait] [--linger-ms N] [--main-cpu M]");
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("cpu", cpu);
	if (signo == SIGKILL || signo == SIGSTOP)
		wl_usage_error("--signal %ld cannot be handled", signo);
	if (!wl_have_counter())
		wl_die("no user-space cycle counter on this architecture");
	{
		long avoid[1] = { cpu };
		long hk = wl_first_cpu_except(avoid, 1);
		if (c.main_cpu == cpu)
			wl_usage_error("--main-cpu must differ from --cpu");
		wl_pin_main(&c, hk);
	}

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	if (sigaction((int)signo, &sa, NULL) != 0)
		wl_die("sigaction(%ld): %s", signo, strerror(errno));

	hz = wl_counter_hz();
	wl_start_thread(&t, worker, &hz, cpu);
	while (atomic_load_explicit(&finished, memory_order_acquire) != -1)
		wl_sleep_ns(200000);
	atomic_store(&handled_other, 0);

	printf("ready pid=%d tid=%d cpu=%ld signal=%ld\n", (int)getpid(), (int)worker_tid, cpu, signo);
	wl_wait_go(&c);
	atomic_store_explicit(&go, 1, memory_order_release);
	while (atomic_load_explicit(&finished, memory_order_acquire) != 1)
		wl_sleep_ns(200000);
	printf("done syscalls=%ld before=%ld late=%ld handled=%ld other=%ld\n", count, before, late,
	       atomic_load(&handled_worker), atomic_load(&handled_other));
	atomic_store_explicit(&printed, 1, memory_order_release);
	wl_linger(&c);
	atomic_store_explicit(&release_flag, 1, memory_order_release);
	pthread_join(t, NULL);
	return 0;
}
