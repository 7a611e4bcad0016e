/*
 * request.c: decoding of one client request frame into a checked struct.
 *
 * Responsible for everything a request must satisfy before any handler sees
 * it that can be judged from the frame alone: UTF-8, JSON shape, "id", "op",
 * the op's size limit and every fields.def row (presence, type, bounds), and
 * for the canonical form used as an idempotency key. Not responsible for
 * auth state, roles, rates or room membership (the dispatcher checks those
 * from the op's row) nor for the meaning of any field.
 *
 * The checks run in this order, and the first failure decides the error:
 *   UTF-8 (bad_utf8) -> JSON object without duplicate keys (bad_json) ->
 *   "op" a string (bad_request) -> a known op (unknown_op) -> frame within
 *   the op's max_bytes (too_large) -> "id" valid (bad_request) -> each field
 *   of the op in fields.def order (bad_request, too_long).
 * "id" is read before "op" is judged, so every error after bad_json can be
 * answered with the client's id.
 *
 * Invariants:
 *  1. After tv_request_decode() returns 0, req->root is an object holding
 *     every required field of req->op with its fields.def type and bounds,
 *     and req->id is a valid id (1..64 code points, no control characters).
 *  2. After it fails, req->root is NULL and req->id is either "" or a valid
 *     id; req->op is the op when "op" named one, else TV_OP_NONE.
 *  3. Every message written to err is valid UTF-8 (cut at a code point
 *     boundary) and quotes client text only escaped and shortened, so it can
 *     go straight into an error reply.
 *  4. Integers are JSON integers: 1.0 and 1e3 are reals and refused where an
 *     integer is expected; true is not 1. A number too big for 64 bits makes
 *     the whole frame bad_json (jansson cannot represent it).
 */
#include "tv_protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECODE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
/* How much of an unknown op name an error message quotes. */
#define QUOTE_MAX_CHARS 32

/* Cuts a NUL-terminated string of length n back to the last whole UTF-8
 * sequence, so that truncation by snprintf never leaves half a character. */
static void cut_utf8(char *s, size_t n)
{
	size_t end = n, lead;

	if (n == 0)
		return;
	lead = n - 1;
	while (lead > 0 && ((unsigned char)s[lead] & 0xC0) == 0x80)
		lead--;
	if (!tv_utf8_valid(s + lead, n - lead))
		end = lead;
	s[end] = '\0';
}

/* Formats a message into err[0..errlen) (both may be 0/NULL); returns code
 * so callers can write `return fail(...)`. Side effect: err is overwritten. */
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		n = vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		if (n < 0)
			err[0] = '\0';
		else
			cut_utf8(err, (size_t)n < errlen ? (size_t)n : errlen - 1);
	}
	return code;
}

/* Writes s[0..len) (valid UTF-8) into out[0..outlen) for quoting inside a
 * message: at most QUOTE_MAX_CHARS code points, '"' and '\' escaped with a
 * backslash, control characters as \u00XX, "..." appended when shortened.
 * Always NUL-terminates (outlen > 0). */
static void quote_name(char *out, size_t outlen, const char *s, size_t len)
{
	size_t o = 0, i = 0, chars = 0, n;
	const unsigned char *p = (const unsigned char *)s;
	char tmp[8];

	while (i < len && chars < QUOTE_MAX_CHARS) {
		if (p[i] == '"' || p[i] == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)p[i];
			n = 2;
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7F) {
			snprintf(tmp, sizeof(tmp), "\\u%04X", p[i]);
			n = 6;
			i++;
		} else {
			n = 1;
			while (i + n < len && (p[i + n] & 0xC0) == 0x80)
				n++;
			memcpy(tmp, p + i, n);
			i += n;
		}
		if (o + n + 4 >= outlen) /* keep room for "..." and NUL */
			break;
		memcpy(out + o, tmp, n);
		o += n;
		chars++;
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Returns 1 if v is a valid request id: a string of 1..TV_ID_MAX_CHARS code
 * points without U+0000..U+001F or U+007F. Those are single bytes in UTF-8
 * and jansson has already validated the encoding, so a byte scan suffices. */
static int id_valid(const json_t *v)
{
	const unsigned char *s;
	size_t len, i;
	long chars;

	if (!json_is_string(v))
		return 0;
	s = (const unsigned char *)json_string_value(v);
	len = json_string_length(v);
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7F)
			return 0;
	chars = tv_utf8_count((const char *)s, len);
	return chars >= 1 && chars <= TV_ID_MAX_CHARS && len <= TV_ID_MAX_BYTES;
}

