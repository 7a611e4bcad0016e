/*
 * test_tls_cert.c: the development certificate maker (daemon/tls_cert.c).
 *
 * Generates pairs into a temporary directory, then reads them back with
 * OpenSSL to check the file modes, the names and extensions, that the
 * certificate verifies as its own trust anchor for "localhost" and
 * 127.0.0.1, that a second call leaves the files alone, and that
 * tls_cert_check_pair refuses a mismatched or unreadable pair.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls_cert.h"

static char tmpdir[256];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/tv_tls_XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *in_tmp(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", tmpdir, rel);
	return buf;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	*len = (size_t)ftell(fp);
	rewind(fp);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, fp), *len);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

static X509 *load_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

static void test_generate(void **state)
{
	char cert[512], key[512], dir[512], err[512];
	struct stat st;

	in_tmp(cert, sizeof cert, "data/tls/cert.pem");
	in_tmp(key, sizeof key, "data/tls/key.pem");
	err[0] = '\0';
	assert_int_equal(tls_cert_ensure_selfsigned(cert, key, err, sizeof err), 1);
	assert_string_equal(err, "");

	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(cert, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(in_tmp(dir, sizeof dir, "data/tls"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(in_tmp(dir, sizeof dir, "data"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* no temporary files left behind */
	DIR *d = opendir(in_tmp(dir, sizeof dir, "data/tls"));
	struct dirent *de;
	int files = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_true(strcmp(de->d_name, "cert.pem") == 0 || strcmp(de->d_name, "key.pem") == 0);
		files++;
	}
	closedir(d);
	assert_int_equal(files, 2);

	size_t klen;
	char *ktext = slurp(key, &klen);
	assert_non_null(strstr(ktext, "-----BEGIN PRIVATE KEY-----"));
	free(ktext);

	assert_int_equal(tls_cert_check_pair(cert, key, err, sizeof err), 0);
}

