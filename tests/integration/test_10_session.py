"""test_10_session: a session from hello to history, against PROTOCOL.md.

Covers hello (2.1), ping (4.1), login (4.2), room.create and room.list
(4.6, 4.7), both forms of join (4.4) with presence (2.4), chat.send and its
fan-out (4.8, 2.3), observers, leave (4.5), history paging (4.9), the
identity rules of section 3 and /healthz (1). Bad input in general is
test_50's; here only the errors that belong to a normal session.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

PASSWORD = "rätt häst batteri häftklammer"


class Session(tt.TavlaCase):

    def setUp(self):
        self.d = self.start_daemon()
        tt.create_moderator(self.d, "Region Norrfjäll", "moderator", PASSWORD)

    async def login(self):
        c = await self.connect(self.d)
        await c.login("moderator", PASSWORD)
        return c

    async def make_room(self, mod, kind="workshop", title="Framtidsverkstad"):
        return (await mod.call("room.create", kind=kind, title=title))["room"]

    # --- 2.1, 4.1, 1 ---

    async def test_hello_and_ping(self):
        c = await self.connect(self.d)
        h = c.hello
        self.assertEqual(h["type"], "hello")
        self.assertEqual(h["protocol"], "tavla.v1")
        self.assertTrue(h["server"].startswith("tavlad "), h)
        self.assertEqual(h["limits"]["max_message"], 65536)
        self.assertEqual(h["limits"]["page"], 1000)
        before = int(time.time() * 1000)
        r = await c.request("ping", id="p1")
        after = int(time.time() * 1000)
        self.assertEqual(set(r), {"type", "id", "ok", "result"}, r)
        self.assertEqual((r["type"], r["id"], r["ok"]), ("reply", "p1", True))
        self.assertIsInstance(r["result"]["ts"], int)
        self.assertTrue(before - 2000 <= r["result"]["ts"] <= after + 2000, (before, r, after))
        # ping is "any": it works after login too.
        await c.login("moderator", PASSWORD)
        self.assertIn("ts", await c.call("ping"))

    async def test_healthz(self):
        status, body = tt.https_get(self.d, "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(body.strip(), "ok")

    # --- 4.2, 3 ---

    async def test_login(self):
        c = await self.connect(self.d)
        r = await c.request("login", id="l1", user="moderator", password="fel")
        self.assertError(r, "bad_credentials", "l1")
        r = await c.request("login", id="l2", user="ingen-sådan", password=PASSWORD)
        self.assertError(r, "bad_credentials", "l2")
        # Still anonymous after failures ...
        self.assertEqual(await c.error("room.list"), "not_authenticated")
        # ... so a good login on the same connection works.
        r = await c.request("login", id="l3", user="moderator", password=PASSWORD)
        self.assertTrue(r["ok"], r)
        ident, token = r["result"]["identity"], r["result"]["token"]
        self.assertTrue(ident["id"].startswith("i_"), ident)
        self.assertEqual(ident["name"], "moderator")
        self.assertEqual(ident["role"], "moderator")
        self.assertEqual(len(token), tt.TOKEN_LEN, token)
        self.assertTrue(set(token) <= tt.TOKEN_CHARS, token)
        # Section 3: one identity per connection.
        self.assertEqual(await c.error("login", user="moderator", password=PASSWORD),
                         "already_authenticated")
        self.assertEqual(await c.error("resume", token=token), "already_authenticated")
        # A second login gets a different token, and both resume to the same identity.
        c2 = await self.connect(self.d)
        await c2.login("moderator", PASSWORD)
        self.assertNotEqual(c2.token, token)
        c3 = await self.connect(self.d)
        self.assertEqual((await c3.call("resume", token=token))["identity"], ident)

    async def test_ops_before_auth(self):
        mod = await self.login()
        room = await self.make_room(mod)
        c = await self.connect(self.d)
        for op, args in [("room.list", {}),
                         ("room.create", {"kind": "forum", "title": "x"}),
                         ("chat.send", {"room": room["id"], "text": "hej"}),
                         ("history", {"room": room["id"]}),
                         ("leave", {"room": room["id"]}),
                         ("join", {"room": room["id"]})]:
            r = await c.request(op, id="a-" + op, **args)
            self.assertError(r, "not_authenticated", "a-" + op)
        await c.call("ping")

    # --- 4.6, 4.7 ---

    async def test_room_create_and_list(self):
        mod = await self.login()
        r = await mod.request("room.create", id="c0", kind="party", title="Fest")
        self.assertError(r, "bad_request", "c0")
        r = await mod.request("room.create", id="c1", kind="workshop", title="Framtidsverkstad")
        self.assertTrue(r["ok"], r)
        room = r["result"]["room"]
        self.assertEqual(set(room), {"id", "code", "kind", "title"}, room)
        self.assertTrue(room["id"].startswith("r_"), room)
        self.assertEqual(len(room["code"]), 6, room)
        self.assertTrue(set(room["code"]) <= tt.CODE_CHARS, room)
        self.assertEqual((room["kind"], room["title"]), ("workshop", "Framtidsverkstad"))
        others = [await self.make_room(mod, k, "Rum för %s" % k) for k in ("meeting", "forum")]
        codes = {room["code"]} | {o["code"] for o in others}
        self.assertEqual(len(codes), 3, "join codes are unique")
        listed = (await mod.call("room.list"))["rooms"]
        by_id = {x["id"]: x for x in listed}
        for rm in [room] + others:
            self.assertIn(rm["id"], by_id)
            want = dict(rm, head=1)             # only room.created so far
            self.assertEqual(by_id[rm["id"]], want)
        # The first event is room.created by the moderator (4.6, 5).
        await mod.join(room=room["id"])
        ev = await mod.next_event(room=room["id"])
        self.assertEqual(tt.without_ts(ev), {
            "type": "event", "room": room["id"], "seq": 1,
            "author": {"id": mod.identity["id"], "name": "moderator"},
            "kind": "room.created",
            "data": {"kind": "workshop", "title": "Framtidsverkstad", "code": room["code"]}})
        self.assertIsInstance(ev["ts"], int)
        # A participant lists only the rooms it is a member of.
        p = await self.participant(self.d, room["code"], "Åsa Öberg")
        mine = (await p.call("room.list"))["rooms"]
        self.assertEqual([x["id"] for x in mine], [room["id"]])
        # Only moderators create rooms.
        self.assertEqual(await p.error("room.create", kind="forum", title="x"), "forbidden")

    # --- 4.4, 2.4, 4.8, 2.3 ---

    async def test_join_presence_chat(self):
        mod = await self.login()
        room = await self.make_room(mod)
        R = room["id"]
        mj = await mod.join(room=R)
        self.assertEqual(mj["room"], room)
        self.assertEqual(mj["role"], "moderator")
        self.assertIs(mj["complete"], True)
        self.assertNotIn("token", mj)
        # Whether a moderator's own room-form join is logged is not fixed by
        # PROTOCOL.md 5; take the head from what arrived.
        await mod.wait_seq(R, mj["head"])
        await mod.quiet(0.2)
        head0 = mod.events[R][-1]["seq"]
        self.assertContiguous(mod.events[R], 1, head0)

        # Code join, Swedish name, non-ASCII sent literally.
        asa = await self.connect(self.d)
        r = await asa.request("join", id="j1", code=room["code"], name="Åsa Öberg")
        self.assertTrue(r["ok"], r)
        res = r["result"]
        ident = res["identity"]
        self.assertTrue(ident["id"].startswith("i_"), ident)
        self.assertEqual(ident["name"], "Åsa Öberg")
        self.assertEqual(ident["role"], "participant")
        self.assertEqual(len(res["token"]), tt.TOKEN_LEN)
        self.assertTrue(set(res["token"]) <= tt.TOKEN_CHARS, res["token"])
        self.assertEqual(res["room"], room)
        self.assertEqual(res["role"], "participant")
        self.assertIs(res["complete"], True)
        self.assertEqual(res["head"], head0 + 1, "the member.joined event is in head")
        self.assertIn({"id": mod.identity["id"], "name": "moderator", "role": "moderator"},
                      res["presence"])
        # The reply is followed by every event 1..head, in order.
        await asa.wait_seq(R, res["head"])
        i_reply = asa.log.index(r)
        for ev in asa.events[R]:
            self.assertGreater(asa.log.index(ev), i_reply, "event before the join reply")
        self.assertContiguous(asa.events[R], 1, res["head"])
        joined_ev = asa.events[R][-1]
        want_joined = {"type": "event", "room": R, "seq": head0 + 1, "author": None,
                       "kind": "member.joined",
                       "data": {"id": ident["id"], "name": "Åsa Öberg", "role": "participant"}}
        self.assertEqual(tt.without_ts(joined_ev), want_joined)
        # The moderator sees the same event and a presence delta.
        self.assertEqual(await mod.event(R, head0 + 1), joined_ev)
        pr = await mod.next_presence(R, about=ident["id"])
        self.assertEqual(pr, {"type": "presence", "room": R,
                              "joined": [{"id": ident["id"], "name": "Åsa Öberg",
                                          "role": "participant"}],
                              "left": []})

        # A second participant; the name goes as JSON escapes this time.
        bo = await self.connect(self.d)
        await bo.send_raw('{"op":"join","id":"j2","code":"%s","name":"Bo \\u00c5kesson"}'
                          % room["code"])
        await bo.wait_seq(R, head0 + 2)
        bo_ident = bo.identity = [m for m in bo.log if m.get("id") == "j2"][0]["result"]["identity"]
        self.assertEqual(bo_ident["name"], "Bo Åkesson")
        self.assertNotEqual(bo_ident["id"], ident["id"])
        for c in (mod, asa):
            ev = await c.event(R, head0 + 2)
            self.assertEqual(ev["kind"], "member.joined")
            self.assertEqual(ev["data"], {"id": bo_ident["id"], "name": "Bo Åkesson",
                                          "role": "participant"})
            pr = await c.next_presence(R, about=bo_ident["id"])
            self.assertEqual(pr["joined"], [{"id": bo_ident["id"], "name": "Bo Åkesson",
                                             "role": "participant"}])
            self.assertEqual(pr["left"], [])

        # chat.send: reply with seq, then every subscriber, author included,
        # gets the same event.
        r = await asa.request("chat.send", id="c1", room=R, text="Hej allihop! Då kör vi.")
        self.assertEqual(r, {"type": "reply", "id": "c1", "ok": True,
                             "result": {"seq": head0 + 3}})
        evs = []
        for c in (mod, asa, bo):
            ev = await c.event(R, head0 + 3)
            self.assertEqual(tt.without_ts(ev), {
                "type": "event", "room": R, "seq": head0 + 3,
                "author": {"id": ident["id"], "name": "Åsa Öberg"},
                "kind": "chat.message", "data": {"text": "Hej allihop! Då kör vi."}})
            evs.append(ev)
        self.assertEqual(evs[0], evs[1])
        self.assertEqual(evs[0], evs[2])
        # A moderator chats too; the seq keeps rising by one.
        self.assertEqual((await mod.call("chat.send", room=R, text="Välkomna"))["seq"], head0 + 4)
        for c in (mod, asa, bo):
            await c.wait_seq(R, head0 + 4)

        # Bo leaves by closing: the others get a presence delta.
        await bo.close()
        for c in (mod, asa):
            pr = await c.next_presence(R, about=bo_ident["id"])
            self.assertEqual(pr, {"type": "presence", "room": R, "joined": [],
                                  "left": [bo_ident["id"]]})
        # Every client saw a gap-free log from 1.
        self.assertContiguous(mod.events[R], 1, head0 + 4)
        self.assertContiguous(asa.events[R], 1, head0 + 4)
        self.assertContiguous(bo.events[R], 1, head0 + 4)
        self.assertEqual(mod.events[R][head0:], asa.events[R][head0:])
        # room.list reports the head.
        listed = {x["id"]: x for x in (await mod.call("room.list"))["rooms"]}
        self.assertEqual(listed[R]["head"], head0 + 4)

    async def test_observer_and_not_in_room(self):
        mod = await self.login()
        room = await self.make_room(mod, "meeting", "Nätverksträff")
        R = room["id"]
        obs = await self.connect(self.d)
        res = await obs.join(code=room["code"], name="Gäst från myndigheten", observer=True)
        self.assertEqual(res["role"], "observer")
        self.assertEqual(res["identity"]["role"], "observer")
        await obs.wait_seq(R, res["head"])
        self.assertEqual(obs.events[R][-1]["data"]["role"], "observer")
        r = await obs.request("chat.send", id="o1", room=R, text="får jag?")
        self.assertError(r, "forbidden", "o1")
        # The observer still reads (history is for all members) and pings.
        hist = await obs.call("history", room=R)
        self.assertEqual(tt.seqs(hist["events"]), list(range(1, res["head"] + 1)))

        p = await self.participant(self.d, room["code"], "Örjan")
        token = p.token
        # Same identity, new connection, no join on it: not_in_room.
        p2 = await self.resumed(self.d, token)
        r = await p2.request("chat.send", id="n1", room=R, text="hallå?")
        self.assertError(r, "not_in_room", "n1")
        self.assertEqual(await p2.error("history", room=R), "not_in_room")
        # A moderator that has not joined this connection: not_in_room too.
        r = await mod.request("chat.send", id="n2", room=R, text="hallå?")
        self.assertError(r, "not_in_room", "n2")
        # After the join it works; after leave it does not.
        await p2.join(room=R)
        await p2.call("chat.send", room=R, text="nu så")
        self.assertEqual(await p2.call("leave", room=R), {})
        self.assertEqual(await p2.error("chat.send", room=R, text="igen"), "not_in_room")
        self.assertEqual(await p2.error("leave", room=R), "not_in_room")
        # ... but membership stays: p2 may join again (room form).
        again = await p2.join(room=R, since=0)
        self.assertEqual(again["role"], "participant")
        # A participant may not join (room form) a room it is not a member of ...
        other = await self.make_room(mod, "forum", "Lärforum")
        self.assertEqual(await p2.error("join", room=other["id"]), "forbidden")
        self.assertEqual(await p2.error("join", code="ZZZZZZ", name="X"), "bad_code")
        anon = await self.connect(self.d)
        self.assertEqual(await anon.error("join", code="ZZZZZZ", name="X"), "bad_code")
        # ... but with the code the same identity becomes a member of a
        # second room (section 3): no new identity, no token, name ignored.
        r = await p2.join(code=other["code"], name="Annat namn")
        self.assertEqual(r["room"], other)
        self.assertEqual(r["role"], "participant")
        self.assertNotIn("token", r)
        await p2.wait_seq(other["id"], r["head"])
        ev = p2.events[other["id"]][-1]
        self.assertEqual(tt.without_ts(ev), {
            "type": "event", "room": other["id"], "seq": r["head"], "author": None,
            "kind": "member.joined",
            "data": {"id": p2.identity["id"], "name": "Örjan", "role": "participant"}})
        # Both rooms are now listed, and chat works in both on one connection.
        listed = sorted(x["id"] for x in (await p2.call("room.list"))["rooms"])
        self.assertEqual(listed, sorted([R, other["id"]]))
        s1 = (await p2.call("chat.send", room=R, text="rum ett"))["seq"]
        s2 = (await p2.call("chat.send", room=other["id"], text="rum två"))["seq"]
        await p2.wait_seq(R, s1)
        await p2.wait_seq(other["id"], s2)
        # A code join of a room it is already a member of makes no event.
        r = await p2.join(code=other["code"], since=s2)
        self.assertEqual(r["head"], s2)

    async def test_leave_stops_events(self):
        mod = await self.login()
        room = await self.make_room(mod)
        R = room["id"]
        p = await self.participant(self.d, room["code"], "Signe")
        joined = await mod.join(room=R)
        await p.wait_seq(R, p.join_result["head"])
        await p.call("leave", room=R)
        seq = (await mod.call("chat.send", room=R, text="efter leave"))["seq"]
        await mod.wait_seq(R, seq)
        await p.quiet(0.5)
        self.assertLess(max(tt.seqs(p.events[R])), seq, "event after leave")
        # The moderator's view (its join list, then every delta in order)
        # ends without Signe. If the list showed her, a departure came;
        # if her arrival was still being gathered when the moderator
        # joined (2.4), arrival and departure cancelled out unseen.
        pid = p.identity["id"]
        view = {e["id"] for e in joined["presence"]}
        shown = pid in view
        for pr in mod.presence[R]:
            view |= {j["id"] for j in pr["joined"]}
            shown = shown or pid in view
            view -= set(pr["left"])
        self.assertNotIn(pid, view, (joined['presence'], mod.presence[R]))
        if shown:
            self.assertTrue(any(pid in pr["left"] for pr in mod.presence[R]))
        self.assertEqual(joined["present"], len(joined["presence"]))

    # --- 4.9 ---

    async def test_history_paging(self):
        mod = await self.login()
        room = await self.make_room(mod, "forum", "Lärforum om metoder")
        R = room["id"]
        await mod.join(room=R)
        for i in range(12):
            await mod.call("chat.send", room=R, text="inlägg %d" % i)
        head = 13
        await mod.wait_seq(R, head)
        live = mod.events[R]
        self.assertContiguous(live, 1, head)
        # Newest page first, ascending within the page.
        r = await mod.request("history", id="h1", room=R, limit=5)
        self.assertTrue(r["ok"], r)
        self.assertEqual(tt.seqs(r["result"]["events"]), [9, 10, 11, 12, 13])
        self.assertIs(r["result"]["more"], True)
        self.assertEqual(r["result"]["events"], live[8:13])
        got = r["result"]["events"]
        before = got[0]["seq"]
        while True:
            page = await mod.call("history", room=R, before=before, limit=5)
            got = page["events"] + got
            if not page["more"]:
                break
            before = page["events"][0]["seq"]
        self.assertEqual(got, live)
        # Defaults: before = head + 1, limit 100.
        self.assertEqual((await mod.call("history", room=R))["events"], live)
        # The example of 4.9.
        page = await mod.call("history", room=R, before=3, limit=2)
        self.assertEqual(page, {"events": live[0:2], "more": False})
        page = await mod.call("history", room=R, before=1)
        self.assertEqual(page, {"events": [], "more": False})
        for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "5"}, {"before": 0}):
            r = await mod.request("history", room=R, **bad)
            self.assertError(r, "bad_request")
        self.assertEqual(len((await mod.call("history", room=R, limit=1000))["events"]), head)


if __name__ == "__main__":
    tt.main()
