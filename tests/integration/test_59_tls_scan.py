"""test_59_tls_scan: what TLS tavlad offers, as an outside scanner sees it.

Debian's sslscan connects with every protocol version and cipher suite it
knows: only TLS 1.2 and 1.3 may be enabled, every accepted suite must be an
AEAD one (AES-GCM or ChaCha20-Poly1305) with forward secrecy (ECDHE, or
TLS 1.3's own key exchange), and renegotiation and compression must be off.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402


class TlsScan(tt.TavlaCase):

    async def test_protocols_and_ciphers(self):
        if not shutil.which("sslscan"):
            self.skipTest("sslscan is not installed (ops/deps.sh --test installs it)")
        d = self.start_daemon()
        out = subprocess.run(["sslscan", "--no-colour", "--no-heartbleed",
                              "127.0.0.1:%d" % d.port],
                             capture_output=True, text=True, timeout=120).stdout
        protocols = dict(re.findall(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)", out, re.M))
        self.assertEqual(protocols, {"SSLv2": "disabled", "SSLv3": "disabled",
                                     "TLSv1.0": "disabled", "TLSv1.1": "disabled",
                                     "TLSv1.2": "enabled", "TLSv1.3": "enabled"}, out)
        suites = re.findall(r"^(?:Preferred|Accepted)\s+(TLSv1\.[23])\s+\d+ bits\s+(\S+)", out, re.M)
        self.assertTrue(suites, out)
        for version, suite in suites:
            with self.subTest(suite=suite):
                self.assertRegex(suite, r"GCM|CHACHA20_POLY1305|CHACHA20-POLY1305")
                if version == "TLSv1.2":
                    self.assertTrue(suite.startswith("ECDHE-"), suite)
        self.assertIn("Session renegotiation not supported", out)
        self.assertNotIn("Compression enabled", out)


if __name__ == "__main__":
    tt.main()
