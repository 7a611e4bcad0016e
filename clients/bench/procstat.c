/*
 * procstat.c: /proc/PID/stat, /proc/PID/status and getrusage readers (see
 * procstat.h).
 *
 * Responsible for parsing the two /proc files robustly: the command name
 * in /proc/PID/stat may contain spaces and parentheses, so fields are
 * counted from the last ')'. Not responsible for anything else.
 */
#include "procstat.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void procstat_sample(int pid, struct proc_sample *s)
{
	char path[64], buf[4096], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	memset(s, 0, sizeof(*s));
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime(14) stime(15) */
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	           &ut, &st) != 2)
		return;
	s->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "VmRSS:", 6) == 0)
			sscanf(buf + 6, "%ld", &s->rss_kb);
	fclose(f);
	s->ok = 1;
}

double procstat_self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

long long procstat_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
