/*
 * tls_ws_conn.c: TLS + WebSocket client connection on libuv (see
 * tls_ws_conn.h for the lifecycle and invariants).
 *
 * Responsible for moving bytes between a uv_tcp_t and OpenSSL through two
 * memory BIOs, and for RFC 6455 client framing. Not responsible for what
 * the messages mean. Masks come from a xorshift generator rather than a
 * CSPRNG: masking defends browsers against cache poisoning by hostile
 * pages, which does not apply to a load generator, and RAND_bytes per
 * frame would cost more than the rest of the send path.
 *
 * Data path in:  on_read -> BIO_write(rbio) -> SSL_read -> feed ->
 *                (HTTP: http_response) | (frames: parse_frames) -> on_message
 * Data path out: twc_send_text -> frame into lp->out -> SSL_write ->
 *                flush: BIO_read(wbio) -> uv_try_write, rest uv_write
 *
 * Invariants:
 *  1. rx holds bytes only while a frame (or the HTTP response) is
 *     incomplete; it is freed when it empties and it grew past 16 KiB.
 *  2. After state becomes TWC_CLOSED no callback other than on_close runs
 *     and nothing more is written.
 *  3. lp->plain is written only by SSL_read in tls_progress; everything
 *     sent is built in lp->out, so a callback may send while its message
 *     (which may point into lp->plain) is still being read.
 */
#include "tls_ws_conn.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HTTP_MAX 8192
#define KEEP_RX 16384

struct write_req {
	uv_write_t req;
	char data[];
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

struct ssl_ctx_st *twc_tls_ctx_new(const char *ca_file, int insecure,
                                   const char *ip, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	                 SSL_MODE_ENABLE_PARTIAL_WRITE |
	                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
	                    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load CA %s", ca_file ? ca_file : "(system)");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ip != NULL &&
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), ip) != 1) {
		snprintf(err, errlen, "bad address %s for certificate check", ip);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void twc_tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

void twc_loop_init(struct twc_loop *lp, uv_loop_t *loop,
                   struct ssl_ctx_st *ctx, const char *ip, int port,
                   const char *path, const char *subprotocol, uint64_t seed)
{
	lp->loop = loop;
	lp->ssl_ctx = ctx;
	lp->ntargets = 0;
	lp->next_target = 0;
	twc_loop_add_target(lp, ip, port);
	lp->path = path;
	lp->subprotocol = subprotocol;
	lp->max_message = 16u << 20;
	lp->rng = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	if (lp->rng == 0)
		lp->rng = 1;
}

size_t twc_write_queue(const struct twc *c)
{
	return c->state >= TWC_TCP && c->state < TWC_CLOSED
	       ? c->tcp.write_queue_size : 0;
}

/* ---- teardown ------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
	struct twc *c = h->data;

	if (c->ssl != NULL)
		SSL_free(c->ssl); /* frees both BIOs */
	c->ssl = NULL;
	free(c->rx);
	free(c->msg);
	c->rx = c->msg = NULL;
	c->rx_len = c->rx_cap = c->msg_len = c->msg_cap = 0;
	c->cbs->on_close(c, c->close_code, c->err);
}

void twc_abort(struct twc *c, int err)
{
	if (c->state == TWC_CLOSED || c->state == TWC_IDLE)
		return;
	if (c->err == 0)
		c->err = err;
	c->state = TWC_CLOSED;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* ---- output -------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
	struct twc *c = req->handle->data;

	free(req);
	if (status < 0 && status != UV_ECANCELED)
		twc_abort(c, status);
}

/* Moves every encrypted byte OpenSSL produced to the socket. 0 or the
 * connection is aborted (negative). */
static int flush(struct twc *c)
{
	struct twc_loop *lp = c->lp;

	while (BIO_ctrl_pending(c->wbio) > 0) {
		int n = BIO_read(c->wbio, lp->net, sizeof(lp->net));
		int w = 0;
		struct write_req *wr;
		uv_buf_t b;

		if (n <= 0)
			break;
		if (c->tcp.write_queue_size == 0) {
			b = uv_buf_init(lp->net, (unsigned)n);
			w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
			if (w == UV_EAGAIN)
				w = 0;
			else if (w < 0) {
				twc_abort(c, w);
				return w;
			}
			if (w == n)
				continue;
		}
		wr = malloc(sizeof(*wr) + (size_t)(n - w));
		if (wr == NULL) {
			twc_abort(c, UV_ENOMEM);
			return UV_ENOMEM;
		}
		memcpy(wr->data, lp->net + w, (size_t)(n - w));
		b = uv_buf_init(wr->data, (unsigned)(n - w));
		w = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
		if (w < 0) {
			free(wr);
			twc_abort(c, w);
			return w;
		}
	}
	return 0;
}

