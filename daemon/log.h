/*
 * log.h: tavlad's one logger. One line per event on stderr:
 *
 *   2026-11-23T12:00:00.123Z info conn.open id=17 addr=127.0.0.1
 *
 * time (UTC, ms), level, an event name, then key=value fields (values with
 * spaces or quotes are double-quoted and escaped). Not responsible for
 * rotation (journald or the service manager owns that).
 *
 * The level is process-wide state, like stderr itself: the one mutable
 * global tavlad allows, set once at start-up and on SIGHUP.
 * Tokens and passwords are never passed to the logger.
 */
#ifndef TV_LOG_H
#define TV_LOG_H

enum tv_log_level { TV_LOG_ERROR = 0, TV_LOG_WARN, TV_LOG_INFO, TV_LOG_DEBUG };

/* Parses "error|warn|info|debug"; returns the level or -1. */
int log_level_parse(const char *name);
void log_set_level(enum tv_log_level level);
int log_enabled(enum tv_log_level level);

/* event: a dotted name ("conn.open"); fmt: printf-style "k=v k=v" fields,
 * may be NULL. Thread-safe (one write(2) per line). */
void tv_log(enum tv_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Quotes v for a field value if it contains spaces, '=', quotes or control
 * characters; writes into buf (always NUL-terminated) and returns buf. */
const char *log_quote(char *buf, unsigned long buflen, const char *v);

#define log_error(ev, ...) tv_log(TV_LOG_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...)  tv_log(TV_LOG_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...)  tv_log(TV_LOG_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) do { if (log_enabled(TV_LOG_DEBUG)) tv_log(TV_LOG_DEBUG, ev, __VA_ARGS__); } while (0)

#endif
