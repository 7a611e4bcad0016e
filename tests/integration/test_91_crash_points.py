"""test_91_crash_points: the daemon dies at each point of the write path, and
still every acknowledged request exists exactly once (issue 8; PROTOCOL.md
2.3 and 6).

For each fault site on the way from a request to its ack (daemon/store.c:
store.before_begin, store.after_insert, store.before_commit,
store.after_commit; daemon/dispatch.c: dispatch.before_ack,
dispatch.after_ack) tavlad runs with TAVLA_FAULT=SITE:20:abort, so it aborts
the 20th time a write reaches that point, in the middle of load from a few
clients. After the abort the database is checked (integrity, ack ⇒ present,
present ⇒ exactly once, no gap), tavlad is started without the fault, the
clients resume and retry every request they had no ack for, and the check
runs again: a request the database held must be answered "replayed" with
its seq, one it did not hold must commit afresh. The load and the checks are
crashcycle.py's.

Then repeats beyond test_30_idempotency: the same request sent 2, 3, 4 and
5 times at once on as many connections of one identity, before and after a
crash that lost its ack, always gets one seq; a different body under a
used id is id_reused, also while the first is still being written.
"""

import asyncio
import os
import signal
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import crashcycle  # noqa: E402

K = 20


class CrashPoints(tt.TavlaCase):

    async def crash_at(self, site):
        d = self.start_daemon(crashcycle.LOAD_CONFIG)
        posters, ledger = await crashcycle.setup(d, clients=4, rooms=2, seed=91)
        await crashcycle.close_all(posters)
        await d.astop()
        # Armed from a fresh start, so the count is of load writes only.
        d.start(env={"TAVLA_FAULT": "%s:%d:abort" % (site, K)})
        await crashcycle.connect_all(posters, d)
        status = await crashcycle.load_until(posters, ledger, d.await_exit(60))
        await crashcycle.close_all(posters)
        self.assertEqual(status, -signal.SIGABRT, "tavlad should abort at %s" % site)
        self.assertIn("fault site reached", d.stderr_text())
        self.assertEqual(ledger.verify(d.db, posters, full=True), 0, ledger.anomalies)
        unacked = crashcycle.unacked_count(posters)
        held = sorted(c for c, seq in ledger.expect.items() if seq is not None)
        self.assertGreater(unacked, 0, "the abort left no request unacknowledged")

        d.restart()
        await crashcycle.connect_all(posters, d)
        await crashcycle.drain(posters, ledger)
        # And it takes new writes as before.
        await crashcycle.load_until(posters, ledger, asyncio.sleep(0.2))
        await crashcycle.drain(posters, ledger)
        await crashcycle.close_all(posters)
        await d.astop()
        ledger.verify(d.db, posters, full=True)
        summary = ("%s: acks=%d unacked at the abort=%d (held %d, replayed %d, fresh %d)"
                   % (site, len(ledger.acks), unacked, len(held),
                      ledger.replayed_after_crash, ledger.fresh_after_crash))
        sys.stderr.write("\n%s\n" % summary)
        self.assertTrue(ledger.ok(), "%s\n%s" % (summary, "\n".join(ledger.anomalies[:30])))
        self.assertEqual(crashcycle.unacked_count(posters), 0, summary)
        self.assertEqual(ledger.replayed_after_crash, len(held), summary)
        self.assertEqual(ledger.fresh_after_crash, unacked - len(held), summary)
        if site in ("store.after_commit", "dispatch.before_ack"):
            # Committed, then the daemon died before the ack: the retry
            # must be a replay, never a second event.
            self.assertGreater(len(held), 0, summary)
        elif site.startswith("store."):
            # The transaction in progress died with the process.
            self.assertGreater(ledger.fresh_after_crash, 0, summary)

    async def test_store_before_begin(self):
        await self.crash_at("store.before_begin")

    async def test_store_after_insert(self):
        await self.crash_at("store.after_insert")

    async def test_store_before_commit(self):
        await self.crash_at("store.before_commit")

    async def test_store_after_commit(self):
        await self.crash_at("store.after_commit")

    async def test_dispatch_before_ack(self):
        await self.crash_at("dispatch.before_ack")

    async def test_dispatch_after_ack(self):
        await self.crash_at("dispatch.after_ack")


