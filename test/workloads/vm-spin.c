// vm-spin: spin on a counter forever (until killed). No system calls, no clock reads, no
// allocation after start, so a nohz_full CPU running it should see no kernel entry at all.
// Made for the quiet-CPU guest (test/vm), where clock_gettime() is a real syscall because the
// emulated clocksource has no vDSO support: a clock-reading loop would enter the kernel per
// iteration. Pin it yourself (taskset -c 3 vm-spin).
int main(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
	return 0;
}
