// SPDX-License-Identifier: GPL-2.0-only
/*
 * disturb: a demo that keeps interrupting --target-cpu from --from-cpu, for `isolwatch demo`.
 * A spinner thread of this process runs on the target CPU (pure user space, touching a
 * shared region; --no-spinner leaves the target to someone else's task, in which case
 * membarrier and munmap reach nothing there: a control run). A sender thread on the
 * from-CPU, rate-limited to --rate events per second per kind (default 20):
 *   membarrier    membarrier(PRIVATE_EXPEDITED): one ipi_mb cross-CPU call to the target
 *   munmap        maps a page inside the region, lets the spinner read it, unmaps it:
 *                 one flush_tlb_func TLB-shootdown IPI to the target
 *   stat_refresh  every --stat-refresh-ms (default 1000) writes /proc/sys/vm/stat_refresh:
 *                 one refresh_vm_stats work item on every CPU (root only; disabled with an
 *                 "error=" line otherwise)
 *   syscalls      asks the spinner (through an atomic: the sender makes no call for it) to
 *                 make one getppid of its own: a syscall of the victim itself
 * --kinds a,b selects a subset (default: all but syscalls). Runs --seconds S (default 10; 0 = until "stop"/EOF on stdin).
 *
 *   ready pid=<tgid> tid=<sender tid> sender_tid=<tid> spinner_tid=<tid|0> target_cpu=<T> from_cpu=<F> kinds=<list>
 *   disturb kind=membarrier n=<cumulative count> t_ms=<since go>      (one line per event)
 *   disturb kind=stat_refresh error=<errno name>                       (kind disabled)
 *   done membarrier=<n> munmap=<n> stat_refresh=<n> syscalls=<n made> elapsed_ms=<ms> spinner_switches=<K>
 */
#include "common.h"
#include <linux/membarrier.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static const char usage[] =
	"--target-cpu T --from-cpu F [--seconds S (default 10; 0 = until 'stop'/EOF)] "
	"[--rate PER_SEC_PER_KIND (default 20)] [--stat-refresh-ms MS (default 1000)] "
	"[--kinds membarrier,munmap,stat_refresh,syscalls] [--no-spinner] [--no-wait | --start-ms MS] [--linger-ms MS] "
	"[--main-cpu M]";

#define REGION_PAGES 16
enum { K_MEMBARRIER = 1, K_MUNMAP = 2, K_STAT = 4, K_SYS = 8 };

static long target_cpu = -1, from_cpu = -1, seconds = 10, rate = 20, stat_ms = 1000;
static int no_spinner, kinds = K_MEMBARRIER | K_MUNMAP | K_STAT;
static const char *kinds_arg;
static long page_size;
static char *region, *hole;
static int stat_fd = -1;
static atomic_int spinner_ready, sender_ready, go, finished, printed, release, stop;
static atomic_int spinner_tid, sender_tid;
static _Atomic(char *) slot;
static atomic_long slot_seq, slot_ack, sys_req, sys_done;
static long n_mb, n_unmap, n_stat, n_sys;
static uint64_t t_go;

static void *spinner(void *arg)
{
	volatile char *r = (volatile char *)region;
	long acked = 0, sys_acked = 0;
	unsigned long n = 0;
	(void)arg;
	wl_thread_ready(target_cpu, &spinner_tid, &spinner_ready);
	while (!atomic_load_explicit(&release, memory_order_relaxed)) {
		r[(n & 63) * 64] += 1;
		n++;
		long s = atomic_load_explicit(&slot_seq, memory_order_acquire);
		if (s != acked) {
			volatile char *p = atomic_load_explicit(&slot, memory_order_relaxed);
			(void)*p;
			acked = s;
			atomic_store_explicit(&slot_ack, s, memory_order_release);
		}
		long q = atomic_load_explicit(&sys_req, memory_order_relaxed);
		if (q != sys_acked) {
			syscall(SYS_getppid); /* the victim's own kernel entry, on request */
			sys_acked = q;
			atomic_fetch_add_explicit(&sys_done, 1, memory_order_relaxed);
		}
	}
	return NULL;
}

static double ms_since_go(void)
{
	return (double)(wl_now_ns() - t_go) / 1e6;
}

