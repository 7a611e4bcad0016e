/*
 * wsurl.c: parsing of wss:// URLs (see wsurl.h for the contract).
 *
 * Responsible for syntax only: nothing here touches the network. IP literals
 * are checked with inet_pton so that later code can decide between SNI plus
 * a DNS-name check and an IP-address check without parsing again.
 */
#include "wsurl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_safe_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f;
}

static int fail(char *err, size_t errlen, const char *msg, const char *url)
{
	snprintf(err, errlen, "bad URL \"%.200s\": %s", url, msg);
	return -1;
}

int wsc_url_parse(const char *url, struct wsc_url *out, char *err, size_t errlen)
{
	static const char scheme[] = "wss://";
	const char *p, *host, *host_end, *after;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
		if (strncasecmp(url, "ws://", 5) == 0)
			return fail(err, errlen, "plain ws:// is not supported, use wss://", url);
		return fail(err, errlen, "must start with wss://", url);
	}
	for (p = url; *p; p++)
		if (!is_safe_char((unsigned char)*p))
			return fail(err, errlen, "contains a space or control character", url);

	host = url + sizeof(scheme) - 1;
	after = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(after - host)))
		return fail(err, errlen, "user names in URLs are not supported", url);

	if (*host == '[') {
		host++;
		host_end = memchr(host, ']', (size_t)(after - host));
		if (!host_end)
			return fail(err, errlen, "unterminated [IPv6] address", url);
		p = host_end + 1;
		out->is_ipv6 = 1;
	} else {
		host_end = host + strcspn(host, ":/?#");
		p = host_end;
	}
	n = (size_t)(host_end - host);
	if (n == 0)
		return fail(err, errlen, "empty host", url);
	if (n > WSC_HOST_MAX)
		return fail(err, errlen, "host name too long", url);
	memcpy(out->host, host, n);
	out->host[n] = '\0';
	if (out->is_ipv6) {
		struct in6_addr a6;
		if (inet_pton(AF_INET6, out->host, &a6) != 1)
			return fail(err, errlen, "not a valid IPv6 address in brackets", url);
	} else if (strchr(out->host, '[') || strchr(out->host, ']')) {
		return fail(err, errlen, "stray bracket in host", url);
	}

	out->port = 443;
	if (*p == ':') {
		char *end;
		unsigned long port;
		p++;
		if (*p < '0' || *p > '9')
			return fail(err, errlen, "port must be a number", url);
		port = strtoul(p, &end, 10);
		if (port == 0 || port > 65535 || (*end && !strchr("/?#", *end)))
			return fail(err, errlen, "port must be 1..65535", url);
		out->port = (unsigned)port;
		p = end;
	} else if (*p && !strchr("/?#", *p)) {
		return fail(err, errlen, "unexpected character after host", url);
	}

	n = strcspn(p, "#");
	if (n == 0 || *p != '/') {
		/* "wss://h?x" means target "/?x" (RFC 6455 §3). */
		if (n + 1 > WSC_TARGET_MAX)
			return fail(err, errlen, "path too long", url);
		out->target[0] = '/';
		memcpy(out->target + 1, p, n);
		out->target[n + 1] = '\0';
	} else {
		if (n > WSC_TARGET_MAX)
			return fail(err, errlen, "path too long", url);
		memcpy(out->target, p, n);
		out->target[n] = '\0';
	}
	return 0;
}
