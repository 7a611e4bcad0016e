/*
 * test_qr.c: the join link's QR code (daemon/qr.c) on its own.
 *
 * Checks that the SVG is a well-formed standalone document (one root, every
 * element closed, a viewBox of the code's size plus the quiet zone, no
 * script or style), that its path draws exactly the modules libqrencode
 * gives for the text (read back from the path into a grid and compared, so
 * the picture encodes the text it was asked for), that text is XML-escaped,
 * and that bad join codes, hosts and texts are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <qrencode.h>

#include "qr.h"
#include "tv_protocol.h"

/* Reads the path's runs back into a size x size grid of 0/1. */
static unsigned char *grid_from_svg(const char *svg, int *size_out)
{
	int size = 0;
	const char *vb = strstr(svg, "viewBox=\"0 0 ");
	assert_non_null(vb);
	assert_int_equal(sscanf(vb, "viewBox=\"0 0 %d", &size), 1);
	assert_true(size >= 21 + 2 * QR_QUIET && size <= 177 + 2 * QR_QUIET);
	unsigned char *g = calloc((size_t)size * (size_t)size, 1);
	assert_non_null(g);
	const char *d = strstr(svg, " d=\"");
	assert_non_null(d);
	d += 4;
	while (*d == 'M') {
		int x, y, run, back, used = 0;
		assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &back, &used), 4);
		assert_int_equal(run, back);
		assert_true(x >= QR_QUIET && y >= QR_QUIET && run > 0);
		assert_true(x + run <= size - QR_QUIET && y < size - QR_QUIET);
		for (int i = 0; i < run; i++) {
			assert_int_equal(g[y * size + x + i], 0); /* runs never overlap */
			g[y * size + x + i] = 1;
		}
		d += used;
	}
	assert_int_equal(*d, '"');
	*size_out = size;
	return g;
}

static void check_encodes(const char *text)
{
	char *svg;
	size_t len;
	assert_int_equal(qr_svg(text, &svg, &len), 0);
	assert_int_equal(strlen(svg), len);
	int size;
	unsigned char *g = grid_from_svg(svg, &size);
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	assert_non_null(qr);
	assert_int_equal(size, qr->width + 2 * QR_QUIET);
	assert_int_equal(qr->width, 17 + 4 * qr->version);
	int dark = 0;
	for (int y = 0; y < size; y++)
		for (int x = 0; x < size; x++) {
			int in = x >= QR_QUIET && y >= QR_QUIET && x < size - QR_QUIET &&
				 y < size - QR_QUIET;
			int want = in ? qr->data[(y - QR_QUIET) * qr->width + (x - QR_QUIET)] & 1 : 0;
			assert_int_equal(g[y * size + x], want);
			dark += want;
		}
	/* A real symbol: the three finder patterns' corners are dark, and
	 * roughly half the modules are. */
	assert_int_equal(g[QR_QUIET * size + QR_QUIET], 1);
	assert_int_equal(g[QR_QUIET * size + size - QR_QUIET - 1], 1);
	assert_int_equal(g[(size - QR_QUIET - 1) * size + QR_QUIET], 1);
	assert_true(dark > qr->width * qr->width / 4 && dark < qr->width * qr->width * 3 / 4);
	QRcode_free(qr);
	free(g);
	free(svg);
}

static void test_well_formed(void **state)
{
	(void)state;
	const char *text = "https://tavla.example.se:8443/?code=K7QF4M";
	char *svg;
	size_t len;
	assert_int_equal(qr_svg(text, &svg, &len), 0);
	assert_true(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44) == 0);
	assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
	assert_true(len > 7 && strcmp(svg + len - 7, "</svg>\n") == 0);
	/* One root, one title, one rect, one path; every tag closed. */
	const char *tags[] = { "<svg", "<title>", "<rect", "<path" };
	for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
		const char *first = strstr(svg, tags[i]);
		assert_non_null(first);
		assert_null(strstr(first + 1, tags[i]));
	}
	assert_non_null(strstr(svg, "</title>"));
	assert_non_null(strstr(svg, "\"/><path "));
	assert_non_null(strstr(svg, "\"/></svg>"));
	int lt = 0, gt = 0;
	for (const char *p = strstr(svg, "<svg"); *p; p++) {
		lt += *p == '<';
		gt += *p == '>';
	}
	assert_int_equal(lt, gt);
	assert_null(strstr(svg, "<script"));
	assert_null(strstr(svg, "<style"));
	assert_null(strstr(svg, "style="));
	char want[200];
	snprintf(want, sizeof want, "<title>%s</title>", text);
	assert_non_null(strstr(svg, want));
	free(svg);
}

