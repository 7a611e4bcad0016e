/*
 * errors.c: names and default messages of the tavla.v1 error codes.
 *
 * Responsible for mapping an enum tv_error (given as TV_E_x or as the
 * -TV_E_x that internal calls return) to its stable wire code and default
 * human message, and a wire code back to the enum. Not responsible for
 * choosing which error a situation deserves, nor for wording messages that
 * name a field (the codec and the dispatcher do that).
 *
 * Invariants:
 *  1. The tables below are generated from errors.def only: row i describes
 *     enum value i + 1 (TV_E_OK is 0 and has no row).
 *  2. Every function here accepts any int; a value that names no row maps to
 *     "internal", so an error reply always carries a code clients know.
 *  3. Every string returned has static storage and is never NULL.
 */
#include "tv_protocol.h"

#include <string.h>

static const char *const err_wire[] = {
#define TV_ERROR(e, wire, msg) wire,
#include "errors.def"
#undef TV_ERROR
};

static const char *const err_msg[] = {
#define TV_ERROR(e, wire, msg) msg,
#include "errors.def"
#undef TV_ERROR
};

_Static_assert(sizeof(err_wire) / sizeof(err_wire[0]) == TV_E__COUNT - 1,
               "errors.def: one row per enum value after TV_E_OK");

/* Row index for code (either sign), or the row of INTERNAL when the value
 * names no error. Negation is done in long long so INT_MIN is harmless. */
static size_t err_row(int code)
{
	long long c = code < 0 ? -(long long)code : (long long)code;

	if (c <= TV_E_OK || c >= TV_E__COUNT)
		c = TV_E_INTERNAL;
	return (size_t)(c - 1);
}

/* Returns the wire code of code (TV_E_x or -TV_E_x); static, never NULL.
 * TV_E_OK is not an error and, like any unknown value, maps to "internal". */
const char *tv_err_name(int code)
{
	return err_wire[err_row(code)];
}

/* Returns the default human message of code; static, never NULL. */
const char *tv_err_message(int code)
{
	return err_msg[err_row(code)];
}

/* Returns the positive enum value whose wire code is name, or -1 when name
 * is NULL or names no code. */
int tv_err_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < sizeof(err_wire) / sizeof(err_wire[0]); i++)
		if (strcmp(err_wire[i], name) == 0)
			return (int)i + 1;
	return -1;
}
