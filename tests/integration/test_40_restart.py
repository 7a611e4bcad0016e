"""test_40_restart: what was acknowledged survives a stop, a crash and a
restart (PROTOCOL.md 2.3 "An event is sent only after it has been committed
to disk", 7.2 close 1001).

SIGTERM: clients get close 1001, tavlad exits 0, and after a restart the log
reads back identical. SIGKILL in the middle of a stream of chats: every seq
that was acknowledged is present exactly once after the restart, and the log
has no gap. After each, the database passes SQLite's integrity_check (read
with Python's sqlite3 module while the daemon is stopped).
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

FAST = {"rate": 100000, "rate_burst": 100000}


class Restart(tt.TavlaCase):

    async def asyncSetUp(self):
        self.d = self.start_daemon(FAST)
        self.mod = await self.moderator(self.d)
        self.room = (await self.mod.call("room.create", kind="meeting",
                                         title="Nätverksmöte i Östersund"))["room"]
        self.R = self.room["id"]
        await self.mod.join(room=self.R)

    async def read_log(self, token=None):
        """A fresh connection (moderator, or resume with token) joined with
        since 0; returns (join result, every event up to head)."""
        if token:
            c = await self.resumed(self.d, token)
        else:
            c = await self.moderator(self.d)
        j = await c.join(room=self.R, since=0)
        self.assertIs(j["complete"], True)
        await c.wait_seq(self.R, j["head"])
        return j, c.events[self.R]

    async def test_sigterm_restart_keeps_everything(self):
        p = await self.participant(self.d, self.room["code"], "Maja Ödmark")
        for i in range(100):
            who = p if i % 2 else self.mod
            await who.call("chat.send", room=self.R, text="inlägg %d – åäö" % i)
        head = (await self.mod.call("room.list"))["rooms"][0]["head"]
        await self.mod.wait_seq(self.R, head)
        seen = list(self.mod.events[self.R])
        self.assertContiguous(seen, 1, head)
        await self.d.astop()
        for c in (self.mod, p):
            code, _ = await c.wait_closed(5)
            self.assertEqual(code, 1001, "close code on shutdown")
        self.assertEqual(self.d.db_integrity(), "ok")
        self.d.restart()
        j, events = await self.read_log()
        self.assertEqual(j["head"], head)
        self.assertEqual(events, seen, "the log reads back differently after a restart")
        # Tokens survive a restart.
        j2, events2 = await self.read_log(p.token)
        self.assertEqual(events2, seen)
        # And the log goes on from head.
        c = await self.resumed(self.d, p.token)
        await c.join(room=self.R, since=head)
        self.assertEqual((await c.call("chat.send", room=self.R, text="efter"))["seq"], head + 1)

    async def test_kill9_keeps_every_ack(self):
        acked = {}
        stop = asyncio.Event()

        async def sender(k):
            i = 0
            while not stop.is_set():
                text = "k%d-%d" % (k, i)
                i += 1
                try:
                    r = await self.mod.request("chat.send", room=self.R, text=text, timeout=5)
                except (tt.ServerClosed, asyncio.TimeoutError, OSError):
                    return
                except Exception:   # the send itself may fail on a dead socket
                    return
                if r.get("ok"):
                    acked[r["result"]["seq"]] = text
                else:
                    return
        tasks = [asyncio.ensure_future(sender(k)) for k in range(8)]
        try:
            while len(acked) < 150:
                await asyncio.sleep(0.002)
                if all(t.done() for t in tasks):
                    self.fail("senders stopped early; acked %d" % len(acked))
            self.d.kill9()
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
        finally:
            stop.set()
            for t in tasks:
                t.cancel()
        # Every ack that arrived, even one read after the kill, was sent by
        # the daemon after its commit, so every one of them is binding.
        self.assertEqual(self.d.db_integrity(), "ok")
        self.d.restart()
        j, events = await self.read_log()
        self.assertContiguous(events, 1, j["head"])
        self.assertGreaterEqual(j["head"], max(acked))
        by_seq = {e["seq"]: e for e in events}
        for seq, text in sorted(acked.items()):
            self.assertIn(seq, by_seq, "acknowledged seq %d lost" % seq)
            self.assertEqual(by_seq[seq]["data"]["text"], text, "seq %d" % seq)
        texts = [e["data"]["text"] for e in events if e["kind"] == "chat.message"]
        self.assertEqual(len(texts), len(set(texts)), "a chat was stored twice")
        # Healthy after the crash: it still takes writes and stops cleanly.
        c = await self.moderator(self.d)
        await c.join(room=self.R, since=j["head"])
        self.assertEqual((await c.call("chat.send", room=self.R, text="igen"))["seq"],
                         j["head"] + 1)
        await c.close_quietly()
        await self.d.astop()
        self.assertEqual(self.d.db_integrity(), "ok")

    async def test_restart_twice_without_traffic(self):
        await self.mod.close_quietly()
        await self.d.astop()
        self.d.restart()
        await self.d.astop()
        self.d.restart()
        j, events = await self.read_log()
        self.assertEqual([e["kind"] for e in events][0], "room.created")
        self.assertContiguous(events, 1, j["head"])


if __name__ == "__main__":
    tt.main()
