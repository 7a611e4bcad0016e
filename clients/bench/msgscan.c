/*
 * msgscan.c: single-pass scanner for tavla.v1 server frames (see
 * msgscan.h).
 *
 * Responsible for skipping JSON values correctly (strings with escapes,
 * nesting, numbers, literals) and picking out a handful of fields. Not
 * responsible for rejecting every malformed document: it accepts some
 * that a strict parser would not (it does not check number syntax beyond
 * the characters allowed, nor UTF-8); the daemon's output is compact JSON
 * from its codec, which the protocol's own tests check strictly.
 *
 * Invariants:
 *  1. Every function takes [p, end) and never reads outside it.
 *  2. Nesting deeper than MAX_DEPTH is treated as malformed (bounded stack).
 */
#include "msgscan.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

int span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* p at the opening quote; returns past the closing quote or NULL; the raw
 * contents go to *out. */
static const char *skip_string(const char *p, const char *end, struct span *out)
{
	const char *s = ++p;

	while (p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		const char *b;
		size_t bs = 0;

		if (q == NULL)
			return NULL;
		for (b = q; b > s && b[-1] == '\\'; b--)
			bs++;
		if (bs % 2 == 0) {
			if (out != NULL) {
				out->p = s;
				out->len = (size_t)(q - s);
			}
			return q + 1;
		}
		p = q + 1;
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *end, int depth);

/* p at '{' or '['; returns past the matching close. */
static const char *skip_container(const char *p, const char *end, int depth)
{
	char close = *p == '{' ? '}' : ']';
	int obj = *p == '{';

	if (depth >= MAX_DEPTH)
		return NULL;
	p = ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	while (p < end) {
		if (obj) {
			if (*p != '"' || (p = skip_string(p, end, NULL)) == NULL)
				return NULL;
			p = ws(p, end);
			if (p >= end || *p != ':')
				return NULL;
			p = ws(p + 1, end);
		}
		if ((p = skip_value(p, end, depth + 1)) == NULL)
			return NULL;
		p = ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = ws(p + 1, end);
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
	if (p >= end)
		return NULL;
	switch (*p) {
	case '"':
		return skip_string(p, end, NULL);
	case '{':
	case '[':
		return skip_container(p, end, depth);
	default:
		if (!strchr("-0123456789tfn", *p))
			return NULL;
		while (p < end && strchr("+-.0123456789eEtruefalsn", *p) && *p != '\0')
			p++;
		return p;
	}
}

/* Walks the object at p (at '{'), calling fn(key, value span) for each
 * top-level member. Returns past the object or NULL. */
static const char *each_member(const char *p, const char *end,
                               int (*fn)(void *u, struct span k, struct span v),
                               void *u)
{
	if (p >= end || *p != '{')
		return NULL;
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return p + 1;
	while (p < end) {
		struct span k, v;

		if (*p != '"' || (p = skip_string(p, end, &k)) == NULL)
			return NULL;
		p = ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = ws(p + 1, end);
		v.p = p;
		if ((p = skip_value(p, end, 1)) == NULL)
			return NULL;
		v.len = (size_t)(p - v.p);
		if (fn(u, k, v) != 0)
			return p; /* caller found what it wanted */
		p = ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = ws(p + 1, end);
	}
	return NULL;
}

/* Strips the quotes of a string value span. */
static struct span unquote(struct span v)
{
	struct span s = { v.p, 0 };

	if (v.len >= 2 && v.p[0] == '"') {
		s.p = v.p + 1;
		s.len = v.len - 2;
	}
	return s;
}

static long long span_ll(struct span v)
{
	long long x = 0;
	int neg = 0;
	size_t i = 0;

	if (v.len > 0 && v.p[0] == '-') {
		neg = 1;
		i = 1;
	}
	for (; i < v.len && v.p[i] >= '0' && v.p[i] <= '9'; i++)
		x = x * 10 + (v.p[i] - '0');
	return neg ? -x : x;
}

struct find {
	const char *key;
	struct span v;
	int found;
};

static int find_fn(void *u, struct span k, struct span v)
{
	struct find *f = u;

	if (span_eq(k, f->key)) {
		f->v = v;
		f->found = 1;
		return 1;
	}
	return 0;
}

int msgscan_value(struct span obj, const char *key, struct span *out)
{
	struct find f = { key, { NULL, 0 }, 0 };
	const char *p = ws(obj.p, obj.p + obj.len);

	each_member(p, obj.p + obj.len, find_fn, &f);
	if (!f.found)
		return -1;
	*out = f.v;
	return 0;
}

int msgscan_int(struct span obj, const char *key, long long *out)
{
	struct span v;

	if (msgscan_value(obj, key, &v) < 0 || v.len == 0 ||
	    !(v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')))
		return -1;
	*out = span_ll(v);
	return 0;
}

int msgscan_str(struct span obj, const char *key, struct span *out)
{
	struct span v;

	if (msgscan_value(obj, key, &v) < 0 || v.len < 2 || v.p[0] != '"')
		return -1;
	*out = unquote(v);
	return 0;
}

struct msg_scan {
	struct msg_view m;
	struct span items;
};

static int msg_fn(void *u, struct span k, struct span v)
{
	struct msg_scan *s = u;

	if (k.len == 0)
		return 0;
	switch (k.p[0]) {
	case 't':
		if (span_eq(k, "type"))
			s->m.type = unquote(v);
		break;
	case 'i':
		if (span_eq(k, "id"))
			s->m.id = unquote(v);
		else if (span_eq(k, "items"))
			s->items = v;
		break;
	case 'k':
		if (span_eq(k, "kind"))
			s->m.kind = unquote(v);
		break;
	case 's':
		if (span_eq(k, "seq"))
			s->m.seq = span_ll(v);
		break;
	case 'o':
		if (span_eq(k, "ok"))
			s->m.ok = v.len == 4 && memcmp(v.p, "true", 4) == 0;
		break;
	case 'd':
		if (span_eq(k, "data"))
			msgscan_str(v, "text", &s->m.text);
		break;
	case 'r':
		if (span_eq(k, "result"))
			s->m.result = v;
		break;
	case 'e':
		if (span_eq(k, "error"))
			msgscan_str(v, "code", &s->m.error);
		break;
	default:
		break;
	}
	return 0;
}

/* Scans one message object at [p, end). Returns past it or NULL; with
 * items set when it is a batch. */
static const char *scan_one(const char *p, const char *end, struct msg_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->m.seq = -1;
	s->m.ok = -1;
	return each_member(p, end, msg_fn, s);
}

int msgscan_frame(const char *buf, size_t len,
                  void (*cb)(void *user, const struct msg_view *m), void *user)
{
	const char *end = buf + len, *p;
	struct msg_scan top, it;
	int n = 0;

	p = scan_one(ws(buf, end), end, &top);
	if (p == NULL)
		return -1;
	if (!span_eq(top.m.type, "batch")) {
		cb(user, &top.m);
		return 1;
	}
	if (top.items.len < 2 || top.items.p[0] != '[')
		return -1;
	p = top.items.p + 1;
	end = top.items.p + top.items.len - 1; /* at ']' */
	p = ws(p, end);
	while (p < end) {
		p = scan_one(p, end, &it);
		if (p == NULL)
			return -1;
		cb(user, &it.m);
		n++;
		p = ws(p, end);
		if (p < end && *p == ',')
			p = ws(p + 1, end);
		else if (p < end)
			return -1;
	}
	return n;
}
