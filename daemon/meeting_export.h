/*
 * meeting_export.h: a meeting's or forum's state as a report, in JSON and
 * in Markdown (PROTOCOL.md §9.5).
 *
 * Responsible for: rendering what struct meeting holds (agenda, polls with
 * their results, rounds, threads with posts, chat) into one JSON object
 * and one Markdown document. Not responsible for: who may export (the op
 * in meeting_ops.c is for moderators), transport, or files. Pure: no
 * sockets, no store, so an HTTP endpoint or a CLI can call it as well.
 *
 * Invariants:
 *  1. Nothing here names who answered an anonymous poll: only aggregates
 *     (meeting_poll_results) leave for such polls.
 *  2. A deleted thread or post appears as its id with "deleted":true and
 *     no text; earlier versions of edited posts are counted, not shown.
 *  3. The same state always renders to the same bytes.
 */
#ifndef TV_MEETING_EXPORT_H
#define TV_MEETING_EXPORT_H

#include <jansson.h>
#include <stddef.h>

struct meeting;

/* The whole state as a new JSON object (NULL on OOM):
 * {"title","kind","current","agenda":[…],"polls":[…],"rounds":[…],
 *  "threads":[…],"chat":[…]}. */
json_t *meeting_export_json(const struct meeting *m);

/* The same as a Markdown document: a new NUL-terminated buffer (free()),
 * its length in *len; NULL on OOM. */
char *meeting_export_markdown(const struct meeting *m, size_t *len);

#endif
