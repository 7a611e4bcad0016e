#!/usr/bin/python3
"""test_95_ops: what an operator relies on (issue 9).

- the systemd units in ops/ pass `systemd-analyze verify` (skipped without it);
- `tavlad backup DEST` taken while 20 clients post is a valid database
  (integrity_check ok) holding every event acknowledged before it started;
- GET /metrics scraped during load parses line by line as Prometheus text,
  its counters grow, its histograms are cumulative; access by network or
  bearer token only;
- GET /readyz answers 200 ready (and 503 while shutting down is covered by
  the shutdown path: the listener is closed then);
- `tavlad admin` end to end: org-add, user-add, passwd, rooms, room-archive
  (join refused with room_archived), room-delete, retention, export-identity
  and erase-identity (the text and name are gone from the database file and
  from history and export), and the data directory lock that makes the
  destructive commands refuse while the daemon runs.
"""

import asyncio
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time

import tavlatest
from tavlatest import TAVLAD, SOURCE_DIR, TavlaCase, tls_context

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\})? '
                    r'(-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$')


def admin(daemon, *args, input=None):
    """Runs `tavlad -c CONF ARGS...`; returns (status, stdout, stderr)."""
    p = subprocess.run([TAVLAD, "-c", daemon.conf] + list(args), capture_output=True,
                       input=(input or "").encode("utf-8"), timeout=60)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    bad = tavlatest.sanitizer_lines(err)
    if bad:
        raise AssertionError("sanitizer report from tavlad %s:\n%s" % (args, err))
    return p.returncode, out, err


def get(daemon, path, headers=None):
    conn = http.client.HTTPSConnection("127.0.0.1", daemon.port, timeout=10,
                                       context=tls_context(daemon.ca))
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("content-type"), r.read().decode("utf-8")
    finally:
        conn.close()


def parse_metrics(text):
    """Parses the exposition text strictly; returns {(name, labels): value}
    and {family: type}. Fails on any line that is not HELP, TYPE or a sample,
    on a sample of an undeclared family, and on duplicate series."""
    types, samples = {}, {}
    assert text.endswith("\n"), "the body must end with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, "TYPE twice for " + name
            types[name] = typ
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, "sample before its TYPE: " + line
        key = (name, labels)
        assert key not in samples, "duplicate series " + line
        samples[key] = float(value)
    return samples, types


def check_histograms(test, samples, types):
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        buckets = [(k[1], v) for k, v in samples.items() if k[0] == fam + "_bucket"]
        test.assertTrue(buckets, fam)
        test.assertEqual(buckets[-1][0], 'le="+Inf"', fam)
        values = [v for _, v in buckets]
        test.assertEqual(values, sorted(values), "%s buckets are not cumulative" % fam)
        test.assertEqual(values[-1], samples[(fam + "_count", "")], fam)


