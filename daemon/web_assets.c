/* web_assets.c: lookup in the embedded browser client (web_assets.h). */
#include "web_assets.h"

#include <string.h>

const struct web_asset *web_asset_find(const char *path)
{
	if (!path || !*path || strcmp(path, "/") == 0)
		path = "/index.html";
	size_t n = strcspn(path, "?#");
	for (const struct web_asset *a = web_assets; a->path; a++)
		if (strlen(a->path) == n && strncmp(a->path, path, n) == 0)
			return a;
	return NULL;
}
