// SPDX-License-Identifier: GPL-2.0-only
/*
 * micro: the two costs the overhead benchmark measures, pinned to one CPU.
 *
 *   micro syscall CPU COUNT REPS   COUNT raw getppid() calls per rep (libc cannot cache them)
 *   micro switch  CPU COUNT REPS   two threads on CPU ping-pong a byte through two pipes
 *                                  COUNT times: 2*COUNT context switches (each one also
 *                                  does one write and one read, and wakes the other thread)
 *
 * Prints one JSON line: {"mode":"syscall","cpu":1,"count":N,"ns_per_op":[per rep...]}
 * with ns per syscall, or ns per context switch (elapsed / (2*COUNT)). Exit 2 on bad
 * usage, 1 on a runtime failure. Built by bench/lib/build.ts into build/bench/micro.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int cpu;
static long count;
static int ping[2], pong[2];

/*
 * CPU time, not wall time: the machine is shared, and time this process spends
 * preempted by other tasks on its CPU is not a cost of the syscall or switch.
 */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void pin(int c)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(c, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		perror("micro: sched_setaffinity");
		exit(1);
	}
}

static void xfer(int rd, int wr)
{
	char b = 0;
	if (read(rd, &b, 1) != 1 || write(wr, &b, 1) != 1) {
		perror("micro: pipe");
		exit(1);
	}
}

static void *partner(void *arg)
{
	(void)arg;
	pin(cpu);
	for (;;)
		xfer(ping[0], pong[1]);
	return NULL;
}

static double run_switch(void)
{
	char b = 0;
	double t0 = now_ns();
	for (long i = 0; i < count; i++) {
		if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1) {
			perror("micro: pipe");
			exit(1);
		}
	}
	return (now_ns() - t0) / (2.0 * count);
}

static double run_syscall(void)
{
	double t0 = now_ns();
	for (long i = 0; i < count; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / count;
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "syscall") && strcmp(argv[1], "switch"))) {
		fprintf(stderr, "micro: usage: micro syscall|switch CPU COUNT REPS\n");
		return 2;
	}
	int sw = strcmp(argv[1], "switch") == 0;
	cpu = atoi(argv[2]);
	count = atol(argv[3]);
	long reps = atol(argv[4]);
	if (cpu < 0 || count <= 0 || reps <= 0) {
		fprintf(stderr, "micro: CPU, COUNT and REPS must be positive numbers\n");
		return 2;
	}
	pin(cpu);
	if (sw) {
		pthread_t t;
		if (pipe(ping) || pipe(pong) || pthread_create(&t, NULL, partner, NULL)) {
			perror("micro: setup");
			return 1;
		}
	}
	/* warm-up: code, PLT, the partner thread on its CPU */
	count /= 10;
	if (count == 0)
		count = 1;
	sw ? run_switch() : run_syscall();
	count = atol(argv[3]);
	printf("{\"mode\":\"%s\",\"cpu\":%d,\"count\":%ld,\"ns_per_op\":[", argv[1], cpu, count);
	for (long r = 0; r < reps; r++)
		printf("%s%.2f", r ? "," : "", sw ? run_switch() : run_syscall());
	printf("]}\n");
	fflush(stdout);
	_exit(0); /* the partner thread is blocked in read(): leave without joining */
}
