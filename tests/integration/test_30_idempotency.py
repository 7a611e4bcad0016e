"""test_30_idempotency: a retried request is never applied twice (PROTOCOL.md 6).

For mutating ops the pair (identity, request id) is an idempotency key: a
repeat returns the first result with "replayed":true and makes no event; the
same id with other arguments or another op is `id_reused`. Checked on one
connection, on several connections of one identity at once, across a daemon
restart, and (the other way round) that another identity may use the same id.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402


class Idempotency(tt.TavlaCase):

    async def asyncSetUp(self):
        self.d = self.start_daemon()
        self.mod = await self.moderator(self.d)
        self.room = (await self.mod.call("room.create", kind="forum",
                                         title="Lärforum: idéer"))["room"]
        self.R = self.room["id"]
        await self.mod.join(room=self.R)

    async def chats_with(self, text):
        """The chat.message events with this text, by history."""
        h = await self.mod.call("history", room=self.R, limit=1000)
        return [e for e in h["events"] if e["kind"] == "chat.message" and e["data"]["text"] == text]

    async def test_same_id_twice(self):
        p = await self.participant(self.d, self.room["code"], "Göran")
        r1 = await p.request("chat.send", id="dup-1", room=self.R, text="Samma lapp")
        self.assertEqual(r1["ok"], True, r1)
        self.assertNotIn("replayed", r1)
        r2 = await p.request("chat.send", id="dup-1", room=self.R, text="Samma lapp")
        self.assertEqual(r2, {"type": "reply", "id": "dup-1", "ok": True, "replayed": True,
                              "result": r1["result"]})
        seq = r1["result"]["seq"]
        # One event only: nobody sees a second one.
        nxt = (await self.mod.call("chat.send", room=self.R, text="nästa"))["seq"]
        self.assertEqual(nxt, seq + 1)
        await p.wait_seq(self.R, nxt)
        self.assertEqual([e["seq"] for e in p.events[self.R] if e["kind"] == "chat.message"],
                         [seq, nxt])
        self.assertEqual(len(await self.chats_with("Samma lapp")), 1)

    async def test_id_reused(self):
        p = await self.participant(self.d, self.room["code"], "Hanna")
        first = await p.call("chat.send", id="x1", room=self.R, text="Första")
        r = await p.request("chat.send", id="x1", room=self.R, text="Något annat")
        self.assertError(r, "id_reused", "x1")
        self.assertEqual(await self.chats_with("Något annat"), [])
        # The original still replays after the refused one.
        r = await p.request("chat.send", id="x1", room=self.R, text="Första")
        self.assertEqual((r["ok"], r.get("replayed"), r["result"]), (True, True, first))
        # Another op with an id a mutating op used.
        await self.mod.call("chat.send", id="m1", room=self.R, text="från moderatorn")
        r = await self.mod.request("room.create", id="m1", kind="forum", title="Nytt")
        self.assertError(r, "id_reused", "m1")
        # Another room, same id and text: other arguments, so id_reused.
        other = (await self.mod.call("room.create", kind="forum", title="Annat rum"))["room"]
        await self.mod.join(room=other["id"])
        r = await self.mod.request("chat.send", id="m1", room=other["id"],
                                   text="från moderatorn")
        self.assertError(r, "id_reused", "m1")

    async def test_key_is_per_identity(self):
        p = await self.participant(self.d, self.room["code"], "Ida")
        q = await self.participant(self.d, self.room["code"], "Jonas")
        a = await p.request("chat.send", id="gemensam", room=self.R, text="hej")
        b = await q.request("chat.send", id="gemensam", room=self.R, text="hej")
        self.assertTrue(a["ok"] and b["ok"], (a, b))
        self.assertNotIn("replayed", b)
        self.assertEqual(b["result"]["seq"], a["result"]["seq"] + 1)
        self.assertEqual(len(await self.chats_with("hej")), 2)

    async def test_concurrent_repeats_on_three_connections(self):
        p1 = await self.participant(self.d, self.room["code"], "Karin")
        p2 = await self.resumed(self.d, p1.token)
        p3 = await self.resumed(self.d, p1.token)
        for c in (p2, p3):
            await c.join(room=self.R, since=p1.join_result["head"])
        msg = {"op": "chat.send", "id": "samtidigt-7", "room": self.R,
               "text": "Skickad fem gånger på tre vägar"}
        senders = [p1, p2, p3, p1, p2]
        replies = await asyncio.gather(*(c.request_msg(dict(msg)) for c in senders))
        for r in replies:
            self.assertEqual((r["type"], r["id"], r["ok"]), ("reply", "samtidigt-7", True), r)
        self.assertEqual(len({r["result"]["seq"] for r in replies}), 1, replies)
        originals = [r for r in replies if not r.get("replayed")]
        self.assertEqual(len(originals), 1, "exactly one reply is the original: %r" % replies)
        for r in replies:
            if r is not originals[0]:
                self.assertIs(r["replayed"], True, r)
        seq = replies[0]["result"]["seq"]
        nxt = (await self.mod.call("chat.send", room=self.R, text="efteråt"))["seq"]
        self.assertEqual(nxt, seq + 1)
        for c in (p1, p2, p3, self.mod):
            await c.wait_seq(self.R, nxt)
            mine = [e for e in c.events[self.R] if e["data"].get("text") == msg["text"]]
            self.assertEqual(tt.seqs(mine), [seq])
        self.assertEqual(len(await self.chats_with(msg["text"])), 1)

    async def test_retry_across_restart(self):
        p = await self.participant(self.d, self.room["code"], "Lars")
        r1 = await p.request("chat.send", id="före-omstart", room=self.R, text="Sparad?")
        self.assertTrue(r1["ok"], r1)
        token = p.token
        await p.close_quietly()
        await self.mod.close_quietly()
        await self.d.astop()
        self.d.restart()
        p2 = await self.resumed(self.d, token)
        await p2.join(room=self.R, since=r1["result"]["seq"])
        r2 = await p2.request("chat.send", id="före-omstart", room=self.R, text="Sparad?")
        self.assertEqual(r2, {"type": "reply", "id": "före-omstart", "ok": True,
                              "replayed": True, "result": r1["result"]})
        r3 = await p2.request("chat.send", id="före-omstart", room=self.R, text="Annan")
        self.assertError(r3, "id_reused", "före-omstart")
        self.mod = await self.moderator(self.d)
        await self.mod.join(room=self.R, since=0)
        self.assertEqual(len(await self.chats_with("Sparad?")), 1)


if __name__ == "__main__":
    tt.main()
