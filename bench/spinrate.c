// SPDX-License-Identifier: GPL-2.0-only
/*
 * spinrate: what a task on a watched CPU gets done. A thread pinned to CPU
 * spins for SECONDS of wall time, counting loop iterations; it reads the
 * clock (vDSO: no kernel entry) once every 4096 iterations and makes no
 * system call until the end. The loop's own cost is fixed, so iterations per
 * second of its CPU time fall only with what is done on that CPU on its
 * behalf (interrupts, ticks, IPIs are charged to the task they interrupt).
 *
 *   spinrate CPU SECONDS
 *   stdout: {"cpu":C,"iterations":N,"wall_ns":W,"cpu_ns":T}
 * Exit 2 on bad usage, 1 on a runtime failure.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: spinrate CPU SECONDS\n");
		return 2;
	}
	int cpu = atoi(argv[1]);
	double seconds = atof(argv[2]);
	if (cpu < 0 || !(seconds > 0)) {
		fprintf(stderr, "spinrate: bad CPU or SECONDS\nusage: spinrate CPU SECONDS\n");
		return 2;
	}
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		perror("spinrate: sched_setaffinity");
		return 1;
	}
	volatile uint64_t sink = 0;
	uint64_t end_at = ns(CLOCK_MONOTONIC) + (uint64_t)(seconds * 1e9);
	uint64_t c0 = ns(CLOCK_THREAD_CPUTIME_ID), w0 = ns(CLOCK_MONOTONIC), n = 0, now;
	do {
		for (int i = 0; i < 4096; i++)
			sink += i;
		n += 4096;
		now = ns(CLOCK_MONOTONIC);
	} while (now < end_at);
	uint64_t c1 = ns(CLOCK_THREAD_CPUTIME_ID);
	printf("{\"cpu\":%d,\"iterations\":%llu,\"wall_ns\":%llu,\"cpu_ns\":%llu}\n", cpu, (unsigned long long)n, (unsigned long long)(now - w0),
	       (unsigned long long)(c1 - c0));
	return 0;
}
