/*
 * workers.c: one thread per event loop (see workers.h).
 *
 * Responsible for thread and loop lifetime. The threads share nothing but
 * the read-only options, the SSL_CTX (safe for concurrent SSL_new once
 * configured) and the scenario's shared struct of atomics.
 */
#include "workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "procstat.h"

struct thread_arg {
	struct worker *w;
	void (*start)(struct worker *w);
};

static void *thread_main(void *arg)
{
	struct thread_arg *ta = arg;
	struct worker *w = ta->w;
	int rc;

	ta->start(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&w->loop);
	if (rc != 0)
		fprintf(stderr, "tavla-bench: worker %d: loop not closed cleanly (%s)\n",
		        w->index, uv_err_name(rc));
	return NULL;
}

int workers_run(const struct bench_opts *o, struct ssl_ctx_st *ctx, int n,
                void (*start)(struct worker *w), void *shared,
                struct worker **out_workers)
{
	struct worker *ws = calloc((size_t)n, sizeof(*ws));
	struct thread_arg *ta = calloc((size_t)n, sizeof(*ta));
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	int rc = 0;

	if (ws == NULL || ta == NULL || th == NULL) {
		free(ws);
		free(ta);
		free(th);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		ws[i].index = i;
		ws[i].count = n;
		ws[i].shared = shared;
		uv_loop_init(&ws[i].loop);
		ws[i].tl = malloc(sizeof(*ws[i].tl));
		if (ws[i].tl == NULL)
			abort();
		twc_loop_init(ws[i].tl, &ws[i].loop, ctx, o->host, o->port, o->path,
		              o->node ? NULL : "tavla.v1", (uint64_t)i + 1 +
		              (uint64_t)procstat_now_us());
		for (int p = 1; p < o->nports; p++)
			twc_loop_add_target(ws[i].tl, o->host, o->port_list[p]);
		/* each thread starts its turn at another port, so that a few
		 * connections per thread still cover every port */
		ws[i].tl->next_target = i % o->nports;
	}
	for (int i = 0; i < n; i++) {
		ta[i].w = &ws[i];
		ta[i].start = start;
		if (pthread_create(&th[i], NULL, thread_main, &ta[i]) != 0) {
			rc = -1;
			th[i] = 0;
		}
	}
	for (int i = 0; i < n; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	free(ta);
	free(th);
	*out_workers = ws;
	return rc;
}

void workers_free(struct worker *ws, int n)
{
	for (int i = 0; i < n; i++)
		free(ws[i].tl);
	free(ws);
}
