/*
 * wsclient.c: the blocking WebSocket-over-TLS client (contract in wsclient.h).
 *
 * Responsible for the bytes between a socket and whole messages. The socket
 * is non-blocking underneath and every wait goes through poll() with a
 * deadline, so "blocking" here always means "blocking until the caller's
 * timeout". Not responsible for what the messages mean.
 *
 * Invariants:
 *  1. rbuf[rpos..rlen) holds received bytes not yet parsed; it never grows:
 *     a frame's payload is moved out as it arrives.
 *  2. msg holds the data message being reassembled; msg_len <= max_message
 *     and msg_cap <= max_message + 1 (room for the NUL terminator).
 *  3. in_frame is set exactly while fr_left payload bytes of the current
 *     frame are still to come; control payloads go to ctrl (<= 125 bytes).
 *  4. Only OPEN sends data; CLOSING and CLOSED send nothing more; BROKEN
 *     never touches the TLS session again except to free it.
 */
#include "wsclient.h"
#include "wsurl.h"
#include "tv_protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define RBUF_SIZE 16384
#define SEND_CHUNK 16384
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8,
       OP_PING = 0x9, OP_PONG = 0xA };

enum wsc_state { ST_OPEN, ST_CLOSING, ST_CLOSED, ST_BROKEN };

struct wsc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	enum wsc_state state;
	int send_timeout_ms;
	size_t max_message;

	unsigned char rbuf[RBUF_SIZE];
	size_t rpos, rlen;

	int in_frame, fr_op, fr_fin;
	uint64_t fr_left;
	unsigned char ctrl[125];
	size_t ctrl_len;

	int msg_op; /* OP_TEXT or OP_BINARY while reassembling, else 0 */
	char *msg;
	size_t msg_len, msg_cap;

	int close_code;
	char close_reason[124];
	char err[256];
};

/* ---- time and waiting ----------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long deadline_in(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Waits for events on fd until deadline (-1: forever). Returns 1 when ready,
 * 0 on timeout, -1 on a poll error (errno set). */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int ms = -1, r;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return 0;
			ms = left > 1000000 ? 1000000 : (int)left;
		}
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0 && deadline >= 0 && now_ms() >= deadline)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* ---- TLS I/O ---------------------------------------------------------------- */

static void set_err(struct wsc *c, const char *fmt, const char *detail)
{
	snprintf(c->err, sizeof(c->err), fmt, detail);
}

static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "unknown TLS error";
}

enum { IO_OK = 1, IO_TIMEOUT = 0, IO_ERR = -1, IO_EOF = -2 };

/* Retries an SSL_* call that said WANT_READ/WANT_WRITE. Returns IO_OK to
 * retry, or IO_TIMEOUT / IO_ERR / IO_EOF. */
static int ssl_wait(struct wsc *c, int ret, long long deadline)
{
	int e = SSL_get_error(c->ssl, ret), w;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		w = wait_fd(c->fd, POLLIN, deadline);
		break;
	case SSL_ERROR_WANT_WRITE:
		w = wait_fd(c->fd, POLLOUT, deadline);
		break;
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == 0 || errno == ECONNRESET || errno == EPIPE)
				return IO_EOF;
			set_err(c, "TLS I/O failed: %s", strerror(errno));
			return IO_ERR;
		}
		set_err(c, "TLS error: %s", ssl_reason());
		return IO_ERR;
	default:
		set_err(c, "TLS error: %s", ssl_reason());
		return IO_ERR;
	}
	if (w == 0)
		return IO_TIMEOUT;
	if (w < 0) {
		set_err(c, "poll failed: %s", strerror(errno));
		return IO_ERR;
	}
	return IO_OK;
}

/* Reads at most cap bytes. Returns the count (> 0), or IO_TIMEOUT, IO_ERR,
 * IO_EOF. */
