/*
 * tls_cert.c: makes the self-signed development certificate and checks that
 * a certificate and key belong together, with the OpenSSL 3 API only.
 *
 * Responsible for: an EC P-256 key, a v3 certificate for localhost that is
 * its own trust anchor (CA:TRUE, so clients can pass the file itself as
 * their CA, e.g. `tavla --ca` or Python's cafile), writing both files
 * atomically, and reading a pair back to compare it. Not responsible for:
 * loading certificates into the server (ws_server, through lws) or real
 * certificates.
 *
 * Invariants:
 *  1. A file is only ever replaced by rename(2) of a complete, fsynced
 *     temporary file in the same directory: a reader sees the old file or
 *     the new one, never a partial one.
 *  2. The key file is created with mode 0600 and is never readable by
 *     others, not even as a temporary file (mkstemp creates 0600).
 *  3. The key is written before the certificate. A crash between the two
 *     leaves the certificate missing, so the next start makes a new pair
 *     rather than pairing a new key with an old certificate.
 *  4. Every OpenSSL failure is reported with the text of the first error on
 *     OpenSSL's queue, and the queue is left empty.
 */
#include "tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CERT_DAYS 825
#define SERIAL_BYTES 16

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Reports what failed with OpenSSL's first queued error, and empties the
 * queue (invariant 4). Returns -EIO for the caller to pass on. */
static int ssl_fail(char *err, size_t errlen, const char *what)
{
	unsigned long code = ERR_get_error();
	char text[256];

	if (code == 0)
		snprintf(text, sizeof text, "no OpenSSL error queued");
	else
		ERR_error_string_n(code, text, sizeof text);
	ERR_clear_error();
	set_err(err, errlen, "%s: %s", what, text);
	return -EIO;
}