/* Encrypts len bytes and flushes them. 0 or negative (aborted). */
static int write_plain(struct twc *c, const char *data, size_t len)
{
	while (len > 0) {
		int n = SSL_write(c->ssl, data, (int)(len > 16384 ? 16384 : len));

		if (n <= 0) {
			twc_abort(c, TWC_E_TLS);
			return TWC_E_TLS;
		}
		data += n;
		len -= (size_t)n;
		if (BIO_ctrl_pending(c->wbio) >= sizeof(c->lp->net) / 2 && flush(c) < 0)
			return c->err;
	}
	return flush(c);
}

/* Writes one masked frame of opcode op. Uses lp->out as scratch unless
 * the frame is larger (never lp->plain: it may hold the frame whose
 * on_message callback is sending). */
static int send_frame(struct twc *c, unsigned op, const char *data, size_t len)
{
	struct twc_loop *lp = c->lp;
	size_t hdr = 2 + 4 + (len < 126 ? 0 : len < 65536 ? 2 : 8);
	char *buf = hdr + len <= sizeof(lp->out) ? lp->out : malloc(hdr + len);
	unsigned char *h = (unsigned char *)buf;
	uint32_t m = (uint32_t)rng_next(&lp->rng);
	unsigned char mask[4];
	size_t i = 2;
	int rc;

	if (buf == NULL)
		return UV_ENOMEM;
	h[0] = (unsigned char)(0x80 | op);
	if (len < 126) {
		h[1] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		i = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int k = 0; k < 8; k++)
			h[2 + k] = (unsigned char)((uint64_t)len >> (56 - 8 * k));
		i = 10;
	}
	memcpy(mask, &m, 4);
	memcpy(h + i, mask, 4);
	i += 4;
	for (size_t k = 0; k < len; k++)
		h[i + k] = (unsigned char)data[k] ^ mask[k & 3];
	rc = write_plain(c, buf, i + len);
	if (buf != lp->out)
		free(buf);
	return rc;
}

int twc_send_text(struct twc *c, const char *data, size_t len)
{
	if (c->state != TWC_OPEN)
		return UV_ENOTCONN;
	return send_frame(c, 0x1, data, len);
}

int twc_close(struct twc *c, int code)
{
	unsigned char p[2] = { (unsigned char)(code >> 8), (unsigned char)code };
	int rc;

	if (c->state != TWC_OPEN) {
		twc_abort(c, 0);
		return 0;
	}
	rc = send_frame(c, 0x8, (const char *)p, 2);
	if (rc == 0 && c->state == TWC_OPEN)
		c->state = TWC_CLOSING;
	return rc;
}

/* ---- input: frames -------------------------------------------------------- */

static int grow(char **buf, uint32_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 512;
	char *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > UINT32_MAX)
		return -1;
	p = realloc(*buf, n);
	if (p == NULL)
		return -1;
	*buf = p;
	*cap = (uint32_t)n;
	return 0;
}

/* Handles one complete control frame. */
static void control_frame(struct twc *c, unsigned op, const char *p, size_t len)
{
	if (op == 0x9) {
		send_frame(c, 0xA, p, len);
	} else if (op == 0x8) {
		c->close_code = len >= 2 ? (uint16_t)(((unsigned char)p[0] << 8) |
		                                      (unsigned char)p[1]) : 1005;
		if (c->state == TWC_OPEN && len >= 2)
			send_frame(c, 0x8, p, 2);
		twc_abort(c, 0);
	}
}

/* Handles one complete data frame; returns -1 when the connection failed. */
static int data_frame(struct twc *c, int fin, unsigned op, const char *p, size_t len)
{
	if (op != 0) { /* first frame of a message */
		if (c->msg_open)
			return -1;
		if (fin) {
			c->cbs->on_message(c, p, len);
			return 0;
		}
		c->msg_open = 1;
		c->msg_len = 0;
	} else if (!c->msg_open) {
		return -1;
	}
	if ((size_t)c->msg_len + len > c->lp->max_message) {
		twc_abort(c, TWC_E_TOO_BIG);
		return -1;
	}
	if (grow(&c->msg, &c->msg_cap, (size_t)c->msg_len + len) < 0)
		return -1;
	memcpy(c->msg + c->msg_len, p, len);
	c->msg_len += (uint32_t)len;
	if (fin) {
		c->msg_open = 0;
		c->cbs->on_message(c, c->msg, c->msg_len);
		if (c->msg_cap > KEEP_RX) {
			free(c->msg);
			c->msg = NULL;
			c->msg_cap = 0;
		}
		c->msg_len = 0;
	}
	return 0;
}

