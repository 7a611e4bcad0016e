"""test_58_https_fallback: tavla.v1 without WebSockets (PROTOCOL.md 1.1).

A client that cannot open a WebSocket opens a session with POST
/api/session (the session id travels in an HttpOnly cookie and, for a
browser tab that wants a session of its own, in the reply body, to be sent
back in an X-Tavla-Session header), reads
every server message from GET /api/events (Server-Sent Events, one `data:`
line each) and sends requests with POST /api/send. The same dispatch runs:
login, join with since, chat, idempotent repeats; a WebSocket client in the
same room sees the fallback client's events and the other way round; a
stream that drops is re-attached and, joining again with `since`, misses
nothing; a session the server closes ends its stream with `event: close`;
two sessions that share one cookie (two tabs of a browser) stay apart when
each names its own in the header.
"""

import asyncio
import http.client
import json
import os
import sys
import threading
import queue

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402


class FallbackClient:
    """A blocking HTTPS-only client; an SSE reader thread fills .inbox."""

    def __init__(self, d, header=False):
        self.d = d
        self.header = header
        self.inbox = queue.Queue()
        self.stream = None
        self.thread = None
        c = self.conn()
        c.request("POST", "/api/session", body=b"")
        r = c.getresponse()
        body = r.read()
        assert r.status == 201, (r.status, body)
        cookie = r.getheader("set-cookie")
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie, cookie
        self.cookie = cookie.split(";")[0]
        self.sid = json.loads(body)["session"]
        assert self.cookie == "tavla_session=" + self.sid, (self.cookie, self.sid)
        c.close()
        self.n = 0

    def headers(self, **more):
        """The session as the client names it: the header (and whatever
        cookie the browser holds, here the shared one), or the cookie."""
        h = {"Cookie": self.cookie}
        if self.header:
            h["X-Tavla-Session"] = self.sid
            if self.header is not True:
                h["Cookie"] = self.header()
        h.update(more)
        return h

    def conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.d.port, timeout=tt.TIMEOUT,
                                           context=tt.tls_context(self.d.ca))

    def attach(self):
        c = self.conn()
        c.request("GET", "/api/events", headers=self.headers())
        sock = c.sock  # http.client forgets it once the response says close
        r = c.getresponse()
        assert r.status == 200, r.status
        assert r.getheader("content-type").startswith("text/event-stream")
        self.stream = (sock, r)

        def read():
            event = None
            try:
                while True:
                    line = r.fp.readline()
                    if not line:
                        self.inbox.put(("eof", None))
                        return
                    line = line.decode("utf-8").rstrip("\n")
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        msg = json.loads(line[6:])
                        if event == "close":
                            self.inbox.put(("close", msg))
                        elif msg.get("type") == "batch":
                            for item in msg["items"]:
                                self.inbox.put(("msg", item))
                        else:
                            self.inbox.put(("msg", msg))
                        event = None
            except Exception as e:  # the test closed the socket
                self.inbox.put(("eof", repr(e)))

        self.thread = threading.Thread(target=read, daemon=True)
        self.thread.start()

    def detach(self):
        import socket
        sock, r = self.stream
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        self.thread.join(5)

    def send(self, op, **args):
        self.n += 1
        rid = args.pop("id", "f%d" % self.n)
        msg = dict(op=op, id=rid, **args)
        c = self.conn()
        c.request("POST", "/api/send", body=json.dumps(msg).encode(),
                  headers=self.headers(**{"Content-Type": "application/json"}))
        r = c.getresponse()
        r.read()
        c.close()
        assert r.status == 202, r.status
        return rid

    def next(self, pred, timeout=tt.TIMEOUT):
        import time
        end = time.monotonic() + timeout
        while True:
            kind, m = self.inbox.get(timeout=max(0.01, end - time.monotonic()))
            if pred(kind, m):
                return m

    def reply(self, rid):
        return self.next(lambda k, m: k == "msg" and m.get("type") == "reply" and m.get("id") == rid)

    def call(self, op, **args):
        r = self.reply(self.send(op, **args))
        assert r["ok"], r
        return r["result"]


