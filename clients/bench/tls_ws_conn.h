/*
 * tls_ws_conn.h: one client WebSocket connection over TLS on a libuv loop.
 *
 * Responsible for: the TCP connect (uv_tcp_t), TLS through OpenSSL memory
 * BIOs (the socket is libuv's, OpenSSL only transforms bytes), the HTTP/1.1
 * Upgrade handshake with accept-hash and subprotocol checks, masked client
 * frames out, server frames in (fragmented messages reassembled, pings
 * answered, close echoed), and freeing everything it allocated. Not
 * responsible for: JSON, reconnecting, timers, or anything tavla-specific.
 * It is the only file of tavla-bench that includes OpenSSL headers.
 *
 * Lifecycle (the function performing each arrow in brackets):
 *
 *   twc_connect() ─> TCP ─[on_connect]─> TLS ─[tls_progress]─> HTTP
 *     ─[http_response: 101 checked]─> OPEN (cbs->on_open)
 *   OPEN ─[twc_close]─> CLOSING ─[server close frame]─> CLOSED
 *   OPEN ─[server close frame, echoed]─> CLOSED
 *   any state ─[I/O, TLS or protocol error, twc_abort]─> CLOSED
 *   CLOSED: uv_close(); its callback frees the SSL and buffers and then
 *   calls cbs->on_close, after which the owner may free the struct.
 *
 * Memory per connection: the struct (about 250 bytes) plus OpenSSL's SSL
 * object (released buffers between records, SSL_MODE_RELEASE_BUFFERS),
 * two memory BIOs, and buffers for a partial frame or fragmented message
 * that exist only while one is pending. Reads land in one buffer per loop.
 *
 * Invariants:
 *  1. cbs->on_close is called exactly once per successful twc_connect(),
 *     from the uv_close callback, never synchronously inside twc_*().
 *  2. cbs->on_message is called only in state OPEN or CLOSING, once per
 *     complete data message, with the payload borrowed until it returns.
 *  3. Bytes are written to the socket in the order twc_send_*() produced
 *     them (uv_try_write only when libuv's write queue is empty).
 */
#ifndef TV_BENCH_TLS_WS_CONN_H
#define TV_BENCH_TLS_WS_CONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;
struct twc;

#define TWC_LOOP_BUF (64 * 1024)
/* Most servers one loop spreads its connections over (a cluster's nodes). */
#define TWC_MAX_TARGETS 16

/* Per-loop shared state: one per thread, borrowed by every connection on
 * that loop. The SSL_CTX may be shared by several loops (read-only after
 * twc_tls_ctx_new). */
struct twc_loop {
	uv_loop_t *loop;
	struct ssl_ctx_st *ssl_ctx;
	/* The servers: connection k of this loop goes to target k mod
	 * ntargets (round-robin, counted by next_target). */
	struct sockaddr_in addr[TWC_MAX_TARGETS];
	char host[TWC_MAX_TARGETS][64]; /* Host header values, "127.0.0.1:8443" */
	int ntargets, next_target;
	const char *path;      /* "/ws" */
	const char *subprotocol; /* offered and required; NULL: none */
	size_t max_message;    /* larger server messages fail the connection */
	uint64_t rng;          /* xorshift state for keys and masks */
	char rbuf[TWC_LOOP_BUF];  /* libuv read buffer */
	char plain[TWC_LOOP_BUF]; /* decrypted bytes, being parsed */
	char out[TWC_LOOP_BUF];   /* a frame being built (callbacks may send
	                           * while plain is still being parsed) */
	char net[TWC_LOOP_BUF];   /* encrypted bytes on their way out */
};

struct twc_cbs {
	void (*on_open)(struct twc *c);
	/* A complete text or binary message; data borrowed, not NUL-ended. */
	void (*on_message)(struct twc *c, const char *data, size_t len);
	/* The connection is gone. code: the server's close code, 0 if none
	 * came; err: 0, or a negative libuv error / TWC_E_* on failure. */
	void (*on_close)(struct twc *c, int code, int err);
};

enum twc_state {
	TWC_IDLE = 0, TWC_TCP, TWC_TLS, TWC_HTTP, TWC_OPEN, TWC_CLOSING, TWC_CLOSED
};

#define TWC_E_TLS (-10001)      /* handshake or record failure */
#define TWC_E_HANDSHAKE (-10002) /* HTTP response not a valid 101 */
#define TWC_E_PROTOCOL (-10003)  /* bad frame from the server */
#define TWC_E_TOO_BIG (-10004)   /* message over max_message */

struct twc {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct twc_loop *lp;       /* borrowed */
	const struct twc_cbs *cbs; /* borrowed */
	void *user;                /* the owner's, untouched here */
	struct ssl_st *ssl;
	struct bio_st *rbio, *wbio; /* network side: in / out, owned by ssl */
	char *rx;                  /* partial frame or HTTP response */
	uint32_t rx_len, rx_cap;
	char *msg;                 /* fragments of the current message */
	uint32_t msg_len, msg_cap;
	uint8_t state;
	uint8_t msg_open;          /* a fragmented message is in progress */
	uint8_t target;            /* index into lp->addr / lp->host */
	uint16_t close_code;
	int err;
	char key[25];              /* Sec-WebSocket-Key sent, base64 */
};

/* Creates a client TLS context (TLS 1.2+). ca_file: PEM CA to trust (NULL:
 * system store); insecure: skip verification; ip: the address the
 * certificate must name (verified as an IP SAN). Returns a new context
 * (free with twc_tls_ctx_free) or NULL with err filled. */
struct ssl_ctx_st *twc_tls_ctx_new(const char *ca_file, int insecure,
                                   const char *ip, char *err, size_t errlen);
void twc_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Initialises lp for loop (borrowed) and the first target; seed varies the rng. */
void twc_loop_init(struct twc_loop *lp, uv_loop_t *loop,
                   struct ssl_ctx_st *ctx, const char *ip, int port,
                   const char *path, const char *subprotocol, uint64_t seed);
/* Adds a server to spread this loop's connections over (round-robin, in
 * the order of twc_connect calls). Returns 0, or -1 when lp already has
 * TWC_MAX_TARGETS. */
int twc_loop_add_target(struct twc_loop *lp, const char *ip, int port);

/* Starts connecting c (caller-owned memory, zeroed here). Returns 0 (then
 * on_close will come, invariant 1) or a negative libuv error (nothing to
 * free, no callback). */
int twc_connect(struct twc *c, struct twc_loop *lp, const struct twc_cbs *cbs,
                void *user);
/* Sends one text message (masked). Returns 0, or a negative code when the
 * connection is not OPEN or the write failed (the connection then closes). */
int twc_send_text(struct twc *c, const char *data, size_t len);
/* Sends a close frame with code and waits for the server's; 0 or negative.
 * Not OPEN: aborts instead. */
int twc_close(struct twc *c, int code);
/* Drops the connection now (no close handshake). Idempotent. */
void twc_abort(struct twc *c, int err);
/* Bytes libuv still holds for writing (backpressure signal). */
size_t twc_write_queue(const struct twc *c);

#endif
