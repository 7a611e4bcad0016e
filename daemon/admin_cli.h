/*
 * admin_cli.h: the operator commands of tavlad (admin, backup, restore).
 * Each takes the configuration, the database path and its own argv (argv[0]
 * is the command word) and returns the process exit code: 0, 1 or 2.
 */
#ifndef TV_ADMIN_CLI_H
#define TV_ADMIN_CLI_H

#include "config.h"

int admin_cli_main(const struct tv_config *cfg, const char *db_path, int argc, char **argv);
int admin_cli_backup(const struct tv_config *cfg, const char *db_path, int argc, char **argv);
int admin_cli_restore(const struct tv_config *cfg, const char *db_path, int argc, char **argv);

#endif
