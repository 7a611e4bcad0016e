/*
 * crypto.c: random ids, join codes and tokens from OpenSSL's CSPRNG, and
 * SHA-256 (see crypto.h).
 */
#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "tv_protocol.h"

int crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -TV_E_INTERNAL;
}

/* Maps random bytes onto an alphabet by rejection sampling, so every
 * character is equally likely. */
static int random_chars(char *out, size_t n, const char *alphabet, size_t alen)
{
	size_t limit = 256 - (256 % alen);
	size_t i = 0;
	unsigned char pool[64];
	while (i < n) {
		if (crypto_random(pool, sizeof pool))
			return -TV_E_INTERNAL;
		for (size_t k = 0; k < sizeof pool && i < n; k++)
			if (pool[k] < limit)
				out[i++] = alphabet[pool[k] % alen];
	}
	out[n] = 0;
	return 0;
}

int crypto_random_id(char *out, const char *prefix)
{
	static const char b32[] = "abcdefghijkmnpqrstuvwxyz23456789";
	size_t pl = strlen(prefix);
	memcpy(out, prefix, pl);
	return random_chars(out + pl, TV_ID_LEN - pl, b32, 32);
}

int crypto_random_code(char out[7])
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	return random_chars(out, 6, alphabet, 32);
}

int crypto_token_new(char token[TV_TOKEN_LEN + 1], unsigned char hash[TV_HASH_LEN])
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	if (crypto_random(raw, 32))
		return -TV_E_INTERNAL;
	raw[32] = 0;
	/* 32 bytes = 256 bits = 42 full sextets + 4 bits: 43 characters. */
	size_t o = 0;
	for (size_t i = 0; i < 33 && o < TV_TOKEN_LEN; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 |
			     (i + 1 < 33 ? (unsigned)raw[i + 1] << 8 : 0) |
			     (i + 2 < 33 ? raw[i + 2] : 0);
		for (int s = 18; s >= 0 && o < TV_TOKEN_LEN; s -= 6)
			token[o++] = b64url[(v >> s) & 63];
	}
	token[TV_TOKEN_LEN] = 0;
	crypto_sha256(token, TV_TOKEN_LEN, hash);
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

void crypto_sha256(const void *data, size_t len, unsigned char out[TV_HASH_LEN])
{
	unsigned int n = TV_HASH_LEN;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}
