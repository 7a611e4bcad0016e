/*
 * tv_protocol.h: the tavla.v1 wire codec shared by tavlad and every client.
 *
 * Responsible for: the tables of ops, fields and error codes (messages.def,
 * fields.def, errors.def), decoding a request frame into a shape-checked
 * struct tv_request, encoding replies, events and requests as compact JSON,
 * and UTF-8 validation. Not responsible for: sockets, rooms, permissions
 * beyond the static table, or storage. Pure C plus jansson; no I/O.
 *
 * Invariants:
 *  1. Every op has exactly one row in messages.def; tv_op_lookup() knows no
 *     other names.
 *  2. A tv_request that tv_request_decode() accepted has every required field
 *     of its op present with the right type and within its bounds; strings are
 *     valid UTF-8 (NUL code points allowed; use the _len accessors).
 *  3. Every encoder returns a new malloc'd buffer (caller frees with free())
 *     holding exactly one JSON object, NUL-terminated, length in *len.
 */
#ifndef TV_PROTOCOL_H
#define TV_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TV_PROTOCOL_NAME "tavla.v1"
#define TV_ID_MAX_CHARS 64
#define TV_ID_MAX_BYTES (TV_ID_MAX_CHARS * 4)

/* ---- error codes ------------------------------------------------------ */
enum tv_error {
	TV_E_OK = 0,
#define TV_ERROR(e, wire, msg) TV_E_##e,
#include "errors.def"
#undef TV_ERROR
	TV_E__COUNT
};

/* Wire name ("room_not_found") of an error code given as TV_E_x or -TV_E_x.
 * Unknown values map to "internal". Never NULL; static storage. */
const char *tv_err_name(int code);
/* Default human message for a code (same conventions as tv_err_name). */
const char *tv_err_message(int code);
/* Inverse of tv_err_name: the positive enum value, or -1 if unknown. */
int tv_err_from_name(const char *name);

/* ---- ops ---------------------------------------------------------------- */
enum tv_auth { TV_AUTH_ANON, TV_AUTH_ANY, TV_AUTH_IDENT, TV_AUTH_JOIN };
enum tv_role {
	TV_ROLE_MODERATOR = 1,
	TV_ROLE_PARTICIPANT = 2,
	TV_ROLE_OBSERVER = 4,
};
#define TV_ROLE_ALL (TV_ROLE_MODERATOR | TV_ROLE_PARTICIPANT | TV_ROLE_OBSERVER)
enum tv_rate { TV_RATE_NONE, TV_RATE_READ, TV_RATE_WRITE, TV_RATE_AUTH, TV_RATE__COUNT };

enum tv_op {
	TV_OP_NONE = 0,
#define TV_OP(e, wire, auth, roles, rate, max, mut, room) TV_OP_##e,
#include "messages.def"
#undef TV_OP
	TV_OP__COUNT
};

struct tv_op_info {
	const char *wire;
	enum tv_auth auth;
	unsigned roles;
	enum tv_rate rate;
	size_t max_bytes;
	int mutates;
	int room;
};

/* Static row of an op; NULL for TV_OP_NONE or out of range. */
const struct tv_op_info *tv_op_info(enum tv_op op);
/* Op for a wire name of len bytes; TV_OP_NONE when unknown. */
enum tv_op tv_op_lookup(const char *wire, size_t len);
/* Wire name of a role bit ("moderator", ...); "none" for others. */
const char *tv_role_name(unsigned role);

/* TV_T_NUMBER: a JSON integer or real within MIN..MAX.
 * TV_T_STRINGS: an array of MIN..MAX strings, each 1..TV_LIST_ITEM_MAX
 * code points. */
enum tv_type { TV_T_STRING, TV_T_INT, TV_T_BOOL, TV_T_NUMBER, TV_T_STRINGS };
#define TV_LIST_ITEM_MAX 200
struct tv_field_info {
	enum tv_op op;
	const char *name;
	enum tv_type type;
	int required;
	long long min, max;
};
/* The fields.def rows of one op; *n receives their count (may be 0). */
const struct tv_field_info *tv_op_fields(enum tv_op op, size_t *n);

/* ---- requests ------------------------------------------------------------ */
struct tv_request {
	enum tv_op op;
	char id[TV_ID_MAX_BYTES + 1]; /* "" when absent or unreadable */
	json_t *root;                 /* owned: the whole request object */
};

