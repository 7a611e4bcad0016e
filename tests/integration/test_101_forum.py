"""test_101_forum: a learning forum through real connections (PROTOCOL.md §9).

test_forum: threads with replies, mentions and reactions; an edit whose
earlier version stays in the log; deletion by the author and by a
moderator, refused to anyone else; full-text search that treats å, ä and ö
as letters of their own ("hav" never finds "häver", "hållbarhet" finds
"Hållbarhet"), never brings back deleted text, and pages newest first
without gaps or repeats; unread counts from the last seq each identity
marked seen; a restart changes none of it.

test_history_100k: a forum of more than 100,000 events. The events are
written straight into the store while the daemon is stopped (through the
protocol this would take minutes on the test machine), then the real
daemon loads the room (replaying every event), pages through `history`
from the newest page to the oldest, searches and counts unread events.
Each is timed and printed; a page must arrive within a bound that holds
in the sanitizer build too, and the loop must stay responsive (pings)
while pages are read.
"""

import asyncio
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

SANITIZED = os.environ.get("TV_SANITIZED") or "asan" in os.environ.get("TAVLAD", "")


def kinds(events):
    return [e["kind"] for e in events]



async def room_head(c, room):
    """The room's head as the daemon has committed it (room.list): a
    client's own view may still be waiting for the last event, as replies
    are written before the room's fan-out."""
    rooms = (await c.call("room.list"))["rooms"]
    return next(r["head"] for r in rooms if r["id"] == room)