/* Wait (up to 50 ms) until the spinner has answered a fresh ping: it is on its CPU now. */
static void ping_spinner(char *page)
{
	static long seq;
	if (no_spinner)
		return;
	atomic_store_explicit(&slot, page, memory_order_relaxed);
	atomic_store_explicit(&slot_seq, ++seq, memory_order_release);
	uint64_t deadline = wl_now_ns() + 50000000ull;
	while (atomic_load_explicit(&slot_ack, memory_order_acquire) != seq && wl_now_ns() < deadline)
		wl_cpu_relax();
}

static void do_membarrier(void)
{
	ping_spinner(region);
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
		printf("disturb kind=membarrier error=%s\n", strerrorname_np(errno));
		kinds &= ~K_MEMBARRIER;
		return;
	}
	printf("disturb kind=membarrier n=%ld t_ms=%.1f\n", ++n_mb, ms_since_go());
}

static void do_munmap(void)
{
	char *p = mmap(hole, (size_t)page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != hole) {
		printf("disturb kind=munmap error=%s\n", p == MAP_FAILED ? strerrorname_np(errno) : "EADDR");
		if (p != MAP_FAILED)
			munmap(p, (size_t)page_size);
		kinds &= ~K_MUNMAP;
		return;
	}
	*(volatile char *)p = 1;
	ping_spinner(p); /* the spinner reads the page: its CPU caches the translation */
	/* Never unmap the page before the spinner has read it: preempted on a busy CPU, it can
	 * answer later than the ping's 50 ms, and its read would then fault (SIGSEGV). */
	while (!no_spinner && atomic_load_explicit(&slot_ack, memory_order_acquire) !=
				      atomic_load_explicit(&slot_seq, memory_order_relaxed))
		wl_sleep_ns(100000);
	munmap(p, (size_t)page_size);
	printf("disturb kind=munmap n=%ld t_ms=%.1f\n", ++n_unmap, ms_since_go());
}

static void do_stat_refresh(void)
{
	if (pwrite(stat_fd, "1\n", 2, 0) != 2) {
		printf("disturb kind=stat_refresh error=%s\n", strerrorname_np(errno));
		kinds &= ~K_STAT;
		return;
	}
	printf("disturb kind=stat_refresh n=%ld t_ms=%.1f\n", ++n_stat, ms_since_go());
}

static void do_syscalls(void)
{
	atomic_fetch_add_explicit(&sys_req, 1, memory_order_relaxed);
	printf("disturb kind=syscalls n=%ld t_ms=%.1f\n", ++n_sys, ms_since_go());
}

static void *sender(void *arg)
{
	(void)arg;
	wl_thread_ready(from_cpu, &sender_tid, &sender_ready);
	while (!atomic_load_explicit(&go, memory_order_acquire))
		wl_sleep_ns(1000000);

	const uint64_t period = 1000000000ull / (uint64_t)rate;
	const uint64_t stat_period = (uint64_t)stat_ms * 1000000ull;
	const uint64_t start = wl_now_ns();
	uint64_t next = start, next_stat = start;
	for (;;) {
		uint64_t now = wl_now_ns();
		if (seconds > 0 && now - start >= (uint64_t)seconds * 1000000000ull)
			break;
		if (atomic_load_explicit(&stop, memory_order_acquire))
			break;
		if (now >= next) {
			if (kinds & K_MEMBARRIER)
				do_membarrier();
			if (kinds & K_MUNMAP)
				do_munmap();
			if (kinds & K_SYS)
				do_syscalls();
			next += period;
			if (next < now)
				next = now + period; /* fell behind: don't burst */
		}
		if ((kinds & K_STAT) && now >= next_stat) {
			do_stat_refresh();
			next_stat = now + stat_period;
		}
		uint64_t wake = next;
		if ((kinds & K_STAT) && next_stat < wake)
			wake = next_stat;
		now = wl_now_ns();
		if (wake > now)
			wl_sleep_ns(wake - now < 10000000ull ? wake - now : 10000000ull);
	}
	atomic_store_explicit(&finished, 1, memory_order_release);
	wl_park(&printed, &release, 0);
	return NULL;
}

