/*
 * datadir.c: the data directory's lock file (see datadir.h). Not
 * responsible for creating the directory (main.c does, before this).
 */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

int datadir_lock(const char *data_dir)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/tavlad.lock", data_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EWOULDBLOCK : -e;
	}
	return fd;
}