/* mkdir -p of the directory part of path; created directories get 0700. */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	char *slash;
	size_t len = strlen(path);

	if (len >= sizeof dir) {
		set_err(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, len + 1);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			int rc = -errno;
			set_err(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
			return rc;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

/* fsyncs the directory holding path, so a rename into it survives a crash. */
static void sync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t len = slash == NULL ? 0 : (size_t)(slash - path);
	int fd;

	if (slash == NULL)
		memcpy(dir, ".", 2);
	else if (len == 0)
		memcpy(dir, "/", 2);
	else if (len < sizeof dir) {
		memcpy(dir, path, len);
		dir[len] = '\0';
	} else
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Writes data to path with the given mode via a temporary file, fsync and
 * rename (invariant 1). Borrows data. */
static int write_atomic(const char *path, const char *data, size_t len,
                        mode_t mode, char *err, size_t errlen)
{
	char tmp[4096 + 16];
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp) {
		set_err(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return rc;
	}
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		set_err(err, errlen, "chmod %s: %s", tmp, strerror(errno));
		goto fail;
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			set_err(err, errlen, "write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		set_err(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		set_err(err, errlen, "close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		set_err(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	sync_parent(path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

/* Adds one extension written in openssl.cnf syntax ("critical,CA:TRUE").
 * ctx must already name the certificate as subject and issuer. */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static int set_random_serial(X509 *x)
{
	unsigned char raw[SERIAL_BYTES];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return 0;
	raw[0] &= 0x7f; /* serials are positive */
	raw[0] |= 0x40; /* and keep all 16 bytes */
	bn = BN_bin2bn(raw, sizeof raw, NULL);
	if (bn == NULL)
		return 0;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

/* Returns a new certificate for pkey (the caller frees it), or NULL with the
 * reason in err. */
static X509 *make_cert(EVP_PKEY *pkey, char *err, size_t errlen)
{
	static const struct { int nid; const char *value; } exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,digitalSignature,keyCertSign" },
		{ NID_ext_key_usage, "serverAuth" },
		{ NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1" },
		{ NID_subject_key_identifier, "hash" },
		/* the same key id again: strict verifiers want it on a CA */
		{ NID_authority_key_identifier, "keyid:always" },
	};
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;

	if (x == NULL || X509_set_version(x, 2) != 1) {
		ssl_fail(err, errlen, "new certificate");
		goto fail;
	}
	if (!set_random_serial(x)) {
		ssl_fail(err, errlen, "certificate serial");
		goto fail;
	}
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) == NULL) {
		ssl_fail(err, errlen, "certificate validity");
		goto fail;
	}
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                               (const unsigned char *)"tavla development", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                               (const unsigned char *)"localhost", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1) {
		ssl_fail(err, errlen, "certificate name");
		goto fail;
	}
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		if (!add_ext(x, &ctx, exts[i].nid, exts[i].value)) {
			char what[96];
			snprintf(what, sizeof what, "certificate extension %s", OBJ_nid2sn(exts[i].nid));
			ssl_fail(err, errlen, what);
			goto fail;
		}
	}
	if (X509_sign(x, pkey, EVP_sha256()) <= 0) {
		ssl_fail(err, errlen, "sign certificate");
		goto fail;
	}
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* PEM text of the key or certificate in a memory BIO (the caller frees it). */
static BIO *to_pem(EVP_PKEY *pkey, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ok;

	if (b == NULL)
		return NULL;
	ok = pkey != NULL ? PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL)
	                  : PEM_write_bio_X509(b, x);
	if (ok != 1) {
		BIO_free(b);
		return NULL;
	}
	return b;
}

static int write_pem(const char *path, EVP_PKEY *pkey, X509 *x, mode_t mode,
                     char *err, size_t errlen)
{
	BIO *b = to_pem(pkey, x);
	char *data;
	long len;
	int rc;

	if (b == NULL)
		return ssl_fail(err, errlen, pkey != NULL ? "encode key" : "encode certificate");
	len = BIO_get_mem_data(b, &data);
	rc = write_atomic(path, data, (size_t)len, mode, err, errlen);
	BIO_free(b);
	return rc;
}

int tls_cert_ensure_selfsigned(const char *cert_path, const char *key_path,
                               char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *pkey;
	X509 *x;
	int rc;

	if (stat(cert_path, &st) == 0 && stat(key_path, &st) == 0)
		return 0;
	if ((rc = make_parent(key_path, err, errlen)) < 0 ||
	    (rc = make_parent(cert_path, err, errlen)) < 0)
		return rc;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pkey == NULL)
		return ssl_fail(err, errlen, "generate EC P-256 key");
	x = make_cert(pkey, err, errlen);
	if (x == NULL) {
		EVP_PKEY_free(pkey);
		return -EIO;
	}
	rc = write_pem(key_path, pkey, NULL, 0600, err, errlen);
	if (rc == 0)
		rc = write_pem(cert_path, NULL, x, 0644, err, errlen);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc < 0 ? rc : 1;
}

/* Never prompts for a passphrase: an encrypted key is refused, because the
 * daemon starts unattended. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* Opens path for a PEM read; returns NULL and fills err on failure. */
static FILE *open_pem(const char *path, int *rc, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		*rc = -errno;
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	}
	return fp;
}

int tls_cert_check_pair(const char *cert_path, const char *key_path,
                        char *err, size_t errlen)
{
	X509 *x = NULL;
	EVP_PKEY *pkey = NULL;
	FILE *fp;
	int rc = 0;
	char what[4200];

	if ((fp = open_pem(cert_path, &rc, err, errlen)) == NULL)
		return rc;
	x = PEM_read_X509(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	if (x == NULL) {
		snprintf(what, sizeof what, "%s: not a PEM certificate", cert_path);
		ssl_fail(err, errlen, what);
		rc = -EINVAL;
		goto out;
	}
	if ((fp = open_pem(key_path, &rc, err, errlen)) == NULL)
		goto out;
	pkey = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	if (pkey == NULL) {
		snprintf(what, sizeof what, "%s: not an unencrypted PEM private key", key_path);
		ssl_fail(err, errlen, what);
		rc = -EINVAL;
		goto out;
	}
	if (X509_check_private_key(x, pkey) != 1) {
		snprintf(what, sizeof what, "%s does not match the certificate %s", key_path, cert_path);
		ssl_fail(err, errlen, what);
		rc = -EINVAL;
		goto out;
	}
out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
