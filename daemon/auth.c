/* auth.c: argon2id hashing and off-loop verification (see auth.h). */
#include "auth.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "crypto.h"
#include "server.h"
#include "tv_protocol.h"

/* At most this many hashes run at once: 4 x 19 MiB by default. */
#define AUTH_MAX_CONCURRENT 4

int auth_hash_password(const char *pw, unsigned m_kib, unsigned t, char *out, size_t outlen)
{
	unsigned char salt[16];
	if (crypto_random(salt, sizeof salt))
		return -TV_E_INTERNAL;
	int rc = argon2id_hash_encoded(t, m_kib, 1, pw, strlen(pw), salt, sizeof salt, 32, out,
				       outlen);
	return rc == ARGON2_OK ? 0 : -TV_E_INTERNAL;
}

struct verify_job {
	uv_work_t work;
	struct tv_server *srv;
	char *encoded;
	char *pw;
	size_t pwlen;
	unsigned m_kib, t;
	int ok;
	void (*done)(void *arg, int ok);
	void *arg;
};

static void verify_work(uv_work_t *w)
{
	struct verify_job *j = w->data;
	if (j->encoded) {
		j->ok = argon2id_verify(j->encoded, j->pw, j->pwlen) == ARGON2_OK;
		return;
	}
	unsigned char salt[16] = { 0 }, hash[32];
	crypto_random(salt, sizeof salt);
	argon2id_hash_raw(j->t, j->m_kib, 1, j->pw, j->pwlen, salt, sizeof salt, hash, sizeof hash);
	j->ok = 0;
}

static void verify_after(uv_work_t *w, int status)
{
	struct verify_job *j = w->data;
	j->srv->hashes_in_flight--;
	j->done(j->arg, status == 0 && j->ok);
	OPENSSL_cleanse(j->pw, j->pwlen);
	free(j->pw);
	free(j->encoded);
	free(j);
}

int auth_verify_async(struct tv_server *srv, char *encoded, const char *pw, size_t pwlen,
		      void (*done)(void *arg, int ok), void *arg)
{
	if (srv->hashes_in_flight >= AUTH_MAX_CONCURRENT) {
		free(encoded);
		return -TV_E_OVERLOADED;
	}
	struct verify_job *j = calloc(1, sizeof *j);
	char *copy = malloc(pwlen + 1);
	if (!j || !copy) {
		free(j);
		free(copy);
		free(encoded);
		return -TV_E_INTERNAL;
	}
	memcpy(copy, pw, pwlen);
	copy[pwlen] = 0;
	j->work.data = j;
	j->srv = srv;
	j->encoded = encoded;
	j->pw = copy;
	j->pwlen = pwlen;
	j->m_kib = (unsigned)srv->cfg->argon2_m_kib;
	j->t = (unsigned)srv->cfg->argon2_t;
	j->done = done;
	j->arg = arg;
	if (uv_queue_work(srv->loop, &j->work, verify_work, verify_after)) {
		free(copy);
		free(encoded);
		free(j);
		return -TV_E_INTERNAL;
	}
	srv->hashes_in_flight++;
	return 0;
}