class ForumCase(tt.TavlaCase):
    async def forum(self, d, title="Lärandeforum för utvecklingsledare"):
        mod = await self.moderator(d)
        room = (await mod.call("room.create", kind="forum", title=title))["room"]
        await mod.join(room=room["id"])
        return mod, room

    async def search(self, c, room, q, **args):
        r = await c.call("search", room=room, q=q, **args)
        return r

    async def test_forum(self):
        d = self.start_daemon()
        mod, room = await self.forum(d)
        R = room["id"]
        asa = await self.participant(d, room["code"], "Åsa Öberg")
        bo = await self.participant(d, room["code"], "Bo Ängström")
        cia = await self.participant(d, room["code"], "Cecilia")

        # ---- a thread with replies, mentions, reactions ----
        th = (await asa.call("thread.create", room=R, title="Hållbarhet i regionala strategier",
                             text="Hur följer ni upp Hållbarhet i era strategier?",
                             mentions=[bo.identity["id"]]))["thread"]
        self.assertEqual(th, "th1")
        self.assertEqual(await asa.error("thread.create", room=R, title="X", text="Y",
                                         mentions=["i_nobodyatall"]), "not_a_member")
        m1 = (await bo.call("post.add", room=R, thread=th, text="Vi häver in indikatorer varje år."))["post"]
        m2 = (await cia.call("post.add", room=R, thread=th, text="Vi mäter havet och kusten.",
                             reply_to=m1))["post"]
        m3 = (await asa.call("post.add", room=R, thread=th, text="Hemlig anteckning om ÅÄÖ-frågor"))["post"]
        self.assertEqual((m1, m2, m3), ("m1", "m2", "m3"))
        self.assertEqual(await bo.error("post.add", room=R, thread="th9", text="x"), "post_not_found")
        self.assertEqual(await bo.error("post.add", room=R, thread=m1, text="x"), "post_not_found")
        created = [e for e in bo.events[R] if e["kind"] == "thread.created"]
        self.assertEqual(created[0]["data"]["mentions"],
                         [{"id": bo.identity["id"], "name": "Bo Ängström"}])
        seq_m1 = [e for e in asa.events[R] if e["kind"] == "post.created"
                  and e["data"]["id"] == m1][0]["seq"]
        await asa.call("react", room=R, target=seq_m1, emoji="💡")
        await cia.call("react", room=R, target=seq_m1, emoji="💡")

        # ---- an edit keeps its history in the log ----
        self.assertEqual(await cia.error("post.edit", room=R, post=m1, text="x"), "not_yours")
        await bo.call("post.edit", room=R, post=m1, text="Vi följer upp indikatorer för hållbar tillväxt.")
        await bo.call("post.edit", room=R, post=m1, text="Vi följer upp indikatorer för Hållbarhet varje år.")
        edits = [e for e in cia.events[R] if e["kind"] == "post.edited"]
        await cia.wait_seq(R, await room_head(mod, R))
        edits = [e["data"] for e in cia.events[R] if e["kind"] == "post.edited"]
        self.assertEqual([e["prev"]["text"] for e in edits],
                         ["Vi häver in indikatorer varje år.",
                          "Vi följer upp indikatorer för hållbar tillväxt."])
        self.assertEqual(await bo.error("post.edit", room=R, post=m1, title="x"), "bad_request")
        await asa.call("post.edit", room=R, post=th, title="Hållbarhet i strategierna")

        # ---- deletion: by the author, by a moderator, by nobody else ----
        self.assertEqual(await bo.error("post.delete", room=R, post=m3), "not_yours")
        await asa.call("post.delete", room=R, post=m3)
        self.assertEqual(await asa.error("post.edit", room=R, post=m3, text="x"), "post_not_found")
        await mod.call("post.delete", room=R, post=m2)
        self.assertEqual(await asa.error("react", room=R, target=seq_m1 + 1, emoji="💡"),
                         "post_not_found")

        # ---- search: Swedish letters, case, deleted text ----
        await mod.call("chat.send", room=R, text="Havet stiger, vi häver ankaret.")
        await mod.call("chat.send", room=R, text="Hav och kust i Bohuslän")

        async def texts(q, who=mod):
            r = await self.search(who, R, q)
            return [(h["kind"], h["data"].get("text", "")) for h in r["hits"]]
        hav = await texts("hav")
        self.assertTrue(hav and all("hav" in t.lower() for _, t in hav), hav)
        self.assertFalse(any("häv" in t.lower() and "hav" not in t.lower() for _, t in hav), hav)
        self.assertEqual(len(hav), 2)  # the two chat lines; the post on havet was deleted
        hav_exact = await texts("häv")
        self.assertTrue(hav_exact and all("häv" in t.lower() for _, t in hav_exact), hav_exact)
        self.assertFalse(any(t == "Hav och kust i Bohuslän" for _, t in hav_exact))
        hb = await self.search(cia, R, "hållbarhet")
        self.assertEqual([h["seq"] for h in hb["hits"]],
                         sorted({h["seq"] for h in hb["hits"]}, reverse=True))
        found = [h["kind"] for h in hb["hits"]]
        self.assertIn("thread.created", found)   # "Hållbarhet" in its title and text
        self.assertIn("post.edited", found)      # Bo's current version
        self.assertEqual(await texts("ÅÄÖ"), [])   # only in the deleted post
        self.assertEqual(await mod.error("search", room=R, q="?! --"), "bad_request")
        self.assertEqual(await texts('"; DROP TABLE events; --'), [])

        # ---- paging: newest first, no gap, no repeat ----
        for i in range(25):
            await cia.call("chat.send", room=R, text="Mötesanteckning nummer %d" % i)
        seen, before, pages = [], None, 0
        while True:
            args = dict(limit=10)
            if before:
                args["before"] = before
            r = await self.search(bo, R, "mötesanteckning", **args)
            pages += 1
            seen += [h["data"]["text"] for h in r["hits"]]
            if not r["more"]:
                break
            before = r["next"]
        self.assertEqual(pages, 3)
        self.assertEqual(seen, ["Mötesanteckning nummer %d" % i for i in range(24, -1, -1)])

        # ---- unread counts ----
        head = await room_head(mod, R)
        await bo.wait_seq(R, head)
        await bo.call("rooms.seen", room=R, seq=head)
        unread = (await bo.call("rooms.unread"))["rooms"]
        self.assertEqual([(u["id"], u["seen"], u["unread"]) for u in unread], [(R, head, 0)])
        await asa.call("chat.send", room=R, text="Ett")
        await cia.call("chat.send", room=R, text="Två")
        await bo.call("chat.send", room=R, text="Mitt eget räknas inte")
        unread = (await bo.call("rooms.unread"))["rooms"][0]
        self.assertEqual((unread["seen"], unread["unread"]), (head, 2))
        await bo.call("rooms.seen", room=R, seq=1)   # never goes back
        self.assertEqual((await bo.call("rooms.unread"))["rooms"][0]["seen"], head)
        self.assertEqual(await bo.error("rooms.seen", room=R, seq=head + 100), "bad_request")
        other = (await mod.call("room.create", kind="meeting", title="Annat rum"))["room"]
        mine = (await mod.call("rooms.unread"))["rooms"]
        self.assertEqual({u["id"] for u in mine}, {R, other["id"]})

        # ---- the export, and a restart that changes nothing ----
        export = (await mod.call("meeting.export", room=R))["export"]
        t = export["threads"][0]
        self.assertEqual(t["title"], "Hållbarhet i strategierna")
        self.assertEqual([p["id"] for p in t["posts"]], ["m1", "m2", "m3"])
        self.assertEqual(t["posts"][0]["versions"], 3)
        self.assertEqual(t["posts"][0]["reactions"], {"💡": 2})
        self.assertTrue(t["posts"][1]["deleted"] and "text" not in t["posts"][1])
        hits_before = (await self.search(cia, R, "hållbarhet"))["hits"]
        head = await room_head(mod, R)
        for c in (mod, asa, bo, cia):
            await c.close_quietly()
        d.stop()
        d.restart()
        mod2 = await self.resumed(d, mod.token)
        await mod2.join(room=R)
        self.assertEqual((await mod2.call("meeting.export", room=R))["export"], export)
        cia2 = await self.resumed(d, cia.token)
        await cia2.join(room=R, since=head)
        self.assertEqual((await self.search(cia2, R, "hållbarhet"))["hits"], hits_before)
        self.assertEqual((await cia2.call("post.add", room=R, thread=th, text="Efter omstart"))["post"],
                         "m4")
        self.assertEqual(await cia2.error("post.edit", room=R, post=m1, text="x"), "not_yours")

    async def test_erasure(self):
        """tavlad admin erase-identity (GDPR) reaches what meetings and
        forums store: texts, titles, poll answers, names in hands, mentions
        and named results, and the words in the search index."""
        d = self.start_daemon()
        mod, room = await self.forum(d)
        R = room["id"]
        asa = await self.participant(d, room["code"], "Åsa Hemligsson")
        bo = await self.participant(d, room["code"], "Bo")
        await asa.call("thread.create", room=R, title="Trådrubrikxyz", text="Hemligtextqq om havet")
        await asa.call("post.add", room=R, thread="th1", text="Inläggqq")
        await bo.call("post.add", room=R, thread="th1", text="Svar", mentions=[asa.identity["id"]])
        await mod.call("post.edit", room=R, post="m1", text="Inläggqq redigerat")
        await mod.call("poll.create", room=R, question="Ord?", type="text", anonymity="named")
        await asa.call("poll.answer", room=R, poll="p1", text="Svarsordqq")
        await mod.call("poll.close", room=R, poll="p1")
        await asa.call("hand.raise", room=R)
        await mod.call("queue.next", room=R)
        ident = asa.identity["id"]
        for c in (mod, asa, bo):
            await c.close_quietly()
        d.stop()
        p = await asyncio.create_subprocess_exec(tt.TAVLAD, "-c", d.conf, "admin",
                                                 "erase-identity", ident,
                                                 stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
        out, err = await p.communicate()
        self.assertEqual(p.returncode, 0, err)
        with open(d.db, "rb") as f:
            raw = f.read()
        for secret in ("Hemligsson", "Hemligtextqq", "Trådrubrikxyz", "Inläggqq", "Svarsordqq"):
            self.assertNotIn(secret.encode(), raw, secret)
        d.restart()
        mod = await self.resumed(d, mod.token)
        await mod.join(room=R)
        for q in ("hemligtextqq", "inläggqq", "trådrubrikxyz"):
            self.assertEqual((await mod.call("search", room=R, q=q))["hits"], [], q)
        export = json.dumps((await mod.call("meeting.export", room=R))["export"], ensure_ascii=False)
        for secret in ("Hemligsson", "Hemligtextqq", "Inläggqq", "Svarsordqq"):
            self.assertNotIn(secret, export)

    async def test_schema_3_indexes_old_events(self):
        """A database from before the search index (schema 2) gets its
        existing texts indexed by the migration."""
        d = self.start_daemon()
        mod, room = await self.forum(d)
        R = room["id"]
        await mod.call("chat.send", room=R, text="Gammal text om Hållbarhet")
        await mod.call("thread.create", room=R, title="Äldre tråd", text="om havet")
        await mod.close_quietly()
        d.stop()
        db = sqlite3.connect(d.db)
        # Back to schema 2: without schema 3's search tables and seen marks,
        # and without schema 4's (idempotency records back in requests,
        # the events-by-author index back).
        db.executescript("DROP TABLE search_fts; DROP TABLE search_docs; DROP TABLE seen;"
                         " INSERT INTO requests SELECT identity_id, client_id, fingerprint,"
                         "   result, room_id, created FROM requests_recent;"
                         " DROP VIEW requests_all; DROP TABLE requests_recent;"
                         " CREATE INDEX events_by_author ON events(author_id)"
                         "   WHERE author_id IS NOT NULL;"
                         " PRAGMA user_version=2;")
        db.close()
        d.restart()
        self.assertIn("schema=3", d.stderr_text())
        self.assertIn("schema=4", d.stderr_text())
        mod = await self.resumed(d, mod.token)
        await mod.join(room=R)
        hits = (await mod.call("search", room=R, q="hållbarhet"))["hits"]
        self.assertEqual([h["data"]["text"] for h in hits], ["Gammal text om Hållbarhet"])
        hits = (await mod.call("search", room=R, q="äldre hav"))["hits"]
        self.assertEqual([h["kind"] for h in hits], ["thread.created"])

    async def test_history_100k(self):
        n_events = 100_000
        d = self.start_daemon()
        mod, room = await self.forum(d, "Stort forum")
        R = room["id"]
        asa = await self.participant(d, room["code"], "Åsa")
        await asa.call("thread.create", room=R, title="Början", text="Första tråden")
        base = await room_head(mod, R)
        author = asa.identity["id"]
        await mod.close_quietly()
        await asa.close_quietly()
        d.stop()

        t0 = time.monotonic()
        db = sqlite3.connect(d.db)
        ts = int(time.time() * 1000)
        words = ["hållbarhet", "kompetens", "landsbygd", "samverkan", "havet", "häver", "örat"]
        rows = []
        for i in range(n_events):
            seq = base + 1 + i
            text = "Inlägg %d om %s" % (i, words[i % len(words)])
            rows.append((R, seq, ts + i, author, "Åsa", "chat.message",
                         json.dumps({"text": text}, ensure_ascii=False)))
        db.executemany("INSERT INTO events(room_id, seq, ts, author_id, author_name, kind, data)"
                       " VALUES (?,?,?,?,?,?,?)", rows)
        db.execute("INSERT INTO search_docs(room_id, seq) SELECT room_id, seq FROM events"
                   " WHERE room_id = ? AND seq > ? ORDER BY seq", (R, base))
        db.execute("INSERT INTO search_fts(rowid, room, body)"
                   " SELECT d.id, d.room_id, json_extract(e.data, '$.text')"
                   " FROM search_docs d JOIN events e ON e.room_id = d.room_id AND e.seq = d.seq"
                   " WHERE d.room_id = ? AND d.seq > ?", (R, base))
        db.commit()
        db.close()
        head = base + n_events
        print("\n  wrote %d events into the store in %.1f s" % (n_events, time.monotonic() - t0))

        d.restart()
        mod = await self.resumed(d, mod.token)
        t0 = time.monotonic()
        await mod.join(room=R, since=head)   # loads the room: replays every event
        load = time.monotonic() - t0
        print("  room load (replay of %d events) and join: %.0f ms" % (head, load * 1000))

        # Page through the whole history, newest first: contiguous, complete.
        times, before, got, pinger = [], head + 1, 0, await self.connect(d)
        expect_seq = head
        while True:
            t0 = time.monotonic()
            r = await mod.call("history", room=R, before=before, limit=1000)
            times.append(time.monotonic() - t0)
            seqs = [e["seq"] for e in r["events"]]
            self.assertEqual(seqs, list(range(expect_seq - len(seqs) + 1, expect_seq + 1)))
            expect_seq -= len(seqs)
            got += len(seqs)
            if not r["more"]:
                break
            before = seqs[0]
            if len(times) % 20 == 0:
                t1 = time.monotonic()
                await pinger.call("ping")
                self.assertLess(time.monotonic() - t1, 1.0)
        self.assertEqual(got, head)
        times.sort()
        print("  history: %d pages of 1,000; median %.1f ms, max %.1f ms"
              % (len(times), times[len(times) // 2] * 1000, times[-1] * 1000))
        # one page of 100 in the middle of the room
        t0 = time.monotonic()
        r = await mod.call("history", room=R, before=base + n_events // 2, limit=100)
        mid = time.monotonic() - t0
        self.assertEqual(len(r["events"]), 100)
        print("  history: one page of 100 at seq %d: %.1f ms" % (base + n_events // 2, mid * 1000))
        self.assertLess(mid, 2.0 if SANITIZED else 0.5)

        t0 = time.monotonic()
        s = await mod.call("search", room=R, q="hav", limit=20)
        first = time.monotonic() - t0
        self.assertEqual(len(s["hits"]), 20)
        self.assertTrue(all("havet" in h["data"]["text"] for h in s["hits"]))
        t0 = time.monotonic()
        s2 = await mod.call("search", room=R, q="hav", limit=20, before=s["next"])
        second = time.monotonic() - t0
        self.assertLess(s2["hits"][0]["seq"], s["hits"][-1]["seq"])
        print("  search 'hav' over %d events: first page %.1f ms, next %.1f ms"
              % (n_events, first * 1000, second * 1000))
        t0 = time.monotonic()
        u = (await mod.call("rooms.unread"))["rooms"][0]
        print("  rooms.unread with nothing seen: %.1f ms (unread %d)"
              % ((time.monotonic() - t0) * 1000, u["unread"]))
        self.assertEqual(u["unread"], 1000)  # counted up to 1,000


if __name__ == "__main__":
    tt.main()
