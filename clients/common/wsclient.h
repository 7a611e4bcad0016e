/*
 * wsclient.h: a small blocking WebSocket client over TLS, written directly on
 * OpenSSL (RFC 6455, client side).
 *
 * Responsible for: TCP connect with a deadline, TLS 1.2+ with certificate and
 * host-name verification, the HTTP/1.1 Upgrade handshake (key, accept hash,
 * subprotocol), masked frames out, unmasked frames in, reassembly of
 * fragmented messages up to a size limit, answering pings, and the close
 * handshake. Not responsible for: JSON or anything tavla-specific (tvcall.h
 * sits on top), reconnecting, or threads (one handle, one thread).
 *
 * It is deliberately independent of libwebsockets, which the server uses, so
 * that a framing bug cannot hide by being shared on both ends.
 *
 * Lifecycle of a handle:
 *
 *   wsc_connect() ──> OPEN ──wsc_close()──> CLOSING ──peer's close──> CLOSED
 *                      │  └──peer's close frame (echoed)────────────────┘
 *                      └──I/O or protocol error──> BROKEN
 *   wsc_free() releases the handle in any state.
 *
 * Every read is bounded: the handshake response by WSC_HTTP_MAX bytes, a
 * message by wsc_options.max_message, a control frame by 125 bytes; every
 * wait by the caller's timeout. The process should ignore SIGPIPE (the CLI
 * does), since a peer reset during a write would otherwise kill it.
 */
#ifndef TV_WSCLIENT_H
#define TV_WSCLIENT_H

#include <stddef.h>

#define WSC_HTTP_MAX 8192
#define WSC_DEFAULT_MAX_MESSAGE (1024u * 1024u)

struct wsc;

struct wsc_options {
	const char *ca_file;     /* PEM CA bundle; NULL: the system store */
	int insecure;            /* 1: skip certificate and host checks */
	const char *subprotocol; /* offered and required; NULL: none */
	const char *origin;      /* Origin header; NULL: not sent */
	const char *user_agent;  /* NULL: not sent */
	int timeout_ms;          /* connect + TLS + upgrade deadline; also bounds
	                          * each send; <= 0 means 10000 */
	size_t max_message;      /* receive limit; 0: WSC_DEFAULT_MAX_MESSAGE */
};

/* Why wsc_connect() failed, so callers can map failures to exit codes. */
enum wsc_fail {
	WSC_FAIL_NONE = 0,
	WSC_FAIL_URL,       /* the URL does not parse */
	WSC_FAIL_RESOLVE,   /* getaddrinfo failed */
	WSC_FAIL_CONNECT,   /* no address accepted a TCP connection */
	WSC_FAIL_TIMEOUT,   /* the deadline passed during connect/TLS/upgrade */
	WSC_FAIL_TLS,       /* TLS setup or handshake failed */
	WSC_FAIL_VERIFY,    /* the server's certificate was not trusted */
	WSC_FAIL_HANDSHAKE, /* the HTTP upgrade was refused or malformed */
	WSC_FAIL_NOMEM,
};

/*
 * Connects to url ("wss://host:port/path") and completes the WebSocket
 * handshake. Returns a new handle (release with wsc_free) or NULL with a
 * human message in err and the reason in *why (may be NULL). opt is borrowed
 * for the call only; NULL means all defaults.
 */
struct wsc *wsc_connect(const char *url, const struct wsc_options *opt,
                        enum wsc_fail *why, char *err, size_t errlen);

/* Results of wsc_recv(); also used by tvcall.h. */
enum wsc_result {
	WSC_ERROR = -1,  /* I/O or protocol error: wsc_errmsg() says which */
	WSC_MESSAGE = 0, /* a complete message */
	WSC_TIMEOUT = 1, /* nothing complete within timeout_ms; try again */
	WSC_CLOSED = 2,  /* the peer closed: wsc_close_code()/_reason() */
};

/*
 * Waits up to timeout_ms (< 0: forever) for the next complete data message.
 * On WSC_MESSAGE, *buf receives a new malloc'd buffer (caller frees) of *len
 * bytes plus a NUL terminator, and *binary (may be NULL) 1 for a binary
 * message. Pings are answered and pongs dropped on the way. A message cut
 * by a timeout is kept and completed by the next call. Text messages are
 * checked to be UTF-8 (else close 1007 and WSC_ERROR); a message larger
 * than max_message closes with 1009 and returns WSC_ERROR.
 */
int wsc_recv(struct wsc *c, int timeout_ms, char **buf, size_t *len, int *binary);

/* Sends one text (or binary) message as a single masked frame. buf is
 * borrowed. Returns 0, or -1 (wsc_errmsg() says why; the handle is then
 * BROKEN). */
int wsc_send_text(struct wsc *c, const char *buf, size_t len);
int wsc_send_binary(struct wsc *c, const void *buf, size_t len);

/*
 * Starts the close handshake with code (1000..4999; 0 sends no code) and a
 * reason of at most 123 bytes (may be NULL), then waits up to timeout_ms for
 * the peer's close frame, discarding data messages. Returns 0 when the
 * handshake completed, -1 otherwise (timeout, error, or already BROKEN).
 * The handle must still be released with wsc_free().
 */
int wsc_close(struct wsc *c, int code, const char *reason, int timeout_ms);

/* The peer's close code (1005 when its frame had none, 1006 when the
 * connection ended without a close frame; 0 before a close) and reason
 * (NUL-terminated, borrowed, "" when none). */
int wsc_close_code(const struct wsc *c);
const char *wsc_close_reason(const struct wsc *c);

/* The last error message, borrowed; "" when there was none. */
const char *wsc_errmsg(const struct wsc *c);

/* Shuts TLS down (without waiting) and releases everything. NULL is fine. */
void wsc_free(struct wsc *c);

#endif
