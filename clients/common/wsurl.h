/*
 * wsurl.h: parsing of wss:// URLs for the client side.
 *
 * Responsible for: splitting "wss://HOST[:PORT][/PATH][?QUERY]" into host,
 * port and request target, with IPv4 literals, bracketed IPv6 literals and
 * DNS names. Not responsible for: resolving names (wsclient.c does that with
 * getaddrinfo) or for plain ws:// (tavla.v1 runs over TLS only).
 *
 * Invariants:
 *  1. A parsed URL has a non-empty host without brackets, a port in
 *     1..65535 and a target that starts with '/'.
 *  2. No field contains a space, a control character or a byte >= 0x7f, so
 *     each can be written into an HTTP request line or header verbatim.
 */
#ifndef TV_WSURL_H
#define TV_WSURL_H

#include <stddef.h>

#define WSC_HOST_MAX 255
#define WSC_TARGET_MAX 2048

struct wsc_url {
	char host[WSC_HOST_MAX + 1];     /* "example.org", "127.0.0.1", "::1" */
	char target[WSC_TARGET_MAX + 1]; /* path plus "?query"; "/" when absent */
	unsigned port;                   /* 443 when absent */
	int is_ipv6;                     /* host was given in brackets */
};

/* Parses url into *out. Returns 0, or -1 with a human message in err
 * (truncated to errlen). A "#fragment" is dropped; user info ("u@host") is
 * refused rather than silently sent nowhere. */
int wsc_url_parse(const char *url, struct wsc_url *out, char *err, size_t errlen);

#endif