/* Checks one fields.def row against root. Returns 0 or -TV_E_x with err
 * naming the field. Borrows everything. */
static int check_field(const json_t *root, const struct tv_field_info *f,
                       char *err, size_t errlen)
{
	const json_t *v = json_object_get(root, f->name);
	long chars;
	long long i;

	if (v == NULL) {
		if (f->required)
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" is required", f->name);
		return 0;
	}
	switch (f->type) {
	case TV_T_STRING:
		if (!json_is_string(v))
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be a string", f->name);
		chars = tv_utf8_count(json_string_value(v), json_string_length(v));
		if (chars > f->max)
			return fail(err, errlen, -TV_E_TOO_LONG,
			            "field \"%s\" is longer than %lld characters",
			            f->name, f->max);
		if (chars < f->min && f->min == 1)
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must not be empty", f->name);
		if (chars < f->min)
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be at least %lld characters",
			            f->name, f->min);
		return 0;
	case TV_T_INT:
		if (!json_is_integer(v))
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be an integer", f->name);
		i = (long long)json_integer_value(v);
		if (i < f->min || i > f->max)
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be from %lld to %lld",
			            f->name, f->min, f->max);
		return 0;
	case TV_T_BOOL:
		if (!json_is_boolean(v))
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be true or false", f->name);
		return 0;
	case TV_T_NUMBER: {
		if (!json_is_number(v))
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be a number", f->name);
		double d = json_number_value(v);
		if (!(d >= (double)f->min && d <= (double)f->max))
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be from %lld to %lld",
			            f->name, f->min, f->max);
		return 0;
	}
	case TV_T_STRINGS: {
		size_t n, k;
		if (!json_is_array(v))
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must be a list of strings", f->name);
		n = json_array_size(v);
		if ((long long)n < f->min || (long long)n > f->max)
			return fail(err, errlen, -TV_E_BAD_REQUEST,
			            "field \"%s\" must have from %lld to %lld items",
			            f->name, f->min, f->max);
		for (k = 0; k < n; k++) {
			const json_t *item = json_array_get(v, k);
			if (!json_is_string(item))
				return fail(err, errlen, -TV_E_BAD_REQUEST,
				            "field \"%s\" must be a list of strings", f->name);
			chars = tv_utf8_count(json_string_value(item), json_string_length(item));
			if (chars < 1)
				return fail(err, errlen, -TV_E_BAD_REQUEST,
				            "field \"%s\" has an empty item", f->name);
			if (chars > TV_LIST_ITEM_MAX)
				return fail(err, errlen, -TV_E_TOO_LONG,
				            "an item of field \"%s\" is longer than %d characters",
				            f->name, TV_LIST_ITEM_MAX);
		}
		return 0;
	}
	}
	return fail(err, errlen, -TV_E_INTERNAL, "field \"%s\" has no type",
	            f->name);
}

/* Every check after parsing, for a frame of len bytes; root is borrowed and
 * req->root is not yet set. Returns 0 or -TV_E_x with err filled. */
static int check_request(size_t len, json_t *root,
                         struct tv_request *req, char *err, size_t errlen)
{
	const json_t *id = json_object_get(root, "id");
	const json_t *op = json_object_get(root, "op");
	const struct tv_op_info *info;
	const struct tv_field_info *fields;
	char quoted[QUOTE_MAX_CHARS * 6 + 8];
	size_t nfields, i;
	int rc;