static int tls_read(struct wsc *c, void *buf, size_t cap, long long deadline)
{
	int cap_i = cap > INT32_MAX ? INT32_MAX : (int)cap;
	for (;;) {
		int n, w;
		ERR_clear_error();
		errno = 0;
		n = SSL_read(c->ssl, buf, cap_i);
		if (n > 0)
			return n;
		w = ssl_wait(c, n, deadline);
		if (w != IO_OK)
			return w;
	}
}

/* Writes all len bytes or fails. Returns IO_OK, IO_TIMEOUT, IO_ERR, IO_EOF. */
static int tls_write_all(struct wsc *c, const void *buf, size_t len, long long deadline)
{
	const unsigned char *p = buf;
	while (len > 0) {
		int chunk = len > INT32_MAX ? INT32_MAX : (int)len, n, w;
		ERR_clear_error();
		errno = 0;
		n = SSL_write(c->ssl, p, chunk);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		w = ssl_wait(c, n, deadline);
		if (w != IO_OK)
			return w;
	}
	return IO_OK;
}

/* ---- connect ------------------------------------------------------------------ */

static int fail_connect(enum wsc_fail *why, enum wsc_fail reason, char *err,
                        size_t errlen, const char *msg)
{
	if (why)
		*why = reason;
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return -1;
}

/* TCP connect to the first address of url that answers before deadline.
 * Returns the non-blocking socket or -1 with *why and err set. */
static int tcp_connect(const struct wsc_url *u, long long deadline,
                       enum wsc_fail *why, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8], msg[512];
	int fd = -1, r, timed_out = 0, last_errno = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", u->port);
	r = getaddrinfo(u->host, port, &hints, &res);
	if (r != 0) {
		snprintf(msg, sizeof(msg), "cannot resolve %s: %s", u->host, gai_strerror(r));
		return fail_connect(why, WSC_FAIL_RESOLVE, err, errlen, msg);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int soerr = 0, one = 1;
		socklen_t sl = sizeof(soerr);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			last_errno = errno;
			goto next;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r == 0) {
			timed_out = 1;
			close(fd);
			fd = -1;
			break;
		}
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
			last_errno = errno;
			goto next;
		}
		if (soerr == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
		last_errno = soerr;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	if (timed_out) {
		snprintf(msg, sizeof(msg), "timed out connecting to %s port %u", u->host, u->port);
		return fail_connect(why, WSC_FAIL_TIMEOUT, err, errlen, msg);
	}
	snprintf(msg, sizeof(msg), "cannot connect to %s port %u: %s", u->host, u->port,
	         last_errno ? strerror(last_errno) : "no usable address");
	return fail_connect(why, WSC_FAIL_CONNECT, err, errlen, msg);
}

static int is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Makes the TLS context: protocol floor, verification, trusted CAs. Done
 * before connecting, so that a bad --ca is reported as such. */
static int tls_context(struct wsc *c, const struct wsc_options *o, enum wsc_fail *why,
                       char *err, size_t errlen)
{
	char msg[512];

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return fail_connect(why, WSC_FAIL_NOMEM, err, errlen, "cannot create a TLS context");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* The WebSocket layer has its own framing, so a TCP close without a
	 * TLS close_notify is reported as close code 1006, not a TLS error. */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (o->insecure) {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
		ERR_clear_error();
		if (o->ca_file) {
			FILE *f = fopen(o->ca_file, "r");
			if (!f) {
				snprintf(msg, sizeof(msg), "cannot read CA file %s: %s", o->ca_file,
				         strerror(errno));
				return fail_connect(why, WSC_FAIL_TLS, err, errlen, msg);
			}
			fclose(f);
			if (SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1) {
				snprintf(msg, sizeof(msg), "cannot load CA file %s: %s", o->ca_file,
				         ssl_reason());
				return fail_connect(why, WSC_FAIL_TLS, err, errlen, msg);
			}
		} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
			snprintf(msg, sizeof(msg), "cannot load the system CA store: %s", ssl_reason());
			return fail_connect(why, WSC_FAIL_TLS, err, errlen, msg);
		}
	}
	return 0;
}