class ConcurrentRepeats(tt.TavlaCase):

    async def asyncSetUp(self):
        self.d = self.start_daemon()
        self.mod = await self.moderator(self.d)
        self.room = (await self.mod.call("room.create", kind="workshop",
                                         title="Upprepningar"))["room"]
        self.R = self.room["id"]
        p = await self.participant(self.d, self.room["code"], "Vera")
        self.token, self.ident = p.token, p.identity["id"]

    async def conns(self, n):
        """n connections of the one participant identity, each in the room."""
        cs = []
        for _ in range(n):
            c = await self.resumed(self.d, self.token)
            await c.join(room=self.R, since=0)
            cs.append(c)
        return cs

    async def send_on_all(self, conns, msg):
        """Sends msg on every connection at once; asserts one seq, and
        returns (seq, number of replies that were not replays)."""
        replies = await asyncio.gather(*(c.request_msg(dict(msg)) for c in conns))
        for r in replies:
            self.assertEqual((r["type"], r["id"], r["ok"]), ("reply", msg["id"], True), r)
        seqs = {r["result"]["seq"] for r in replies}
        self.assertEqual(len(seqs), 1, replies)
        return seqs.pop(), sum(1 for r in replies if not r.get("replayed"))

    async def count_text(self, text):
        c = await self.resumed(self.d, self.token)
        await c.join(room=self.R, since=0)
        h = await c.call("history", room=self.R, limit=1000)
        await c.close_quietly()
        return sum(1 for e in h["events"] if e["data"].get("text") == text)

    def stored_seq(self, client_id):
        """The seq the database holds for client_id (tavlad must be down)."""
        con = sqlite3.connect("file:%s?mode=ro" % self.d.db, uri=True)
        try:
            row = con.execute("SELECT result FROM requests_all WHERE identity_id = ?1"
                              " AND client_id = ?2", (self.ident, client_id)).fetchone()
        finally:
            con.close()
        return None if row is None else tt.strict_loads(row[0])["seq"]

    async def test_repeats_before_and_after_a_lost_ack(self):
        msgs = {n: {"op": "chat.send", "id": "gång-%d" % n, "room": self.R,
                    "text": "skickad %d gånger samtidigt" % n} for n in range(2, 6)}
        first = {}
        for n, msg in msgs.items():
            cs = await self.conns(n)
            seq, originals = await self.send_on_all(cs, msg)
            self.assertEqual(originals, 1, "exactly one of %d repeats is the original" % n)
            first[n] = seq
            for c in cs:
                await c.close_quietly()
        # A write whose ack the crash took: committed, never answered.
        await self.mod.close_quietly()
        await self.d.astop()
        self.d.start(env={"TAVLA_FAULT": "dispatch.before_ack:1:abort"})
        (c,) = await self.conns(1)
        lost = {"op": "chat.send", "id": "förlorat-svar", "room": self.R,
                "text": "svaret gick förlorat"}
        pending = asyncio.ensure_future(c.request_msg(dict(lost)))
        self.assertEqual(await self.d.await_exit(30), -signal.SIGABRT)
        with self.assertRaises((tt.ServerClosed, asyncio.TimeoutError, OSError)):
            await pending
        await c.close_quietly()
        lost_seq = self.stored_seq(lost["id"])
        self.assertIsNotNone(lost_seq, "the write should have committed before the abort")
        self.assertEqual(self.d.db_integrity(), "ok")
        self.d.restart()
        for n in range(2, 6):
            cs = await self.conns(n)
            seq, originals = await self.send_on_all(cs, lost)
            self.assertEqual((seq, originals), (lost_seq, 0), "the lost ack's retry is a replay")
            seq, originals = await self.send_on_all(cs, msgs[n])
            self.assertEqual((seq, originals), (first[n], 0), "a repeat after the restart")
            for c in cs:
                await c.close_quietly()
        (c,) = await self.conns(1)
        r = await c.request("chat.send", id=lost["id"], room=self.R, text="annan text")
        self.assertError(r, "id_reused", lost["id"])
        await c.close_quietly()
        self.assertEqual(await self.count_text(lost["text"]), 1)
        for msg in msgs.values():
            self.assertEqual(await self.count_text(msg["text"]), 1)

    async def test_other_body_while_the_first_is_written(self):
        (c,) = await self.conns(1)
        a = {"op": "chat.send", "id": "i-farten", "room": self.R, "text": "den första"}
        b = {"op": "chat.send", "id": "i-farten", "room": self.R, "text": "en annan"}
        # Both go out before either reply: b meets a in flight (or stored).
        # The refusal may come first (a waits for the disk), so the two
        # replies are told apart by content, not by order.
        await c.send(a)
        await c.send(b)
        replies = [await c.next_unmatched(), await c.next_unmatched()]
        ok = [r for r in replies if r.get("ok") is True]
        refused = [r for r in replies if r.get("ok") is False]
        self.assertEqual((len(ok), len(refused)), (1, 1), replies)
        self.assertNotIn("replayed", ok[0])
        self.assertError(refused[0], "id_reused", "i-farten")
        self.assertEqual(await self.count_text("den första"), 1)
        self.assertEqual(await self.count_text("en annan"), 0)

if __name__ == "__main__":
    os.environ.setdefault("TV_TEST_TIMEOUT", "400")
    tt.main()
