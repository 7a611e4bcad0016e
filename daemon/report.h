/*
 * report.h: a workshop export rendered as Markdown, CSV, JSON or a
 * printable HTML page.
 *
 * Responsible for: turning the export model (export.c builds it; the JSON
 * format is that model, documented in PROTOCOL.md §4.46) into text. Pure:
 * model in, text out, so it is unit-tested without a daemon. Not
 * responsible for: what the model contains or who may see it.
 *
 * Choices:
 *  - CSV is RFC 4180 (CRLF, quotes doubled, fields with comma, quote or
 *    line break quoted) with a UTF-8 byte-order mark, because the common
 *    spreadsheet applications read UTF-8 CSV without one as Latin-1 and
 *    turn å, ä, ö into mojibake. One row per note, so every note is in it
 *    exactly once.
 *  - HTML is one self-contained page (inline CSS, no scripts), escaped,
 *    with print styles, so the daemon's strict CSP allows it as is.
 */
#ifndef TV_REPORT_H
#define TV_REPORT_H

#include <jansson.h>
#include <stddef.h>

enum report_format { REPORT_MARKDOWN, REPORT_CSV, REPORT_JSON, REPORT_HTML, REPORT__COUNT };

/* "markdown", "csv", "json", "html" -> format; -1 for anything else. */
int report_format_parse(const char *s);
const char *report_format_name(int fmt);
const char *report_media_type(int fmt);
const char *report_extension(int fmt);

/* The model rendered in fmt: a malloc'd NUL-terminated text, its length in
 * *len, or NULL on OOM. */
char *report_render(json_t *model, int fmt, size_t *len);

#endif
