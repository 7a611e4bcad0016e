"""test_56_abuse_limits: limits by client address (daemon/guard.c).

One address may hold at most `max_per_address` connections at once: the next
is refused before the TLS handshake, and a slot frees when a connection
closes. After `login_failures` failed logins from one address within a
minute, further logins from it get `rate_limited`, even with the right
password, while a connection that is already logged in keeps working.
A connection silent for half of `idle_timeout` is pinged; one silent for
all of it is dropped, while one that answers pings stays.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import wire  # noqa: E402


class Limits(tt.TavlaCase):

    async def test_connections_per_address(self):
        d = self.start_daemon({"max_per_address": 4})
        held = [await self.connect(d) for _ in range(4)]
        with self.assertRaises(Exception):
            await self.connect(d)
        # The held connections still work.
        for c in held:
            self.assertIn("ts", await c.call("ping"))
        await held[0].close()
        await asyncio.sleep(0.2)
        again = await self.connect(d)
        self.assertIn("ts", await again.call("ping"))

    async def test_idle_connections(self):
        idle = 5  # the smallest idle_timeout (config.def)
        d = self.start_daemon({"idle_timeout": idle})
        ctx = tt.tls_context(d.ca)
        loop = asyncio.get_running_loop()
        # A client that never answers: hello, then a ping, then the drop.
        silent = await wire.WireConn.open(d.port, ctx)
        t0 = loop.time()
        op, _ = await silent.frame(timeout=2)
        self.assertEqual(op, wire.OP_TEXT)  # hello
        # A client that answers pings (python3-websockets does) but sends
        # nothing itself.
        polite = await self.connect(d)
        op, _ = await silent.frame(timeout=idle * 2)
        pinged = loop.time() - t0
        self.assertEqual(op, wire.OP_PING)
        self.assertGreaterEqual(pinged, idle / 2 - 0.5)
        self.assertLessEqual(pinged, idle / 2 + idle / 4 + 1.5)
        with self.assertRaises((asyncio.IncompleteReadError, ConnectionError, wire.Closed,
                                AssertionError)):
            while True:  # nothing but the drop may follow
                op, _ = await silent.frame(timeout=idle * 2)
                if op == wire.OP_CLOSE:
                    raise wire.Closed(None, "close frame")
                self.fail("unexpected frame %d" % op)
        dropped = loop.time() - t0
        self.assertGreaterEqual(dropped, idle - 0.5)
        self.assertLessEqual(dropped, idle + idle / 4 + 2)
        # The one that answered is still there.
        await asyncio.sleep(max(0.0, idle + 1 - (loop.time() - t0)))
        self.assertIn("ts", await polite.call("ping"))

    async def test_login_throttling(self):
        d = self.start_daemon({"login_failures": 3})
        ok = await self.moderator(d, user="mod", password="hemligt lösenord 1")
        c = await self.connect(d)
        for _ in range(3):
            self.assertEqual(await c.error("login", user="mod", password="fel lösenord"),
                             "bad_credentials")
        self.assertEqual(await c.error("login", user="mod", password="hemligt lösenord 1"),
                         "rate_limited")
        # Unknown users count the same way (no user enumeration).
        self.assertEqual(await c.error("login", user="okänd", password="x"), "rate_limited")
        # An identity that logged in earlier is not affected.
        self.assertIn("rooms", await ok.call("room.list"))


if __name__ == "__main__":
    tt.main()
