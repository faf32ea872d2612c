/*
 * sigcount: a victim for enforcement tests. Counts SIGUSR1 deliveries.
 *
 *   sigcount [spin|sleep]     (default: sleep)
 *
 * Prints "ready <pid>" when the handlers are installed, "usr1 <n>" from the
 * handler for every SIGUSR1 (so a test can wait for each delivery: standard
 * signals sent while one is pending coalesce), and on SIGTERM prints
 * "received <n>" and exits 0. "spin" burns the CPU in user space (like an
 * isolated busy-polling task); "sleep" waits in sigsuspend().
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	int spin = argc > 1 && strcmp(argv[1], "spin") == 0;
	struct sigaction sa;
	sigset_t block, waitmask;

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
