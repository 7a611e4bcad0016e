/*
 * procstat.h: CPU time and resident memory of the daemon (from /proc) and
 * of the generator itself (getrusage).
 *
 * Responsible for sampling only; differences and per-connection figures
 * are the scenarios' business. Not responsible for finding the daemon:
 * its PID is given (--pid).
 *
 * Invariants:
 *  1. A sample with ok == 0 holds zeros and must not be used.
 */
#ifndef TV_BENCH_PROCSTAT_H
#define TV_BENCH_PROCSTAT_H

struct proc_sample {
	int ok;
	double cpu_s;   /* utime + stime, seconds */
	long rss_kb;    /* VmRSS */
};

/* Samples process pid (0: ok = 0). */
void procstat_sample(int pid, struct proc_sample *s);
/* The calling process's own user + system CPU seconds, all threads. */
double procstat_self_cpu(void);
/* Monotonic clock, microseconds. */
long long procstat_now_us(void);

#endif
