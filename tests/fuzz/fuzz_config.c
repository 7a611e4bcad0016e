/*
 * fuzz_config.c: libFuzzer target for the configuration parser
 * (daemon/config.c): whole files and single key/value settings.
 *
 * Responsible for loading the input as a config file (written to a memfd
 * and opened by path, so config_load_file() runs unchanged) and for handing
 * config_set() a key and a value cut from the input at its first NUL or
 * newline. Not responsible for acting on settings.
 *
 * Invariants checked (config.h):
 *  1. After config_defaults() and any sequence of config_set() calls, and
 *     after config_load_file() whether it succeeded or not, every field is
 *     within its config.def row's MIN..MAX (string lengths likewise), and the
 *     settings with a fixed set of words hold one of them.
 *  2. A config_set() that fails leaves the struct exactly as it was.
 *  3. After a failure err is NUL-terminated within errlen and not empty.
 *  4. config_free() releases everything (LeakSanitizer checks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	unsetenv("TAVLA_DATA");
	memfd = memfd_create("fuzz_config", 0);
	if (memfd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
	return 0;
}

static int word_of(const char *v, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(v, *words) == 0)
			return 1;
	return 0;
}

/* Invariant 1, row by row from the same table config.c is built from. */
static void check_bounds(const struct tv_config *c)
{
	static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
	static const char *const syncs[] = { "full", "normal", NULL };

#define BOUND_TV_CT_STRING(f, lo, hi)                                           \
	CHECK(c->f != NULL && (long long)strlen(c->f) >= (lo) &&                \
	      (long long)strlen(c->f) <= (hi))
#define BOUND_TV_CT_INT(f, lo, hi) CHECK(c->f >= (lo) && c->f <= (hi))
#define BOUND_TV_CT_SIZE(f, lo, hi) CHECK(c->f >= (lo) && c->f <= (hi))
#define BOUND_TV_CT_BOOL(f, lo, hi) CHECK(c->f == 0 || c->f == 1)
#define TV_CONF(name, type, field, def, lo, hi, help) BOUND_##type(field, lo, hi);
#include "config.def"
#undef TV_CONF
	CHECK(word_of(c->log_level, levels));
	CHECK(word_of(c->sync_mode, syncs));
}

/* Invariant 2: field-by-field equality of two configurations. */
static int same_config(const struct tv_config *a, const struct tv_config *b)
{
#define SAME_TV_CT_STRING(f) strcmp(a->f, b->f) == 0
#define SAME_TV_CT_INT(f) a->f == b->f
#define SAME_TV_CT_SIZE(f) a->f == b->f
#define SAME_TV_CT_BOOL(f) a->f == b->f
#define TV_CONF(name, type, field, def, lo, hi, help) if (!(SAME_##type(field))) return 0;
#include "config.def"
#undef TV_CONF
	return 1;
}

static void copy_config(struct tv_config *dst, const struct tv_config *src)
{
	*dst = *src;
#define COPY_TV_CT_STRING(f) CHECK((dst->f = strdup(src->f)) != NULL)
#define COPY_TV_CT_INT(f) (void)0
#define COPY_TV_CT_SIZE(f) (void)0
#define COPY_TV_CT_BOOL(f) (void)0
#define TV_CONF(name, type, field, def, lo, hi, help) COPY_##type(field);
#include "config.def"
#undef TV_CONF
}

/* err is only written on failure (config.h), so only then is it judged. */
static void check_err(const char *err, size_t errlen, int rc)
{
	if (rc < 0)
		CHECK(memchr(err, '\0', errlen) != NULL && err[0] != '\0');
}

/* The input as a whole file. */
static void fuzz_file(const uint8_t *data, size_t size)
{
	struct tv_config c;
	char err[300];
	int rc;

	CHECK(ftruncate(memfd, 0) == 0);
	if (size > 0)
		CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size);
	CHECK(config_defaults(&c) == 0);
	memset(err, 'x', sizeof err);
	rc = config_load_file(&c, memfd_path, err, sizeof err);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EIO);
	check_err(err, sizeof err, rc);
	check_bounds(&c);
	config_free(&c);
}

/* The input as KEY <NUL or newline> VALUE [<NUL or newline> KEY2 VALUE2 ...]:
 * several settings in a row on one struct, each checked for invariant 2. */
static void fuzz_set(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct tv_config c, before;
	char err[160];
	size_t pos = 0;

	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < size; i++)
		if (text[i] == '\n')
			text[i] = '\0';
	CHECK(config_defaults(&c) == 0);
	while (pos < size) {
		const char *key = text + pos;
		pos += strlen(key) + 1;
		const char *value = pos <= size ? text + pos : NULL;
		if (value != NULL)
			pos += strlen(value) + 1;
		copy_config(&before, &c);
		memset(err, 'x', sizeof err);
		int rc = config_set(&c, key, value, err, sizeof err);
		CHECK(rc == 0 || rc == -EINVAL);
		check_err(err, sizeof err, rc);
		if (rc < 0)
			CHECK(same_config(&before, &c));
		check_bounds(&c);
		config_free(&before);
	}
	/* A NULL or zero-length err buffer must be accepted too. */
	(void)config_set(&c, "port", "0", NULL, 0);
	(void)config_set(&c, "nope", "1", err, 0);
	check_bounds(&c);
	config_free(&c);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_file(data, size);
	fuzz_set(data, size);
	return 0;
}
