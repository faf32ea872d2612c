// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlb: TLB shootdowns into the spinner's CPU. A spinner thread pinned to --spin-cpu keeps
 * reading and writing a shared region (so its CPU runs this mm and holds its TLB
 * entries) for the whole life of the process, without system calls. In the window an
 * unmapper thread pinned to --unmap-cpu, --count times: maps one page at a fixed hole
 * inside that region (MAP_FIXED_NOREPLACE), writes it (the page fault is taken on the
 * unmapper's CPU), hands it to the spinner, waits until the spinner has read it (so
 * the spinner's CPU has cached the translation), then munmap()s it -> one flush_tlb_func
 * cross-CPU call (call_function_single IPI on x86) to the spinner's CPU per unmap.
 * The hole's neighbours stay mapped and touched, so munmap never frees a page table
 * (which would add a second, page-table flush).
 *
 *   ready pid=<tgid> tid=<unmapper tid> unmapper_tid=<tid> spinner_tid=<tid> spin_cpu=<S> unmap_cpu=<C> count=<N> addr=0x<hole>
 *   done unmaps=<N> spin_cpu=<S> spinner_switches=<K>
 *
 * spinner_switches=0 means the spinner never left its CPU in the window, so every munmap
 * found it running the mm and sent exactly one flush_tlb_func; an unmap done while another
 * task ran there sends none (the spinner's CPU flushes when switching back).
 */
#include "common.h"
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static const char usage[] =
	"--spin-cpu S --unmap-cpu C --count N [--no-wait | --start-ms MS] [--linger-ms MS] [--main-cpu M]";

#define REGION_PAGES 16

static long spin_cpu = -1, unmap_cpu = -1, count = -1;
static long page_size;
static char *region, *hole;
static atomic_int spinner_ready, unmapper_ready, go, finished, printed, release;
static atomic_int spinner_tid, unmapper_tid;
static _Atomic(char *) slot;
static atomic_long slot_seq, slot_ack;
static long unmaps;

static void *spinner(void *arg)
{
	volatile char *r = (volatile char *)region;
	long acked = 0;
	unsigned long n = 0;
	(void)arg;
	wl_thread_ready(spin_cpu, &spinner_tid, &spinner_ready);

	while (!atomic_load_explicit(&release, memory_order_relaxed)) {
		/* Keep using the region's first page (always mapped and touched). */
		r[(n & 63) * 64] += 1;
		n++;
		long s = atomic_load_explicit(&slot_seq, memory_order_acquire);
		if (s != acked) {
			volatile char *p = atomic_load_explicit(&slot, memory_order_relaxed);
			(void)*p; /* load the new page's translation into this CPU's TLB */
			acked = s;
			atomic_store_explicit(&slot_ack, s, memory_order_release);
		}
	}
	return NULL;
}

static void *unmapper(void *arg)
{
	(void)arg;
	wl_thread_ready(unmap_cpu, &unmapper_tid, &unmapper_ready);

	wl_spin_until(&go);
	for (long i = 1; i <= count; i++) {
		char *p = mmap(hole, (size_t)page_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != hole) {
			fprintf(stderr, "tlb: mmap at %p: %s\n", (void *)hole,
				p == MAP_FAILED ? strerror(errno) : "got another address");
			break;
		}
		*(volatile char *)p = 1;
		atomic_store_explicit(&slot, p, memory_order_relaxed);
		atomic_store_explicit(&slot_seq, i, memory_order_release);
		while (atomic_load_explicit(&slot_ack, memory_order_acquire) != i)
			wl_cpu_relax();
		if (munmap(p, (size_t)page_size) != 0) {
			fprintf(stderr, "tlb: munmap: %s\n", strerror(errno));
			break;
		}
		unmaps++;
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
		WL_OPT_LONG("unmap-cpu", &unmap_cpu, 0, CPU_SETSIZE - 1, 1),
		WL_OPT_LONG("count", &count, 0, 1000000000L, 1),
		WL_OPT_END,
	};
	pthread_t ts, tu;

	wl_init("tlb", usage);
	wl_parse_args(argc, argv, opts, &c);
	wl_check_cpu("spin-cpu", spin_cpu);
	wl_check_cpu("unmap-cpu", unmap_cpu);
	if (spin_cpu == unmap_cpu)
		wl_usage_error("--spin-cpu and --unmap-cpu must differ");
	wl_pin_main(&c, wl_first_cpu_except(&spin_cpu, 1));

	page_size = sysconf(_SC_PAGESIZE);
	region = wl_region_with_hole(REGION_PAGES, page_size, &hole);

	wl_start_thread(&ts, spinner, NULL, spin_cpu);
	wl_start_thread(&tu, unmapper, NULL, unmap_cpu);
	wl_wait_flag(&spinner_ready);
	wl_wait_flag(&unmapper_ready);
	printf("ready pid=%d tid=%d unmapper_tid=%d spinner_tid=%d spin_cpu=%ld unmap_cpu=%ld "
	       "count=%ld addr=%p\n",
	       getpid(), atomic_load(&unmapper_tid), atomic_load(&unmapper_tid),
	       atomic_load(&spinner_tid), spin_cpu, unmap_cpu, count, (void *)hole);
	wl_wait_go(&c);
	long sw0 = wl_thread_switches(atomic_load(&spinner_tid));
	atomic_store_explicit(&go, 1, memory_order_release);
	wl_wait_flag(&finished);
	long sw1 = wl_thread_switches(atomic_load(&spinner_tid));
	printf("done unmaps=%ld spin_cpu=%ld spinner_switches=%ld\n", unmaps, spin_cpu, sw1 - sw0);
	atomic_store_explicit(&printed, 1, memory_order_release);
	wl_linger(&c);
	atomic_store_explicit(&release, 1, memory_order_release);
	pthread_join(tu, NULL);
	pthread_join(ts, NULL);
	return unmaps == count ? 0 : 1;
}
