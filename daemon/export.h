/*
 * export.h: a workshop room as a report, over the protocol and over
 * HTTPS GET with a short-lived signed link.
 *
 * Responsible for: building the export model of a room for a viewer (what
 * the JSON export is; report.c renders the other formats from it), and
 * the signed links GET /export?t=... serves. Not responsible for: the
 * rendering (report.c) or who may ask (dispatch and synthesis_ops.c).
 *
 * Links: t is a token of export_link.h signed with a key random per daemon
 * start. The
 * token is in the query, never in the path, and expires after
 * EXPORT_LINK_TTL_MS; it carries the permission it was made with (a
 * moderator or observer of the room when it was made), and a restart
 * invalidates every link.
 */
#ifndef TV_EXPORT_H
#define TV_EXPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

#define EXPORT_LINK_TTL_MS (15 * 60 * 1000)
#define EXPORT_KEY_LEN 32

struct room;
struct tv_server;

/* The export model of a workshop room (new reference), as a moderator
 * (moderator = 1: hidden notes, authors named to moderators) or an
 * observer sees it. */
json_t *export_model(struct room *r, int moderator, int64_t now_ms);
/* The same rendered in fmt (report.h); malloc'd text or NULL. A meeting or
 * forum room renders its own export (meeting_export.h) as JSON or
 * Markdown, and NULL for the other formats. */
char *export_render(struct room *r, int moderator, int fmt, int64_t now_ms, size_t *len);

/* Fills the key links are signed with (once, at start). */
int export_key_init(struct tv_server *srv);
/* Writes "/export?t=..." for room, identity (as a moderator or not) and
 * fmt, valid until expires. Returns 0 or -1 when url is too small. */
int export_link(struct tv_server *srv, const char *room, const char *identity, int moderator,
                int fmt, int64_t expires_ms, char *url, size_t n);

/* Serves GET /export with query argument t (NULL when missing): an HTTP
 * status, the media type and a malloc'd body (*body), and a file name for
 * Content-Disposition (*filename, "" when none). Loads the room if needed. */
int export_http(struct tv_server *srv, const char *t, char **body, size_t *len,
                const char **mime, char *filename, size_t fnlen);

#endif