	if (id_valid(id)) {
		memcpy(req->id, json_string_value(id), json_string_length(id));
		req->id[json_string_length(id)] = '\0';
	}
	if (!json_is_string(op))
		return fail(err, errlen, -TV_E_BAD_REQUEST,
		            "field \"op\" must be a string");
	req->op = tv_op_lookup(json_string_value(op), json_string_length(op));
	if (req->op == TV_OP_NONE) {
		quote_name(quoted, sizeof(quoted), json_string_value(op),
		           json_string_length(op));
		return fail(err, errlen, -TV_E_UNKNOWN_OP, "unknown op \"%s\"", quoted);
	}
	info = tv_op_info(req->op);
	if (len > info->max_bytes)
		return fail(err, errlen, -TV_E_TOO_LARGE,
		            "op \"%s\" accepts at most %zu bytes", info->wire,
		            info->max_bytes);
	if (id == NULL)
		return fail(err, errlen, -TV_E_BAD_REQUEST, "field \"id\" is required");
	if (req->id[0] == '\0')
		return fail(err, errlen, -TV_E_BAD_REQUEST,
		            "field \"id\" must be a string of 1 to %d characters "
		            "without control characters", TV_ID_MAX_CHARS);
	fields = tv_op_fields(req->op, &nfields);
	for (i = 0; i < nfields; i++) {
		rc = check_field(root, &fields[i], err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Decodes buf[0..len) into *req; see tv_protocol.h for the contract and the
 * file header for the order of checks. On success req->root is a new
 * reference owned by req; on failure nothing is left to free. */
int tv_request_decode(const char *buf, size_t len, struct tv_request *req,
                      char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(req, 0, sizeof(*req));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf == NULL)
		buf = "";
	if (!tv_utf8_valid(buf, len))
		return fail(err, errlen, -TV_E_BAD_UTF8, "%s",
		            tv_err_message(TV_E_BAD_UTF8));
	root = json_loadb(buf, len, DECODE_FLAGS, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, errlen, -TV_E_BAD_JSON, "%s",
		            tv_err_message(TV_E_BAD_JSON));
	}
	rc = check_request(len, root, req, err, errlen);
	if (rc != 0) {
		json_decref(root);
		return rc;
	}
	req->root = root;
	return 0;
}

/* Drops req->root; leaves id and op for logging. Idempotent. */
void tv_request_free(struct tv_request *req)
{
	if (req == NULL)
		return;
	json_decref(req->root);
	req->root = NULL;
}

/* Returns the borrowed bytes of string field (may contain NUL; valid while
 * req->root lives) and their count in *len (len may be NULL), or NULL when
 * the field is absent or not a string. */
const char *tv_req_str(const struct tv_request *req, const char *field, size_t *len)
{
	const json_t *v = req->root ? json_object_get(req->root, field) : NULL;

	if (!json_is_string(v))
		return NULL;
	if (len != NULL)
		*len = json_string_length(v);
	return json_string_value(v);
}

/* Returns 1 and the value in *out when field is a JSON integer, else 0 and
 * *out untouched. */
int tv_req_int(const struct tv_request *req, const char *field, long long *out)
{
	const json_t *v = req->root ? json_object_get(req->root, field) : NULL;

	if (!json_is_integer(v))
		return 0;
	*out = (long long)json_integer_value(v);
	return 1;
}

/* Returns 1 and 0/1 in *out when field is true or false, else 0. */
int tv_req_bool(const struct tv_request *req, const char *field, int *out)
{
	const json_t *v = req->root ? json_object_get(req->root, field) : NULL;

	if (!json_is_boolean(v))
		return 0;
	*out = json_is_true(v);
	return 1;
}

int tv_req_number(const struct tv_request *req, const char *field, double *out)
{
	const json_t *v = req->root ? json_object_get(req->root, field) : NULL;

	if (!json_is_number(v))
		return 0;
	*out = json_number_value(v);
	return 1;
}

json_t *tv_req_strings(const struct tv_request *req, const char *field)
{
	json_t *v = req->root ? json_object_get(req->root, field) : NULL;

	return json_is_array(v) ? v : NULL;
}

/* A growing buffer for json_dump_callback (canonical form below). */
struct canon_buf {
	char *p;
	size_t len, cap;
};

static int canon_put(const char *s, size_t n, void *arg)
{
	struct canon_buf *b = arg;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* Returns a new malloc'd, NUL-terminated canonical form (free() it) with its
 * length in *len (len may be NULL), or NULL on OOM or a request without a
 * root. A shallow copy suffices: only the top level loses "id", and dumping
 * with JSON_SORT_KEYS orders the keys of nested objects too. One encoding
 * pass into a growing buffer (json_dumpb would need two: size, then text;
 * this runs for every mutating request). */
char *tv_request_canonical(const struct tv_request *req, size_t *len)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
	struct canon_buf b = { NULL, 0, 0 };
	json_t *copy;

	if (req == NULL || req->root == NULL)
		return NULL;
	copy = json_copy(req->root);
	if (copy == NULL)
		return NULL;
	json_object_del(copy, "id");
	if (json_dump_callback(copy, canon_put, &b, flags) != 0 || b.p == NULL) {
		free(b.p);
		b.p = NULL;
	} else {
		b.p[b.len] = '\0';
		if (len != NULL)
			*len = b.len;
	}
	json_decref(copy);
	return b.p;
}
