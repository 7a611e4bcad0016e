/*
 * test_config.c: the settings table (daemon/config.c) on its own.
 *
 * Walks every row of config.def (the test includes the table itself, so a
 * new row is covered without editing this file), parses files written to a
 * temporary directory, and checks that ops/tavlad.conf is byte for byte what
 * config_write_example produces, so the shipped file cannot drift from the
 * table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

struct test_row {
	const char *name;
	enum tv_conf_type type;
	size_t offset;
	const char *def; /* the default as text */
	long long min, max;
};

#define DEF_TEXT_TV_CT_STRING(d) d
#define DEF_TEXT_TV_CT_INT(d) #d
#define DEF_TEXT_TV_CT_BOOL(d) #d
#define DEF_TEXT_TV_CT_SIZE(d) #d
#define TV_CONF(n, t, f, d, lo, hi, h)                                  \
	{ #n, t, offsetof(struct tv_config, f), DEF_TEXT_##t(d), lo, hi },
static const struct test_row trows[] = {
#include "config.def"
};
#undef TV_CONF

#define NTROWS (sizeof trows / sizeof trows[0])

static char tmpdir[256];

static char *str_of(struct tv_config *c, const struct test_row *r)
{
	return *(char **)(void *)((char *)c + r->offset);
}

static long long num_of(struct tv_config *c, const struct test_row *r)
{
	if (r->type == TV_CT_BOOL)
		return *(int *)(void *)((char *)c + r->offset);
	return *(long long *)(void *)((char *)c + r->offset);
}

/* Writes text to a fresh file in tmpdir and returns its path (static). */
static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/tv_config_XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	unsetenv("TAVLA_DATA");
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_defaults_in_range(void **state)
{
	struct tv_config c;

	assert_int_equal(config_defaults(&c), 0);
	for (size_t i = 0; i < NTROWS; i++) {
		const struct test_row *r = &trows[i];
		if (r->type == TV_CT_STRING) {
			const char *s = str_of(&c, r);
			assert_non_null(s);
			assert_string_equal(s, r->def);
			assert_in_range(strlen(s), r->min, r->max);
		} else {
			long long v = num_of(&c, r);
			assert_true(v >= r->min && v <= r->max);
		}
	}
	assert_int_equal(c.port, 8443);
	assert_int_equal(c.max_message, 65536);
	assert_int_equal(c.demo, 0);
	assert_string_equal(c.log_level, "info");
	config_free(&c);
	assert_null(c.listen_addr);
	config_free(&c); /* a second free is harmless */
}

static void test_defaults_roundtrip(void **state)
{
	struct tv_config c, d;
	char err[256];

	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(config_defaults(&d), 0);
	for (size_t i = 0; i < NTROWS; i++) {
		const struct test_row *r = &trows[i];
		err[0] = '\0';
		assert_int_equal(config_set(&c, r->name, r->def, err, sizeof err), 0);
		assert_string_equal(err, "");
		if (r->type == TV_CT_STRING)
			assert_string_equal(str_of(&c, r), str_of(&d, r));
		else
			assert_true(num_of(&c, r) == num_of(&d, r));
	}
	config_free(&c);
	config_free(&d);
}

/* Every row rejects a value of the wrong shape and one beyond each bound,
 * names its key, and leaves the field as it was. */
static void test_bad_values_name_key(void **state)
{
	struct tv_config c;
	char err[256], bad[8192], prefix[64];

	assert_int_equal(config_defaults(&c), 0);
	for (size_t i = 0; i < NTROWS; i++) {
		const struct test_row *r = &trows[i];
		const char *cases[3] = { NULL, NULL, NULL };
		char below[64], above[64];

		switch (r->type) {
		case TV_CT_INT:
		case TV_CT_SIZE:
			snprintf(below, sizeof below, "%lld", r->min - 1);
			snprintf(above, sizeof above, "%lld", r->max + 1);
			cases[0] = "12abc";
			cases[1] = below;
			cases[2] = above;
			break;
		case TV_CT_BOOL:
			cases[0] = "maybe";
			cases[1] = "";
			cases[2] = "2";
			break;
		case TV_CT_STRING:
			assert_true(r->max + 1 < (long long)sizeof bad);
			memset(bad, 'a', (size_t)r->max + 1);
			bad[r->max + 1] = '\0';
			cases[0] = bad;
			if (r->min > 0)
				cases[1] = "";
			break;
		}
		snprintf(prefix, sizeof prefix, "%s: ", r->name);
		for (int k = 0; k < 3; k++) {
			char before[64];
			if (cases[k] == NULL)
				continue;
			if (r->type == TV_CT_STRING)
				snprintf(before, sizeof before, "%s", str_of(&c, r));
			err[0] = '\0';
			assert_int_equal(config_set(&c, r->name, cases[k], err, sizeof err), -EINVAL);
			if (strncmp(err, prefix, strlen(prefix)) != 0)
				fail_msg("%s=%.20s: message \"%s\" does not name the key", r->name,
				         cases[k], err);
			if (r->type == TV_CT_STRING)
				assert_string_equal(str_of(&c, r), before);
		}
	}
	config_free(&c);
}

static void test_messages(void **state)
{
	struct tv_config c;
	char err[256];

	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(config_set(&c, "port", "70000", err, sizeof err), -EINVAL);
	assert_string_equal(err, "port: \"70000\" is out of range 1..65535");
	assert_int_equal(c.port, 8443);
	assert_int_equal(config_set(&c, "prot", "1", err, sizeof err), -EINVAL);
	assert_string_equal(err, "unknown key \"prot\"");
	assert_int_equal(config_set(&c, "port", " 80", err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "not a decimal integer"));
	assert_int_equal(config_set(&c, "port", "0x50", err, sizeof err), -EINVAL);
	assert_int_equal(config_set(&c, "port", "+80", err, sizeof err), -EINVAL);
	assert_int_equal(config_set(&c, "port", "99999999999999999999999", err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(config_set(&c, "log_level", "verbose", err, sizeof err), -EINVAL);
	assert_string_equal(err, "log_level: \"verbose\" is not one of error, warn, info, debug");
	assert_int_equal(config_set(&c, "sync", "off", err, sizeof err), -EINVAL);
	assert_string_equal(err, "sync: \"off\" is not one of full, normal");
	assert_int_equal(config_set(&c, "demo", "maybe", err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "yes, no"));
	assert_int_equal(config_set(&c, "max_message", "64x", err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "k, m or g"));
	/* a tiny error buffer is still terminated */
	assert_int_equal(config_set(&c, "port", "70000", err, 5), -EINVAL);
	assert_string_equal(err, "port");
	config_free(&c);
}

static void test_types(void **state)
{
	struct tv_config c;
	char err[256];
	static const struct { const char *v; int want; } bools[] = {
		{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 }, { "on", 1 },
		{ "off", 0 }, { "1", 1 }, { "0", 0 }, { "YES", 1 }, { "Off", 0 },
	};

	assert_int_equal(config_defaults(&c), 0);
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
		assert_int_equal(config_set(&c, "demo", bools[i].v, err, sizeof err), 0);
		assert_int_equal(c.demo, bools[i].want);
	}
	assert_int_equal(config_set(&c, "max_message", "64k", err, sizeof err), 0);
	assert_int_equal(c.max_message, 65536);
	assert_int_equal(config_set(&c, "max_message", "1m", err, sizeof err), 0);
	assert_int_equal(c.max_message, 1048576);
	assert_int_equal(config_set(&c, "max_message", "16M", err, sizeof err), 0);
	assert_int_equal(c.max_message, 16777216);
	assert_int_equal(config_set(&c, "max_message", "4096", err, sizeof err), 0);
	assert_int_equal(c.max_message, 4096);
	assert_int_equal(config_set(&c, "send_queue", "1G", err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(config_set(&c, "send_queue", "256m", err, sizeof err), 0);
	assert_int_equal(c.send_queue_max, 268435456);
	assert_int_equal(config_set(&c, "send_queue", "1g", err, sizeof err), -EINVAL);
	assert_int_equal(config_set(&c, "send_queue", "64kb", err, sizeof err), -EINVAL);
	assert_int_equal(config_set(&c, "send_queue", "-64k", err, sizeof err), -EINVAL);
	assert_int_equal(config_set(&c, "send_queue", "99999999999g", err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(c.send_queue_max, 268435456);
	assert_int_equal(config_set(&c, "log_level", "debug", err, sizeof err), 0);
	assert_string_equal(c.log_level, "debug");
	assert_int_equal(config_set(&c, "sync", "normal", err, sizeof err), 0);
	assert_string_equal(c.sync_mode, "normal");
	assert_int_equal(config_set(&c, "cert", "", err, sizeof err), 0);
	assert_string_equal(c.cert_file, "");
	assert_int_equal(config_set(&c, "listen", "", err, sizeof err), -EINVAL);
	assert_string_equal(c.listen_addr, "127.0.0.1");
	config_free(&c);
}

static void test_dashes(void **state)
{
	struct tv_config c;
	char err[256];

	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(config_set(&c, "--max-message", "2k", err, sizeof err), 0);
	assert_int_equal(c.max_message, 2048);
	assert_int_equal(config_set(&c, "max-message", "3k", err, sizeof err), 0);
	assert_int_equal(c.max_message, 3072);
	assert_int_equal(config_set(&c, "max_message", "4k", err, sizeof err), 0);
	assert_int_equal(c.max_message, 4096);
	assert_int_equal(config_set(&c, "--rate-burst", "7", err, sizeof err), 0);
	assert_int_equal(c.rate_burst, 7);
	/* messages use the table's spelling */
	assert_int_equal(config_set(&c, "--max-message", "1", err, sizeof err), -EINVAL);
	assert_string_equal(err, "max_message: \"1\" is out of range 1024..16777216 bytes");
	assert_int_equal(config_set(&c, "--port", NULL, err, sizeof err), -EINVAL);
	assert_string_equal(err, "port: missing value");
	assert_int_equal(config_set(&c, "max", "1", err, sizeof err), -EINVAL);
	assert_int_equal(config_set(&c, "max_message_", "1", err, sizeof err), -EINVAL);
	config_free(&c);
}

static void test_tavla_data(void **state)
{
	struct tv_config c;

	setenv("TAVLA_DATA", "/srv/tavla", 1);
	assert_int_equal(config_defaults(&c), 0);
	assert_string_equal(c.data_dir, "/srv/tavla");
	config_free(&c);

	setenv("TAVLA_DATA", "", 1);
	assert_int_equal(config_defaults(&c), 0);
	assert_string_equal(c.data_dir, "./var");
	config_free(&c);

	unsetenv("TAVLA_DATA");
	assert_int_equal(config_defaults(&c), 0);
	assert_string_equal(c.data_dir, "./var");
	config_free(&c);
}

static void test_file(void **state)
{
	struct tv_config c;
	char err[512];
	const char *path = write_file("good.conf",
		"# a comment\n"
		"\n"
		"   # an indented comment\n"
		"port 9000\n"
		"port 9001   \t\n"
		"listen \"::1\"\n"
		"origins \"https://a.example, https://b.example\"\n"
		"cert \"/etc/x \\\"y\\\" \\\\z.pem\"\n"
		"key \"\"\n"
		"max-message 64k\r\n"
		"  demo yes\n"
		"data_dir /var/lib/tavla#1\n"
		"log_level debug");

	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(config_load_file(&c, path, err, sizeof err), 0);
	assert_int_equal(c.port, 9001);
	assert_string_equal(c.listen_addr, "::1");
	assert_string_equal(c.origins, "https://a.example, https://b.example");
	assert_string_equal(c.cert_file, "/etc/x \"y\" \\z.pem");
	assert_string_equal(c.key_file, "");
	assert_int_equal(c.max_message, 65536);
	assert_int_equal(c.demo, 1);
	assert_string_equal(c.data_dir, "/var/lib/tavla#1");
	assert_string_equal(c.log_level, "debug");
	config_free(&c);
}

/* Loads text and expects failure with exactly the message want (after the
 * "PATH:" prefix). */
static void expect_file_error(const char *text, const char *want)
{
	struct tv_config c;
	char err[512], full[1024];
	const char *path = write_file("bad.conf", text);

	assert_int_equal(config_defaults(&c), 0);
	err[0] = '\0';
	assert_int_equal(config_load_file(&c, path, err, sizeof err), -EINVAL);
	snprintf(full, sizeof full, "%s:%s", path, want);
	assert_string_equal(err, full);
	config_free(&c);
}

static void test_file_errors(void **state)
{
	expect_file_error("# x\nport 80\n\nprot 80\n", "4: unknown key \"prot\"");
	expect_file_error("port 80\nport 70000\n", "2: port: \"70000\" is out of range 1..65535");
	expect_file_error("\n\nmax_message 1g\n",
	                  "3: max_message: \"1g\" is out of range 1024..16777216 bytes");
	expect_file_error("listen \"127.0.0.1\n", "1: listen: missing closing quote");
	expect_file_error("port\n", "1: port: missing value");
	expect_file_error("port   \n", "1: port: missing value");
	expect_file_error("listen 127.0.0.1 8443\n",
	                  "1: listen: unexpected text after the value (quote values that contain spaces)");
	expect_file_error("listen \"a\" b\n",
	                  "1: listen: unexpected text after the value (quote values that contain spaces)");
	expect_file_error("cert \"a\\nb\"\n",
	                  "1: cert: unknown escape in quoted value (only \\\" and \\\\ are accepted)");
	expect_file_error("demo perhaps\n",
	                  "1: demo: \"perhaps\" is not a boolean; accepted: yes, no, true, false, on, off, 1, 0");
}

static void test_missing_file(void **state)
{
	struct tv_config c;
	char err[512], path[512];

	snprintf(path, sizeof path, "%s/nope.conf", tmpdir);
	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(config_load_file(&c, path, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	config_free(&c);
}

static char *example_text(size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	assert_non_null(fp);
	config_write_example(fp);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static void test_example_matches_ops(void **state)
{
	size_t len, flen;
	char *want = example_text(&len);
	char *have = malloc(len + 2);
	FILE *fp = fopen(TV_SOURCE_DIR "/ops/tavlad.conf", "rb");

	assert_non_null(fp);
	assert_non_null(have);
	flen = fread(have, 1, len + 1, fp);
	fclose(fp);
	if (flen != len || memcmp(have, want, len) != 0)
		fail_msg("ops/tavlad.conf differs from config_write_example(); "
		         "regenerate it (tavlad --print-config > ops/tavlad.conf)");
	free(have);
	free(want);
}

/* The example documents every key: its help, a range or values line and a
 * commented default that, uncommented, parses back to the defaults. */
static void test_example_roundtrip(void **state)
{
	size_t len;
	char *text = example_text(&len);
	char *copy = malloc(len + 1);
	char *out = copy, *line, *save = NULL;
	int after_range = 0, defaults_seen = 0;
	struct tv_config c, d;
	char err[512];

	assert_non_null(copy);
	memcpy(copy, text, len + 1);
	/* lines are at most 78 columns unless one word is longer */
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) > 78)
			assert_null(strchr(line + 2, ' '));
	}
	/* uncomment each line that follows a range/values/length line */
	out = copy;
	for (char *p = text; *p != '\0';) {
		char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
		if (after_range) {
			assert_true(strncmp(p, "# ", 2) == 0);
			memcpy(out, p + 2, n - 2);
			out += n - 2;
			defaults_seen++;
		} else {
			memcpy(out, p, n);
			out += n;
		}
		after_range = strncmp(p, "# range: ", 9) == 0 || strncmp(p, "# values: ", 10) == 0 ||
		              strncmp(p, "# length: ", 10) == 0;
		p += n;
	}
	*out = '\0';
	assert_int_equal(defaults_seen, (int)NTROWS);

	setenv("TAVLA_DATA", "/elsewhere", 1);
	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(config_defaults(&d), 0);
	unsetenv("TAVLA_DATA");
	assert_int_equal(config_load_file(&c, write_file("defaults.conf", copy), err, sizeof err), 0);
	for (size_t i = 0; i < NTROWS; i++) {
		const struct test_row *r = &trows[i];
		if (r->type == TV_CT_STRING)
			assert_string_equal(str_of(&c, r), r->def); /* ./var, not $TAVLA_DATA */
		else
			assert_true(num_of(&c, r) == num_of(&d, r));
		char needle[128];
		snprintf(needle, sizeof needle, "\n# %s ", r->name);
		assert_non_null(strstr(text, needle));
	}
	assert_non_null(strstr(text, "--NAME VALUE"));
	assert_non_null(strstr(text, "# range: 1..65535\n# port 8443\n"));
	assert_non_null(strstr(text, "# values: error, warn, info, debug\n# log_level info\n"));
	assert_non_null(strstr(text, "# cert \"\"\n"));
	assert_non_null(strstr(text, "# max_message 64k\n"));
	config_free(&c);
	config_free(&d);
	free(copy);
	free(text);
}

static void test_help(void **state)
{
	char *buf = NULL;
	size_t len;
	FILE *fp = open_memstream(&buf, &len);
	long col = -1;

	assert_non_null(fp);
	config_write_help(fp);
	assert_int_equal(fclose(fp), 0);
	for (size_t i = 0; i < NTROWS; i++) {
		char needle[128];
		snprintf(needle, sizeof needle, "  --%s VALUE ", trows[i].name);
		const char *at = strstr(buf, needle);
		assert_non_null(at);
		/* the help text starts in the same column on every line */
		const char *text = at + strlen(needle);
		while (*text == ' ')
			text++;
		if (col < 0)
			col = (long)(text - at);
		else
			assert_int_equal(text - at, col);
	}
	assert_non_null(strstr(buf, "TCP port for HTTPS and WebSockets (default: 8443)"));
	assert_non_null(strstr(buf, "(default: 64k)"));
	assert_non_null(strstr(buf, "(default: no)"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_in_range),
		cmocka_unit_test(test_defaults_roundtrip),
		cmocka_unit_test(test_bad_values_name_key),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_dashes),
		cmocka_unit_test(test_tavla_data),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_example_matches_ops),
		cmocka_unit_test(test_example_roundtrip),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