class Ops(TavlaCase):

    async def room(self, d, kind="meeting", title="Drift"):
        self.mod = await self.moderator(d)
        r = (await self.mod.call("room.create", kind=kind, title=title))["room"]
        await self.mod.join(room=r["id"])
        return r

    async def posters(self, d, code, n):
        cs = []
        for i in range(n):
            cs.append(await self.participant(d, code, "Deltagare %d" % i))
        return cs

    # ---- systemd ------------------------------------------------------------------

    def test_systemd_units_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        tmp = tempfile.mkdtemp(prefix="tavla-units-")
        self.addCleanup(shutil.rmtree, tmp, True)
        names = ["tavlad.service", "tavlad-backup.service", "tavlad-backup.timer"]
        for n in names:
            with open(os.path.join(SOURCE_DIR, "ops", n), encoding="utf-8") as f:
                text = f.read()
            # verify checks that ExecStart's binary exists: use the build's.
            text = text.replace("/usr/local/sbin/tavlad", TAVLAD)
            with open(os.path.join(tmp, n), "w", encoding="utf-8") as f:
                f.write(text)
        p = subprocess.run(["systemd-analyze", "verify"] + [os.path.join(tmp, n) for n in names],
                           capture_output=True, text=True, timeout=60)
        # Lines about the host (no D-Bus, no such user on a build machine)
        # are not about the units.
        problems = [l for l in (p.stdout + p.stderr).splitlines()
                    if "tavlad" in l and "Failed to connect" not in l]
        self.assertEqual(problems, [], p.stdout + p.stderr)

    # ---- backup under load ---------------------------------------------------------

    async def test_backup_while_20_clients_post(self):
        d = self.start_daemon()
        r = await self.room(d)
        clients = await self.posters(d, r["code"], 20)
        acked = []          # (seq, text, time acknowledged)
        stop = asyncio.Event()

        async def post(i, c):
            n = 0
            while not stop.is_set():
                text = "c%d-%d" % (i, n)
                res = await c.call("chat.send", room=r["id"], text=text)
                acked.append((res["seq"], text, time.monotonic()))
                n += 1

        tasks = [asyncio.ensure_future(post(i, c)) for i, c in enumerate(clients)]
        await asyncio.sleep(0.7)
        dest = os.path.join(d.data_dir, "backup.db")
        started = time.monotonic()
        before = [a for a in acked if a[2] < started]
        proc = await asyncio.create_subprocess_exec(TAVLAD, "-c", d.conf, "backup", dest,
                                                    stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        await asyncio.sleep(0.3)     # writes go on after the backup too
        stop.set()
        await asyncio.gather(*tasks)
        self.assertEqual(proc.returncode, 0, err.decode())
        self.assertGreater(len(before), 20, "the load had not started")
        self.assertGreater(len(acked), len(before), "no write during or after the backup")
        db = sqlite3.connect("file:%s?mode=ro" % dest, uri=True)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            stored = {seq: json.loads(data)["text"] for seq, data in db.execute(
                "SELECT seq, data FROM events WHERE room_id = ? AND kind = 'chat.message'",
                (r["id"],))}
            seqs = [s for (s,) in db.execute(
                "SELECT seq FROM events WHERE room_id = ? ORDER BY seq", (r["id"],))]
        finally:
            db.close()
        missing = [(s, t) for s, t, _ in before if stored.get(s) != t]
        self.assertEqual(missing, [], "acknowledged before the backup, not in it")
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "gap in the backup")
        # Restore refuses while the daemon runs, works when it is stopped.
        rc, _, err = admin(d, "restore", dest)
        self.assertEqual(rc, 1, err)
        self.assertIn("running", err)
        for c in clients:
            await c.close_quietly()
        await self.mod.close_quietly()
        await d.astop()
        rc, out, err = admin(d, "restore", dest)
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(d.db + ".pre-restore"))
        d.start()
        c = await self.resumed(d, clients[0].token)
        await c.call("join", room=r["id"])
        h = await c.call("history", room=r["id"], limit=1)
        self.assertEqual(h["events"][-1]["seq"], len(seqs))

    # ---- metrics and readiness --------------------------------------------------------

    async def test_metrics_during_load(self):
        d = self.start_daemon()
        r = await self.room(d)
        clients = await self.posters(d, r["code"], 10)
        stop = asyncio.Event()

        async def post(i, c):
            n = 0
            while not stop.is_set():
                await c.call("chat.send", room=r["id"], text="m%d-%d" % (i, n))
                n += 1

        tasks = [asyncio.ensure_future(post(i, c)) for i, c in enumerate(clients)]
        await asyncio.sleep(0.5)
        loop = asyncio.get_running_loop()
        status, ctype, body1 = await loop.run_in_executor(None, get, d, "/metrics")
        await asyncio.sleep(0.5)
        _, _, body2 = await loop.run_in_executor(None, get, d, "/metrics")
        stop.set()
        await asyncio.gather(*tasks)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        s1, types = parse_metrics(body1)
        s2, _ = parse_metrics(body2)
        check_histograms(self, s1, types)
        check_histograms(self, s2, types)
        for key in [("tavla_events_total", 'kind="chat.message"'), ("tavla_requests_total", ""),
                    ("tavla_commit_seconds_count", ""), ("tavla_commit_batch_writes_sum", "")]:
            self.assertGreater(s2[key], s1[key], key)
            self.assertGreater(s1[key], 0, key)
        self.assertEqual(s1[("tavla_connections", "")], 11)
        self.assertEqual(s1[("tavla_send_queue_bytes_count", "")], 11)
        self.assertGreaterEqual(s1[("tavla_rooms_loaded", "")], 1)
        self.assertEqual(s1[("tavla_tls_certificate_loaded", "")], 1)
        for typ in ("counter",):
            for fam, t in types.items():
                if t == typ:
                    self.assertTrue(fam.endswith("_total"), fam)
        # Every error code has its series; an error shows up in it.
        before = s2[("tavla_errors_total", 'code="not_in_room"')]
        self.assertEqual(await clients[0].error("chat.send", room="r_nosuchroom0", text="x"),
                         "not_in_room")
        s3, _ = parse_metrics((await loop.run_in_executor(None, get, d, "/metrics"))[2])
        self.assertEqual(s3[("tavla_errors_total", 'code="not_in_room"')], before + 1)
        self.assertIn(("tavla_errors_total", 'code="room_archived"'), s3)
        # Readiness: a write transaction through the writer.
        status, _, body = await loop.run_in_executor(None, get, d, "/readyz")
        self.assertEqual((status, body), (200, "ready\n"))
        self.assertEqual((await loop.run_in_executor(None, get, d, "/healthz"))[0], 200)

    async def test_metrics_access(self):
        d = self.start_daemon({"metrics_allow": "10.0.0.0/8,fd00::/8",
                               "metrics_token": "t0ken-for-the-scraper"})
        loop = asyncio.get_running_loop()
        status, _, _ = await loop.run_in_executor(None, get, d, "/metrics")
        self.assertEqual(status, 403)
        status, _, _ = await loop.run_in_executor(
            None, get, d, "/metrics", {"Authorization": "Bearer wrong-token-for-the-scrape"})
        self.assertEqual(status, 403)
        status, _, body = await loop.run_in_executor(
            None, get, d, "/metrics", {"Authorization": "Bearer t0ken-for-the-scraper"})
        self.assertEqual(status, 200)
        parse_metrics(body)
        self.assertNotIn("t0ken-for-the-scraper", d.stderr_text())

    # ---- admin ------------------------------------------------------------------------

    async def test_admin_commands(self):
        d = self.start_daemon()
        self.assertEqual(admin(d, "admin", "org-add", "Kommun")[0], 0)
        rc, _, err = admin(d, "admin", "org-add", "Kommun")
        self.assertEqual(rc, 1, err)
        self.assertEqual(admin(d, "admin", "frobnicate")[0], 2)
        self.assertEqual(admin(d, "admin", "org-add")[0], 2)
        self.assertEqual(admin(d, "admin", "retention", "zero")[0], 2)
        self.assertEqual(admin(d, "admin", "user-add", "Kommun", "ada",
                               input="ett bra lösenord\n")[0], 0)
        self.assertEqual(admin(d, "admin", "passwd", "ada", input="ett nytt lösenord\n")[0], 0)
        self.assertEqual(admin(d, "admin", "passwd", "nobody", input="ett nytt lösenord\n")[0], 1)
        self.assertEqual(admin(d, "admin", "passwd", "ada", input="kort\n")[0], 2)
        c = await self.connect(d)
        self.assertEqual(await c.error("login", user="ada", password="ett bra lösenord"),
                         "bad_credentials")
        await c.login("ada", "ett nytt lösenord")
        a = (await c.call("room.create", kind="meeting", title="Arkivet"))["room"]
        b = (await c.call("room.create", kind="workshop", title="Verkstad"))["room"]
        rc, out, _ = admin(d, "admin", "rooms", "--org", "Kommun")
        self.assertEqual(rc, 0)
        rows = [l.split("\t") for l in out.splitlines()]
        self.assertEqual([(x[0], x[1], x[2], x[3], x[6]) for x in rows],
                         [(a["id"], a["code"], "meeting", "Arkivet", "open"),
                          (b["id"], b["code"], "workshop", "Verkstad", "open")])
        self.assertEqual(admin(d, "admin", "rooms", "--org", "Ingen")[1], "")

        # A participant writes a chat message and a note, then asks for its
        # data and for erasure.
        await c.join(room=b["id"])
        await c.call("phase.set", room=b["id"], phase="write")
        board = (await c.call("board.create", room=b["id"], title="Idéer", layout="columns",
                              columns=["Nu", "Sen"]))["board"]
        p = await self.participant(d, b["code"], "Zlatan Hemlignamn")
        ident = p.identity["id"]
        await p.call("chat.send", room=b["id"], text="Hemlig chatt 7QX")
        note = (await p.call("note.add", room=b["id"], board=board, text="Hemlig lapp 9ZW",
                             column=0))["note"]
        await c.call("note.edit", room=b["id"], note=note, text="Hemlig lapp 9ZW redigerad")
        await p.call("chat.send", room=b["id"], text="Mer hemligt 4KP")
        rc, out, err = admin(d, "admin", "export-identity", ident)
        self.assertEqual(rc, 0, err)
        exp = json.loads(out)
        self.assertEqual(exp["identity"]["name"], "Zlatan Hemlignamn")
        texts = [e["data"].get("text") for e in exp["events"]]
        self.assertIn("Hemlig chatt 7QX", texts)
        self.assertIn("Hemlig lapp 9ZW", texts)
        self.assertEqual([m["room"] for m in exp["memberships"]], [b["id"]])
        self.assertTrue(any(e["kind"] == "member.joined" for e in exp["mentioned_in"]))
        self.assertEqual(admin(d, "admin", "export-identity", "i_nobody")[0], 1)

        # The destructive commands refuse while the daemon runs.
        for args in (["room-archive", a["id"]], ["room-delete", a["id"]],
                     ["erase-identity", ident], ["retention", "30"]):
            rc, _, err = admin(d, "admin", *args)
            self.assertEqual(rc, 1, args)
            self.assertIn("running", err)
        token = p.token
        await p.close_quietly()
        await c.close_quietly()
        await d.astop()

        self.assertEqual(admin(d, "admin", "room-archive", a["code"])[0], 0)
        self.assertEqual(admin(d, "admin", "room-archive", "NOSUCH")[0], 1)
        rc, _, err = admin(d, "admin", "erase-identity", ident)
        self.assertEqual(rc, 0, err)
        self.assertEqual(admin(d, "admin", "retention", "30")[1],
                         "deleted 0 rooms idle for more than 30 days\n")
        for path in (d.db, d.db + "-wal"):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    raw = f.read()
                for secret in ("Hemlig chatt 7QX", "Hemlig lapp 9ZW", "Mer hemligt 4KP",
                               "Hemlignamn"):
                    self.assertNotIn(secret.encode(), raw, "%s still in %s" % (secret, path))

        d.start()
        # The erased identity's token is gone; the archived room refuses joins.
        c2 = await self.connect(d)
        self.assertEqual(await c2.error("resume", token=token), "bad_token")
        self.assertEqual(await c2.error("join", code=a["code"], name="Ny"), "room_archived")
        m = await self.connect(d)
        await m.login("ada", "ett nytt lösenord")
        self.assertEqual(await m.error("join", room=a["id"]), "room_archived")
        await m.join(room=b["id"])        # the workshop still replays
        h = await m.call("history", room=b["id"], limit=100)
        blob = json.dumps(h, ensure_ascii=False)
        for secret in ("Hemlig chatt 7QX", "Hemlig lapp 9ZW", "Mer hemligt 4KP", "Hemlignamn"):
            self.assertNotIn(secret, blob)
        mine = [e for e in h["events"] if (e.get("author") or {}).get("id") == ident]
        self.assertTrue(mine)
        for e in mine:
            self.assertIs(e["data"].get("erased"), True, e)
        self.assertEqual(h["events"][-1]["seq"], len(h["events"]), "seqs kept")
        rc, out, _ = admin(d, "admin", "export-identity", ident)
        self.assertEqual(rc, 0)
        for secret in ("Hemlig", "Hemlignamn", "hemligt"):
            self.assertNotIn(secret, out)
        await m.close_quietly()
        await c2.close_quietly()
        await d.astop()
        self.assertEqual(admin(d, "admin", "room-delete", a["id"])[0], 0)
        rc, out, _ = admin(d, "admin", "rooms")
        self.assertNotIn(a["id"], out)
        self.assertIn(b["id"], out)
        d.start()

    async def test_second_daemon_refused(self):
        d = self.start_daemon()
        p = subprocess.run([TAVLAD, "-c", d.conf, "--port", str(tavlatest.free_port())], capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"another tavlad is running", p.stderr)

    def test_versions(self):
        for binary in (TAVLAD, tavlatest.TAVLA):
            p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 0)
            self.assertRegex(p.stdout, r"^tavlad? [0-9]+\.[0-9]+\.[0-9]+")


if __name__ == "__main__":
    tavlatest.main()
