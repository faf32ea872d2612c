/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared helpers for the isolwatch test workloads (header-only).
 *
 * Protocol every workload follows (see README.md):
 *   stdout  "ready pid=<tgid> tid=<worker tid> [key=val ...]"
 *   stdin   "go"              (skipped with --no-wait)
 *           ... the measured window: only the work itself runs ...
 *   stdout  "done key=val ..."
 *   then wait for EOF on stdin (or --linger-ms N) and exit 0.
 * Exit 2 on bad usage (message on stderr), 1 on a runtime failure.
 *
 * Worker threads never make a system call between "go" and the end of their work
 * except the ones they exist to make: they wait for "go" by spinning on an atomic
 * flag (the main thread reads stdin), and they announce the end of their work
 * through another atomic flag that the main thread polls from a housekeeping CPU.
 */
#ifndef ISOLWATCH_WORKLOADS_COMMON_H
#define ISOLWATCH_WORKLOADS_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- basics */

static const char *wl_prog = "workload";
static const char *wl_usage_text = "";

static inline pid_t wl_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline void wl_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static inline void wl_init(const char *prog, const char *usage)
{
	wl_prog = prog;
	wl_usage_text = usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Bad usage: message + usage on stderr, exit 2. */
__attribute__((noreturn, format(printf, 1, 2)))
static inline void wl_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: error: ", wl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s %s\n", wl_prog, wl_usage_text);
	exit(2);
}

/* Runtime failure: message on stderr, exit 1. */
__attribute__((noreturn, format(printf, 1, 2)))
static inline void wl_die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", wl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline uint64_t wl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void wl_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* ------------------------------------------------------------ arguments */

enum wl_opt_kind { WL_FLAG, WL_LONG, WL_STR };

struct wl_opt {
	const char *name;   /* without the leading "--" */
	enum wl_opt_kind kind;
	void *dst;          /* int* for WL_FLAG, long* for WL_LONG, const char** for WL_STR */
	long min, max;      /* WL_LONG bounds (inclusive) */
	int required;
	int seen;
};

#define WL_OPT_FLAG(n, p) { (n), WL_FLAG, (p), 0, 0, 0, 0 }
#define WL_OPT_LONG(n, p, lo, hi, req) { (n), WL_LONG, (p), (lo), (hi), (req), 0 }
#define WL_OPT_STR(n, p, req) { (n), WL_STR, (p), 0, 0, (req), 0 }
#define WL_OPT_END { NULL, WL_FLAG, NULL, 0, 0, 0, 0 }

/* Options every workload accepts. */
struct wl_common {
	int no_wait;
	long linger_ms;  /* -1: wait for EOF on stdin */
	long main_cpu;   /* -1: pick a CPU not used by the workers */
	long start_ms;   /* -1: wait for "go"; else start this long after "ready" */
};

static inline long wl_parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		wl_usage_error("--%s needs a value", opt);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		wl_usage_error("--%s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		wl_usage_error("--%s: %ld is out of range [%ld, %ld]", opt, v, min, max);
	return v;
}

/*
 * Parse argv against opts (terminated by WL_OPT_END) plus the common options
 * --no-wait, --linger-ms N, --main-cpu M, --help. Accepts "--name value" and
 * "--name=value". Unknown options, stray arguments, missing values and missing
 * required options exit 2.
 */
static inline void wl_parse_args(int argc, char **argv, struct wl_opt *opts, struct wl_common *c)
{
	c->no_wait = 0;
	c->linger_ms = -1;
	c->main_cpu = -1;
	c->start_ms = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char name[64];
		const char *val = NULL;
		const char *eq;
		struct wl_opt *o;

		if (strncmp(a, "--", 2) != 0)
			wl_usage_error("unexpected argument '%s'", a);
		a += 2;
		eq = strchr(a, '=');
		if (eq) {
			size_t n = (size_t)(eq - a);
			if (n >= sizeof(name))
				wl_usage_error("unknown option '--%s'", a);
			memcpy(name, a, n);
			name[n] = '\0';
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
		}

		if ((strcmp(name, "help") == 0 || strcmp(name, "no-wait") == 0) && eq)
			wl_usage_error("--%s takes no value", name);
		if (strcmp(name, "help") == 0) {
			printf("usage: %s %s\n", wl_prog, wl_usage_text);
			exit(0);
		}
		if (strcmp(name, "no-wait") == 0) {
			c->no_wait = 1;
			continue;
		}
		if (strcmp(name, "linger-ms") == 0 || strcmp(name, "main-cpu") == 0 || strcmp(name, "start-ms") == 0) {
			if (!eq) {
				if (i + 1 >= argc)
					wl_usage_error("--%s needs a value", name);
				val = argv[++i];
			}
			if (name[0] == 'l')
				c->linger_ms = wl_parse_long(name, val, 0, 86400000L);
			else if (name[0] == 's')
				c->start_ms = wl_parse_long(name, val, 0, 86400000L);
			else
				c->main_cpu = wl_parse_long(name, val, 0, CPU_SETSIZE - 1);
			continue;
		}

		for (o = opts; o->name; o++)
			if (strcmp(o->name, name) == 0)
				break;
		if (!o->name)
			wl_usage_error("unknown option '--%s'", name);
		o->seen = 1;
		if (o->kind == WL_FLAG) {
			if (eq)
				wl_usage_error("--%s takes no value", name);
			*(int *)o->dst = 1;
			continue;
		}
		if (!eq) {
			if (i + 1 >= argc)
				wl_usage_error("--%s needs a value", name);
			val = argv[++i];
		}
		if (o->kind == WL_LONG)
			*(long *)o->dst = wl_parse_long(o->name, val, o->min, o->max);
		else {
			if (*val == '\0')
				wl_usage_error("--%s needs a value", name);
			*(const char **)o->dst = val;
		}
	}
	for (struct wl_opt *o = opts; o->name; o++)
		if (o->required && !o->seen)
			wl_usage_error("--%s is required", o->name);
}

