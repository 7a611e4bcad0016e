/*
 * qr.c: join links as QR codes in SVG (see qr.h).
 *
 * The SVG is one <rect> for the light background and one <path> whose
 * subpaths are the horizontal runs of dark modules, row by row
 * ("M x y h n v1 h -n z"), in a viewBox measured in modules: it scales to
 * any printed size without blur and stays a few kilobytes for a join link.
 * It carries the text in <title>, so the picture names the link it holds.
 */
#include "qr.h"

#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tv_protocol.h"

static const char code_alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

int qr_code_valid(const char *code)
{
	if (!code || strlen(code) != 6)
		return 0;
	for (int i = 0; i < 6; i++)
		if (!strchr(code_alphabet, code[i]) || !code[i])
			return 0;
	return 1;
}

int qr_host_valid(const char *host)
{
	if (!host)
		return 0;
	size_t n = strlen(host);
	if (n == 0 || n > QR_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = host[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']'))
			return 0;
	}
	/* A bracket only around an IPv6 literal at the start. */
	const char *open = strchr(host, '['), *close = strchr(host, ']');
	if (open || close) {
		if (open != host || !close || strchr(open + 1, '[') || strchr(close + 1, ']') ||
		    (close[1] && close[1] != ':'))
			return 0;
	}
	return host[0] != ':' && host[0] != '.' && host[0] != '-';
}

int qr_join_url(const char *host, const char *code, char *out, size_t outlen)
{
	if (!qr_host_valid(host) || !qr_code_valid(code))
		return -TV_E_BAD_REQUEST;
	int n = snprintf(out, outlen, "https://%s/?code=%s", host, code);
	return n < 0 || (size_t)n >= outlen ? -TV_E_TOO_LONG : 0;
}

/* Appends the XML-escaped text at p; returns the new end. The caller made
 * room for 6 bytes per input byte ("&quot;"). */
static char *xml_escape(char *p, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': memcpy(p, "&amp;", 5); p += 5; break;
		case '<': memcpy(p, "&lt;", 4); p += 4; break;
		case '>': memcpy(p, "&gt;", 4); p += 4; break;
		case '"': memcpy(p, "&quot;", 6); p += 6; break;
		case '\'': memcpy(p, "&#39;", 5); p += 5; break;
		default: *p++ = *s;
		}
	}
	return p;
}

int qr_svg(const char *text, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!text || !*text)
		return -TV_E_BAD_REQUEST;
	size_t tlen = strlen(text);
	if (tlen > QR_TEXT_MAX)
		return -TV_E_TOO_LONG;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return -TV_E_BAD_REQUEST;

	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr)
		return -TV_E_INTERNAL;
	int w = qr->width, size = w + 2 * QR_QUIET;
	/* Each run costs at most "M%d %dh%dv1h-%dz": 1+3+1+3+1+3+3+4+1 < 24
	 * bytes for w <= 177; a row holds at most (w + 1) / 2 runs. */
	size_t cap = 600 + 6 * tlen + (size_t)w * (size_t)((w + 1) / 2) * 24;
	char *svg = malloc(cap), *p = svg;
	if (!svg) {
		QRcode_free(qr);
		return -TV_E_INTERNAL;
	}
	p += sprintf(p,
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 %d %d\""
		     " shape-rendering=\"crispEdges\"><title>",
		     size, size);
	p = xml_escape(p, text);
	p += sprintf(p, "</title><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
		     size, size);
	for (int y = 0; y < w; y++) {
		const unsigned char *row = qr->data + (size_t)y * (size_t)w;
		for (int x = 0; x < w;) {
			if (!(row[x] & 1)) {
				x++;
				continue;
			}
			int run = 1;
			while (x + run < w && (row[x + run] & 1))
				run++;
			p += sprintf(p, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run, run);
			x += run;
		}
	}
	p += sprintf(p, "\"/></svg>\n");
	QRcode_free(qr);
	*out = svg;
	*len = (size_t)(p - svg);
	return 0;
}
