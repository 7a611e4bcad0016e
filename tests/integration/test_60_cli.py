"""test_60_cli: the `tavla` command-line client against the real daemon,
cross-checked with the independent python3-websockets client.

Covers the commands in `tavla --help` (login, room create/list, join, chat
with --id retries, tail, history, send, ping), their plain outputs, and the
exit statuses: 0 ok, 1 server error, 2 usage, 3 connection/TLS (a CA that
does not sign the daemon's certificate, no --ca at all, nobody listening),
5 closed by the server. A bug shared by our encoder and decoder would show
as a difference between what tail prints and what websockets received.
"""

import asyncio
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

PASSWORD = "kaffe och kanelbulle 42"


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


class Cli(tt.TavlaCase):

    def setUp(self):
        if not os.access(tt.TAVLA, os.X_OK):
            self.skipTest("tavla not built at %s" % tt.TAVLA)
        self.d = self.start_daemon()
        tt.create_moderator(self.d, "Region Västerhav", "samordnare", PASSWORD)

    def cli(self, *args, expect=0, **kw):
        """Runs tavla and asserts its exit status; returns the CompletedProcess."""
        p = tt.run_cli(self.d, *args, **kw)
        self.assertEqual(p.returncode, expect,
                         "tavla %s: status %d\nstdout: %s\nstderr: %s"
                         % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def login(self):
        p = self.cli("login", "samordnare", env={"TAVLA_PASSWORD": PASSWORD})
        token = p.stdout.strip()
        self.assertEqual(len(token), tt.TOKEN_LEN, p.stdout)
        return token

    async def test_end_to_end(self):
        token = self.login()
        # The password may come on stdin as well.
        p = self.cli("login", "samordnare", input=PASSWORD + "\n")
        self.assertEqual(len(p.stdout.strip()), tt.TOKEN_LEN)

        p = self.cli("room", "create", "workshop", "Framtidsverkstad", token=token)
        room_id, code = p.stdout.split()
        self.assertTrue(room_id.startswith("r_"), p.stdout)
        self.assertEqual(len(code), 6)
        p = self.cli("room", "list", token=token)
        self.assertIn("%s %s workshop Framtidsverkstad" % (room_id, code), lines(p.stdout))

        # An independent observer of the room, subscribed from the start.
        ws = await self.moderator(self.d, "Region Västerhav", "samordnare", PASSWORD)
        await ws.join(room=room_id)

        p = self.cli("join", code, "Bo Ängström")
        bo_token, bo_room = p.stdout.split()
        self.assertEqual(bo_room, room_id)
        self.assertEqual(len(bo_token), tt.TOKEN_LEN)

        p = self.cli("chat", room_id, "Hej från terminalen – åäö", token=bo_token)
        seq = int(p.stdout.strip())
        ev = await ws.event(room_id, seq)
        self.assertEqual(ev["kind"], "chat.message")
        self.assertEqual(ev["data"], {"text": "Hej från terminalen – åäö"})
        self.assertEqual(ev["author"]["name"], "Bo Ängström")

        # --id makes a retry safe: same seq, no second event.
        p1 = self.cli("chat", room_id, "bara en gång", "--id", "skript-1", token=token)
        p2 = self.cli("chat", room_id, "bara en gång", "--id", "skript-1", token=token)
        self.assertEqual(p1.stdout, p2.stdout)
        # Text starting with "-" after "--".
        p = self.cli("chat", room_id, "--", "-1 poäng", token=token)
        last = int(p.stdout)
        self.assertEqual(last, int(p1.stdout) + 1, "the retry made an event")
        await ws.wait_seq(room_id, last)
        seen = ws.events[room_id]
        self.assertContiguous(seen, 1, last)

        # tail --since 0 --count N prints exactly what websockets received.
        p = self.cli("tail", room_id, "--since", "0", "--count", str(last), token=bo_token)
        printed = [tt.strict_loads(l) for l in lines(p.stdout)]
        self.assertEqual(printed, seen)
        # history prints the same events.
        p = self.cli("history", room_id, token=token)
        self.assertEqual([tt.strict_loads(l) for l in lines(p.stdout)], seen)
        p = self.cli("history", room_id, "--before", "3", "--limit", "2", token=token)
        self.assertEqual([tt.strict_loads(l) for l in lines(p.stdout)], seen[0:2])

        # --json prints whole replies.
        p = self.cli("--json", "chat", room_id, "json-läge", token=token)
        r = tt.strict_loads(p.stdout)
        self.assertEqual((r["type"], r["ok"]), ("reply", True))
        self.assertEqual(r["result"]["seq"], last + 1)

        # send: one raw request, the reply as JSON.
        p = self.cli("send", '{"op":"ping","id":"rå-1"}')
        r = tt.strict_loads(p.stdout)
        self.assertEqual((r["id"], r["ok"]), ("rå-1", True))
        p = self.cli("send", '{"op":"room.list"}', token=token)
        r = tt.strict_loads(p.stdout)
        self.assertIn(room_id, [x["id"] for x in r["result"]["rooms"]])
        p = self.cli("ping")
        self.assertIn("tavlad", p.stdout)

    async def tailer(self, room_id, code):
        """A participant identity that has come and gone (so that the watcher
        ws can see its tail arrive by presence); returns (token, identity id)."""
        p = await self.participant(self.d, code, "Svansen")
        pid = p.identity["id"]
        await p.close()
        return p.token, pid

    async def test_tail_follows_live(self):
        token = self.login()
        room_id, code = self.cli("room", "create", "forum", "Lärforum", token=token).stdout.split()
        ws = await self.moderator(self.d, "Region Västerhav", "samordnare", PASSWORD)
        await ws.join(room=room_id)
        t_token, pid = await self.tailer(room_id, code)
        # It came and went: presence may report that or nothing at all
        # (changes in one window cancel out, PROTOCOL.md 2.4). Let it settle.
        await asyncio.sleep(0.5)
        ws.drain()
        head = (await ws.call("room.list"))["rooms"][0]["head"]
        cmd = [tt.TAVLA, "--url", self.d.url, "--ca", self.d.ca, "--token", t_token,
               "tail", room_id, "--since", str(head), "--count", "5", "--presence"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8")
        try:
            # The tail is subscribed when its identity is present again.
            pr = await ws.next_presence(room_id, about=pid, timeout=10)
            self.assertEqual(pr["left"], [])
            acked = []
            for i in range(5):
                acked.append((await ws.call("chat.send", room=room_id, text="live %d" % i))["seq"])
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, err)
        printed = [tt.strict_loads(l) for l in lines(out)]
        events = [m for m in printed if m["type"] == "event"]
        self.assertEqual(events, [await ws.event(room_id, s) for s in acked])

    async def test_exit_statuses(self):
        token = self.login()
        p = self.cli("login", "samordnare", env={"TAVLA_PASSWORD": "fel"}, expect=1)
        self.assertIn("bad_credentials", p.stderr)
        p = self.cli("chat", "r_finnsinte000", "x", token=token, expect=1)
        self.assertIn("tavla:", p.stderr)
        p = self.cli("send", '{"op":"note.paint"}', expect=1)
        self.assertIn("unknown_op", p.stderr)

        # Usage errors.
        self.cli("frobnicate", expect=2)
        self.cli(expect=2)
        self.cli("chat", "r_x", expect=2)                   # missing TEXT
        self.cli("chat", "r_x", "text", expect=2)           # no token
        self.cli("ping", "--since", "3", expect=2)          # option of another command
        self.cli("--nonsense", "ping", expect=2)
        self.cli("send", "[1,2]", expect=2)
        self.cli("ping", url="https://127.0.0.1:1/", expect=2)
        self.assertEqual(self.cli("--help").returncode, 0)
        self.assertIn("tavla", self.cli("--version").stdout)

        # Certificates: no --ca (the system store does not know the daemon's
        # self-signed certificate), a CA that did not sign it: status 3.
        p = self.cli("ping", ca=False, env={"TAVLA_CA": ""}, expect=3)
        self.assertTrue(p.stderr.startswith("tavla:"), p.stderr)
        other = self.start_daemon()
        self.cli("ping", ca=other.ca, expect=3)
        # --insecure skips verification (tests only).
        self.cli("--insecure", "ping", ca=False, env={"TAVLA_CA": ""})
        # Nobody listening: status 3.
        self.cli("ping", url="wss://127.0.0.1:%d/ws" % tt.free_port(), expect=3)

    async def test_closed_by_server(self):
        token = self.login()
        room_id, _ = self.cli("room", "create", "meeting", "Stängs snart", token=token).stdout.split()
        ws = await self.moderator(self.d, "Region Västerhav", "samordnare", PASSWORD)
        room = (await ws.call("room.list"))["rooms"][0]
        await ws.join(room=room_id)
        t_token, pid = await self.tailer(room_id, room["code"])
        await asyncio.sleep(0.5)  # came and went: let presence settle (2.4)
        ws.drain()
        cmd = [tt.TAVLA, "--url", self.d.url, "--ca", self.d.ca, "--token", t_token,
               "tail", room_id, "--for", "30"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8")
        try:
            await ws.next_presence(room_id, about=pid, timeout=10)
            await ws.close_quietly()
            await self.d.astop()
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 5, "tail when the server shuts down: %s" % err)
        self.assertIn("1001", err)


if __name__ == "__main__":
    tt.main()