/* --------------------------------------------------------------- pinning */

/*
 * Is the CPU online? Reads /sys/devices/system/cpu/online (a list such as "0-3,6").
 * Deliberately not this process's affinity mask: with isolcpus= the default mask
 * leaves the isolated CPUs out, and those are exactly the ones a test pins to.
 */
static inline int wl_cpu_online(long cpu)
{
	char buf[1024];
	int fd = open("/sys/devices/system/cpu/online", O_RDONLY);
	int n = fd >= 0 ? (int)read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return cpu < sysconf(_SC_NPROCESSORS_CONF);
	buf[n] = '\0';
	for (char *p = buf; *p && *p != '\n';) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p)
			break;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if (cpu >= lo && cpu <= hi)
			return 1;
		p = (*end == ',') ? end + 1 : end;
	}
	return 0;
}

/* A CPU option must name an online CPU; otherwise it is a usage error. */
static inline void wl_check_cpu(const char *opt, long cpu)
{
	if (cpu < 0 || cpu >= CPU_SETSIZE || !wl_cpu_online(cpu))
		wl_usage_error("--%s: CPU %ld is not online", opt, cpu);
}

/* Pin the calling thread to one CPU and make sure it runs there. */
static inline void wl_pin_self(long cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		wl_die("sched_setaffinity(cpu %ld): %s", cpu, strerror(errno));
	/* sched_setaffinity migrates us before returning; double-check. */
	for (int i = 0; i < 1000 && sched_getcpu() != cpu; i++)
		sched_yield();
	if (sched_getcpu() != cpu)
		wl_die("thread did not move to CPU %ld", cpu);
}

/*
 * First allowed CPU that is not in avoid[] (n entries), or -1 if there is none.
 * Used to keep the main (control) thread off the CPUs that must stay quiet.
 */
static inline long wl_first_cpu_except(const long *avoid, int n)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		wl_die("sched_getaffinity: %s", strerror(errno));
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		int used = 0;
		if (!CPU_ISSET(cpu, &set))
			continue;
		for (int i = 0; i < n; i++)
			if (avoid[i] == cpu)
				used = 1;
		if (!used)
			return cpu;
	}
	return -1;
}

/*
 * Pin the main (control) thread, which reads stdin, prints, and polls the workers'
 * flags with short sleeps: to --main-cpu if given, else to dflt (if >= 0).
 * Call before the workers are started (they inherit nothing from it: each pins itself).
 */
static inline void wl_pin_main(const struct wl_common *c, long dflt)
{
	if (c->main_cpu >= 0) {
		wl_check_cpu("main-cpu", c->main_cpu);
		wl_pin_self(c->main_cpu);
	} else if (dflt >= 0) {
		wl_pin_self(dflt);
	}
}

/* ------------------------------------------------------------- threads */

/*
 * Start a thread that is bound to cpu from birth (so it never runs anywhere else, not
 * even before it pins itself with wl_pin_self()).
 */
static inline void wl_start_thread(pthread_t *t, void *(*fn)(void *), void *arg, long cpu)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int err;

	pthread_attr_init(&attr);
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	err = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!err)
		err = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (err)
		wl_die("pthread_create (cpu %ld): %s", cpu, strerror(err));
}

/* Wait (from the main thread) until *flag becomes nonzero; polls with short sleeps. */
static inline void wl_wait_flag(atomic_int *flag)
{
	while (!atomic_load_explicit(flag, memory_order_acquire))
		wl_sleep_ns(200000); /* 200 us */
}

/* Worker side: spin without system calls until *flag becomes nonzero. */
static inline void wl_spin_until(atomic_int *flag)
{
	while (!atomic_load_explicit(flag, memory_order_acquire))
		wl_cpu_relax();
}

/*
 * Worker side, after its work: make no system call until the main thread has printed
 * "done" (*printed), then wait for *release (set when the process is about to exit).
 * keep_spinning=1 keeps the CPU busy in user space (victim CPUs: no idle entry);
 * 0 sleeps in 1 ms steps (housekeeping CPUs, where a spinner would compete with the
 * tracer's own user-space side).
 */
