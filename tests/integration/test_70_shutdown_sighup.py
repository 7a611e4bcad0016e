"""test_70_shutdown_sighup: signals (config.def `cert`/`key`: "reloaded with
cert on SIGHUP"; daemon/tls_cert.h: a mismatched pair is refused and the old
one kept; PROTOCOL.md 7.2 close 1001).

SIGHUP leaves every connection open and usable. After the certificate files
in DATA_DIR/tls are replaced and SIGHUP sent, a new connection is served the
new certificate while the old connection keeps working; a key that does not
match the new certificate is refused and the daemon keeps serving the
previous pair. SIGINT and SIGTERM both end the daemon with status 0 and
close clients with 1001. The replacement certificates are made with the
`openssl` command when it is installed; otherwise that part is skipped.
"""

import asyncio
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

OPENSSL = shutil.which("openssl")


def make_pair(directory, name):
    """Makes a self-signed CA:TRUE EC P-256 certificate for localhost and
    127.0.0.1 in directory/NAME.cert.pem with its key in NAME.key.pem."""
    cert = os.path.join(directory, name + ".cert.pem")
    key = os.path.join(directory, name + ".key.pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def install(src, dst):
    """Replaces dst by src atomically (copy beside it, then rename)."""
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


class Signals(tt.TavlaCase):

    async def asyncSetUp(self):
        self.d = self.start_daemon()
        self.mod = await self.moderator(self.d)
        self.room = (await self.mod.call("room.create", kind="meeting",
                                         title="Signaler"))["room"]
        self.R = self.room["id"]
        await self.mod.join(room=self.R)

    async def until(self, check, timeout=5.0, what="condition"):
        """Polls check() (a plain function) until it returns true."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():
                    return
            except (OSError, ssl.SSLError):
                pass
            if time.monotonic() > deadline:
                self.fail("%s not reached within %.0f s" % (what, timeout))
            await asyncio.sleep(0.1)

    async def test_sighup_keeps_connections(self):
        p = await self.participant(self.d, self.room["code"], "Nils")
        for _ in range(3):
            self.d.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.2)
        self.assertTrue(self.d.running)
        self.assertFalse(p.closed)
        self.assertIn("ts", await p.call("ping"))
        seq = (await p.call("chat.send", room=self.R, text="efter SIGHUP"))["seq"]
        await self.mod.wait_seq(self.R, seq)
        c = await self.connect(self.d)
        await c.call("ping")

    async def test_sighup_reloads_certificate(self):
        if not OPENSSL:
            self.skipTest("no openssl command")
        tls = os.path.dirname(self.d.ca)
        key_path = os.path.join(tls, "key.pem")
        self.assertTrue(os.path.exists(key_path), "expected %s beside cert.pem: %s"
                        % (key_path, os.listdir(tls)))
        work = os.path.join(self.d.data_dir, "certs-for-test")
        os.mkdir(work)
        old_fp = tt.cert_fingerprint_pem(self.d.ca)
        self.assertEqual(tt.peer_fingerprint(self.d), old_fp)
        old_ca = os.path.join(work, "old.pem")
        shutil.copyfile(self.d.ca, old_ca)
        new_cert, new_key = make_pair(work, "ny")
        new_fp = tt.cert_fingerprint_pem(new_cert)

        install(new_key, key_path)
        install(new_cert, self.d.ca)
        self.d.send_signal(signal.SIGHUP)
        await self.until(lambda: tt.peer_fingerprint(self.d, new_cert) == new_fp,
                         what="the new certificate served")
        # The old connection is untouched; a new one needs the new CA.
        self.assertIn("ts", await self.mod.call("ping"))
        c = await self.connect(self.d, cafile=new_cert)
        await c.call("ping")
        with self.assertRaises(ssl.SSLCertVerificationError):
            tt.peer_fingerprint(self.d, old_ca)

        # A mismatched pair: a third certificate with the second key.
        third_cert, _ = make_pair(work, "tredje")
        install(third_cert, self.d.ca)
        self.d.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.0)
        self.assertTrue(self.d.running)
        self.assertEqual(tt.peer_fingerprint(self.d, new_cert), new_fp,
                         "a mismatched pair replaced the working one")
        self.assertIn("ts", await self.mod.call("ping"))
        self.assertIn("ts", await c.call("ping"))
        # Put the matching certificate back so that the restart check of the
        # cleanup (and anyone reading the data dir) finds a sound pair.
        install(new_cert, self.d.ca)

    async def test_sigint(self):
        p = await self.participant(self.d, self.room["code"], "Olga")
        await self.d.astop(signal.SIGINT)
        for c in (self.mod, p):
            code, _ = await c.wait_closed(5)
            self.assertEqual(code, 1001)
        self.assertEqual(self.d.db_integrity(), "ok")
        # And it starts again on the same directory.
        self.d.restart()
        c = await self.connect(self.d)
        await c.call("ping")

    async def test_sigterm_with_requests_in_flight(self):
        # Clients busy posting while the daemon stops: every reply that did
        # come is an ack or shutting_down, and the daemon still exits 0.
        p = await self.participant(self.d, self.room["code"], "Pia")
        sends = [asyncio.ensure_future(p.request("chat.send", room=self.R, text="n%d" % i))
                 for i in range(100)]
        await asyncio.sleep(0.01)
        await self.d.astop()
        results = await asyncio.gather(*sends, return_exceptions=True)
        acked = set()
        for r in results:
            if isinstance(r, dict):
                if r["ok"]:
                    acked.add(r["result"]["seq"])
                else:
                    self.assertEqual(r["error"]["code"], "shutting_down", r)
            else:
                self.assertIsInstance(r, (tt.ServerClosed, asyncio.TimeoutError,
                                          tt.websockets.ConnectionClosed), repr(r))
        code, _ = await p.wait_closed(5)
        self.assertEqual(code, 1001)
        self.d.restart()
        m = await self.moderator(self.d)
        j = await m.join(room=self.R, since=0)
        await m.wait_seq(self.R, j["head"])
        present = {e["seq"] for e in m.events[self.R]}
        self.assertEqual(acked - present, set(), "acknowledged events lost at shutdown")


if __name__ == "__main__":
    tt.main()
