/*
 * fuzz_request.c: libFuzzer target for the request codec (protocol/request.c)
 * and the reply encoders that answer every request (protocol/encode.c).
 *
 * Responsible for feeding arbitrary bytes to tv_request_decode() as one text
 * frame and checking the contract of tv_protocol.h on whatever comes back.
 * Not responsible for auth, rooms or rates: the dispatcher's checks are not
 * reached from here.
 *
 * Invariants checked on every input (a failure aborts, which libFuzzer
 * reports as a crash with the input saved):
 *  1. The return code is 0 or one of the negative codes the header lists.
 *  2. err is NUL-terminated, valid UTF-8 and fits errlen.
 *  3. req->id is "" or a valid id (1..64 code points, no control characters),
 *     also on failure, and the error reply for it always encodes and reads
 *     back as a reply with that id (or null) and the error's wire name.
 *  4. On success: the canonical form is a JSON object without "id"; adding
 *     the id back and decoding again gives the same canonical form (or
 *     too_large, since compact re-encoding of reals may be longer); the ok
 *     and replayed replies with the request as result decode as replies.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tv_protocol.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_object_seed(1); /* deterministic hashing: reproducible runs */
	return 0;
}

static int id_ok(const char *id)
{
	size_t n = strlen(id);
	long chars = tv_utf8_count(id, n);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7F)
			return 0;
	return chars >= 1 && chars <= TV_ID_MAX_CHARS;
}

/* Decodes an encoded reply with the client's reader and checks its shape.
 * Takes ownership of buf. */
static void check_reply(char *buf, size_t len, const char *id, int ok, const char *code)
{
	json_t *root = NULL, *v;
	enum tv_msg_type type;

	CHECK(buf != NULL);
	CHECK(strlen(buf) == len);
	CHECK(tv_server_msg_decode(buf, len, &root, &type) == 0);
	CHECK(type == TV_MSG_REPLY);
	v = json_object_get(root, "id");
	if (id == NULL)
		CHECK(json_is_null(v));
	else
		CHECK(json_is_string(v) && strcmp(json_string_value(v), id) == 0);
	CHECK(json_is_boolean(json_object_get(root, "ok")));
	CHECK(json_is_true(json_object_get(root, "ok")) == ok);
	if (!ok) {
		v = json_object_get(json_object_get(root, "error"), "code");
		CHECK(json_is_string(v) && strcmp(json_string_value(v), code) == 0);
	}
	json_decref(root);
	free(buf);
}

static void check_success(const struct tv_request *req)
{
	size_t clen = 0, len = 0;
	char *canon = tv_request_canonical(req, &clen);
	json_t *obj;
	json_error_t jerr;
	char *again;
	struct tv_request req2;
	char err[256];
	int rc;

	CHECK(req->root != NULL && json_is_object(req->root));
	CHECK(tv_op_info(req->op) != NULL);
	CHECK(id_ok(req->id));
	CHECK(canon != NULL && strlen(canon) <= clen);
	obj = json_loadb(canon, clen, LOAD_FLAGS, &jerr);
	CHECK(json_is_object(obj));
	CHECK(json_object_get(obj, "id") == NULL);
	CHECK(json_object_set_new(obj, "id", json_string(req->id)) == 0);
	again = json_dumps(obj, JSON_COMPACT);
	CHECK(again != NULL);
	rc = tv_request_decode(again, strlen(again), &req2, err, sizeof err);
	CHECK(rc == 0 || rc == -TV_E_TOO_LARGE);
	if (rc == 0) {
		size_t c2len = 0;
		char *canon2 = tv_request_canonical(&req2, &c2len);
		CHECK(canon2 != NULL && c2len == clen && memcmp(canon, canon2, clen) == 0);
		CHECK(req2.op == req->op && strcmp(req2.id, req->id) == 0);
		free(canon2);
	}
	tv_request_free(&req2);
	free(again);
	json_decref(obj);
	free(canon);

	/* The request itself as a result: the encoders must copy it out whole. */
	char *r = tv_encode_reply_ok(req->id, req->root, &len);
	check_reply(r, len, req->id, 1, NULL);
	r = tv_encode_reply_replayed(req->id, req->root, &len);
	check_reply(r, len, req->id, 1, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tv_request req;
	char err[200];
	size_t len = 0;
	int rc;

	memset(err, 'x', sizeof err);
	rc = tv_request_decode((const char *)data, size, &req, err, sizeof err);
	CHECK(memchr(err, '\0', sizeof err) != NULL);
	CHECK(tv_utf8_valid(err, strlen(err)));
	CHECK(req.id[0] == '\0' || id_ok(req.id));
	if (rc == 0) {
		check_success(&req);
		tv_request_free(&req);
		return 0;
	}
	CHECK(rc == -TV_E_BAD_UTF8 || rc == -TV_E_BAD_JSON || rc == -TV_E_UNKNOWN_OP ||
	      rc == -TV_E_TOO_LARGE || rc == -TV_E_BAD_REQUEST || rc == -TV_E_TOO_LONG);
	CHECK(req.root == NULL);
	CHECK(err[0] != '\0');
	if (rc == -TV_E_BAD_UTF8 || rc == -TV_E_BAD_JSON)
		CHECK(req.id[0] == '\0' && req.op == TV_OP_NONE);
	/* The daemon answers with exactly this: the id when it was read. */
	const char *id = req.id[0] ? req.id : NULL;
	char *r = tv_encode_reply_error(id, rc, err, &len);
	check_reply(r, len, id, 0, tv_err_name(rc));
	tv_request_free(&req);
	tv_request_free(&req); /* documented as idempotent */
	return 0;
}
