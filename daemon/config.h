/*
 * config.h: tavlad's settings, one table (config.def) driving the file
 * parser, the --NAME flags, --help and the example file ops/tavlad.conf.
 *
 * Responsible for: defaults, parsing and validating values, naming the key
 * and line of a bad value. Not responsible for: acting on the settings.
 *
 * Invariants:
 *  1. After config_defaults() and any number of successful config_set()
 *     calls every field is within its row's MIN..MAX.
 *  2. Strings are owned by the struct (config_free releases them).
 */
#ifndef TV_CONFIG_H
#define TV_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum tv_conf_type { TV_CT_STRING, TV_CT_INT, TV_CT_BOOL, TV_CT_SIZE };

struct tv_config {
#define TV_CONF_FIELD_TV_CT_STRING(f) char *f;
#define TV_CONF_FIELD_TV_CT_INT(f) long long f;
#define TV_CONF_FIELD_TV_CT_BOOL(f) int f;
#define TV_CONF_FIELD_TV_CT_SIZE(f) long long f;
#define TV_CONF(name, type, field, def, min, max, help) TV_CONF_FIELD_##type(field)
#include "config.def"
#undef TV_CONF
#undef TV_CONF_FIELD_TV_CT_STRING
#undef TV_CONF_FIELD_TV_CT_INT
#undef TV_CONF_FIELD_TV_CT_BOOL
#undef TV_CONF_FIELD_TV_CT_SIZE
};

/* Fills every field with its default ($TAVLA_DATA, when set, replaces the
 * default data_dir). Returns 0 or -ENOMEM. */
int config_defaults(struct tv_config *c);
/* Releases owned strings; the struct may be reused after config_defaults. */
void config_free(struct tv_config *c);

/* Sets one key from text. Returns 0, or -EINVAL with err naming the key and
 * the accepted range/values ("port: 70000 is out of range 1..65535"). */
int config_set(struct tv_config *c, const char *key, const char *value,
               char *err, size_t errlen);

/* Reads a file of "key value" lines ('#' starts a comment, values may be
 * double-quoted). Returns 0, or -EINVAL/-ENOENT with err naming the file,
 * line and key ("tavlad.conf:12: port: ..."). */
int config_load_file(struct tv_config *c, const char *path, char *err, size_t errlen);

/* Writes the fully commented example config (every key, its help, range and
 * default) to fp. ops/tavlad.conf is this output. */
void config_write_example(FILE *fp);
/* Writes the --help option list (one line per key). */
void config_write_help(FILE *fp);

#endif
