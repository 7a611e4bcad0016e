/*
 * export_link.c: making and checking export link tokens (see
 * export_link.h).
 */
#include "export_link.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[len] = 0;
	return (size_t)len;
}

/* Decodes n base64url characters into out (cap bytes). Returns the length,
 * or -1 for a bad character, length or a result larger than cap. */
static long unb64url(const char *in, size_t n, unsigned char *out, size_t cap)
{
	char buf[EXPORT_TOKEN_MAX + 4];
	unsigned char tmp[(EXPORT_TOKEN_MAX + 4) / 4 * 3];
	size_t pad = (4 - n % 4) % 4;
	if (n == 0 || n > EXPORT_TOKEN_MAX || pad == 3)
		return -1;
	for (size_t k = 0; k < n; k++) {
		char c = in[k];
		if (!(c == '-' || c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9')))
			return -1;
		buf[k] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	memset(buf + n, '=', pad);
	/* EVP_DecodeBlock writes 3 bytes per 4 characters, padding included. */
	int len = EVP_DecodeBlock(tmp, (unsigned char *)buf, (int)(n + pad));
	if (len < 0 || (size_t)len < pad || (size_t)len - pad > cap)
		return -1;
	/* Only the one encoding b64url() makes: the unused low bits of the
	 * last character must be zero, so a token cannot be respelled. */
	char again[EXPORT_TOKEN_MAX + 4];
	if (b64url(tmp, (size_t)len - pad, again) != n || memcmp(again, in, n) != 0)
		return -1;
	memcpy(out, tmp, (size_t)len - pad);
	return len - (long)pad;
}

static void mac(const unsigned char *key, size_t keylen, const char *payload, size_t n,
		unsigned char out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)payload, n, out, &len);
}

int export_token_make(const unsigned char *key, size_t keylen, const struct export_token *t,
		      char *out, size_t n)
{
	char payload[256], p64[400], m64[64];
	unsigned char sig[32];
	if (strchr(t->room, '|') || strchr(t->identity, '|'))
		return -1;
	int len = snprintf(payload, sizeof payload, "v1|%s|%s|%s|%lld|%d", t->room, t->identity,
			   report_format_name(t->format), (long long)t->expires_ms,
			   t->moderator ? 1 : 0);
	if (len < 0 || (size_t)len >= sizeof payload)
		return -1;
	mac(key, keylen, payload, (size_t)len, sig);
	b64url((const unsigned char *)payload, (size_t)len, p64);
	b64url(sig, sizeof sig, m64);
	len = snprintf(out, n, "%s.%s", p64, m64);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

int export_token_check(const unsigned char *key, size_t keylen, const char *token,
		       struct export_token *out)
{
	const char *dot = token ? strchr(token, '.') : NULL;
	unsigned char payload[256], sig[32], want[32];
	if (!dot)
		return EXPORT_TOKEN_BAD;
	long plen = unb64url(token, (size_t)(dot - token), payload, sizeof payload - 1);
	long slen = unb64url(dot + 1, strlen(dot + 1), sig, sizeof sig);
	if (plen <= 0 || slen != 32)
		return EXPORT_TOKEN_BAD;
	payload[plen] = 0;
	mac(key, keylen, (const char *)payload, (size_t)plen, want);
	if (CRYPTO_memcmp(want, sig, 32) != 0)
		return EXPORT_TOKEN_FORGED;
	/* Signed by us: the fields are ours, but parse them strictly anyway. */
	char fmt[16], tail;
	long long expires;
	int moderator;
	if (sscanf((const char *)payload, "v1|%63[^|]|%63[^|]|%15[^|]|%lld|%d%c", out->room,
		   out->identity, fmt, &expires, &moderator, &tail) != 5 ||
	    (out->format = report_format_parse(fmt)) < 0 || (moderator != 0 && moderator != 1))
		return EXPORT_TOKEN_BAD;
	out->expires_ms = expires;
	out->moderator = moderator;
	return EXPORT_TOKEN_OK;
}
