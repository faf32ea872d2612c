// SPDX-License-Identifier: GPL-2.0-only
/*
 * stallspin: the ground truth for the fidelity benchmark. A thread pinned to
 * CPU spins reading CLOCK_MONOTONIC (the vDSO: no kernel entry; the same clock
 * as bpf_ktime_get_ns) and records every gap between two reads longer than
 * THRESHOLD_NS: time the CPU was taken from it. It also makes RATE getppid()
 * calls per second (exactly counted); the clock is re-read after each, so its
 * own syscalls are not counted as stalls.
 *
 *   stallspin CPU SECONDS RATE THRESHOLD_NS GAPS_FILE
 *   stdout: ready pid=P tid=T            then waits for a line on stdin
 *           done {"open_ns":..,"close_ns":..,"syscalls":N,"gaps":G,"gap_ns":SUM,"overflow":0|1}
 *   GAPS_FILE: one "start_ns duration_ns" line per gap
 * Before and after the window it calls kill(3999981, 0) and kill(3999982, 0)
 * (pids that cannot exist): markers an independent tracer can gate on.
 * Exit 2 on bad usage, 1 on a runtime failure.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_GAPS (4 << 20)
#define MARK_OPEN 3999981
#define MARK_CLOSE 3999982

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "stallspin: usage: stallspin CPU SECONDS RATE THRESHOLD_NS GAPS_FILE\n");
		return 2;
	}
	int cpu = atoi(argv[1]);
	double seconds = atof(argv[2]);
	double rate = atof(argv[3]);
	uint64_t threshold = strtoull(argv[4], NULL, 10);
	if (cpu < 0 || seconds <= 0 || rate < 0 || threshold == 0) {
		fprintf(stderr, "stallspin: CPU >= 0, SECONDS > 0, RATE >= 0, THRESHOLD_NS > 0\n");
		return 2;
	}
	FILE *out = fopen(argv[5], "w");
	if (!out) {
		perror("stallspin: GAPS_FILE");
		return 1;
	}
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("stallspin: sched_setaffinity");
		return 1;
	}
	uint64_t *gaps = malloc(sizeof(uint64_t) * 2 * MAX_GAPS);
	if (!gaps) {
		perror("stallspin: malloc");
		return 1;
	}
	memset(gaps, 0, sizeof(uint64_t) * 2 * MAX_GAPS); /* no page faults in the window */
	syscall(SYS_getppid);
	(void)now_ns();
	printf("ready pid=%d tid=%d\n", getpid(), (int)syscall(SYS_gettid));
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 1;

	const uint64_t period = rate > 0 ? (uint64_t)(1e9 / rate) : UINT64_MAX;
	uint64_t n = 0, calls = 0, sum = 0;
	int overflow = 0;
	kill(MARK_OPEN, 0);
	const uint64_t open = now_ns();
	const uint64_t end = open + (uint64_t)(seconds * 1e9);
	uint64_t next_call = open + period;
	uint64_t prev = open;
	for (;;) {
		uint64_t t = now_ns();
		if (t - prev > threshold) {
			if (n < MAX_GAPS) {
				gaps[2 * n] = prev;
				gaps[2 * n + 1] = t - prev;
				n++;
			} else
				overflow = 1;
			sum += t - prev;
		}
		prev = t;
		if (t >= end)
			break;
		if (t >= next_call) {
			syscall(SYS_getppid);
			calls++;
			next_call += period;
			prev = now_ns();
		}
	}
	const uint64_t close = now_ns();
	kill(MARK_CLOSE, 0);
	for (uint64_t i = 0; i < n; i++)
		fprintf(out, "%llu %llu\n", (unsigned long long)gaps[2 * i], (unsigned long long)gaps[2 * i + 1]);
	fclose(out);
	printf("done {\"open_ns\":%llu,\"close_ns\":%llu,\"syscalls\":%llu,\"gaps\":%llu,\"gap_ns\":%llu,\"overflow\":%d}\n",
	       (unsigned long long)open, (unsigned long long)close, (unsigned long long)calls, (unsigned long long)n,
	       (unsigned long long)sum, overflow);
	fflush(stdout);
	return 0;
}
