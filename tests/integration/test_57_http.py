"""test_57_http: what tavlad serves over plain HTTPS on its one port.

GET /healthz answers 200; the browser client under clients/web/ is embedded
in the binary and served byte for byte (GET / is index.html) with the
security headers that forbid inline scripts and styles; anything else,
including attempts to climb out of the client's tree, is 404; TLS offers
HTTP/1.1 only, so browsers open WebSockets with the ordinary upgrade.
"""

import http.client
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

WEB = os.path.join(tt.SOURCE_DIR, "clients", "web")


def get(d, path):
    conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=tt.TIMEOUT,
                                       context=tt.tls_context(d.ca))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Http(tt.TavlaCase):

    async def asyncSetUp(self):
        self.d = self.start_daemon()

    async def test_healthz_and_404(self):
        status, headers, body = get(self.d, "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        for path in ("/nope", "/../etc/passwd", "/%2e%2e/etc/passwd", "/index.html/x",
                     "/.git/config"):
            with self.subTest(path=path):
                self.assertEqual(get(self.d, path)[0], 404)

    async def test_client_files_served_exactly(self):
        files = []
        for root, _, names in os.walk(WEB):
            if "node_modules" in root:
                continue
            for n in names:
                if not n.startswith("."):
                    files.append(os.path.relpath(os.path.join(root, n), WEB))
        if not files:
            self.skipTest("clients/web is empty in this tree")
        for rel in files:
            with self.subTest(file=rel):
                status, headers, body = get(self.d, "/" + rel.replace(os.sep, "/"))
                self.assertEqual(status, 200)
                with open(os.path.join(WEB, rel), "rb") as f:
                    self.assertEqual(body, f.read())
                self.assertIn("script-src 'self'", headers.get("content-security-policy", ""))
                self.assertEqual(headers.get("x-content-type-options"), "nosniff")
        if "index.html" in files:
            status, headers, body = get(self.d, "/")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/html"))
            with open(os.path.join(WEB, "index.html"), "rb") as f:
                self.assertEqual(body, f.read())
            status, _, body2 = get(self.d, "/?code=ABCDEF")
            self.assertEqual((status, body2), (200, body))

    async def test_http11_only(self):
        ctx = tt.tls_context(self.d.ca)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        import socket
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=tt.TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                self.assertEqual(s.selected_alpn_protocol(), "http/1.1")


if __name__ == "__main__":
    tt.main()