static int parse_kinds(const char *s)
{
	int k = 0;
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "membarrier") == 0)
			k |= K_MEMBARRIER;
		else if (strcmp(t, "munmap") == 0)
			k |= K_MUNMAP;
		else if (strcmp(t, "stat_refresh") == 0)
			k |= K_STAT;
		else if (strcmp(t, "syscalls") == 0)
			k |= K_SYS;
		else
			wl_usage_error("--kinds: unknown kind '%s' (membarrier, munmap, stat_refresh, syscalls)", t);
	}
	if (!k)
		wl_usage_error("--kinds: empty list");
	return k;
}

int main(int argc, char **argv)
{
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("target-cpu", &target_cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("from-cpu", &from_cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("seconds", &seconds, 0, 86400L, 0),
		WL_OPT_LONG("rate", &rate, 1, 100000L, 0),
		WL_OPT_LONG("stat-refresh-ms", &stat_ms, 1, 3600000L, 0),
		WL_OPT_STR("kinds", &kinds_arg, 0),
		WL_OPT_FLAG("no-spinner", &no_spinner),
		WL_OPT_END,
	};
	pthread_t ts, tx;

	wl_init("disturb", usage);
	wl_parse_args(argc, argv, opts, &c);
	if (kinds_arg)
		kinds = parse_kinds(kinds_arg);
	wl_check_cpu("target-cpu", target_cpu);
	wl_check_cpu("from-cpu", from_cpu);
	if (target_cpu == from_cpu)
		wl_usage_error("--target-cpu and --from-cpu must differ");
	wl_pin_main(&c, wl_first_cpu_except(&target_cpu, 1));

	page_size = sysconf(_SC_PAGESIZE);
	region = wl_region_with_hole(REGION_PAGES, page_size, &hole);

	if ((kinds & K_MEMBARRIER) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) {
		printf("disturb kind=membarrier error=%s\n", strerrorname_np(errno));
		kinds &= ~K_MEMBARRIER;
	}
	if (kinds & K_STAT) {
		stat_fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
		if (stat_fd < 0) {
			printf("disturb kind=stat_refresh error=%s\n", strerrorname_np(errno));
			kinds &= ~K_STAT;
		}
	}

	if (!no_spinner)
		wl_start_thread(&ts, spinner, NULL, target_cpu);
	wl_start_thread(&tx, sender, NULL, from_cpu);
	if (!no_spinner)
		wl_wait_flag(&spinner_ready);
	wl_wait_flag(&sender_ready);
	char klist[64] = "";
	if (kinds & K_MEMBARRIER)
		strcat(klist, ",membarrier");
	if (kinds & K_MUNMAP)
		strcat(klist, ",munmap");
	if (kinds & K_STAT)
		strcat(klist, ",stat_refresh");
	if (kinds & K_SYS)
		strcat(klist, ",syscalls");
	printf("ready pid=%d tid=%d sender_tid=%d spinner_tid=%d target_cpu=%ld from_cpu=%ld "
	       "kinds=%s\n",
	       getpid(), atomic_load(&sender_tid), atomic_load(&sender_tid),
	       no_spinner ? 0 : atomic_load(&spinner_tid), target_cpu, from_cpu,
	       klist[0] ? klist + 1 : "none");
	wl_wait_go(&c);
	long sw0 = no_spinner ? 0 : wl_thread_switches(atomic_load(&spinner_tid));
	t_go = wl_now_ns();
	atomic_store_explicit(&go, 1, memory_order_release);
	if (seconds == 0) {
		char line[256];
		while (wl_read_line(line, sizeof(line)) && strncmp(line, "stop", 4) != 0)
			;
		atomic_store_explicit(&stop, 1, memory_order_release);
	}
	wl_wait_flag(&finished);
	long sw1 = no_spinner ? 0 : wl_thread_switches(atomic_load(&spinner_tid));
	printf("done membarrier=%ld munmap=%ld stat_refresh=%ld syscalls=%ld elapsed_ms=%.1f "
	       "spinner_switches=%ld\n",
	       n_mb, n_unmap, n_stat, atomic_load(&sys_done), ms_since_go(), sw1 - sw0);
	atomic_store_explicit(&printed, 1, memory_order_release);
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(tx, NULL);
	if (!no_spinner)
		pthread_join(ts, NULL);
	return 0;
}
