/*
 * sigcount: a victim (or a culprit) for enforcement tests. Counts SIGUSR1.
 *
 *   sigcount [spin|sleep]     (default: sleep)
 *   sigcount spin-mb          spin, registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED
 *   sigcount mb-sender N      N x membarrier(GLOBAL_EXPEDITED), one at a time
 *
 * Prints "ready <pid>" when the handlers are installed, "usr1 <n>" from the
 * handler for every SIGUSR1 (so a test can wait for each delivery: standard
 * signals sent while one is pending coalesce), and on SIGTERM prints
 * "received <n>" and exits 0. "spin" burns the CPU in user space (like an
 * isolated busy-polling task); "sleep" waits in sigsuspend().
 *
 * spin-mb + mb-sender give a cause in another process: every global expedited
 * membarrier sends an ipi_mb IPI to each CPU running a registered process, so
 * the sender's calls interrupt the spinner. The sender waits for "go" on
 * stdin, then makes one call at a time and waits up to 1 s (sigtimedwait) for
 * the SIGUSR1 an enforcing policy with target: cause sends back, so signals
 * never coalesce; then prints "done sent=N received=R timeouts=T" and waits
 * for SIGTERM or EOF.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int membarrier(int cmd)
{
	return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

/* Returns after SIGTERM or EOF on stdin. */
static int mb_sender(long n)
{
	sigset_t usr1;
	char line[64];
	long received = 0, timeouts = 0;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strncmp(line, "go", 2) != 0) {
		fprintf(stderr, "sigcount: expected 'go' on stdin\n");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		struct timespec wait = { .tv_sec = 1 };
		if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0) {
			perror("sigcount: membarrier(GLOBAL_EXPEDITED)");
			return 1;
		}
		if (sigtimedwait(&usr1, NULL, &wait) == SIGUSR1)
			received++;
		else
			timeouts++;
	}
	printf("done sent=%ld received=%ld timeouts=%ld\n", n, received, timeouts);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}

static volatile sig_atomic_t count;
static volatile sig_atomic_t stop;

static void on_usr1(int sig)
{
	char buf[32];
	int n, len = 0;
	char digits[16];

	(void)sig;
	n = ++count;
	/* async-signal-safe formatting: write(2) only */
	memcpy(buf, "usr1 ", 5);
	len = 5;
	int d = 0;
	do {
		digits[d++] = (char)('0' + n % 10);
		n /= 10;
	} while (n && d < (int)sizeof(digits));
	while (d)
		buf[len++] = digits[--d];
	buf[len++] = '\n';
	if (write(STDOUT_FILENO, buf, len) < 0)
		stop = 1;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	int spin = argc > 1 && strncmp(argv[1], "spin", 4) == 0;
	struct sigaction sa;
	sigset_t block, waitmask;

	if (argc > 1 && strcmp(argv[1], "mb-sender") == 0) {
		if (argc != 3 || atol(argv[2]) <= 0) {
			fprintf(stderr, "sigcount: error: mb-sender needs a count\nusage: sigcount [spin|sleep|spin-mb|mb-sender N]\n");
			return 2;
		}
		return mb_sender(atol(argv[2]));
	}
	if (argc > 1 && strcmp(argv[1], "spin-mb") == 0 && membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0) {
		perror("sigcount: membarrier(REGISTER_GLOBAL_EXPEDITED)");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);

	printf("ready %d\n", (int)getpid());
	fflush(stdout);

	if (spin) {
		while (!stop)
			;
	} else {
		/* block, then wait atomically: no signal is lost between check and wait */
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, &waitmask);
		sigdelset(&waitmask, SIGUSR1);
		sigdelset(&waitmask, SIGTERM);
		while (!stop)
			sigsuspend(&waitmask);
	}
	printf("received %d\n", (int)count);
	fflush(stdout);
	return 0;
}