/* Makes the TLS session on c->fd and runs the TLS handshake. */
static int tls_start(struct wsc *c, const struct wsc_url *u, const struct wsc_options *o,
                     long long deadline, enum wsc_fail *why, char *err, size_t errlen)
{
	char msg[512];
	int r;

	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return fail_connect(why, WSC_FAIL_NOMEM, err, errlen, "cannot create a TLS session");
	if (!is_ip_literal(u->host)) {
		/* SNI carries DNS names only (RFC 6066 §3). */
		SSL_set_tlsext_host_name(c->ssl, u->host);
		if (!o->insecure && SSL_set1_host(c->ssl, u->host) != 1)
			return fail_connect(why, WSC_FAIL_TLS, err, errlen, "cannot set the expected host name");
	} else if (!o->insecure) {
		X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(param, u->host) != 1)
			return fail_connect(why, WSC_FAIL_TLS, err, errlen, "cannot set the expected IP address");
	}

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		if (!o->insecure && SSL_get_verify_result(c->ssl) != X509_V_OK) {
			long v = SSL_get_verify_result(c->ssl);
			snprintf(msg, sizeof(msg),
			         "certificate verification failed for %s: %s%s", u->host,
			         X509_verify_cert_error_string(v),
			         o->ca_file ? "" : " (pass --ca FILE to trust a private CA)");
			return fail_connect(why, WSC_FAIL_VERIFY, err, errlen, msg);
		}
		r = ssl_wait(c, r, deadline);
		if (r == IO_OK)
			continue;
		if (r == IO_TIMEOUT)
			return fail_connect(why, WSC_FAIL_TIMEOUT, err, errlen,
			                    "timed out during the TLS handshake");
		if (r == IO_EOF)
			snprintf(msg, sizeof(msg), "TLS handshake failed: the server closed the connection");
		else
			snprintf(msg, sizeof(msg), "TLS handshake failed: %s", c->err);
		return fail_connect(why, WSC_FAIL_TLS, err, errlen, msg);
	}
}

