/*
 * test_log.c: the logger (daemon/log.c) on its own.
 *
 * Captures stderr through a pipe (dup2) around each logging call and checks
 * the line format with POSIX regular expressions, the level filter, the cut
 * of over-long lines, quoting, and that lines written from several threads
 * at once arrive whole.
 */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define TIME_RE "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z "

struct capture {
	int saved;
	int rd;
};

/* Points stderr at a pipe. Keep assertions out of the capture window: a
 * failing assertion would print into the pipe. */
static struct capture capture_begin(void)
{
	struct capture cap;
	int fds[2];

	fflush(stderr);
	assert_int_equal(pipe(fds), 0);
	cap.saved = dup(STDERR_FILENO);
	assert_true(cap.saved >= 0);
	assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
	close(fds[1]);
	cap.rd = fds[0];
	return cap;
}

/* Restores stderr and returns everything written meanwhile (caller frees). */
static char *capture_end(struct capture cap)
{
	size_t len = 0, size = 4096;
	char *buf = malloc(size);
	ssize_t n;

	dup2(cap.saved, STDERR_FILENO);
	close(cap.saved);
	assert_non_null(buf);
	while ((n = read(cap.rd, buf + len, size - len - 1)) > 0) {
		len += (size_t)n;
		if (size - len < 1024) {
			size *= 2;
			buf = realloc(buf, size);
			assert_non_null(buf);
		}
	}
	close(cap.rd);
	buf[len] = '\0';
	return buf;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, text, 0, NULL, 0) != 0)
		fail_msg("\"%s\" does not match /%s/", text, pattern);
	regfree(&re);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static int valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t need = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2
		            : (s[i] & 0xf0) == 0xe0 ? 3 : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
		if (need == 0 || i + need > len)
			return 0;
		for (size_t k = 1; k < need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += need;
	}
	return 1;
}

static int setup(void **state)
{
	log_set_level(TV_LOG_INFO);
	return 0;
}

static void test_format(void **state)
{
	struct capture cap = capture_begin();
	tv_log(TV_LOG_INFO, "conn.open", "id=%d addr=%s", 17, "127.0.0.1");
	log_warn("store.slow", "ms=%d", 250);
	log_error("tick", NULL);
	char *out = capture_end(cap);

	assert_int_equal(count_lines(out), 3);
	assert_matches(out, TIME_RE "info conn\\.open id=17 addr=127\\.0\\.0\\.1\n"
	                    "[0-9T:.Z-]+ warn store\\.slow ms=250\n"
	                    "[0-9T:.Z-]+ error tick\n$");
	free(out);
}

static void test_levels(void **state)
{
	assert_int_equal(log_level_parse("error"), TV_LOG_ERROR);
	assert_int_equal(log_level_parse("warn"), TV_LOG_WARN);
	assert_int_equal(log_level_parse("info"), TV_LOG_INFO);
	assert_int_equal(log_level_parse("debug"), TV_LOG_DEBUG);
	assert_int_equal(log_level_parse("verbose"), -1);
	assert_int_equal(log_level_parse("INFO"), -1);
	assert_int_equal(log_level_parse(NULL), -1);

	assert_true(log_enabled(TV_LOG_INFO));
	assert_false(log_enabled(TV_LOG_DEBUG));

	struct capture cap = capture_begin();
	log_debug("hidden", "x=%d", 1);
	log_info("shown", "x=%d", 2);
	log_set_level(TV_LOG_DEBUG);
	log_debug("now.shown", "x=%d", 3);
	log_set_level(TV_LOG_ERROR);
	log_warn("hidden.too", "x=%d", 4);
	log_error("still.shown", "x=%d", 5);
	log_set_level(TV_LOG_INFO);
	char *out = capture_end(cap);

	assert_int_equal(count_lines(out), 3);
	assert_null(strstr(out, "hidden"));
	assert_matches(out, " info shown x=2\n.* debug now\\.shown x=3\n.* error still\\.shown x=5\n$");
	free(out);
}

static void test_errno_preserved(void **state)
{
	struct capture cap = capture_begin();
	errno = EAGAIN;
	log_info("e", "x=1");
	int after = errno;
	free(capture_end(cap));
	assert_int_equal(after, EAGAIN);
}

/* A field without log_quote cannot start a second line. */
static void test_control_bytes_sanitised(void **state)
{
	struct capture cap = capture_begin();
	log_info("ev\nil", "name=%s", "a\nb\rc\x1b[0m\td");
	char *out = capture_end(cap);

	assert_int_equal(count_lines(out), 1);
	assert_matches(out, TIME_RE "info ev\\?il name=a\\?b\\?c\\?\\[0m\td\n$");
	free(out);
}

