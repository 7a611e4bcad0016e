"""test_57_qr_svg: GET /qr.svg?code=CODE, the join link as a QR code.

The reply is a well-formed standalone SVG (image/svg+xml, cacheable by the
browser only) whose title is the join link for the Host the request named,
"https://HOST/?code=CODE", and whose path draws a QR symbol of a valid size
(the module grid is checked against libqrencode in tests/unit/test_qr.c).
A Host the daemon would not accept as an Origin, a missing or malformed
code, and hostile bytes are refused with 400 (or the connection is dropped
by lws before the route), and the daemon stays up.
"""

import http.client
import os
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def get(d, path, host=None, method="GET"):
    conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=tt.TIMEOUT,
                                       context=tt.tls_context(d.ca))
    try:
        conn.putrequest(method, path, skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class QrSvg(tt.TavlaCase):

    async def asyncSetUp(self):
        self.d = self.start_daemon({"origins": "https://tavla.example.se"})

    def check_svg(self, body, link):
        root = ET.fromstring(body)  # well-formed, or this raises
        self.assertEqual(root.tag, SVG + "svg")
        self.assertEqual(root.findtext(SVG + "title"), link)
        vb = root.get("viewBox").split()
        self.assertEqual(vb[:2], ["0", "0"])
        self.assertEqual(vb[2], vb[3])
        size = int(vb[2])
        modules = size - 8  # a quiet zone of 4 modules each side
        self.assertEqual((modules - 17) % 4, 0, "a QR symbol is 17 + 4 * version modules")
        self.assertTrue(21 <= modules <= 177)
        paths = root.findall(SVG + "path")
        self.assertEqual(len(paths), 1)
        runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", paths[0].get("d"))
        self.assertEqual("".join("M%s %sh%sv1h-%sz" % r for r in runs), paths[0].get("d"))
        dark = sum(int(r[2]) for r in runs)
        self.assertTrue(modules * modules / 4 < dark < modules * modules * 3 / 4)
        for x, y, n, _ in runs:
            self.assertTrue(4 <= int(x) and int(x) + int(n) <= size - 4 and 4 <= int(y) < size - 4)
        # The finder pattern in the top left corner: a row of 7 dark modules.
        self.assertIn(("4", "4", "7", "7"), runs)
        self.assertNotIn(b"<script", body)
        self.assertNotIn(b"style", body)

    async def test_join_link_of_a_room(self):
        mod = await self.moderator(self.d)
        room = (await mod.call("room.create", kind="workshop", title="Framtidsverkstad"))["room"]
        code = room["code"]
        status, headers, body = get(self.d, "/qr.svg?code=" + code)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "image/svg+xml")
        self.assertEqual(headers["cache-control"], "private, max-age=86400")
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        self.assertEqual(int(headers["content-length"]), len(body))
        self.check_svg(body, "https://127.0.0.1:%d/?code=%s" % (self.d.port, code))
        # The same request, the same picture (what makes it cacheable).
        self.assertEqual(get(self.d, "/qr.svg?code=" + code)[2], body)
        # Another code, another picture.
        other = get(self.d, "/qr.svg?code=ZZZZZZ")
        self.assertEqual(other[0], 200)
        self.assertNotEqual(other[2], body)

    async def test_host_from_origins(self):
        status, headers, body = get(self.d, "/qr.svg?code=K7QF4M", host="tavla.example.se")
        self.assertEqual(status, 200, body)
        self.check_svg(body, "https://tavla.example.se/?code=K7QF4M")

    async def test_bad_input(self):
        cases = [
            ("/qr.svg", None),
            ("/qr.svg?code=", None),
            ("/qr.svg?code=K7QF4", None),
            ("/qr.svg?code=K7QF4MM", None),
            ("/qr.svg?code=k7qf4m", None),
            ("/qr.svg?code=K7QF4O", None),  # O is not in the alphabet
            ("/qr.svg?code=%3Csvg%3E", None),
            ("/qr.svg?code=" + "A" * 5000, None),
            ("/qr.svg?other=K7QF4M", None),
            ("/qr.svg?code=K7QF4M", "evil.example"),
            ("/qr.svg?code=K7QF4M", "127.0.0.1:1"),
            ("/qr.svg?code=K7QF4M", "tavla.example.se/x"),
            ("/qr.svg?code=K7QF4M", "a\"><script>"),
        ]
        for path, host in cases:
            with self.subTest(path=path[:40], host=host):
                try:
                    status, headers, body = get(self.d, path, host=host)
                except (http.client.HTTPException, ConnectionError):
                    continue  # lws refused the request line or header itself
                self.assertIn(status, (400, 414, 431))
                if status == 400:
                    self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
                    self.assertEqual(headers["cache-control"], "no-store")
                    self.assertTrue(body.startswith(b"bad_request: "), body)
        # A NUL in the query: lws drops the request; nothing is drawn.
        try:
            status = get(self.d, "/qr.svg?code=K7QF4M%00")[0]
            self.assertNotEqual(status, 200)
        except (http.client.HTTPException, ConnectionError):
            pass
        self.assertEqual(tt.https_get(self.d, "/healthz"), (200, "ok\n"))
        self.assertEqual(get(self.d, "/qr.svg?code=K7QF4M")[0], 200)


if __name__ == "__main__":
    tt.main()
