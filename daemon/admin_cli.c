/*
 * admin_cli.c: tavlad's operator commands, `tavlad [-c FILE] admin ...`,
 * `backup DEST` and `restore SRC`: argument checking, the data directory
 * lock, passwords from stdin, messages and exit codes. The SQL is in
 * store_admin.c; this file only decides what may run when.
 *
 * Exit codes: 0 done, 1 failed (the message says why), 2 usage.
 *
 * Invariants:
 *  1. Commands that change rooms or identities a running daemon holds in
 *     memory (restore, room-archive, room-delete, erase-identity,
 *     retention) run only with the data directory's lock held, i.e. while
 *     no daemon runs; otherwise they change nothing and exit 1.
 *  2. A password is read from stdin, never from the command line (where
 *     other users could read it in the process list), and never printed.
 */
#include "admin_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "datadir.h"
#include "replica.h"
#include "store.h"

static const char admin_usage[] =
	"usage: tavlad [-c FILE] admin COMMAND ...\n"
	"  org-add ORG                  create an organisation\n"
	"  user-add ORG USER            add a moderator account (password on stdin)\n"
	"  passwd USER                  set a new password (stdin); ends its sessions\n"
	"  rooms [--org ORG]            list rooms: id code kind title head created state\n"
	"  room-archive ROOM            refuse joins and writes from now on (*)\n"
	"  room-delete ROOM             delete a room and everything in it (*)\n"
	"  export-identity ID           print everything stored about an identity (JSON)\n"
	"  erase-identity ID            erase an identity's name and text (GDPR) (*)\n"
	"  retention DAYS               delete rooms without events for DAYS days (*)\n"
	"  cluster-import               publish this data directory's store into the\n"
	"                               cluster's stream (cluster_nats); idempotent\n"
	"ROOM is a room id or join code. (*) only while tavlad is stopped.\n";

/* The password from the first line of stdin; 0, or 2 (usage) with a message. */
static int read_password(char *pw, size_t cap)
{
	if (!fgets(pw, (int)cap, stdin)) {
		fprintf(stderr, "tavlad: admin: expected the password on stdin\n");
		return 2;
	}
	pw[strcspn(pw, "\r\n")] = 0;
	if (strlen(pw) < 8) {
		fprintf(stderr, "tavlad: admin: the password must have at least 8 characters\n");
		return 2;
	}
	return 0;
}

static int hash_password(const struct tv_config *cfg, char *pw, size_t cap, char *hash,
			 size_t hcap)
{
	int rc = auth_hash_password(pw, (unsigned)cfg->argon2_m_kib, (unsigned)cfg->argon2_t,
				    hash, hcap);
	memset(pw, 0, cap);
	if (rc)
		fprintf(stderr, "tavlad: admin: hashing failed\n");
	return rc ? 1 : 0;
}

/* Takes the data directory's lock (invariant 1). Returns the descriptor,
 * or -1 after saying why. */
static int lock_stopped(const struct tv_config *cfg, const char *what)
{
	int fd = datadir_lock(cfg->data_dir);
	if (fd == -EWOULDBLOCK)
		fprintf(stderr, "tavlad: %s: a tavlad is running on %s; stop it first "
			"(systemctl stop tavlad)\n", what, cfg->data_dir);
	else if (fd < 0)
		fprintf(stderr, "tavlad: %s: cannot lock %s/tavlad.lock: %s\n", what,
			cfg->data_dir, strerror(-fd));
	return fd < 0 ? -1 : fd;
}

static int failed(const char *what, const char *err)
{
	fprintf(stderr, "tavlad: %s: %s\n", what, err);
	return 1;
}

int admin_cli_backup(const struct tv_config *cfg, const char *db_path, int argc, char **argv)
{
	char err[600];
	if (argc != 2) {
		fprintf(stderr, "usage: tavlad [-c FILE] backup DEST\n");
		return 2;
	}
	if (store_admin_backup(db_path, argv[1], err, sizeof err))
		return failed("backup", err);
	printf("backup %s: ok\n", argv[1]);
	return 0;
}