static int base64(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	if (outlen < 4 * ((n + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

/* Trims optional whitespace around s[0..*n) in place; returns the new start. */
static char *trim(char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

/* 1 if the comma-separated list v[0..n) contains token (case-insensitive). */
static int has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token);
	while (n > 0) {
		size_t k = 0, m;
		char *t;
		char item[64];
		while (k < n && v[k] != ',')
			k++;
		m = k < sizeof(item) - 1 ? k : sizeof(item) - 1;
		memcpy(item, v, m);
		t = trim(item, &m);
		if (m == tl && strncasecmp(t, token, tl) == 0)
			return 1;
		v += k < n ? k + 1 : k;
		n -= k < n ? k + 1 : k;
	}
	return 0;
}

/* Checks the upgrade response in hdr (NUL-terminated, ends with the blank
 * line). Returns 0 or -1 with a message in msg. */
static int check_response(char *hdr, const char *accept, const char *proto,
                          char *msg, size_t msglen)
{
	char *line = hdr, *eol;
	int got_upgrade = 0, got_conn = 0, got_accept = 0, got_proto = 0;

	eol = strstr(line, "\r\n");
	*eol = '\0';
	if (strncmp(line, "HTTP/1.1 ", 9) != 0 || strncmp(line + 9, "101", 3) != 0 ||
	    (line[12] != ' ' && line[12] != '\0')) {
		snprintf(msg, msglen, "the server refused the WebSocket upgrade: %.200s", line);
		return -1;
	}
	for (line = eol + 2; *line && strncmp(line, "\r\n", 2) != 0; line = eol + 2) {
		char *colon, *val;
		size_t namelen, vlen;
		eol = strstr(line, "\r\n");
		*eol = '\0';
		colon = strchr(line, ':');
		if (!colon) {
			snprintf(msg, msglen, "malformed header line in the upgrade response");
			return -1;
		}
		namelen = (size_t)(colon - line);
		vlen = (size_t)(eol - colon - 1);
		val = trim(colon + 1, &vlen);
		val[vlen] = '\0';
#define IS(name) (namelen == sizeof(name) - 1 && strncasecmp(line, name, namelen) == 0)
		if (IS("Upgrade"))
			got_upgrade = strcasecmp(val, "websocket") == 0;
		else if (IS("Connection"))
			got_conn = has_token(val, vlen, "upgrade");
		else if (IS("Sec-WebSocket-Accept"))
			got_accept = strcmp(val, accept) == 0 ? 1 : -1;
		else if (IS("Sec-WebSocket-Protocol"))
			got_proto = proto && strcmp(val, proto) == 0 ? 1 : -1;
		else if (IS("Sec-WebSocket-Extensions")) {
			snprintf(msg, msglen, "the server chose an extension that was not offered: %.100s", val);
			return -1;
		}
#undef IS
	}
	if (!got_upgrade || !got_conn) {
		snprintf(msg, msglen, "the upgrade response lacks Upgrade: websocket / Connection: upgrade");
		return -1;
	}
	if (got_accept != 1) {
		snprintf(msg, msglen, "the upgrade response has %s Sec-WebSocket-Accept",
		         got_accept ? "a wrong" : "no");
		return -1;
	}
	if (proto && got_proto != 1) {
		snprintf(msg, msglen, "the server did not accept the subprotocol %s", proto);
		return -1;
	}
	if (!proto && got_proto) {
		snprintf(msg, msglen, "the server chose a subprotocol that was not offered");
		return -1;
	}
	return 0;
}

static int safe_header_value(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Sends the HTTP upgrade request and checks the response; bytes after the
 * response header are kept in c->rbuf as the start of the frame stream. */
static int ws_upgrade(struct wsc *c, const struct wsc_url *u, const struct wsc_options *o,
                      long long deadline, enum wsc_fail *why, char *err, size_t errlen)
{
	unsigned char nonce[16], sha[SHA_DIGEST_LENGTH];
	char key[32], accept[40], keyguid[96], hostport[WSC_HOST_MAX + 16], msg[512];
	char req[WSC_TARGET_MAX + 1024], hdr[WSC_HTTP_MAX + 1];
	size_t hlen = 0;
	int n;

	if ((o->origin && !safe_header_value(o->origin)) ||
	    (o->user_agent && !safe_header_value(o->user_agent)) ||
	    (o->subprotocol && !safe_header_value(o->subprotocol)))
		return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen,
		                    "a header value contains a control character");
	if ((o->origin && strlen(o->origin) > 256) || (o->user_agent && strlen(o->user_agent) > 256) ||
	    (o->subprotocol && strlen(o->subprotocol) > 128))
		return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen, "a header value is too long");
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return fail_connect(why, WSC_FAIL_TLS, err, errlen, "no randomness for the WebSocket key");
	base64(nonce, sizeof(nonce), key, sizeof(key));
	snprintf(keyguid, sizeof(keyguid), "%s%s", key, WS_GUID);
	SHA1((const unsigned char *)keyguid, strlen(keyguid), sha);
	base64(sha, sizeof(sha), accept, sizeof(accept));

	if (u->port == 443)
		snprintf(hostport, sizeof(hostport), u->is_ipv6 ? "[%s]" : "%s", u->host);
	else
		snprintf(hostport, sizeof(hostport), u->is_ipv6 ? "[%s]:%u" : "%s:%u", u->host, u->port);
	n = snprintf(req, sizeof(req),
	             "GET %s HTTP/1.1\r\n"
	             "Host: %s\r\n"
	             "Upgrade: websocket\r\n"
	             "Connection: Upgrade\r\n"
	             "Sec-WebSocket-Key: %s\r\n"
	             "Sec-WebSocket-Version: 13\r\n"
	             "%s%s%s"
	             "%s%s%s"
	             "%s%s%s"
	             "\r\n",
	             u->target, hostport, key,
	             o->subprotocol ? "Sec-WebSocket-Protocol: " : "",
	             o->subprotocol ? o->subprotocol : "", o->subprotocol ? "\r\n" : "",
	             o->origin ? "Origin: " : "", o->origin ? o->origin : "",
	             o->origin ? "\r\n" : "",
	             o->user_agent ? "User-Agent: " : "", o->user_agent ? o->user_agent : "",
	             o->user_agent ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen, "upgrade request too long");
	n = tls_write_all(c, req, (size_t)n, deadline);
	if (n == IO_TIMEOUT)
		return fail_connect(why, WSC_FAIL_TIMEOUT, err, errlen, "timed out sending the upgrade request");
	if (n != IO_OK)
		return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen,
		                    n == IO_EOF ? "the server closed the connection during the upgrade" : c->err);

	for (;;) {
		char *end;
		size_t body;
		if (hlen == WSC_HTTP_MAX)
			return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen,
			                    "the upgrade response header is too large");
		n = tls_read(c, hdr + hlen, WSC_HTTP_MAX - hlen, deadline);
		if (n == IO_TIMEOUT)
			return fail_connect(why, WSC_FAIL_TIMEOUT, err, errlen,
			                    "timed out waiting for the upgrade response");
		if (n == IO_EOF)
			return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen,
			                    "the server closed the connection during the upgrade");
		if (n < 0)
			return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen, c->err);
		hlen += (size_t)n;
		hdr[hlen] = '\0';
		if (memchr(hdr, '\0', hlen))
			return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen,
			                    "the upgrade response contains a NUL byte");
		end = strstr(hdr, "\r\n\r\n");
		if (!end)
			continue;
		end += 4;
		body = hlen - (size_t)(end - hdr);
		/* Frames that came with the header; the header is at most
		 * WSC_HTTP_MAX < RBUF_SIZE bytes, so they fit. */
		memcpy(c->rbuf, end, body);
		c->rlen = body;
		end[-2] = '\0'; /* keep one CRLF after the last header line */
		if (check_response(hdr, accept, o->subprotocol, msg, sizeof(msg)) < 0)
			return fail_connect(why, WSC_FAIL_HANDSHAKE, err, errlen, msg);
		return 0;
	}
}