static void test_contents(void **state)
{
	char cert[512], key[512], err[512];

	in_tmp(cert, sizeof cert, "c/cert.pem");
	in_tmp(key, sizeof key, "c/key.pem");
	assert_int_equal(tls_cert_ensure_selfsigned(cert, key, err, sizeof err), 1);
	X509 *x = load_cert(cert);

	assert_int_equal(X509_get_version(x), 2);
	assert_int_equal(X509_get_serialNumber(x)->length, 16);

	/* SAN: DNS:localhost, IP:127.0.0.1, IP:::1 */
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int dns = 0, ip4 = 0, ip6 = 0;
	static const unsigned char v4[4] = { 127, 0, 0, 1 };
	static const unsigned char v6[16] = { [15] = 1 };
	assert_non_null(san);
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		if (gn->type == GEN_DNS) {
			dns += ASN1_STRING_length(gn->d.dNSName) == 9 &&
			       memcmp(ASN1_STRING_get0_data(gn->d.dNSName), "localhost", 9) == 0;
		} else if (gn->type == GEN_IPADD) {
			int n = ASN1_STRING_length(gn->d.iPAddress);
			const unsigned char *p = ASN1_STRING_get0_data(gn->d.iPAddress);
			ip4 += n == 4 && memcmp(p, v4, 4) == 0;
			ip6 += n == 16 && memcmp(p, v6, 16) == 0;
		}
	}
	GENERAL_NAMES_free(san);
	assert_int_equal(dns, 1);
	assert_int_equal(ip4, 1);
	assert_int_equal(ip6, 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_not_equal(X509_check_host(x, "example.com", 0, 0, NULL), 1);

	/* names */
	char cn[64], org[64];
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	                                           cn, sizeof cn), 9);
	assert_string_equal(cn, "localhost");
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName,
	                                      org, sizeof org) > 0);
	assert_string_equal(org, "tavla development");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

	/* extensions */
	assert_true(X509_check_ca(x) > 0);
	assert_true(X509_get_extension_flags(x) & EXFLAG_SS);
	assert_true(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_non_null(X509_get0_subject_key_id(x));
	int crit = -1;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);

	/* key and signature */
	EVP_PKEY *pub = X509_get0_pubkey(x);
	assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(pub), 256);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

	/* validity: from about an hour ago to 825 days ahead */
	int days, secs;
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(x)), 1);
	assert_true(days == 0 && secs <= -3500 && secs >= -3700);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
	assert_true(days == 825 || (days == 824 && secs > 86000));

	/* the certificate is its own trust anchor for a TLS server on
	 * localhost, also under OpenSSL's strict checks */
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	assert_int_equal(X509_STORE_add_cert(store, x), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(param, "localhost", 0);
	if (X509_verify_cert(ctx) != 1)
		fail_msg("verify: %s",
		         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(x);
}

static void test_second_call_leaves_files(void **state)
{
	char cert[512], key[512], err[512];
	struct stat c1, k1, c2, k2;
	size_t clen1, klen1, clen2, klen2;

	in_tmp(cert, sizeof cert, "again/cert.pem");
	in_tmp(key, sizeof key, "again/key.pem");
	assert_int_equal(tls_cert_ensure_selfsigned(cert, key, err, sizeof err), 1);
	assert_int_equal(stat(cert, &c1), 0);
	assert_int_equal(stat(key, &k1), 0);
	char *ctext1 = slurp(cert, &clen1);
	char *ktext1 = slurp(key, &klen1);

	assert_int_equal(tls_cert_ensure_selfsigned(cert, key, err, sizeof err), 0);
	assert_int_equal(stat(cert, &c2), 0);
	assert_int_equal(stat(key, &k2), 0);
	char *ctext2 = slurp(cert, &clen2);
	char *ktext2 = slurp(key, &klen2);
	assert_true(c1.st_ino == c2.st_ino && k1.st_ino == k2.st_ino);
	assert_true(c1.st_mtim.tv_sec == c2.st_mtim.tv_sec && c1.st_mtim.tv_nsec == c2.st_mtim.tv_nsec);
	assert_true(k1.st_mtim.tv_sec == k2.st_mtim.tv_sec && k1.st_mtim.tv_nsec == k2.st_mtim.tv_nsec);
	assert_int_equal(clen1, clen2);
	assert_memory_equal(ctext1, ctext2, clen1);
	assert_int_equal(klen1, klen2);
	assert_memory_equal(ktext1, ktext2, klen1);

	/* with the key gone, both are made afresh and match again */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(tls_cert_ensure_selfsigned(cert, key, err, sizeof err), 1);
	char *ctext3 = slurp(cert, &clen2);
	assert_false(clen1 == clen2 && memcmp(ctext1, ctext3, clen1) == 0);
	assert_int_equal(tls_cert_check_pair(cert, key, err, sizeof err), 0);

	free(ctext1);
	free(ktext1);
	free(ctext2);
	free(ktext2);
	free(ctext3);
}

static void test_mismatch(void **state)
{
	char c1[512], k1[512], c2[512], k2[512], err[512];

	in_tmp(c1, sizeof c1, "m1/cert.pem");
	in_tmp(k1, sizeof k1, "m1/key.pem");
	in_tmp(c2, sizeof c2, "m2/cert.pem");
	in_tmp(k2, sizeof k2, "m2/key.pem");
	assert_int_equal(tls_cert_ensure_selfsigned(c1, k1, err, sizeof err), 1);
	assert_int_equal(tls_cert_ensure_selfsigned(c2, k2, err, sizeof err), 1);
	assert_int_equal(tls_cert_check_pair(c2, k2, err, sizeof err), 0);

	err[0] = '\0';
	assert_true(tls_cert_check_pair(c1, k2, err, sizeof err) < 0);
	assert_non_null(strstr(err, "does not match"));
	assert_non_null(strstr(err, k2));
	assert_true(tls_cert_check_pair(c2, k1, err, sizeof err) < 0);
	/* a key in place of a certificate, and the reverse */
	assert_true(tls_cert_check_pair(k1, k1, err, sizeof err) < 0);
	assert_non_null(strstr(err, "not a PEM certificate"));
	assert_true(tls_cert_check_pair(c1, c1, err, sizeof err) < 0);
	assert_non_null(strstr(err, "not an unencrypted PEM private key"));
}

static void test_unreadable(void **state)
{
	char cert[512], key[512], junk[512], err[512];
	FILE *fp;

	in_tmp(cert, sizeof cert, "u/cert.pem");
	in_tmp(key, sizeof key, "u/key.pem");
	in_tmp(junk, sizeof junk, "junk.pem");
	fp = fopen(junk, "w");
	assert_non_null(fp);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", fp);
	fclose(fp);

	assert_int_equal(tls_cert_check_pair(cert, key, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, cert));
	assert_int_equal(tls_cert_ensure_selfsigned(cert, key, err, sizeof err), 1);
	assert_int_equal(tls_cert_check_pair(cert, junk, err, sizeof err), -EINVAL);
	assert_int_equal(tls_cert_check_pair(junk, key, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, junk));
	assert_non_null(strstr(err, "error:")); /* OpenSSL's own text follows */

	/* a parent that is a file cannot become a directory */
	char bad_cert[600], bad_key[600];
	snprintf(bad_cert, sizeof bad_cert, "%s/sub/cert.pem", junk);
	snprintf(bad_key, sizeof bad_key, "%s/sub/key.pem", junk);
	err[0] = '\0';
	assert_true(tls_cert_ensure_selfsigned(bad_cert, bad_key, err, sizeof err) < 0);
	assert_non_null(strstr(err, "cannot create directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_contents),
		cmocka_unit_test(test_second_call_leaves_files),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_unreadable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
