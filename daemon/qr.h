/*
 * qr.h: join links as QR codes in SVG, for the moderator's screen and for
 * print (GET /qr.svg, PROTOCOL.md §1.2).
 *
 * Responsible for checking a join code and a Host value, building the join
 * link a participant's phone opens, and drawing any short text as a QR code
 * (libqrencode, the only module that includes qrencode.h) in a standalone
 * SVG document. Not responsible for HTTP, for deciding which hosts are
 * trusted (ws_server.c checks the origin) or for whether a room has the code.
 *
 * Invariants:
 *  1. qr_svg draws exactly the modules libqrencode returns for the text
 *     (error correction M, 8-bit mode) plus a quiet zone of QR_QUIET
 *     modules on each side; the SVG holds no script and no style element.
 *  2. Text taken from a request reaches the SVG only XML-escaped.
 */
#ifndef TV_QR_H
#define TV_QR_H

#include <stddef.h>

#define QR_TEXT_MAX 512 /* bytes of text one code may carry */
#define QR_QUIET 4      /* quiet zone, in modules, as ISO/IEC 18004 asks */
#define QR_HOST_MAX 255

/* 1 if code is a join code as crypto_random_code() makes them: six
 * characters from ABCDEFGHJKLMNPQRSTUVWXYZ23456789. Borrows code. */
int qr_code_valid(const char *code);

/* 1 if host is a plausible Host header value: a DNS name, an IPv4 address
 * or a bracketed IPv6 literal, optionally ":port"; 1..QR_HOST_MAX bytes of
 * [A-Za-z0-9.:[]-] only. Borrows host. */
int qr_host_valid(const char *host);

/* Writes the join link "https://HOST/?code=CODE" (what the web client
 * reads, docs/web-client.md) into out. Returns 0, -TV_E_BAD_REQUEST for a
 * host or code the checks above refuse, or -TV_E_TOO_LONG when out is too
 * small. */
int qr_join_url(const char *host, const char *code, char *out, size_t outlen);

/* Draws text as a QR code in SVG. On success returns 0 and sets *out to a
 * new NUL-terminated document (the caller frees it) of *len bytes.
 * Returns -TV_E_BAD_REQUEST for NULL, empty text or text with control
 * characters, -TV_E_TOO_LONG beyond QR_TEXT_MAX bytes, -TV_E_INTERNAL when
 * memory or libqrencode fails; *out is then NULL. */
int qr_svg(const char *text, char **out, size_t *len);

#endif
