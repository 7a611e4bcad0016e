"""test_20_resume: losing the connection never loses an event (PROTOCOL.md
4.3, 4.4 "Paging", 2.3).

A participant drops its TCP connection without a close frame while another
posts; it reconnects, resumes with its token and joins with `since` = the
last seq it applied. It must then receive exactly the events it missed, then
the live ones: no gap and no duplicate at the seam. The paging part runs a
daemon with `page 50` and checks the `complete`/`through` protocol, also at
the page boundary.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

#: Enough request budget that 200+ pipelined chats are not rate limited.
FAST = {"rate": 100000, "rate_burst": 100000}


class Resume(tt.TavlaCase):

    async def setup_room(self, extra=None):
        self.d = self.start_daemon(dict(FAST, **(extra or {})))
        self.mod = await self.moderator(self.d)
        self.room = (await self.mod.call("room.create", kind="workshop",
                                         title="Bord 3: Framtidsverkstad"))["room"]
        self.R = self.room["id"]

    async def post(self, client, n, prefix, concurrency=20):
        """Sends n chats from client, at most `concurrency` in flight; returns
        {seq: text} of the acknowledged ones (all of them, or the test fails)."""
        acked = {}
        sem = asyncio.Semaphore(concurrency)

        async def one(i):
            async with sem:
                text = "%s %d" % (prefix, i)
                r = await client.call("chat.send", room=self.R, text=text)
                acked[r["seq"]] = text
        await asyncio.gather(*(one(i) for i in range(n)))
        self.assertEqual(len(acked), n, "two chats got the same seq")
        return acked

    async def test_drop_and_resume_while_others_post(self):
        await self.setup_room()
        a = await self.participant(self.d, self.room["code"], "Åsa")
        b = await self.participant(self.d, self.room["code"], "Bo")
        token = a.token
        head = b.join_result["head"]
        await a.wait_seq(self.R, head)
        # B posts 200 chats; A drops after ~40 acks and comes back after ~100.
        acked = {}
        done = asyncio.Event()

        async def poster():
            sem = asyncio.Semaphore(10)

            async def one(i):
                async with sem:
                    text = "lapp %d från Bo" % i
                    r = await b.call("chat.send", room=self.R, text=text)
                    acked[r["seq"]] = text
            await asyncio.gather(*(one(i) for i in range(200)))
            done.set()
        task = asyncio.ensure_future(poster())
        try:
            while len(acked) < 40:
                await asyncio.sleep(0.005)
            a.abort()
            await a.wait_closed()
            before = list(a.events[self.R])
            self.assertContiguous(before, 1)
            last = before[-1]["seq"]
            while len(acked) < 100 and not done.is_set():
                await asyncio.sleep(0.005)
            a2 = await self.resumed(self.d, token)
            self.assertEqual(a2.identity, a.identity)
            j = await a2.join(room=self.R, since=last)
            self.assertIs(j["complete"], True, j)
            self.assertNotIn("token", j)
            self.assertGreater(j["head"], last, "A missed nothing: the test proves nothing")
            await asyncio.wait_for(task, 60)
        finally:
            if not task.done():
                task.cancel()
        final = max(acked)
        await a2.wait_seq(self.R, final)
        await a2.quiet(0.3)
        after = a2.events[self.R]
        # Exactly the missed events, then the live ones.
        self.assertContiguous(after, last + 1, final)
        everything = before + after
        self.assertContiguous(everything, 1, final)
        chats = {e["seq"]: e["data"]["text"] for e in everything if e["kind"] == "chat.message"}
        self.assertEqual(chats, acked)
        for e in after:
            self.assertEqual(e["author"], {"id": b.identity["id"], "name": "Bo"})
        # B, which never dropped, saw the very same log.
        await b.wait_seq(self.R, final)
        self.assertEqual(b.events[self.R], everything)

    async def test_bad_token(self):
        await self.setup_room()
        c = await self.connect(self.d)
        r = await c.request("resume", id="r1", token="A" * 43)
        self.assertError(r, "bad_token", "r1")
        # Still anonymous, still usable.
        self.assertEqual(await c.error("room.list"), "not_authenticated")
        p = await self.participant(self.d, self.room["code"], "Cecilia")
        await c.resume(p.token)
        self.assertEqual(c.identity, p.identity)

    async def test_join_since_head_and_future(self):
        await self.setup_room()
        p = await self.participant(self.d, self.room["code"], "Dagny")
        head = p.join_result["head"]
        p2 = await self.resumed(self.d, p.token)
        j = await p2.join(room=self.R, since=head)
        self.assertEqual((j["head"], j["complete"]), (head, True))
        await p2.quiet(0.3)
        self.assertEqual(p2.events[self.R], [], "events at or before since were sent")
        await self.mod.join(room=self.R)
        seq = (await self.mod.call("chat.send", room=self.R, text="live"))["seq"]
        await p2.wait_seq(self.R, seq)
        self.assertContiguous(p2.events[self.R], head + 1, seq)
        self.assertEqual(p2.events[self.R][-1]["data"], {"text": "live"})
        # since ahead of the head is refused (4.4).
        p3 = await self.resumed(self.d, p.token)
        r = await p3.request("join", id="fram", room=self.R, since=seq + 1)
        self.assertError(r, "bad_request", "fram")
        self.assertIn("since", r["error"]["message"])

    async def test_rejoin_restarts_subscription(self):
        # Joining a room the connection already follows restarts the
        # subscription from the new since: the events come again, once.
        await self.setup_room()
        await self.mod.join(room=self.R)
        p = await self.participant(self.d, self.room["code"], "Ebba")
        for i in range(5):
            await self.mod.call("chat.send", room=self.R, text="före %d" % i)
        head = (await self.mod.call("room.list"))["rooms"][0]["head"]
        await p.wait_seq(self.R, head)
        self.assertContiguous(p.events[self.R], 1, head)
        first = list(p.events[self.R])
        j = await p.join(room=self.R, since=2)
        self.assertEqual(j["head"], head)
        await p.wait_seq(self.R, head)
        live = (await self.mod.call("chat.send", room=self.R, text="efter"))["seq"]
        await p.wait_seq(self.R, live)
        await p.quiet(0.3)
        again = p.events[self.R][len(first):]
        self.assertEqual(tt.seqs(again), list(range(3, live + 1)))
        self.assertEqual(again[:head - 2], first[2:])

    async def page_through(self, client, since, idle_check=True):
        """Joins with since and follows `complete:false` replies until
        complete; returns the list of join results. With idle_check, waits
        briefly after each page to see that nothing beyond `through` comes."""
        results = []
        while True:
            j = await client.join(room=self.R, since=since)
            results.append(j)
            if j["complete"]:
                return results
            self.assertGreater(j["through"], since)
            await client.wait_seq(self.R, j["through"])
            if idle_check:
                await client.quiet(0.1)
            # Not subscribed yet: nothing beyond `through` arrives.
            self.assertEqual(client.events[self.R][-1]["seq"], j["through"])
            since = j["through"]

    async def test_paging(self):
        await self.setup_room({"page": 50})
        await self.mod.join(room=self.R)
        p = await self.participant(self.d, self.room["code"], "Erik")
        self.assertEqual(p.hello["limits"]["page"], 50)
        await p.wait_seq(self.R, p.join_result["head"])
        last = p.events[self.R][-1]["seq"]
        token = p.token
        p.abort()
        await p.wait_closed()

        # Miss 120: pages of 50, 50, then 20 with complete:true.
        acked = await self.post(self.mod, 120, "missat")
        head = max(acked)
        p2 = await self.resumed(self.d, token)
        res = await self.page_through(p2, last)
        self.assertEqual([(r["complete"], r.get("through")) for r in res],
                         [(False, last + 50), (False, last + 100), (True, None)])
        for r in res:
            self.assertEqual(r["head"], head)
        await p2.wait_seq(self.R, head)
        # Subscribed now: a live event follows.
        live = (await self.mod.call("chat.send", room=self.R, text="live"))["seq"]
        await p2.wait_seq(self.R, live)
        await p2.quiet(0.2)
        self.assertContiguous(p2.events[self.R], last + 1, live)
        got = {e["seq"]: e["data"]["text"] for e in p2.events[self.R]}
        for seq, text in acked.items():
            self.assertEqual(got[seq], text)
        # Each page's events come after its reply and before the next reply.
        replies = [m for m in p2.log if m.get("type") == "reply" and "result" in m
                   and "complete" in m["result"]]
        idx = [p2.log.index(m) for m in replies]
        for e in p2.events[self.R]:
            i = p2.log.index(e)
            page = sum(1 for x in idx if x < i) - 1
            self.assertGreaterEqual(page, 0, "event before the first join reply")
            lo = last if page == 0 else res[page - 1]["through"]
            hi = res[page].get("through", live)
            self.assertTrue(lo < e["seq"] <= hi, (page, e["seq"], lo, hi))

    async def test_paging_boundary(self):
        await self.setup_room({"page": 50})
        await self.mod.join(room=self.R)
        p = await self.participant(self.d, self.room["code"], "Frida")
        await p.wait_seq(self.R, p.join_result["head"])
        since = p.events[self.R][-1]["seq"]
        p.abort()
        # Exactly 50 missed: one page, complete.
        acked = await self.post(self.mod, 50, "exakt")
        p2 = await self.resumed(self.d, p.token)
        j = await p2.join(room=self.R, since=since)
        self.assertEqual((j["complete"], j["head"]), (True, since + 50), j)
        self.assertNotIn("through", j)
        await p2.wait_seq(self.R, since + 50)
        self.assertContiguous(p2.events[self.R], since + 1, since + 50)
        self.assertEqual({e["seq"]: e["data"]["text"] for e in p2.events[self.R]}, acked)
        # 51 missed: one full page, then one event.
        since += 50
        p2.abort()
        await self.post(self.mod, 51, "en för mycket")
        p3 = await self.resumed(self.d, p.token)
        res = await self.page_through(p3, since)
        self.assertEqual([(r["complete"], r.get("through")) for r in res],
                         [(False, since + 50), (True, None)])
        await p3.wait_seq(self.R, since + 51)
        await p3.quiet(0.2)
        self.assertContiguous(p3.events[self.R], since + 1, since + 51)

    async def test_rejoin_as_only_subscriber(self):
        # The same restart when this connection is the room's only
        # subscriber: dropping the old subscription must not unload the
        # room under the new one.
        await self.setup_room()
        p = await self.participant(self.d, self.room["code"], "Ensam")
        head = p.join_result["head"]
        await p.wait_seq(self.R, head)
        for since in (0, head, 1):
            j = await p.join(room=self.R, since=since)
            self.assertEqual((j["head"], j["complete"]), (head, True))
        seq = (await p.call("chat.send", room=self.R, text="fortfarande här"))["seq"]
        self.assertEqual(seq, head + 1)
        await p.wait_seq(self.R, seq)
        self.assertEqual(tt.seqs(p.events[self.R]),
                         list(range(1, head + 1)) + list(range(1, head + 1))
                         + list(range(2, head + 2)))

    async def test_laggard_closed_with_resume_hint(self):
        # A client that stops reading is closed with 4000 and the reason
        # "resume since=N" (PROTOCOL.md 7.2); N is the last event it was
        # sent, and resuming from N loses nothing.
        # A small send_queue (the daemon wants at least two max_message);
        # the ring keeps its default, larger than the test's burst, so that
        # only the silent client falls behind.
        await self.setup_room({"send_queue": 131072})
        await self.mod.join(room=self.R)
        p = await self.participant(self.d, self.room["code"], "Slö läsare")
        token = p.token
        await p.close()
        w = tt.RawConn(self.d, rcvbuf=4096)
        try:
            w.read_hello()
            self.assertTrue(w.request({"op": "resume", "id": "r", "token": token})["ok"])
            j = w.request({"op": "join", "id": "j", "room": self.R,
                           "since": 0})
            self.assertTrue(j["ok"], j)
            # Now stop reading while ~10 MB of chats go by: more than the
            # kernel's socket buffers (up to 4 MB each way on loopback) hold.
            # Few chats in flight, so the poster's own queue stays small.
            acked = await self.post(self.mod, 2500, "x" * 3990, concurrency=4)
            head = max(acked)
            w.sock.settimeout(tt.TIMEOUT)
            got = [m for m in w.skipped if m.get("type") == "event"]
            while True:
                try:
                    kind, value = w.recv()
                except (ConnectionError, OSError) as e:
                    self.fail("closed without a close frame after %d events (%s)"
                              % (len(got), e))
                if kind == "close":
                    code, reason = value
                    break
                got.extend(m for m in value if m.get("type") == "event")
        finally:
            w.close()
        self.assertEqual(code, 4000, "close code for a client that fell behind: %r" % reason)
        self.assertRegex(reason, r"^resume since=\d+$")
        n = int(reason.split("=")[1])
        self.assertContiguous(got, 1)
        self.assertEqual(n, got[-1]["seq"] if got else 0,
                         "the hint is the last event actually sent")
        self.assertLess(n, head, "the client was not behind at all")
        # Resume from the hint: the rest, exactly once.
        c = await self.resumed(self.d, token)
        # (A page may hold fewer than `page` events: "at most", 4.4.)
        res = await self.page_through(c, n, idle_check=False)
        await c.wait_seq(self.R, head)
        self.assertContiguous(got + c.events[self.R], 1, head)
        self.assertTrue(res[-1]["complete"])


if __name__ == "__main__":
    tt.main()
