"""test_21_resume_rounds: thousands of broken connections lose nothing and
duplicate nothing (PROTOCOL.md 4.3, 4.4 "Paging", 5.4).

A workshop with two tables runs while writers post continuously (chats from
a moderator, notes from a participant at table t1 and from the moderator at
t2 and at no table, on a board whose anonymity is `moderators`). Twelve
viewers of every kind (participants at t1, at t2 and at no table,
observers, the moderator's own identity) reconnect over and over: each
round opens a new TLS connection, sends `resume` and `join` with `since` =
the last seq it applied (pipelined, without waiting for the resume reply),
and is then cut at a random point: before any reply was read, after a
random number of bytes of the decrypted stream (mostly in the middle of a
frame), once caught up (a ping after the complete join reply is the
barrier), or after a moment of live events, by a TCP abort or a close
frame. A join reply with `"complete":false` is followed at once by a join
with `since` = its `through`, as 4.4 says. The page is small (32), and some
viewers stay away for a while, so many rounds page.

Checked in every round: every reply is ok; events come in rising seq, each
seq above the `since` the viewer sent (no duplicate across the seam); for
viewers that may see every event (moderator, observers) each seq is exactly
the previous one plus one (no gap). At the end, after the writers stopped:
each viewer's event list, as the exact bytes the server sent (batch items
cut out of their frames byte for byte), equals what a fresh connection of
the same identity receives with `join since=0` paged to the end; and every
acknowledged chat is in every view with its text.

The page boundary test misses exactly page − 1, page and page + 1 events
(and a page cut short by its byte budget, half of `send_queue`), and checks
`complete`/`through` and the events of each reply.

Rounds: TAVLA_RESUME_ROUNDS (default 10,000, in the sanitizer build too:
the clients, not the daemon, set the pace; about 70 s either way on two
cores). Lower it on a slow machine.
"""

import asyncio
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import wire  # noqa: E402


ROUNDS = int(os.environ.get("TAVLA_RESUME_ROUNDS", "10000"))
PAGE = 32
SEED = int(os.environ.get("TAVLA_RESUME_SEED", "21"))
FAST = {"rate": 1000000, "rate_burst": 1000000, "page": PAGE}


class Viewer:
    """A resumable identity and what it has applied so far."""

    def __init__(self, name, token, role, sees_all):
        self.name = name
        self.token = token
        self.role = role
        self.sees_all = sees_all    # every event reaches it (5.4): gaps are errors
        self.raw = []               # the exact bytes of each event received
        self.last = 0               # seq of the last event applied
        self.ids = 0
        self.stats = {"rounds": 0, "paged": 0, "events": 0, "before_reply": 0,
                      "mid_frame": 0, "between_frames": 0, "caught_up": 0}

    def rid(self, what):
        self.ids += 1
        return "%s%d" % (what, self.ids)


