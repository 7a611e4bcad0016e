/*
 * datadir.h: the data directory's lock, which tells `tavlad admin` whether
 * a daemon is using the directory.
 *
 * A running tavlad holds an exclusive flock(2) on DATA_DIR/tavlad.lock for
 * its whole life; the kernel drops it when the process ends, however it
 * ends (kill -9 included), so there is never a stale lock to clean up.
 * Admin commands that change what a daemon keeps in memory (restore,
 * archive, delete, erase, retention) take the same lock and refuse while
 * it is held; a second daemon on the same directory refuses to start.
 */
#ifndef TV_DATADIR_H
#define TV_DATADIR_H

/* Takes the lock without waiting. Returns an open descriptor (keep it open
 * to hold the lock; close it to release), -EWOULDBLOCK when another
 * process holds it, or another negative errno. */
int datadir_lock(const char *data_dir);

#endif
