/*
 * ops.c: the static table of tavla.v1 ops, their fields and the role names.
 *
 * Responsible for turning messages.def and fields.def into lookup functions
 * the codec and the dispatcher share: op by wire name, the row of an op, the
 * field rows of an op, the wire name of a role. Not responsible for enforcing
 * any of it: the codec checks field shapes, the dispatcher checks auth state,
 * roles and rates.
 *
 * Invariants:
 *  1. op_table[i] is the messages.def row of enum value i + 1; TV_OP_NONE has
 *     no row.
 *  2. op_wire_len[i] == strlen(op_table[i].wire), computed at compile time.
 *  3. The fields.def rows of one op are adjacent, so tv_op_fields() can
 *     return a slice of field_table (tests/unit/test_codec.c checks it).
 *  4. Nothing here is mutable: every table is const and static.
 */
#include "tv_protocol.h"

#include <string.h>

static const struct tv_op_info op_table[] = {
#define TV_OP(e, wire, auth, roles, rate, max, mut, room) \
	{ wire, auth, roles, rate, max, mut, room },
#include "messages.def"
#undef TV_OP
};

static const size_t op_wire_len[] = {
#define TV_OP(e, wire, auth, roles, rate, max, mut, room) sizeof(wire) - 1,
#include "messages.def"
#undef TV_OP
};

static const struct tv_field_info field_table[] = {
#define TV_FIELD(op, name, type, req, min, max) \
	{ TV_OP_##op, name, type, req, min, max },
#include "fields.def"
#undef TV_FIELD
};

#define N_OPS (sizeof(op_table) / sizeof(op_table[0]))
#define N_FIELDS (sizeof(field_table) / sizeof(field_table[0]))

_Static_assert(N_OPS == TV_OP__COUNT - 1, "messages.def: one row per op");

/* Returns the borrowed static row of op, or NULL for TV_OP_NONE and values
 * outside the enum. */
const struct tv_op_info *tv_op_info(enum tv_op op)
{
	if ((int)op <= TV_OP_NONE || (int)op >= TV_OP__COUNT)
		return NULL;
	return &op_table[op - 1];
}

/* Returns the op whose wire name is exactly the len bytes at wire (which
 * need not be NUL-terminated), or TV_OP_NONE. Lengths are compared first so
 * most rows are rejected without touching the bytes. */
enum tv_op tv_op_lookup(const char *wire, size_t len)
{
	size_t i;

	if (wire == NULL)
		return TV_OP_NONE;
	for (i = 0; i < N_OPS; i++)
		if (op_wire_len[i] == len && memcmp(op_table[i].wire, wire, len) == 0)
			return (enum tv_op)(i + 1);
	return TV_OP_NONE;
}

/* Returns the wire name of exactly one role bit; "none" for zero, masks of
 * several roles and unknown bits. Static storage. */
const char *tv_role_name(unsigned role)
{
	switch (role) {
	case TV_ROLE_MODERATOR:
		return "moderator";
	case TV_ROLE_PARTICIPANT:
		return "participant";
	case TV_ROLE_OBSERVER:
		return "observer";
	default:
		return "none";
	}
}

/* Returns the borrowed fields.def rows of op (invariant 3) and their count
 * in *n (n may be NULL). An op without fields, TV_OP_NONE or an unknown
 * value gives NULL and 0. */
const struct tv_field_info *tv_op_fields(enum tv_op op, size_t *n)
{
	size_t first, count = 0;

	for (first = 0; first < N_FIELDS; first++)
		if (field_table[first].op == op)
			break;
	while (first + count < N_FIELDS && field_table[first + count].op == op)
		count++;
	if (n != NULL)
		*n = count;
	return count > 0 ? &field_table[first] : NULL;
}