int admin_cli_restore(const struct tv_config *cfg, const char *db_path, int argc, char **argv)
{
	char err[600];
	if (argc != 2) {
		fprintf(stderr, "usage: tavlad [-c FILE] restore SRC   (tavlad stopped)\n");
		return 2;
	}
	int lock = lock_stopped(cfg, "restore");
	if (lock < 0)
		return 1;
	int rc = store_admin_restore(db_path, argv[1], err, sizeof err);
	close(lock);
	if (rc)
		return failed("restore", err);
	printf("restored %s from %s (the previous database is %s.pre-restore)\n", db_path,
	       argv[1], db_path);
	return 0;
}

int admin_cli_main(const struct tv_config *cfg, const char *db_path, int argc, char **argv)
{
	char err[600], pw[512], hash[256];
	const char *cmd = argc >= 2 ? argv[1] : "";
	int rc;
#define NEED(n)                                           \
	do {                                              \
		if (argc != (n)) {                        \
			fputs(admin_usage, stderr);       \
			return 2;                         \
		}                                         \
	} while (0)

	if (strcmp(cmd, "cluster-import") == 0) {
		NEED(2);
		return replica_import(cfg, db_path);
	}
	if (strcmp(cmd, "org-add") == 0) {
		NEED(3);
		if (store_admin_org_add(db_path, argv[2], err, sizeof err))
			return failed("admin", err);
		printf("added organisation %s\n", argv[2]);
		return 0;
	}
	if (strcmp(cmd, "user-add") == 0) {
		NEED(4);
		if ((rc = read_password(pw, sizeof pw)) ||
		    (rc = hash_password(cfg, pw, sizeof pw, hash, sizeof hash)))
			return rc;
		if (store_admin_user_add(db_path, argv[2], argv[3], hash, err, sizeof err))
			return failed("admin", err);
		printf("added moderator %s to %s\n", argv[3], argv[2]);
		return 0;
	}
	if (strcmp(cmd, "passwd") == 0) {
		NEED(3);
		if ((rc = read_password(pw, sizeof pw)) ||
		    (rc = hash_password(cfg, pw, sizeof pw, hash, sizeof hash)))
			return rc;
		if (store_admin_passwd(db_path, argv[2], hash, err, sizeof err))
			return failed("admin", err);
		printf("changed the password of %s\n", argv[2]);
		return 0;
	}
	if (strcmp(cmd, "rooms") == 0) {
		const char *org = NULL;
		if (argc == 4 && strcmp(argv[2], "--org") == 0)
			org = argv[3];
		else
			NEED(2);
		if (store_admin_rooms(db_path, org, stdout, err, sizeof err))
			return failed("admin", err);
		return 0;
	}
	if (strcmp(cmd, "export-identity") == 0) {
		NEED(3);
		if (store_admin_export_identity(db_path, argv[2], stdout, err, sizeof err))
			return failed("admin", err);
		return 0;
	}
	if (strcmp(cmd, "room-archive") == 0 || strcmp(cmd, "room-delete") == 0 ||
	    strcmp(cmd, "erase-identity") == 0 || strcmp(cmd, "retention") == 0) {
		NEED(3);
		long days = 0;
		if (strcmp(cmd, "retention") == 0) {
			char *end;
			days = strtol(argv[2], &end, 10);
			if (*end || days < 1 || days > 36500) {
				fprintf(stderr, "tavlad: admin: retention needs DAYS from 1 to 36500\n");
				return 2;
			}
		}
		int lock = lock_stopped(cfg, cmd);
		if (lock < 0)
			return 1;
		long deleted = 0;
		if (strcmp(cmd, "room-archive") == 0)
			rc = store_admin_room_archive(db_path, argv[2], err, sizeof err);
		else if (strcmp(cmd, "room-delete") == 0)
			rc = store_admin_room_delete(db_path, argv[2], err, sizeof err);
		else if (strcmp(cmd, "erase-identity") == 0)
			rc = store_admin_erase_identity(db_path, argv[2], err, sizeof err);
		else
			rc = store_admin_retention(db_path, days, &deleted, err, sizeof err);
		close(lock);
		if (rc)
			return failed("admin", err);
		if (strcmp(cmd, "retention") == 0)
			printf("deleted %ld rooms idle for more than %ld days\n", deleted, days);
		else
			printf("%s %s: done\n", cmd, argv[2]);
		return 0;
	}
#undef NEED
	fputs(admin_usage, stderr);
	return 2;
}
