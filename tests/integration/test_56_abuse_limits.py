"""test_56_abuse_limits: limits by client address (daemon/guard.c).

One address may hold at most `max_per_address` connections at once: the next
is refused before the TLS handshake, and a slot frees when a connection
closes. After `login_failures` failed logins from one address within a
minute, further logins from it get `rate_limited`, even with the right
password, while a connection that is already logged in keeps working.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402


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