/*
 * Decodes one text frame of len bytes (not necessarily NUL-terminated).
 * Returns 0 and fills *req (release with tv_request_free) or a negative
 * -TV_E_x: BAD_UTF8, BAD_JSON, UNKNOWN_OP, TOO_LARGE (over the op's
 * max_bytes), BAD_REQUEST, TOO_LONG. On failure
 * req->id holds the request id when it could be read, so the error reply can
 * carry it, req->root is NULL, and err receives a human message that names
 * the offending field (truncated to errlen).
 */
int tv_request_decode(const char *buf, size_t len, struct tv_request *req,
                      char *err, size_t errlen);
/* Releases req->root; safe on a zeroed or failed request. */
void tv_request_free(struct tv_request *req);

/* Borrowed string field (valid while req lives) or NULL; *len gets bytes. */
const char *tv_req_str(const struct tv_request *req, const char *field, size_t *len);
/* 1 and *out when present, 0 when absent (types were checked by decode). */
int tv_req_int(const struct tv_request *req, const char *field, long long *out);
int tv_req_bool(const struct tv_request *req, const char *field, int *out);
int tv_req_number(const struct tv_request *req, const char *field, double *out);
/* Borrowed array of strings (TV_T_STRINGS field) or NULL when absent. */
json_t *tv_req_strings(const struct tv_request *req, const char *field);

/*
 * Canonical form of a request for idempotency: the object without "id",
 * keys sorted, compact. New malloc'd string (free()), NULL on OOM. Two
 * requests are "the same request" iff their canonical forms are equal.
 */
char *tv_request_canonical(const struct tv_request *req, size_t *len);

/* ---- UTF-8 ---------------------------------------------------------------- */
/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF; NUL allowed), else 0. */
int tv_utf8_valid(const char *s, size_t len);
/* Number of code points in s[0..len), or -1 if it is not valid UTF-8. */
long tv_utf8_count(const char *s, size_t len);

/* ---- encoders (see invariant 3) ----------------------------------------- */
/* {"type":"reply","id":ID,"ok":true,"result":RESULT}; result borrowed, NULL => {} */
char *tv_encode_reply_ok(const char *id, json_t *result, size_t *len);
/* {"type":"reply","id":ID,"ok":true,"replayed":true,"result":RESULT}: the
 * repeated reply to a mutating request (PROTOCOL.md §6); as tv_encode_reply_ok. */
char *tv_encode_reply_replayed(const char *id, json_t *result, size_t *len);
/* {"type":"reply","id":ID,"ok":false,"error":{"code":..,"message":..}};
 * id NULL => "id":null; message NULL => tv_err_message(code). */
char *tv_encode_reply_error(const char *id, int code, const char *message, size_t *len);
/* {"op":OP,"id":ID,...args}: client side; args borrowed, may be NULL. */
char *tv_encode_request(enum tv_op op, const char *id, json_t *args, size_t *len);

/* One room event as stored: data_json is already-serialised JSON text of
 * data_len bytes (an object), copied verbatim into the output. */
struct tv_event_view {
	const char *room;
	uint64_t seq;
	int64_t ts_ms;
	const char *author_id;   /* NULL => "author":null */
	const char *author_name; /* ignored when author_id is NULL */
	const char *kind;
	const char *data_json;
	size_t data_len;
};
/* {"type":"event","room":..,"seq":..,"ts":..,"author":{"id":..,"name":..}|null,
 *  "kind":..,"data":{..}} */
char *tv_encode_event(const struct tv_event_view *ev, size_t *len);

/* ---- server messages, as a client reads them ------------------------------ */
enum tv_msg_type {
	TV_MSG_UNKNOWN = 0,
	TV_MSG_HELLO,
	TV_MSG_REPLY,
	TV_MSG_EVENT,
	TV_MSG_PRESENCE,
	TV_MSG_BATCH,
};
/* Parses one server frame. Returns 0 and a new reference in *root (caller
 * json_decref) with its "type" in *type, or -TV_E_BAD_JSON / -TV_E_BAD_UTF8. */
int tv_server_msg_decode(const char *buf, size_t len, json_t **root,
                         enum tv_msg_type *type);

#endif
