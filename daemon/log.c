/*
 * log.c: formats one log line per event and writes it to stderr.
 *
 * Responsible for: the line format of log.h (UTC time with milliseconds,
 * level, event, key=value fields), the level filter, and quoting of field
 * values. Not responsible for: where stderr goes (journald, a file, a
 * terminal) or rotation.
 *
 * Invariants:
 *  1. A line is built in a buffer on the caller's stack and written with a
 *     single write(2). LINE_MAX_BYTES is below PIPE_BUF, so lines from
 *     different threads never interleave, even on a pipe.
 *  2. Every line ends in exactly one '\n' and contains no other control
 *     byte except tab: the event and fields are sanitised, so a caller that
 *     forgot log_quote cannot forge a second line.
 *  3. A line longer than the buffer is cut at a UTF-8 character boundary and
 *     ends in "…".
 *  4. The level is the one process-wide mutable variable (see log.h); it is
 *     atomic, so reading it from any thread is defined.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 in UTF-8 */

static _Atomic int current_level = TV_LOG_INFO;

static const char *const level_names[] = {
	[TV_LOG_ERROR] = "error",
	[TV_LOG_WARN] = "warn",
	[TV_LOG_INFO] = "info",
	[TV_LOG_DEBUG] = "debug",
};

#define NLEVELS (sizeof level_names / sizeof level_names[0])

int log_level_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < NLEVELS; i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_set_level(enum tv_log_level level)
{
	atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

int log_enabled(enum tv_log_level level)
{
	return (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}

/* Returns the largest length <= len that does not end inside a UTF-8
 * sequence (so cutting there leaves whole characters only). */
static size_t utf8_boundary(const char *s, size_t len)
{
	size_t i = len;
	size_t back = 0;
	unsigned char lead;
	size_t need;

	while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return len;
	lead = (unsigned char)s[i - 1];
	if (lead < 0x80)
		return len;
	if ((lead & 0xe0) == 0xc0)
		need = 2;
	else if ((lead & 0xf0) == 0xe0)
		need = 3;
	else if ((lead & 0xf8) == 0xf0)
		need = 4;
	else
		return len; /* not UTF-8 anyway; cut anywhere */
	return back + 1 >= need ? len : i - 1;
}

/* Replaces control bytes (other than tab) by '?' in buf[from..to). */
static void sanitise(char *buf, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			buf[i] = '?';
	}
}

static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Preserves errno, so logging a failure does not change what the caller
 * reports next. */
void tv_log(enum tv_log_level level, const char *event, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	/* room kept back for the ellipsis and the newline */
	const size_t cap = sizeof line - (sizeof ELLIPSIS - 1) - 1;
	int saved_errno = errno;
	struct timespec ts;
	struct tm tm;
	size_t len, body;
	int n;

	if (!log_enabled(level))
		return;
	if ((unsigned)level >= NLEVELS)
		level = TV_LOG_ERROR;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof line - len, ".%03ldZ %s ",
	             ts.tv_nsec / 1000000L, level_names[level]);
	len += (size_t)n;
	body = len;

	n = snprintf(line + len, sizeof line - len, "%s", event != NULL ? event : "-");
	len += n > 0 ? (size_t)n : 0;
	if (fmt != NULL && fmt[0] != '\0' && len < cap) {
		va_list ap;
		line[len++] = ' ';
		va_start(ap, fmt);
		n = vsnprintf(line + len, sizeof line - len, fmt, ap);
		va_end(ap);
		len += n > 0 ? (size_t)n : 0;
	}

	if (len > cap) {
		len = utf8_boundary(line, cap);
		sanitise(line, body, len);
		memcpy(line + len, ELLIPSIS, sizeof ELLIPSIS - 1);
		len += sizeof ELLIPSIS - 1;
	} else {
		sanitise(line, body, len);
	}
	line[len++] = '\n';
	write_all(line, len);
	errno = saved_errno;
}

static int needs_quotes(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v != '\0'; v++) {
		unsigned char ch = (unsigned char)*v;
		if (ch <= 0x20 || ch == 0x7f || ch == '=' || ch == '"' || ch == '\\')
			return 1;
	}
	return 0;
}

/* Writes v, or "v" with \" \\ \n \t and \xNN escapes when it needs quotes.
 * When buf is too small the value is cut at a character boundary (and a
 * quoted one still gets its closing quote). A NULL v is written as "". */
const char *log_quote(char *buf, unsigned long buflen, const char *v)
{
	size_t used = 0;

	if (buf == NULL || buflen == 0)
		return buf;
	if (v == NULL)
		v = "";
	if (!needs_quotes(v)) {
		size_t n = strlen(v);
		if (n >= buflen)
			n = utf8_boundary(v, buflen - 1);
		memcpy(buf, v, n);
		buf[n] = '\0';
		return buf;
	}
	if (buflen < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[used++] = '"';
	for (; *v != '\0'; v++) {
		unsigned char ch = (unsigned char)*v;
		char piece[5];
		size_t plen;

		switch (ch) {
		case '"': memcpy(piece, "\\\"", 2); plen = 2; break;
		case '\\': memcpy(piece, "\\\\", 2); plen = 2; break;
		case '\n': memcpy(piece, "\\n", 2); plen = 2; break;
		case '\t': memcpy(piece, "\\t", 2); plen = 2; break;
		default:
			if (ch < 0x20 || ch == 0x7f) {
				snprintf(piece, sizeof piece, "\\x%02x", ch);
				plen = 4;
			} else {
				piece[0] = (char)ch;
				plen = 1;
			}
		}
		if (used + plen + 2 > buflen) { /* closing quote and NUL */
			used = 1 + utf8_boundary(buf + 1, used - 1);
			break;
		}
		memcpy(buf + used, piece, plen);
		used += plen;
	}
	buf[used++] = '"';
	buf[used] = '\0';
	return buf;
}