static void test_long_line_cut(void **state)
{
	/* 3-byte characters, so the cut lands inside one unless it is careful */
	char big[6000];
	size_t n = 0;

	while (n + 3 < sizeof big) {
		memcpy(big + n, "\xe2\x82\xac", 3); /* U+20AC */
		n += 3;
	}
	big[n] = '\0';
	for (int shift = 0; shift < 3; shift++) {
		struct capture cap = capture_begin();
		log_info("big", "%.*sv=%s", shift, "xx", big);
		char *out = capture_end(cap);
		size_t len = strlen(out);

		assert_int_equal(count_lines(out), 1);
		assert_true(len <= 2048);
		assert_true(len > 2000);
		assert_string_equal(out + len - 4, "\xe2\x80\xa6\n");
		assert_true(valid_utf8((const unsigned char *)out, len));
		free(out);
	}

	/* a line that just fits is not cut */
	char fits[1900];
	memset(fits, 'a', sizeof fits - 1);
	fits[sizeof fits - 1] = '\0';
	struct capture cap = capture_begin();
	log_info("fits", "v=%s", fits);
	char *out = capture_end(cap);
	assert_null(strstr(out, "\xe2\x80\xa6"));
	assert_non_null(strstr(out, fits));
	free(out);
}

static void test_quote(void **state)
{
	char buf[128];

	assert_string_equal(log_quote(buf, sizeof buf, "127.0.0.1"), "127.0.0.1");
	assert_string_equal(log_quote(buf, sizeof buf, "Gr\xc3\xb6\xc3\x9f" "e"), "Gr\xc3\xb6\xc3\x9f" "e");
	assert_string_equal(log_quote(buf, sizeof buf, "hello world"), "\"hello world\"");
	assert_string_equal(log_quote(buf, sizeof buf, "a=b"), "\"a=b\"");
	assert_string_equal(log_quote(buf, sizeof buf, "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(log_quote(buf, sizeof buf, "C:\\tmp"), "\"C:\\\\tmp\"");
	assert_string_equal(log_quote(buf, sizeof buf, "a\nb\tc\x01\x7f"), "\"a\\nb\\tc\\x01\\x7f\"");
	assert_string_equal(log_quote(buf, sizeof buf, "\r"), "\"\\x0d\"");
	assert_string_equal(log_quote(buf, sizeof buf, ""), "\"\"");
	assert_string_equal(log_quote(buf, sizeof buf, NULL), "\"\"");
	assert_ptr_equal(log_quote(buf, sizeof buf, "x"), buf);
}

static void test_quote_small_buffer(void **state)
{
	char buf[8];

	/* quoted values keep their closing quote and never split an escape */
	assert_string_equal(log_quote(buf, sizeof buf, "a b c d e f"), "\"a b c\"");
	assert_string_equal(log_quote(buf, sizeof buf, "a\"\"\"\"\""), "\"a\\\"\\\"\"");
	assert_string_equal(log_quote(buf, sizeof buf, "\n\n\n\n"), "\"\\n\\n\"");
	/* nor a UTF-8 character */
	assert_string_equal(log_quote(buf, sizeof buf, "\xc3\xa9 \xc3\xa9 \xc3\xa9"),
	                    "\"\xc3\xa9 \xc3\xa9\"");
	assert_string_equal(log_quote(buf, 7, "\xc3\xa9 \xc3\xa9 \xc3\xa9"), "\"\xc3\xa9 \"");
	/* unquoted values are cut at a character boundary */
	assert_string_equal(log_quote(buf, sizeof buf, "abcdefghij"), "abcdefg");
	assert_string_equal(log_quote(buf, sizeof buf, "abcdef\xc3\xa9"), "abcdef");
	assert_string_equal(log_quote(buf, 2, "a b"), "");
	assert_string_equal(log_quote(buf, 1, "ab"), "");
	buf[0] = 'z';
	log_quote(buf, 0, "ab");
	assert_int_equal(buf[0], 'z');
}

#define THREADS 4
#define LINES_PER_THREAD 50

static void *log_many(void *arg)
{
	int id = (int)(size_t)arg;
	char pad[120];

	memset(pad, 'a' + id, sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	for (int i = 0; i < LINES_PER_THREAD; i++)
		log_info("thread.line", "t=%d i=%d pad=%s", id, i, pad);
	return NULL;
}

/* Lines from concurrent threads arrive whole (one write per line). The
 * total stays below the pipe's capacity, so nobody has to read meanwhile. */
static void test_threads(void **state)
{
	pthread_t th[THREADS];
	struct capture cap = capture_begin();

	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, log_many, (void *)(size_t)t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	char *out = capture_end(cap);

	assert_int_equal(count_lines(out), THREADS * LINES_PER_THREAD);
	int seen[THREADS] = { 0 };
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		int t = -1, i = -1;
		const char *f = strstr(line, " info thread.line t=");
		assert_non_null(f);
		assert_int_equal(sscanf(f, " info thread.line t=%d i=%d", &t, &i), 2);
		assert_in_range(t, 0, THREADS - 1);
		assert_int_equal(i, seen[t]); /* each thread's lines in order */
		seen[t]++;
		const char *pad = strstr(line, "pad=");
		assert_non_null(pad);
		assert_int_equal(strlen(pad + 4), 119);
		assert_int_equal(strspn(pad + 4, (char[]){ (char)('a' + t), '\0' }), 119);
	}
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_format, setup),
		cmocka_unit_test_setup(test_levels, setup),
		cmocka_unit_test_setup(test_errno_preserved, setup),
		cmocka_unit_test_setup(test_control_bytes_sanitised, setup),
		cmocka_unit_test_setup(test_long_line_cut, setup),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_quote_small_buffer),
		cmocka_unit_test_setup(test_threads, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
