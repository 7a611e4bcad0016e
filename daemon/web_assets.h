/*
 * web_assets.h: the browser client, embedded in tavlad at build time.
 *
 * Every file under clients/web/ becomes one row of web_assets[] (generated
 * by cmake/embed.cmake into the build directory), so the daemon serves the
 * client with no files to install and no Node.js at run time; the bytes
 * served are exactly the ones the build saw.
 *
 * Invariant: the table ends with a row whose path is NULL; data is
 * NUL-terminated beyond len.
 */
#ifndef TV_WEB_ASSETS_H
#define TV_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/index.html" */
	const char *mime;
	const unsigned char *data;
	size_t len;
};

extern const struct web_asset web_assets[];

/* The asset for a request path ("/" and "" mean /index.html; a query
 * string is ignored), or NULL. */
const struct web_asset *web_asset_find(const char *path);

#endif
