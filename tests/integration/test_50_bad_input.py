"""test_50_bad_input: every kind of bad input gets its exact error, and costs
nothing else (PROTOCOL.md 1, 2.2, 7; messages.def and fields.def limits).

For each bad frame: the error code, the reply id (null when the id could not
be read), and whether the connection stays usable (a ping after it must
work whenever the frame was well-formed at the WebSocket level). Frames that
python3-websockets will not produce (invalid UTF-8, fragments, handshakes
without the subprotocol) go through tavlatest.RawConn. Every test ends by
checking that the daemon is healthy and that no rejected request left an
event in the room's log.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402


class BadInput(tt.TavlaCase):

    async def asyncSetUp(self):
        self.d = self.start_daemon({"max_message": 65536})
        self.mod = await self.moderator(self.d)
        self.room = (await self.mod.call("room.create", kind="workshop",
                                         title="Felaktiga lappar"))["room"]
        self.R = self.room["id"]
        await self.mod.join(room=self.R)
        await self.mod.quiet(0.2)
        self.expected_head = (await self.mod.call("room.list"))["rooms"][0]["head"]

    async def asyncTearDown(self):
        # The daemon is healthy and the log holds only what was accepted.
        c = await self.connect(self.d)
        self.assertIn("ts", await c.call("ping"))
        m = await self.moderator(self.d)
        rooms = {r["id"]: r for r in (await m.call("room.list"))["rooms"]}
        self.assertEqual(rooms[self.R]["head"], self.expected_head,
                         "a rejected request left an event in the log")

    async def bad(self, c, frame, code):
        """Sends a raw text frame whose id cannot be read, expects an error
        reply with code and "id":null, then a working ping."""
        await c.send_raw(frame)
        r = await c.next_unmatched()
        self.assertError(r, code, None)
        self.assertIn("ts", await c.call("ping"), "connection unusable after %r" % frame[:80])
        return r

    # --- frames that are not a request object ---

    async def test_not_json_objects(self):
        c = await self.connect(self.d)
        deep = '{"op":"ping","id":"deep","x":' + "[" * 20000 + "]" * 20000 + "}"
        for frame in ["hej", "[1,2]", "42", "", '"ping"', "null", "true", "{",
                      '{"op":"ping","id":"t1"',                      # truncated
                      '{"op":"ping","id":"d1","id":"d2"}',           # duplicate id
                      '{"op":"ping","op":"ping","id":"d3"}',         # duplicate op
                      '{"op":"ping","id":"d4","x":{"a":1,"a":2}}',   # nested duplicate
                      '{"op":"ping","id":"t2"} {"op":"ping","id":"t3"}',  # two values
                      "{'op':'ping','id':'q'}",                      # not JSON quotes
                      deep]:
            with self.subTest(frame=frame[:40]):
                await self.bad(c, frame, "bad_json")
        # Nothing else arrived: each bad frame got exactly one reply.
        await c.quiet(0.3)
        self.assertEqual(c.unmatched, [])

    async def test_envelope(self):
        c = await self.connect(self.d)
        r = await self.bad_with_id(c, '{"op":"note.paint","id":"q1"}', "unknown_op", "q1")
        self.assertIn("note.paint", r["error"]["message"])
        await self.bad_with_id(c, '{"id":"m1"}', "bad_request", "m1")
        await self.bad_with_id(c, '{"op":5,"id":"m2"}', "bad_request", "m2")
        await self.bad_with_id(c, '{"op":null,"id":"m3"}', "bad_request", "m3")
        await self.bad(c, '{"op":"ping"}', "bad_request")
        await self.bad(c, '{"op":"ping","id":5}', "bad_request")
        await self.bad(c, '{"op":"ping","id":null}', "bad_request")
        await self.bad(c, '{"op":"ping","id":["a"]}', "bad_request")
        for bad_id in ["", "x" * 65, "a\u0001b", "tab\there", "nl\n"]:
            with self.subTest(id=bad_id):
                await c.send_raw(tt.dumps({"op": "ping", "id": bad_id}))
                r = await self.reply_any(c, bad_id)
                self.assertError(r, "bad_request")
                self.assertIn(r["id"], (None, bad_id),
                              "an invalid id is echoed or null")
                await c.call("ping")
        # The limits are inclusive and count characters, not bytes.
        for good_id in ["x" * 64, "å" * 64, "🙂" * 64, "1"]:
            r = await c.request("ping", id=good_id)
            self.assertEqual((r["id"], r["ok"]), (good_id, True), r)
        # Unknown fields are ignored (PROTOCOL.md 8).
        r = await c.request("ping", id="u1", extra={"nested": [1, 2, {"a": None}]}, v2=True)
        self.assertEqual((r["ok"], r["id"]), (True, "u1"), r)

    async def bad_with_id(self, c, frame, code, rid):
        await c.send_raw(frame)
        r = await self.reply_any(c, rid)
        self.assertError(r, code, rid)
        await c.call("ping")
        return r

    async def reply_any(self, c, rid):
        """The next reply carrying rid or null that no request waits for."""
        def scan():
            for i, m in enumerate(c.unmatched):
                if m.get("id") in (None, rid):
                    return c.unmatched.pop(i)
            return None
        return await c._wait(scan, tt.TIMEOUT, "reply %r" % rid)

    # --- fields ---

    async def test_field_types_and_presence(self):
        c = self.mod
        cases = [
            ("chat.send", {"room": self.R, "text": 5}, "bad_request", "text"),
            ("chat.send", {"room": self.R, "text": None}, "bad_request", "text"),
            ("chat.send", {"room": self.R, "text": ["a"]}, "bad_request", "text"),
            ("chat.send", {"room": self.R}, "bad_request", "text"),
            ("chat.send", {"text": "hej"}, "bad_request", "room"),
            ("chat.send", {"room": 7, "text": "hej"}, "bad_request", "room"),
            ("chat.send", {"room": self.R, "text": ""}, "bad_request", "text"),
            ("room.create", {"kind": "forum"}, "bad_request", "title"),
            ("room.create", {"title": "x"}, "bad_request", "kind"),
            ("room.create", {"kind": "party", "title": "x"}, "bad_request", "kind"),
            ("room.create", {"kind": "forum", "title": 3}, "bad_request", "title"),
            ("history", {"room": self.R, "limit": "10"}, "bad_request", "limit"),
            ("history", {"room": self.R, "limit": 1.5}, "bad_request", "limit"),
            ("history", {"room": self.R, "before": True}, "bad_request", "before"),
            ("join", {"room": self.R, "since": "0"}, "bad_request", "since"),
            ("join", {"room": self.R, "since": -1}, "bad_request", "since"),
            ("leave", {}, "bad_request", "room"),
        ]
        for op, args, code, field in cases:
            with self.subTest(op=op, args=args):
                r = await c.request(op, **args)
                self.assertError(r, code)
                self.assertIn(field, r["error"]["message"], "the message names the field")
        anon = await self.connect(self.d)
        for op, args, field in [("login", {"user": 5, "password": "x"}, "user"),
                                ("login", {"user": "mod"}, "password"),
                                ("resume", {"token": 43}, "token"),
                                ("join", {"code": self.room["code"], "name": "X",
                                          "observer": "yes"}, "observer"),
                                ("join", {"code": self.room["code"], "name": 1}, "name")]:
            with self.subTest(op=op, args=args):
                r = await anon.request(op, **args)
                self.assertError(r, "bad_request")
                self.assertIn(field, r["error"]["message"])
        await anon.call("ping")
        # None of these made an identity or an event.
        self.assertEqual(await anon.error("room.list"), "not_authenticated")

    async def test_text_lengths(self):
        c = self.mod
        r = await c.request("chat.send", id="long", room=self.R, text="å" * 4001)
        self.assertError(r, "too_long", "long")
        r = await c.request("chat.send", id="long4", room=self.R, text="🙂" * 4001)
        self.assertError(r, "too_long", "long4")
        for i, text in enumerate(["å" * 4000, "🙂" * 4000, "a" * 4000]):
            r = await c.request("chat.send", id="max%d" % i, room=self.R, text=text)
            self.assertTrue(r["ok"], r)
            self.expected_head += 1
            ev = await c.event(self.R, r["result"]["seq"])
            self.assertEqual(ev["data"]["text"], text)
        anon = await self.connect(self.d)
        r = await anon.request("join", id="nm", code=self.room["code"], name="Ö" * 61)
        self.assertError(r, "too_long", "nm")
        r = await c.request("room.create", id="tt", kind="forum", title="ä" * 201)
        self.assertError(r, "too_long", "tt")
        await c.call("ping")

    async def test_op_size_limit(self):
        # ping's own limit is 1024 bytes (messages.def); the frame is far
        # below max_message, so the connection stays open.
        c = await self.connect(self.d)
        r = await c.request("ping", id="big", pad="x" * 2000)
        self.assertError(r, "too_large", "big")
        await c.call("ping")

    # --- transport-level ---

    async def test_binary_frame(self):
        c = await self.connect(self.d)
        await c.send_raw(b'{"op":"ping","id":"b1"}')
        r = await c.next_unmatched()
        self.assertError(r, "binary_frame", None)
        self.assertIn("ts", await c.call("ping"))

    def test_invalid_utf8(self):
        for payload in [b'{"op":"ping","id":"\xff"}',
                        b'{"op":"chat.send","id":"u","text":"\xc3"}',   # truncated sequence
                        b'{"op":"ping","id":"\xc0\xaf"}',              # overlong '/'
                        b'{"op":"ping","id":"\xed\xa0\x80"}',          # UTF-16 surrogate
                        b'\xf4\x90\x80\x80']:                          # above U+10FFFF
            with self.subTest(payload=payload):
                w = tt.RawConn(self.d)
                try:
                    self.assertEqual(w.status, 101)
                    w.read_hello()
                    w.send_frame(tt.OP_TEXT, payload)
                    (code, reason), seen = w.read_until_close()
                    self.assertEqual(code, 1007, "close code for invalid UTF-8")
                    self.assertEqual(len(seen), 1, seen)
                    self.assertError(seen[0], "bad_utf8", None)
                finally:
                    w.close()

    def test_fragmented_message(self):
        w = tt.RawConn(self.d)
        try:
            w.read_hello()
            msg = tt.dumps({"op": "ping", "id": "frag-åäö"}).encode()
            # Split inside the multi-byte "å": reassembly comes before UTF-8 checks.
            cut = msg.index("å".encode()) + 1
            w.send_frame(tt.OP_TEXT, msg[:cut], fin=False)
            w.send_frame(tt.OP_PING, b"mitt i")       # control frames may interleave
            w.send_frame(tt.OP_CONT, msg[cut:], fin=True)
            (r,) = w.recv_messages()
            self.assertEqual((r["id"], r["ok"]), ("frag-åäö", True), r)
        finally:
            w.close()

    def test_over_max_message(self):
        w = tt.RawConn(self.d)
        try:
            w.read_hello()
            r = w.request({"op": "login", "id": "l", "user": "mod",
                           "password": "hemligt lösenord 1"})
            self.assertTrue(r["ok"], r)
            r = w.request({"op": "join", "id": "j", "room": self.R})
            self.assertTrue(r["ok"], r)
            # Exactly max_message bytes is read (chat.send's own limit is the
            # same) and then judged on content: the text is too long.
            base = tt.dumps({"op": "chat.send", "id": "edge", "room": self.R, "text": ""})
            frame = base.replace('"text":""', '"text":"%s"' % ("x" * (65536 - len(base))))
            self.assertEqual(len(frame.encode()), 65536)
            w.send_text(frame)
            r = w.reply_to("edge")
            self.assertError(r, "too_long", "edge")
            self.assertTrue(w.request({"op": "ping", "id": "still"})["ok"])
            # One byte more closes with 1009 (a too_large reply may come first).
            frame = base.replace('"text":""', '"text":"%s"' % ("x" * (65537 - len(base))))
            w.send_text(frame)
            (code, _), seen = w.read_until_close()
            self.assertEqual(code, 1009)
            for m in seen:
                if m.get("type") == "reply":
                    self.assertError(m, "too_large")
        finally:
            w.close()
        # The same in fragments, none of them large.
        w = tt.RawConn(self.d)
        try:
            w.read_hello()
            w.send_frame(tt.OP_TEXT, b'{"op":"ping","id":"f","pad":"' + b"y" * 30000, fin=False)
            w.send_frame(tt.OP_CONT, b"y" * 30000, fin=False)
            w.send_frame(tt.OP_CONT, b"y" * 30000 + b'"}', fin=True)
            (code, _), seen = w.read_until_close()
            self.assertEqual(code, 1009)
        finally:
            w.close()

    def test_handshake(self):
        w = tt.RawConn(self.d, subprotocol=None)
        try:
            self.assertEqual(w.status, 400, "a handshake without tavla.v1 is refused with "
                             "HTTP 400 (PROTOCOL.md 1); None = closed without an answer")
        finally:
            w.close()
        w = tt.RawConn(self.d, subprotocol="chat, superchat")
        try:
            self.assertEqual(w.status, 400)
        finally:
            w.close()
        w = tt.RawConn(self.d, subprotocol="x-other, tavla.v1")
        try:
            self.assertEqual(w.status, 101)
            self.assertEqual(w.headers.get("sec-websocket-protocol"), "tavla.v1")
        finally:
            w.close()
        w = tt.RawConn(self.d, origin="https://ond.example")
        try:
            self.assertNotEqual(w.status, 101, "a foreign Origin is refused")
        finally:
            w.close()
        w = tt.RawConn(self.d, origin="https://127.0.0.1:%d" % self.d.port)
        try:
            self.assertEqual(w.status, 101, "the daemon's own Origin is accepted")
        finally:
            w.close()

    # --- state and identity errors ---

    async def test_state_errors(self):
        anon = await self.connect(self.d)
        for op, args in [("room.list", {}), ("chat.send", {"room": self.R, "text": "x"}),
                         ("history", {"room": self.R}), ("join", {"room": self.R})]:
            with self.subTest(op=op):
                self.assertEqual(await anon.error(op, **args), "not_authenticated")
        # join: neither form, or both, or an anonymous code join without a name.
        self.assertEqual(await anon.error("join", name="Bo"), "bad_request")
        self.assertEqual(await anon.error("join", code=self.room["code"]), "bad_request")
        self.assertEqual(await anon.error("join", code=self.room["code"], room=self.R,
                                          name="Bo"), "bad_request")
        self.assertEqual(await anon.error("join", code="ZZZZZZ", name="Bo"), "bad_code")
        self.assertEqual(await anon.error("resume", token="B" * 43), "bad_token")
        self.assertEqual(await anon.error("login", user="mod", password="fel"),
                         "bad_credentials")
        await anon.call("ping")
        # Unknown rooms.
        c = self.mod
        self.assertEqual(await c.error("join", room="r_finnsinte000"), "room_not_found")
        # chat.send names a room this connection has not joined and that does
        # not exist: either answer tells the truth; PROTOCOL.md does not rank them.
        self.assertIn(await c.error("chat.send", room="r_finnsinte000", text="x"),
                      ("room_not_found", "not_in_room"))
        self.assertEqual(await c.error("login", user="mod", password="hemligt lösenord 1"),
                         "already_authenticated")
        self.assertEqual(await c.error("join", room=self.R, code=self.room["code"],
                                       name="x"), "bad_request")
        self.assertEqual(await c.error("join", room=self.R, since=self.expected_head + 1),
                         "bad_request")
        await c.call("ping")

    async def test_flood(self):
        d = self.start_daemon({"rate": 5, "rate_burst": 10})
        c = await self.connect(d)
        replies = await asyncio.gather(*(c.request("ping", id="f%d" % i) for i in range(60)),
                                       return_exceptions=True)
        ok = [r for r in replies if isinstance(r, dict) and r.get("ok")]
        limited = [r for r in replies if isinstance(r, dict) and not r.get("ok")]
        for r in limited:
            self.assertError(r, "rate_limited")
        self.assertGreaterEqual(len(ok), 10, "the burst is honoured")
        self.assertLess(len(ok), 60, "no rate limit at all")
        if c.closed:
            self.assertEqual(c.close_code, 1008, "a flood closes with 1008")
        # The limit is per connection: another one is served.
        c2 = await self.connect(d)
        self.assertIn("ts", await c2.call("ping"))



if __name__ == "__main__":
    tt.main()