class ResumeRounds(tt.TavlaCase):

    async def asyncSetUp(self):
        # IsolatedAsyncioTestCase runs the loop in debug mode, which checks
        # every callback and costs a third of the rounds' time.
        asyncio.get_running_loop().set_debug(False)

    async def workshop(self, extra=None):
        self.d = self.start_daemon(dict(FAST, **(extra or {})))
        self.mod = await self.moderator(self.d)
        room = (await self.mod.call("room.create", kind="workshop", title="Återkopplingar"))["room"]
        self.R, self.code = room["id"], room["code"]
        await self.mod.join(room=self.R)
        for name in ("Bord 1", "Bord 2"):
            await self.mod.call("table.create", room=self.R, name=name)
        await self.mod.call("board.create", room=self.R, title="Vad fungerar?", layout="columns",
                            columns=["Nu", "Sedan"], anonymity="moderators")
        await self.mod.call("phase.set", room=self.R, phase="write")
        self.ctx = tt.tls_context(self.d.ca)

    async def person(self, name, table=None, observer=False):
        args = {"observer": True} if observer else {}
        c = await self.participant(self.d, self.code, name, **args)
        if table:
            await c.call("table.assign", room=self.R, table=table)
        return c

    # --- one viewer's connection ---

    async def wconnect(self, v):
        conn = await wire.WireConn.open(self.d.port, self.ctx)
        hello = await conn.messages()
        self.assertEqual(hello[0][1]["type"], "hello")
        return conn

    def apply(self, v, raw, obj, since):
        """Files one message of the room's feed; checks order and gaps."""
        if obj.get("type") != "event":
            return
        self.assertEqual(obj["room"], self.R)
        seq = obj["seq"]
        if seq <= v.last or seq <= since:
            self.fail("%s: seq %d after %d (since %d): duplicate or out of order"
                      % (v.name, seq, v.last, since))
        if v.sees_all and seq != v.last + 1:
            self.fail("%s: gap, seq %d after %d" % (v.name, seq, v.last))
        v.raw.append(raw)
        v.last = seq
        v.stats["events"] += 1

    async def round(self, v, rng):
        """One connection of v, cut at a random point. Returns nothing; every
        check is an assertion."""
        v.stats["rounds"] += 1
        conn = await self.wconnect(v)
        since = v.last              # of the join whose reply came last
        sent = [since]              # sinces of joins not answered yet
        rr, jr = v.rid("r"), v.rid("j")
        conn.send({"op": "resume", "id": rr, "token": v.token})
        conn.send({"op": "join", "id": jr, "room": self.R, "since": since})
        mode = rng.random()
        if mode < 0.10:
            conn.abort()                    # before reading any reply
            v.stats["before_reply"] += 1
            return
        if mode < 0.60:                     # at a random byte of the stream
            conn.budget = conn.consumed + int(rng.expovariate(1 / 1500.0))
        linger = rng.random() < 0.5         # after catching up: stay a moment
        barrier = None
        live_until = None
        try:
            while True:
                if live_until is not None:
                    left = live_until - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        items = await conn.messages(timeout=left)
                    except asyncio.TimeoutError:
                        break
                else:
                    items = await conn.messages()
                for raw, obj in items:
                    t = obj.get("type")
                    if t == "reply":
                        self.assertIs(obj.get("ok"), True, "%s: %s" % (v.name, raw[:300]))
                        if obj["id"] == jr:
                            res = obj["result"]
                            since = sent.pop(0)
                            if res["complete"]:
                                barrier = v.rid("p")
                                conn.send({"op": "ping", "id": barrier})
                            else:
                                v.stats["paged"] += 1
                                self.assertGreater(res["through"], since)
                                self.assertLessEqual(res["through"] - since, PAGE)
                                jr = v.rid("j")
                                sent.append(res["through"])
                                conn.send({"op": "join", "id": jr, "room": self.R,
                                           "since": res["through"]})
                        elif obj["id"] == barrier:
                            # Caught up: everything queued before the ping
                            # (the whole catch-up) has been read.
                            if not linger:
                                raise wire.Closed(None, "done")
                            live_until = time.monotonic() + rng.uniform(0, 0.1)
                    else:
                        self.apply(v, raw, obj, since)
        except wire.Closed as e:
            if e.code is not None:
                self.fail("%s: the server closed with %s %r" % (v.name, e.code, e.reason))
            if e.reason == "budget":
                v.stats["mid_frame" if conn.buf else "between_frames"] += 1
            else:
                v.stats["caught_up"] += 1
        else:
            v.stats["caught_up"] += 1
        if rng.random() < 0.5:
            conn.abort()
        else:
            await conn.close()

    async def fresh_load(self, v):
        """A new connection of v's identity: join since=0, paged to the end,
        then a ping as the barrier. Returns the events' exact bytes."""
        conn = await self.wconnect(v)
        got = []
        conn.send({"op": "resume", "id": "fr", "token": v.token})
        conn.send({"op": "join", "id": "fj", "room": self.R, "since": 0})
        try:
            while True:
                for raw, obj in await conn.messages():
                    t = obj.get("type")
                    if t == "event":
                        got.append(raw)
                    elif t == "reply":
                        self.assertIs(obj.get("ok"), True, raw[:300])
                        if obj["id"] == "fj":
                            res = obj["result"]
                            if res["complete"]:
                                conn.send({"op": "ping", "id": "fp"})
                            else:
                                conn.send({"op": "join", "id": "fj", "room": self.R,
                                           "since": res["through"]})
                        elif obj["id"] == "fp":
                            return got
        finally:
            conn.abort()

    # --- the tests ---

    async def test_random_rounds(self):
        await self.workshop()
        rng = random.Random(SEED)
        writer = await self.person("Skrivande Sara", "t1")
        people = [("Ann på bord 1", "t1", False, False), ("Bo på bord 1", "t1", False, False),
                  ("Cia på bord 2", "t2", False, False), ("Dan på bord 2", "t2", False, False),
                  ("Eva utan bord", None, False, False), ("Fia observerar", None, True, True),
                  ("Gun observerar", None, True, True), ("Hans på bord 2", "t2", False, False),
                  ("Ida på bord 1", "t1", False, False), ("Jon utan bord", None, False, False),
                  ("Kim observerar", None, True, True)]
        viewers = []
        for name, table, observer, sees_all in people:
            c = await self.person(name, table, observer)
            viewers.append(Viewer(name, c.token, "observer" if observer else "participant",
                                  sees_all))
            await c.close()
        viewers.append(Viewer("moderator", self.mod.token, "moderator", True))

        # The writers: chats and notes at t1, t2 and no table, until stopped.
        stop = asyncio.Event()
        chats = {}
        posted = {"notes": 0}

        async def post_chats():
            i = 0
            while not stop.is_set():
                i += 1
                text = "chatt %d: åäö \"citat\" \\ %s" % (i, "x" * (i % 300))
                r = await self.mod.call("chat.send", room=self.R, text=text)
                chats[r["seq"]] = text
                await asyncio.sleep(0.02)

        async def post_notes(client, tables):
            i = 0
            while not stop.is_set():
                i += 1
                args = {"room": self.R, "board": "b1", "text": "lapp %d %s" % (i, client.identity["name"]),
                        "column": i % 2}
                t = tables[i % len(tables)]
                if t:
                    args["table"] = t
                await client.call("note.add", **args)
                posted["notes"] += 1
                await asyncio.sleep(0.04)

        writers = [asyncio.ensure_future(post_chats()),
                   asyncio.ensure_future(post_notes(writer, [None])),
                   asyncio.ensure_future(post_notes(self.mod, ["t2", None, "t1"]))]
        left = [ROUNDS]
        t0 = time.monotonic()

        async def run(v, seed):
            r = random.Random(seed)
            while left[0] > 0:
                left[0] -= 1
                await self.round(v, r)
                if r.random() < 0.08:       # away for a while: the rest pages
                    await asyncio.sleep(r.uniform(0.2, 1.0))
        try:
            await asyncio.gather(*(run(v, rng.random()) for v in viewers))
        finally:
            stop.set()
            await asyncio.gather(*writers, return_exceptions=True)
        for w in writers:
            w.result()      # a writer's failure fails the test
        elapsed = time.monotonic() - t0
        head = (await self.mod.call("room.list"))["rooms"][0]["head"]

        # Last round for everyone (no cut), then compare with a fresh load.
        for v in viewers:
            conn = await self.wconnect(v)
            conn.send({"op": "resume", "id": "zr", "token": v.token})
            since, sent = v.last, [v.last]
            conn.send({"op": "join", "id": "zj", "room": self.R, "since": since})
            done = False
            while not done:
                for raw, obj in await conn.messages():
                    if obj.get("type") == "reply":
                        self.assertIs(obj.get("ok"), True, raw[:300])
                        if obj["id"] == "zj":
                            since = sent.pop(0)
                            if obj["result"]["complete"]:
                                conn.send({"op": "ping", "id": "zp"})
                            else:
                                sent.append(obj["result"]["through"])
                                conn.send({"op": "join", "id": "zj", "room": self.R,
                                           "since": sent[-1]})
                        elif obj["id"] == "zp":
                            done = True
                    else:
                        self.apply(v, raw, obj, since)
            conn.abort()
            if v.sees_all:
                self.assertEqual(v.last, head, v.name)
            fresh = await self.fresh_load(v)
            if fresh != v.raw:
                n = next((i for i, (a, b) in enumerate(zip(fresh, v.raw)) if a != b),
                         min(len(fresh), len(v.raw)))
                self.fail("%s: view differs from a fresh load at event %d of %d/%d:\n"
                          "fresh: %s\nview:  %s" % (v.name, n, len(fresh), len(v.raw),
                                                    fresh[n][:300] if n < len(fresh) else "-",
                                                    v.raw[n][:300] if n < len(v.raw) else "-"))
            seen = {}
            for raw in v.raw:
                obj = wire.split_message(raw)[0][1]
                if obj["kind"] == "chat.message":
                    seen[obj["seq"]] = obj["data"]["text"]
            self.assertEqual(seen, chats, "%s: the acknowledged chats" % v.name)
        total = {k: sum(v.stats[k] for v in viewers) for k in viewers[0].stats}
        rounds, paged = total["rounds"], total["paged"]
        sys.stderr.write("\ntest_21: %d rounds by %d viewers in %.1f s (%.0f rounds/s): cut "
                         "before any reply %d, in the middle of a frame %d, between frames "
                         "%d, after catching up %d; %d pages followed, %d events applied, "
                         "room head %d (%d chats, %d notes); every view equals a fresh load\n"
                         % (rounds, len(viewers), elapsed, rounds / elapsed,
                            total["before_reply"], total["mid_frame"], total["between_frames"],
                            total["caught_up"], paged, total["events"], head, len(chats),
                            posted["notes"]))
        self.assertGreater(total["mid_frame"], 0)
        self.assertEqual(rounds, ROUNDS)
        self.assertGreater(paged, 0, "no round paged: the test proves nothing about paging")

    async def resume_after(self, v, missed_writer, k, text="missat"):
        """v drops; k chats are posted; v resumes. Returns the join results
        and the events' bytes, paging as 4.4 says."""
        for i in range(k):
            await missed_writer.call("chat.send", room=self.R, text="%s %d" % (text, i))
        conn = await self.wconnect(v)
        conn.send({"op": "resume", "id": "r", "token": v.token})
        since, sent, results, events = v.last, [v.last], [], []
        conn.send({"op": "join", "id": "j", "room": self.R, "since": since})
        per_reply = []
        while True:
            items = await conn.messages()
            stop = False
            for raw, obj in items:
                if obj.get("type") == "event":
                    self.apply(v, raw, obj, since)
                    events.append(raw)
                    per_reply[-1] += 1
                elif obj.get("type") == "reply" and obj["id"] == "j":
                    res = obj["result"]
                    since = sent.pop(0)
                    results.append(res)
                    per_reply.append(0)
                    if res["complete"]:
                        conn.send({"op": "ping", "id": "p"})
                    else:
                        sent.append(res["through"])
                        conn.send({"op": "join", "id": "j", "room": self.R,
                                   "since": res["through"]})
                elif obj.get("type") == "reply" and obj["id"] == "p":
                    stop = True
            if stop:
                break
        conn.abort()
        return results, per_reply, events

    async def test_page_boundary(self):
        await self.workshop({"send_queue": 131072})
        c = await self.person("Gränsfall", "t1")
        v = Viewer("Gränsfall", c.token, "participant", True)
        await c.close()
        # Catch up once, then miss exactly page-1, page and page+1 events.
        await self.resume_after(v, self.mod, 0)
        for k, want in ((PAGE - 1, [(True, None)]), (PAGE, [(True, None)]),
                        (PAGE + 1, [(False, PAGE), (True, None)])):
            start = v.last
            res, per, events = await self.resume_after(v, self.mod, k, "gräns %d" % k)
            self.assertEqual([(r["complete"], r["through"] - start if "through" in r else None)
                              for r in res], want, "missed %d" % k)
            self.assertEqual(len(events), k)
            self.assertEqual(per, [PAGE, 1] if k > PAGE else [k], "events after each reply")
            self.assertEqual(v.last, start + k)
            for r in res:
                self.assertEqual(r["head"], start + k)
        # A page cut by bytes before its count: 30 chats of 3,000 bytes are
        # more than half of a 128 KiB send queue.
        start = v.last
        res, per, events = await self.resume_after(v, self.mod, 30, "y" * 3000)
        self.assertIs(res[0]["complete"], False)
        self.assertLess(res[0]["through"] - start, 30)
        self.assertEqual(per[0], res[0]["through"] - start)
        self.assertIs(res[-1]["complete"], True)
        self.assertEqual(v.last, start + 30)
        self.assertEqual(sum(per), 30)
        sys.stderr.write("\ntest_21: a 128 KiB send queue pages 30 chats of 3 KB as %s\n" % per)
        # The viewer's whole view is what a fresh load gives.
        self.assertEqual(await self.fresh_load(v), v.raw)


if __name__ == "__main__":
    os.environ.setdefault("TV_TEST_TIMEOUT", "500")
    tt.main()