static inline void wl_park(atomic_int *printed, atomic_int *release, int keep_spinning)
{
	wl_spin_until(printed);
	if (keep_spinning)
		wl_spin_until(release);
	else
		while (!atomic_load_explicit(release, memory_order_acquire))
			wl_sleep_ns(1000000);
}

/*
 * Context switches (voluntary + involuntary) of one thread of this process, read from
 * /proc by the main thread. A delta of 0 over the window proves the thread ran on its
 * CPU without being switched out, which is what makes IPI counts exact: an IPI aimed at
 * "CPUs running this mm" is not sent while another task runs there.
 */
static inline long wl_thread_switches(pid_t tid)
{
	char path[64], buf[4096];
	long total = 0;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		long v;
		if (sscanf(l, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(l, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			total += v;
	}
	return total;
}

/* ----------------------------------------------------------- handshake */

/* Read one line from fd 0 (unbuffered, so nothing is read ahead). 0 on EOF. */
static inline int wl_read_line(char *buf, size_t len)
{
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = read(0, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			buf[n] = '\0';
			return n > 0;
		}
		if (ch == '\n') {
			buf[n] = '\0';
			return 1;
		}
		if (n + 1 < len)
			buf[n++] = ch;
	}
}

/*
 * A region of `pages` pages (no huge pages), each touched, with one page unmapped: the hole,
 * whose two neighbours share its 2 MiB page-table page, so mapping and unmapping the hole
 * never frees a page table. Returns the region; *hole is the unmapped page.
 */
static inline char *wl_region_with_hole(int pages, long page_size, char **hole)
{
	const uintptr_t pmd = 2u << 20;
	size_t len = (size_t)pages * (size_t)page_size;
	char *region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int k;

	if (region == MAP_FAILED)
		wl_die("mmap: %s", strerror(errno));
	madvise(region, len, MADV_NOHUGEPAGE);
	for (k = 1; k < pages - 1; k++) {
		uintptr_t a = (uintptr_t)region + (uintptr_t)(k - 1) * (uintptr_t)page_size;
		uintptr_t b = (uintptr_t)region + (uintptr_t)(k + 2) * (uintptr_t)page_size - 1;
		if (a / pmd == b / pmd)
			break;
	}
	for (int i = 0; i < pages; i++)
		region[(size_t)i * (size_t)page_size] = 1;
	*hole = region + (size_t)k * (size_t)page_size;
	if (munmap(*hole, (size_t)page_size) != 0)
		wl_die("munmap: %s", strerror(errno));
	return region;
}

/* A worker thread's start: pin itself to cpu, publish its tid, then say it is ready. */
static inline void wl_thread_ready(long cpu, atomic_int *tid, atomic_int *ready)
{
	wl_pin_self(cpu);
	atomic_store(tid, wl_gettid());
	atomic_store_explicit(ready, 1, memory_order_release);
}

/*
 * After "ready": block until a line "go" arrives on stdin (unless --no-wait),
 * or sleep --start-ms (for a caller that cannot write to stdin, e.g. a window
 * that must start after `isolwatch run --warmup`).
 */
static inline void wl_wait_go(const struct wl_common *c)
{
	char line[256];

	if (c->no_wait)
		return;
	if (c->start_ms >= 0) {
		wl_sleep_ns((uint64_t)c->start_ms * 1000000ull);
		return;
	}
	for (;;) {
		size_t n;
		if (!wl_read_line(line, sizeof(line)))
			wl_die("stdin closed before 'go' (use --no-wait to start immediately)");
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (strcmp(line, "go") == 0)
			return;
		fprintf(stderr, "%s: ignoring input line '%s' (waiting for 'go')\n", wl_prog, line);
	}
}

/* After "done": linger --linger-ms, or until EOF on stdin. */
static inline void wl_linger(const struct wl_common *c)
{
	char buf[256];

	if (c->linger_ms >= 0) {
		wl_sleep_ns((uint64_t)c->linger_ms * 1000000ull);
		return;
	}
	for (;;) {
		ssize_t r = read(0, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
	}
}

/* ------------------------------------------------------ cycle counter */

/*
 * A free-running counter readable from user space without a system call
 * (x86 TSC, arm64 virtual counter). wl_counter_hz() calibrates it against
 * CLOCK_MONOTONIC (outside any measured window). Returns 0 where unsupported.
 */
static inline uint64_t wl_counter(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#elif defined(__aarch64__)
	uint64_t v;
	__asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
	return v;
#else
	return 0;
#endif
}

static inline int wl_have_counter(void)
{
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
	return 1;
#else
	return 0;
#endif
}

static inline double wl_counter_hz(void)
{
#if defined(__aarch64__)
	uint64_t f;
	__asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(f));
	return (double)f;
#else
	if (!wl_have_counter())
		return 0;
	uint64_t t0 = wl_now_ns(), c0 = wl_counter();
	wl_sleep_ns(100000000ull); /* 100 ms */
	uint64_t t1 = wl_now_ns(), c1 = wl_counter();
	return (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
#endif
}

#endif /* ISOLWATCH_WORKLOADS_COMMON_H */