/* Parses as many whole frames as buf holds; returns bytes consumed, or -1
 * when the connection was failed. */
static long parse_frames(struct twc *c, const char *buf, size_t len)
{
	size_t off = 0;

	while (c->state == TWC_OPEN || c->state == TWC_CLOSING) {
		const unsigned char *h = (const unsigned char *)buf + off;
		size_t avail = len - off, hl = 2;
		uint64_t plen;
		int fin, masked;
		unsigned op;

		if (avail < 2)
			break;
		fin = h[0] & 0x80;
		op = h[0] & 0x0f;
		masked = h[1] & 0x80;
		plen = h[1] & 0x7f;
		if (plen == 126) {
			hl = 4;
			if (avail < hl)
				break;
			plen = ((uint64_t)h[2] << 8) | h[3];
		} else if (plen == 127) {
			hl = 10;
			if (avail < hl)
				break;
			plen = 0;
			for (int k = 0; k < 8; k++)
				plen = (plen << 8) | h[2 + k];
		}
		if (masked || (h[0] & 0x70) || plen > c->lp->max_message ||
		    (op >= 8 && (plen > 125 || !fin)) || (op > 2 && op < 8) || op > 10) {
			twc_abort(c, plen > c->lp->max_message ? TWC_E_TOO_BIG : TWC_E_PROTOCOL);
			return -1;
		}
		if (avail < hl + plen)
			break;
		if (op >= 8)
			control_frame(c, op, (const char *)h + hl, (size_t)plen);
		else if (data_frame(c, fin, op, (const char *)h + hl, (size_t)plen) < 0) {
			twc_abort(c, TWC_E_PROTOCOL);
			return -1;
		}
		off += hl + (size_t)plen;
	}
	return (long)off;
}

/* ---- input: HTTP upgrade response ----------------------------------------- */

/* Value of header name in the response head (NUL-terminated), copied into
 * out; 0 or -1 when absent. */