static void test_encodes_text(void **state)
{
	(void)state;
	check_encodes("https://127.0.0.1:8443/?code=ABCDEF");
	check_encodes("https://[::1]:8443/?code=Z2Z2Z2");
	check_encodes("x");
	check_encodes("Åsa på Fyrklöverns väg, Östersund"); /* UTF-8 bytes */
	char big[QR_TEXT_MAX + 1];
	memset(big, 'a', QR_TEXT_MAX);
	big[QR_TEXT_MAX] = 0;
	check_encodes(big);

	/* Different links, different pictures. */
	char *a, *b;
	size_t la, lb;
	assert_int_equal(qr_svg("https://h:1/?code=AAAAAA", &a, &la), 0);
	assert_int_equal(qr_svg("https://h:1/?code=AAAAAB", &b, &lb), 0);
	assert_true(strcmp(strstr(a, " d=\""), strstr(b, " d=\"")) != 0);
	free(a);
	free(b);
}

static void test_escapes(void **state)
{
	(void)state;
	char *svg;
	size_t len;
	assert_int_equal(qr_svg("a<b>&\"c'</title><script>", &svg, &len), 0);
	assert_non_null(strstr(svg, "<title>a&lt;b&gt;&amp;&quot;c&#39;&lt;/title&gt;&lt;script&gt;</title>"));
	assert_null(strstr(svg, "<script"));
	free(svg);
}

static void test_bad_text(void **state)
{
	(void)state;
	char *svg = (char *)1;
	size_t len = 7;
	assert_int_equal(qr_svg(NULL, &svg, &len), -TV_E_BAD_REQUEST);
	assert_null(svg);
	assert_int_equal(len, 0);
	assert_int_equal(qr_svg("", &svg, &len), -TV_E_BAD_REQUEST);
	assert_int_equal(qr_svg("line\nbreak", &svg, &len), -TV_E_BAD_REQUEST);
	assert_int_equal(qr_svg("del\x7f", &svg, &len), -TV_E_BAD_REQUEST);
	char big[QR_TEXT_MAX + 2];
	memset(big, 'a', QR_TEXT_MAX + 1);
	big[QR_TEXT_MAX + 1] = 0;
	assert_int_equal(qr_svg(big, &svg, &len), -TV_E_TOO_LONG);
	assert_null(svg);
}

static void test_codes_and_hosts(void **state)
{
	(void)state;
	assert_true(qr_code_valid("K7QF4M"));
	assert_true(qr_code_valid("ZZ2299"));
	const char *bad_codes[] = { NULL, "", "K7QF4", "K7QF4MX", "k7qf4m", "K7QF4O", "K7QF41",
				    "K7QF4I", "K7 F4M", "K7QF4%", "ÅÄÖ" };
	for (size_t i = 0; i < sizeof bad_codes / sizeof *bad_codes; i++)
		assert_false(qr_code_valid(bad_codes[i]));

	const char *good_hosts[] = { "127.0.0.1:8443", "tavla.region.example.se", "[::1]:8443",
				     "[2001:db8::1]", "localhost:1" };
	for (size_t i = 0; i < sizeof good_hosts / sizeof *good_hosts; i++)
		assert_true(qr_host_valid(good_hosts[i]));
	char longhost[QR_HOST_MAX + 2];
	memset(longhost, 'a', QR_HOST_MAX + 1);
	longhost[QR_HOST_MAX + 1] = 0;
	const char *bad_hosts[] = { NULL, "", "evil.example/path", "a b", "user@host", "h\"><x",
				    "[::1", "::1]", "x[::1]", "[::1]x", "[::1]]", ":8443", longhost };
	for (size_t i = 0; i < sizeof bad_hosts / sizeof *bad_hosts; i++)
		assert_false(qr_host_valid(bad_hosts[i]));

	char url[300];
	assert_int_equal(qr_join_url("127.0.0.1:8443", "K7QF4M", url, sizeof url), 0);
	assert_string_equal(url, "https://127.0.0.1:8443/?code=K7QF4M");
	assert_int_equal(qr_join_url("127.0.0.1:8443", "k7qf4m", url, sizeof url), -TV_E_BAD_REQUEST);
	assert_int_equal(qr_join_url("a/b", "K7QF4M", url, sizeof url), -TV_E_BAD_REQUEST);
	assert_int_equal(qr_join_url("127.0.0.1:8443", "K7QF4M", url, 20), -TV_E_TOO_LONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_formed),
		cmocka_unit_test(test_encodes_text),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_bad_text),
		cmocka_unit_test(test_codes_and_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