class Fallback(tt.TavlaCase):

    async def test_session_chat_and_resume(self):
        d = self.start_daemon()
        mod = await self.moderator(d)
        room = (await mod.call("room.create", kind="meeting", title="Nätverksträff"))["room"]
        R = room["id"]
        await mod.join(room=R)

        def scenario():
            f = FallbackClient(d)
            f.attach()
            hello = f.next(lambda k, m: k == "msg")
            assert hello["type"] == "hello" and hello["protocol"] == "tavla.v1", hello
            res = f.call("join", code=room["code"], name="Ingrid utan websocket")
            assert res["complete"] and len(res["token"]) == 43
            seq = f.call("chat.send", room=R, text="Hej från en brandvägg")["seq"]
            # A repeat with the same id is replayed, not applied twice.
            rid = f.send("chat.send", id="same", room=R, text="en gång")
            first = f.reply(rid)
            again = f.reply(f.send("chat.send", id="same", room=R, text="en gång"))
            assert again.get("replayed") and again["result"] == first["result"], again
            # Drop the stream while the moderator posts; re-attach: nothing lost.
            f.detach()
            return f, seq, first["result"]["seq"]

        f, seq, seq2 = await asyncio.get_running_loop().run_in_executor(None, scenario)
        ev = await mod.event(R, seq)
        self.assertEqual(ev["data"]["text"], "Hej från en brandvägg")
        posted = [(await mod.call("chat.send", room=R, text="medan du var borta %d" % i))["seq"]
                  for i in range(5)]

        def resume():
            # As after any broken connection: attach again, join with since.
            f.attach()
            f.call("join", room=R, since=seq2)
            got = []
            while len(got) < 5:
                m = f.next(lambda k, m: k == "msg" and m.get("type") == "event"
                           and m["kind"] == "chat.message" and m["seq"] > seq2
                           and m["seq"] not in got)
                got.append(m["seq"])
            return got

        got = await asyncio.get_running_loop().run_in_executor(None, resume)
        self.assertEqual(got, posted)

    async def test_tabs_share_a_cookie_but_not_a_session(self):
        # Two tabs of one browser: the second session's cookie replaces the
        # first's in the jar, so both send it; each names its own session in
        # X-Tavla-Session and gets its own stream, identity and replies.
        d = self.start_daemon()
        mod = await self.moderator(d)
        room = (await mod.call("room.create", kind="meeting", title="Två flikar"))["room"]
        R = room["id"]
        await mod.join(room=R)

        def scenario():
            jar = {}
            one = FallbackClient(d, header=lambda: jar["cookie"])
            two = FallbackClient(d, header=lambda: jar["cookie"])
            jar["cookie"] = two.cookie  # the newest Set-Cookie wins
            assert one.sid != two.sid
            for f in (one, two):
                f.attach()
                assert f.next(lambda k, m: k == "msg")["type"] == "hello"
            a = one.call("join", code=room["code"], name="Flik ett")
            b = two.call("join", code=room["code"], name="Flik två")
            assert a["identity"]["id"] != b["identity"]["id"], (a, b)
            # The same request id in both tabs: two requests, two identities.
            ra = one.reply(one.send("chat.send", id="x1", room=R, text="från flik ett"))
            rb = two.reply(two.send("chat.send", id="x1", room=R, text="från flik två"))
            assert ra["ok"] and rb["ok"] and not rb.get("replayed"), (ra, rb)
            assert ra["result"]["seq"] != rb["result"]["seq"]
            # A header naming no session is refused, whatever the cookie says.
            c = one.conn()
            c.request("POST", "/api/send", body=b'{"op":"ping","id":"p"}',
                      headers={"Cookie": one.cookie, "X-Tavla-Session": "nonexistent"})
            r = c.getresponse()
            body = json.loads(r.read())
            c.close()
            assert r.status == 404 and body["error"]["code"] == "not_authenticated", (r.status, body)
            # The cookie alone still works (clients that keep to it).
            old = FallbackClient(d)
            old.attach()
            assert old.next(lambda k, m: k == "msg")["type"] == "hello"
            assert "ts" in old.call("ping")
            for f in (one, two, old):
                f.detach()
            return a["identity"], b["identity"], ra["result"]["seq"], rb["result"]["seq"]

        ia, ib, sa, sb = await asyncio.get_running_loop().run_in_executor(None, scenario)
        ea = await mod.event(R, sa)
        eb = await mod.event(R, sb)
        self.assertEqual((ea["author"]["id"], ea["data"]["text"]), (ia["id"], "från flik ett"))
        self.assertEqual((eb["author"]["id"], eb["data"]["text"]), (ib["id"], "från flik två"))

    async def test_errors(self):
        d = self.start_daemon()

        def scenario():
            c = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=tt.TIMEOUT,
                                            context=tt.tls_context(d.ca))
            c.request("GET", "/api/events")
            r = c.getresponse()
            r.read()
            assert r.status == 404, r.status
            c.request("POST", "/api/send", body=b'{"op":"ping","id":"x"}',
                      headers={"Cookie": "tavla_session=nonexistent"})
            r = c.getresponse()
            r.read()
            assert r.status == 404, r.status
            c.request("POST", "/api/nothing", body=b"")
            r = c.getresponse()
            r.read()
            assert r.status == 404, r.status
            f = FallbackClient(d)
            f.attach()
            f.next(lambda k, m: k == "msg" and m["type"] == "hello")
            f.send("ping", id="p")
            assert f.reply("p")["ok"]
            f.send("nonsense", id="q")
            assert f.reply("q")["error"]["code"] == "unknown_op"
            return f

        f = await asyncio.get_running_loop().run_in_executor(None, scenario)
        await d.astop()
        # The daemon's shutdown closes the session's stream with a close event
        # (or, at worst, ends it): the reader sees the end either way.
        kind, m = f.inbox.get(timeout=tt.TIMEOUT)
        while kind == "msg":
            kind, m = f.inbox.get(timeout=tt.TIMEOUT)
        if kind == "close":
            self.assertEqual(m["code"], 1001)

    async def test_foreign_origin_refused(self):
        # The Origin rule of the WebSocket handshake (PROTOCOL.md 1) holds for
        # the fallback too: a page of another origin (another port of the
        # same host is the same site, so SameSite does not hold the cookie
        # back) may neither open a session nor post into one nor read its
        # stream. Requests without Origin (not a browser) and from allowed
        # origins are served.
        d = self.start_daemon({"origins": "https://tavla.example.se"})

        def scenario():
            f = FallbackClient(d)
            f.attach()
            f.next(lambda k, m: k == "msg" and m["type"] == "hello")
            out = {}
            for origin in ("https://evil.example", "http://127.0.0.1:%d" % d.port,
                           "https://127.0.0.1:%d" % (d.port + 1), "null",
                           d.https, "https://tavla.example.se"):
                allowed = origin in (d.https, "https://tavla.example.se")
                for method, path, body in (("POST", "/api/session", b""),
                                           ("GET", "/api/events", None),
                                           ("POST", "/api/send", b'{"op":"room.list","id":"x"}')):
                    if allowed and path == "/api/events":
                        continue    # would replace the stream read below
                    c = f.conn()
                    c.request(method, path, body=body,
                              headers={"Origin": origin, "Cookie": f.cookie})
                    r = c.getresponse()
                    text = r.read()
                    c.close()
                    out[(origin, path)] = (r.status, json.loads(text) if r.status != 200 else None)
            return f, out

        f, out = await asyncio.get_running_loop().run_in_executor(None, scenario)
        for (origin, path), (status, body) in out.items():
            if origin in (d.https, "https://tavla.example.se"):
                self.assertEqual(status, {"/api/session": 201, "/api/send": 202}[path],
                                 (origin, path, body))
            else:
                self.assertEqual(status, 403, (origin, path, body))
                self.assertEqual(body["error"]["code"], "forbidden")
                self.assertIn("Origin", body["error"]["message"])
        # Nothing the refused sends carried reached the session, and the
        # refused GETs did not take its stream: the allowed sends (an
        # unauthenticated room.list) were answered on it, no more.
        codes = []
        while True:
            try:
                kind, m = f.inbox.get(timeout=0.5)
            except Exception:
                break
            if kind == "msg" and m.get("type") == "reply":
                codes.append(m["error"]["code"])
        self.assertEqual(codes, ["not_authenticated"] * 2)
        f.detach()


if __name__ == "__main__":
    tt.main()