static int header_value(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r') {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (end == NULL)
			return -1;
		if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			n = (size_t)(end - v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= outlen)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

/* Checks a complete response head (NUL-terminated). 0 when it is a valid
 * 101 for our key and subprotocol. */
static int check_response(struct twc *c, const char *head)
{
	char v[128], want[64];
	unsigned char sha[SHA_DIGEST_LENGTH];
	char src[64];

	if (strncmp(head, "HTTP/1.1 101", 12) != 0)
		return -1;
	snprintf(src, sizeof(src), "%s%s", c->key, WS_GUID);
	SHA1((const unsigned char *)src, strlen(src), sha);
	EVP_EncodeBlock((unsigned char *)want, sha, SHA_DIGEST_LENGTH);
	if (header_value(head, "sec-websocket-accept", v, sizeof(v)) < 0 ||
	    strcmp(v, want) != 0)
		return -1;
	if (c->lp->subprotocol != NULL &&
	    (header_value(head, "sec-websocket-protocol", v, sizeof(v)) < 0 ||
	     strcmp(v, c->lp->subprotocol) != 0))
		return -1;
	return 0;
}

/* Takes decrypted bytes in any post-TLS state. */
static void feed(struct twc *c, const char *p, size_t n)
{
	long used;

	if (c->state == TWC_HTTP) {
		char *end;
		size_t head;

		if (c->rx_len + n + 1 > HTTP_MAX ||
		    grow(&c->rx, &c->rx_cap, c->rx_len + n + 1) < 0) {
			twc_abort(c, TWC_E_HANDSHAKE);
			return;
		}
		memcpy(c->rx + c->rx_len, p, n);
		c->rx_len += (uint32_t)n;
		c->rx[c->rx_len] = '\0';
		end = strstr(c->rx, "\r\n\r\n");
		if (end == NULL)
			return;
		head = (size_t)(end - c->rx) + 4;
		end[2] = '\0';
		if (check_response(c, c->rx) < 0) {
			twc_abort(c, TWC_E_HANDSHAKE);
			return;
		}
		c->state = TWC_OPEN;
		c->rx_len -= (uint32_t)head;
		memmove(c->rx, c->rx + head, c->rx_len);
		c->cbs->on_open(c);
		if (c->rx_len == 0 || c->state != TWC_OPEN)
			return;
		/* frames that arrived with the response: parse from rx below */
		p = NULL;
		n = 0;
	}
	if (c->rx_len == 0) {
		used = parse_frames(c, p, n);
		if (used < 0 || c->state == TWC_CLOSED)
			return;
		p += used;
		n -= (size_t)used;
		if (n == 0)
			return;
	}
	if (n > 0) {
		if (grow(&c->rx, &c->rx_cap, (size_t)c->rx_len + n) < 0) {
			twc_abort(c, UV_ENOMEM);
			return;
		}
		memcpy(c->rx + c->rx_len, p, n);
		c->rx_len += (uint32_t)n;
	}
	used = parse_frames(c, c->rx, c->rx_len);
	if (used < 0 || c->state == TWC_CLOSED)
		return;
	c->rx_len -= (uint32_t)used;
	memmove(c->rx, c->rx + used, c->rx_len);
	if (c->rx_len == 0 && c->rx_cap > KEEP_RX) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
}

/* ---- TLS and socket events ------------------------------------------------ */

int twc_loop_add_target(struct twc_loop *lp, const char *ip, int port)
{
	if (lp->ntargets >= TWC_MAX_TARGETS)
		return -1;
	uv_ip4_addr(ip, port, &lp->addr[lp->ntargets]);
	snprintf(lp->host[lp->ntargets], sizeof(lp->host[0]), "%s:%d", ip, port);
	lp->ntargets++;
	return 0;
}

static void send_upgrade(struct twc *c)
{
	struct twc_loop *lp = c->lp;
	unsigned char raw[16];
	uint64_t a = rng_next(&lp->rng), b = rng_next(&lp->rng);
	int n;

	memcpy(raw, &a, 8);
	memcpy(raw + 8, &b, 8);
	EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
	n = snprintf(lp->out, sizeof(lp->out),
	             "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	             "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
	             lp->path, lp->host[c->target], c->key,
	             lp->subprotocol ? "Sec-WebSocket-Protocol: " : "",
	             lp->subprotocol ? lp->subprotocol : "",
	             lp->subprotocol ? "\r\n" : "");
	c->state = TWC_HTTP;
	write_plain(c, lp->out, (size_t)n);
}

/* Drives the handshake, then reads every decrypted byte available. */
static void tls_progress(struct twc *c)
{
	struct twc_loop *lp = c->lp;

	if (c->state == TWC_TLS) {
		int r = SSL_do_handshake(c->ssl);

		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				flush(c);
				return;
			}
			twc_abort(c, TWC_E_TLS);
			return;
		}
		if (flush(c) < 0)
			return;
		send_upgrade(c);
	}
	while (c->state >= TWC_HTTP && c->state < TWC_CLOSED) {
		int n = SSL_read(c->ssl, lp->plain, sizeof(lp->plain));

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_ZERO_RETURN)
				twc_abort(c, 0);
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				twc_abort(c, TWC_E_TLS);
			break;
		}
		feed(c, lp->plain, (size_t)n);
	}
	if (c->state != TWC_CLOSED)
		flush(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct twc *c = h->data;

	*buf = uv_buf_init(c->lp->rbuf, sizeof(c->lp->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct twc *c = s->data;

	if (nread < 0) {
		twc_abort(c, nread == UV_EOF && c->close_code ? 0 : (int)nread);
		return;
	}
	if (nread == 0 || c->state == TWC_CLOSED)
		return;
	if (BIO_write(c->rbio, buf->base, (int)nread) != nread) {
		twc_abort(c, UV_ENOMEM);
		return;
	}
	tls_progress(c);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct twc *c = req->handle->data;

	if (c->state == TWC_CLOSED)
		return;
	if (status < 0) {
		twc_abort(c, status);
		return;
	}
	c->ssl = SSL_new(c->lp->ssl_ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		c->rbio = c->wbio = NULL;
		twc_abort(c, UV_ENOMEM);
		return;
	}
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_connect_state(c->ssl);
	c->state = TWC_TLS;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
		twc_abort(c, TWC_E_TLS);
		return;
	}
	tls_progress(c);
}

int twc_connect(struct twc *c, struct twc_loop *lp, const struct twc_cbs *cbs,
                void *user)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->lp = lp;
	c->cbs = cbs;
	c->user = user;
	c->target = (uint8_t)(lp->next_target++ % lp->ntargets);
	rc = uv_tcp_init(lp->loop, &c->tcp);
	if (rc < 0)
		return rc;
	c->tcp.data = c;
	c->state = TWC_TCP;
	uv_tcp_nodelay(&c->tcp, 1);
	rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&lp->addr[c->target],
	                    on_connect);
	if (rc < 0) {
		/* the handle exists: close it, on_close reports the error */
		twc_abort(c, rc);
	}
	return 0;
}
