// SPDX-License-Identifier: GPL-2.0-only
/*
 * faults: N fresh anonymous pages are mapped (no MAP_POPULATE, THP off for the range)
 * before the window; in the window a worker pinned to --cpu writes one byte to each
 * page: exactly N first-touch (minor, write) user page faults.
 *
 *   ready pid=<tgid> tid=<worker tid> cpu=<C> pages=<N> page_size=<bytes> addr=0x<start>
 *   done faults=<N> minflt_delta=<D> minflt_delta_process=<P> cpu=<C> switches=<K>
 *
 * minflt_delta is the worker thread's own minor-fault counter (task->min_flt, the value
 * getrusage(RUSAGE_THREAD) reports) read from /proc/self/task/<tid>/stat by the main
 * thread, so the worker makes no system call in the window; minflt_delta_process is
 * getrusage(RUSAGE_SELF) around the window (all threads).
 */
#include "common.h"
#include <sys/mman.h>
#include <sys/resource.h>

static const char usage[] = "--cpu C --pages N [--no-wait | --start-ms MS] [--linger-ms MS] [--main-cpu M]";

static long cpu = -1, pages = -1;
static long page_size;
static volatile char *region;
static atomic_int worker_ready, go, finished, release;
static atomic_int worker_tid;
static long touched;

static void *worker(void *arg)
{
	(void)arg;
	wl_thread_ready(cpu, &worker_tid, &worker_ready);

	wl_spin_until(&go);
	long i;
	for (i = 0; i < pages; i++)
		region[i * page_size] = 1;
	touched = i;
	atomic_store_explicit(&finished, 1, memory_order_release);
	wl_spin_until(&release);
	return NULL;
}

static long thread_minflt(pid_t tid)
{
	char path[64], buf[1024];
	unsigned long minflt = 0;
	int fd, n;
	char *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		wl_die("open %s: %s", path, strerror(errno));
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		wl_die("read %s failed", path);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu", &minflt) != 1)
		wl_die("cannot parse %s", path);
	return (long)minflt;
}

static long process_minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

int main(int argc, char **argv)
{
	struct wl_common c;
	struct wl_opt opts[] = {
		WL_OPT_LONG("cpu", &cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("pages", &pages, 1, 16L * 1024 * 1024, 1),
		WL_OPT_END,
	};
	pthread_t t;
	void *p;

	wl_init("faults", usage);
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("cpu", cpu);
	wl_pin_main(&c, wl_first_cpu_except(&cpu, 1));

	page_size = sysconf(_SC_PAGESIZE);
	p = mmap(NULL, (size_t)(pages * page_size), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		wl_die("mmap %ld pages: %s", pages, strerror(errno));
	/* One fault per base page: no transparent huge pages (PMD or mTHP) in this range. */
	if (madvise(p, (size_t)(pages * page_size), MADV_NOHUGEPAGE) != 0)
		fprintf(stderr, "faults: madvise(MADV_NOHUGEPAGE): %s (THP may merge faults)\n",
			strerror(errno));
	region = p;

	wl_start_thread(&t, worker, NULL, cpu);
	wl_wait_flag(&worker_ready);
	pid_t tid = atomic_load(&worker_tid);
	printf("ready pid=%d tid=%d cpu=%ld pages=%ld page_size=%ld addr=%p\n", getpid(), tid, cpu,
	       pages, page_size, p);
	wl_wait_go(&c);
	long before = thread_minflt(tid), pbefore = process_minflt();
	long sw0 = wl_thread_switches(tid);
	atomic_store_explicit(&go, 1, memory_order_release);
	wl_wait_flag(&finished);
	long sw1 = wl_thread_switches(tid);
	long after = thread_minflt(tid), pafter = process_minflt();
	printf("done faults=%ld minflt_delta=%ld minflt_delta_process=%ld cpu=%ld switches=%ld\n",
	       touched, after - before, pafter - pbefore, cpu, sw1 - sw0);
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(t, NULL);
	return 0;
}