struct wsc *wsc_connect(const char *url, const struct wsc_options *opt,
                        enum wsc_fail *why, char *err, size_t errlen)
{
	static const struct wsc_options defaults = { 0 };
	const struct wsc_options *o = opt ? opt : &defaults;
	struct wsc_url u;
	struct wsc *c;
	long long deadline;
	int timeout = o->timeout_ms > 0 ? o->timeout_ms : 10000;

	if (why)
		*why = WSC_FAIL_NONE;
	if (err && errlen)
		err[0] = '\0';
	if (wsc_url_parse(url, &u, err, errlen) < 0) {
		if (why)
			*why = WSC_FAIL_URL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fail_connect(why, WSC_FAIL_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->state = ST_BROKEN;
	c->send_timeout_ms = timeout;
	c->max_message = o->max_message ? o->max_message : WSC_DEFAULT_MAX_MESSAGE;
	deadline = now_ms() + timeout;

	if (tls_context(c, o, why, err, errlen) < 0) {
		wsc_free(c);
		return NULL;
	}
	c->fd = tcp_connect(&u, deadline, why, err, errlen);
	if (c->fd < 0 || tls_start(c, &u, o, deadline, why, err, errlen) < 0 ||
	    ws_upgrade(c, &u, o, deadline, why, err, errlen) < 0) {
		wsc_free(c);
		return NULL;
	}
	c->state = ST_OPEN;
	c->err[0] = '\0';
	return c;
}

/* ---- sending ----------------------------------------------------------------------- */

/* Sends one masked frame with FIN set. Returns 0 or -1 (handle BROKEN). */
static int send_frame(struct wsc *c, int op, const void *payload, size_t len)
{
	unsigned char buf[14 + SEND_CHUNK], mask[4];
	const unsigned char *p = payload;
	size_t h = 0, off = 0, i;
	long long deadline = deadline_in(c->send_timeout_ms);
	int r;

	if (RAND_bytes(mask, sizeof(mask)) != 1) {
		set_err(c, "%s", "no randomness for the frame mask");
		c->state = ST_BROKEN;
		return -1;
	}
	buf[h++] = (unsigned char)(0x80 | op);
	if (len < 126) {
		buf[h++] = (unsigned char)(0x80 | len);
	} else if (len <= 0xffff) {
		buf[h++] = 0x80 | 126;
		buf[h++] = (unsigned char)(len >> 8);
		buf[h++] = (unsigned char)len;
	} else {
		buf[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			buf[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(buf + h, mask, 4);
	h += 4;
	do {
		size_t n = len - off < SEND_CHUNK ? len - off : SEND_CHUNK;
		for (i = 0; i < n; i++)
			buf[h + i] = p[off + i] ^ mask[(off + i) & 3];
		r = tls_write_all(c, buf, h + n, deadline);
		if (r != IO_OK) {
			if (r == IO_TIMEOUT)
				set_err(c, "%s", "timed out sending");
			else if (r == IO_EOF)
				set_err(c, "%s", "the server closed the connection while sending");
			c->state = ST_BROKEN;
			return -1;
		}
		off += n;
		h = 0;
	} while (off < len);
	return 0;
}

static int send_data(struct wsc *c, int op, const void *buf, size_t len)
{
	if (c->state != ST_OPEN) {
		if (c->state != ST_BROKEN)
			set_err(c, "%s", "the connection is closing");
		return -1;
	}
	return send_frame(c, op, buf, len);
}

int wsc_send_text(struct wsc *c, const char *buf, size_t len)
{
	return send_data(c, OP_TEXT, buf, len);
}

int wsc_send_binary(struct wsc *c, const void *buf, size_t len)
{
	return send_data(c, OP_BINARY, buf, len);
}

static int send_close(struct wsc *c, int code, const char *reason)
{
	unsigned char p[125];
	size_t n = 0, rl = reason ? strlen(reason) : 0;
	if (code > 0) {
		if (rl > 123)
			rl = 123;
		p[0] = (unsigned char)(code >> 8);
		p[1] = (unsigned char)code;
		memcpy(p + 2, reason ? reason : "", rl);
		n = 2 + rl;
	}
	return send_frame(c, OP_CLOSE, p, n);
}

/* ---- receiving ------------------------------------------------------------------------ */

/* Fails the connection with close code (if still possible) and message. */
static int protocol_fail(struct wsc *c, int code, const char *msg)
{
	if (c->state == ST_OPEN)
		send_close(c, code, NULL);
	set_err(c, "%s", msg);
	c->state = ST_BROKEN;
	return WSC_ERROR;
}

/* Reads more bytes into rbuf. Returns IO_OK, IO_TIMEOUT, IO_ERR, IO_EOF. */
static int fill(struct wsc *c, long long deadline)
{
	int n;
	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	n = tls_read(c, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, deadline);
	if (n > 0) {
		c->rlen += (size_t)n;
		return IO_OK;
	}
	return n;
}

static int closing_code_ok(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* Parses a frame header from rbuf. Returns 1 when parsed, 0 when more bytes
 * are needed, WSC_ERROR on a protocol violation. */
static int parse_header(struct wsc *c)
{
	const unsigned char *b = c->rbuf + c->rpos;
	size_t avail = c->rlen - c->rpos, need = 2, i;
	uint64_t len;
	int op, fin, control;

	if (avail < 2)
		return 0;
	fin = (b[0] & 0x80) != 0;
	op = b[0] & 0x0f;
	if (b[0] & 0x70)
		return protocol_fail(c, 1002, "the server set reserved bits in a frame");
	if (b[1] & 0x80)
		return protocol_fail(c, 1002, "the server sent a masked frame");
	len = b[1] & 0x7f;
	if (len == 126)
		need = 4;
	else if (len == 127)
		need = 10;
	if (avail < need)
		return 0;
	if (len == 126) {
		len = ((uint64_t)b[2] << 8) | b[3];
	} else if (len == 127) {
		len = 0;
		for (i = 0; i < 8; i++)
			len = (len << 8) | b[2 + i];
		if (len >> 63)
			return protocol_fail(c, 1002, "the server sent a frame length with the top bit set");
	}
	control = (op & 0x8) != 0;
	if (control) {
		if (op != OP_CLOSE && op != OP_PING && op != OP_PONG)
			return protocol_fail(c, 1002, "the server sent an unknown control opcode");
		if (!fin || len > 125)
			return protocol_fail(c, 1002, "the server sent a fragmented or oversized control frame");
		c->ctrl_len = 0;
	} else {
		if (op != OP_CONT && op != OP_TEXT && op != OP_BINARY)
			return protocol_fail(c, 1002, "the server sent an unknown data opcode");
		if (op == OP_CONT && !c->msg_op)
			return protocol_fail(c, 1002, "the server sent a continuation without a message");
		if (op != OP_CONT && c->msg_op)
			return protocol_fail(c, 1002, "the server started a message inside another");
		if (len > c->max_message - c->msg_len)
			return protocol_fail(c, 1009, "the server sent a message larger than the receive limit");
		if (op != OP_CONT)
			c->msg_op = op;
		if (c->msg_len + len + 1 > c->msg_cap) {
			size_t want = c->msg_cap ? c->msg_cap * 2 : 4096;
			char *m;
			if (want < c->msg_len + len + 1)
				want = c->msg_len + (size_t)len + 1;
			if (want > c->max_message + 1)
				want = c->max_message + 1;
			m = realloc(c->msg, want);
			if (!m)
				return protocol_fail(c, 1011, "out of memory receiving a message");
			c->msg = m;
			c->msg_cap = want;
		}
	}
	c->rpos += need;
	c->in_frame = 1;
	c->fr_op = op;
	c->fr_fin = fin;
	c->fr_left = len;
	return 1;
}

/* A complete control frame in ctrl. Returns -10 to go on reading, or a
 * wsc_result to return. */
static int on_control(struct wsc *c)
{
	if (c->fr_op == OP_PING) {
		if (c->state == ST_OPEN && send_frame(c, OP_PONG, c->ctrl, c->ctrl_len) < 0)
			return WSC_ERROR;
		return -10;
	}
	if (c->fr_op == OP_PONG)
		return -10;
	/* close */
	if (c->ctrl_len == 1)
		return protocol_fail(c, 1002, "the server sent a one-byte close payload");
	c->close_code = 1005;
	c->close_reason[0] = '\0';
	if (c->ctrl_len >= 2) {
		size_t rl = c->ctrl_len - 2;
		c->close_code = (c->ctrl[0] << 8) | c->ctrl[1];
		memcpy(c->close_reason, c->ctrl + 2, rl);
		c->close_reason[rl] = '\0';
	}
	if (c->state == ST_OPEN) {
		/* Echo the code, as RFC 6455 §5.5.1 asks; a code that may not
		 * be sent is answered with 1002. */
		int echo = c->ctrl_len < 2 ? 0 : closing_code_ok(c->close_code) ? c->close_code : 1002;
		send_close(c, echo, NULL);
	}
	if (c->state != ST_BROKEN)
		c->state = ST_CLOSED;
	return WSC_CLOSED;
}

/* Reads frames until a data message completes. */
static int pump(struct wsc *c, long long deadline)
{
	for (;;) {
		size_t avail, n;
		int r;

		if (!c->in_frame) {
			r = parse_header(c);
			if (r < 0)
				return r;
			if (r == 0)
				goto need_more;
		}
		avail = c->rlen - c->rpos;
		n = c->fr_left < avail ? (size_t)c->fr_left : avail;
		if (n) {
			if (c->fr_op & 0x8) {
				memcpy(c->ctrl + c->ctrl_len, c->rbuf + c->rpos, n);
				c->ctrl_len += n;
			} else {
				memcpy(c->msg + c->msg_len, c->rbuf + c->rpos, n);
				c->msg_len += n;
			}
			c->rpos += n;
			c->fr_left -= n;
		}
		if (c->fr_left > 0)
			goto need_more;

		c->in_frame = 0;
		if (c->fr_op & 0x8) {
			r = on_control(c);
			if (r != -10)
				return r;
			continue;
		}
		if (!c->fr_fin)
			continue;
		c->msg[c->msg_len] = '\0';
		if (c->msg_op == OP_TEXT && !tv_utf8_valid(c->msg, c->msg_len))
			return protocol_fail(c, 1007, "the server sent a text message that is not UTF-8");
		return WSC_MESSAGE;

need_more:
		r = fill(c, deadline);
		if (r == IO_OK)
			continue;
		if (r == IO_TIMEOUT)
			return WSC_TIMEOUT;
		if (r == IO_EOF) {
			c->close_code = 1006;
			snprintf(c->close_reason, sizeof(c->close_reason),
			         "connection closed without a close frame");
			c->state = ST_CLOSED;
			return WSC_CLOSED;
		}
		c->state = ST_BROKEN;
		return WSC_ERROR;
	}
}

int wsc_recv(struct wsc *c, int timeout_ms, char **buf, size_t *len, int *binary)
{
	int r;
	if (c->state == ST_CLOSED)
		return WSC_CLOSED;
	if (c->state == ST_BROKEN)
		return WSC_ERROR;
	r = pump(c, deadline_in(timeout_ms));
	if (r != WSC_MESSAGE)
		return r;
	*buf = c->msg;
	*len = c->msg_len;
	if (binary)
		*binary = c->msg_op == OP_BINARY;
	c->msg = NULL;
	c->msg_len = c->msg_cap = 0;
	c->msg_op = 0;
	return WSC_MESSAGE;
}

int wsc_close(struct wsc *c, int code, const char *reason, int timeout_ms)
{
	long long deadline = deadline_in(timeout_ms);
	if (c->state == ST_CLOSED)
		return 0;
	if (c->state == ST_OPEN) {
		if (send_close(c, code, reason) < 0)
			return -1;
		c->state = ST_CLOSING;
	}
	while (c->state == ST_CLOSING) {
		int r = pump(c, deadline);
		if (r == WSC_MESSAGE) {
			/* Data that crossed our close frame: dropped. */
			c->msg_len = 0;
			c->msg_op = 0;
			continue;
		}
		if (r == WSC_CLOSED)
			return 0;
		return -1;
	}
	return c->state == ST_CLOSED ? 0 : -1;
}

int wsc_close_code(const struct wsc *c)
{
	return c->close_code;
}

const char *wsc_close_reason(const struct wsc *c)
{
	return c->close_reason;
}

const char *wsc_errmsg(const struct wsc *c)
{
	return c->err;
}

void wsc_free(struct wsc *c)
{
	if (!c)
		return;
	if (c->ssl) {
		if (c->state != ST_BROKEN) {
			ERR_clear_error();
			SSL_shutdown(c->ssl);
		}
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c->msg);
	free(c);
	ERR_clear_error();
}
