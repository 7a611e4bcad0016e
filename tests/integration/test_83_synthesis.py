"""test_83_synthesis: from many tables' notes to a ranked, exported
synthesis (PROTOCOL.md 4.27-4.47, 5.9).

End to end: 6 tables x 5 participants x 2 questions post concurrently, the
moderator creates a synthesis, asks for suggestions, accepts and rejects
them, sorts the rest by hand, runs a hidden dot vote that every participant
casts (and some move their dots), closes it, and gets the ranked result;
action items, published versions, and the exports (CSV, JSON, Markdown,
HTML, over the protocol and over a signed HTTPS link) follow, and a restart
gives the same result. Other cases: two-level convergence (tables group
and vote first, the plenary merges their clusters and carries their dots),
who may group where, duplicates and undo, that nobody learns who put
dots where, and one synthesis over the notes of several rooms.
"""

import asyncio
import csv
import http.client
import io
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
from test_80_workshop import WorkshopCase  # noqa: E402

TABLES = 6
PER_TABLE = 5

# Six themes in several wordings each: what people at different tables
# write about the same thing (own words, short, Swedish with compounds).
THEMES = {
    "trafik": ["Bättre kollektivtrafik mellan orterna", "Tätare busstrafik på kvällarna",
               "Kollektivtrafiken måste gå oftare", "Pendla med buss och tåg enklare",
               "Fler bussturer till jobbet"],
    "bostad": ["Fler bostäder för unga", "Billigare hyresbostäder i kommunen",
               "Bostadsbristen stoppar inflyttning", "Bygg fler hyresrätter",
               "Unga hittar ingen bostad"],
    "kompetens": ["Kompetensförsörjningen i vården", "Svårt att rekrytera rätt kompetens",
                  "Vidareutbildning för anställda", "Yrkesutbildning nära arbetsgivarna",
                  "Kompetensutveckling i små företag"],
    "natur": ["Skydda naturen och skogen", "Mer naturturism i skogen",
              "Vandringsleder i naturen", "Naturen är vår styrka",
              "Skogen och naturturismen"],
    "digital": ["Bredband på landsbygden", "Snabbt bredband överallt",
                "Digitala tjänster i kommunen", "Bredbandsutbyggnad till byarna",
                "Digital kompetens hos äldre"],
    "kultur": ["Kulturhus för unga", "Mer kultur och musik lokalt",
               "Kulturlivet behöver stöd", "Musikskola och kulturskola",
               "Lokala kulturföreningar"],
}
THEME_NAMES = sorted(THEMES)


def note_text(table_no, person_no, question):
    """A deterministic note: theme picked by table, person and question."""
    theme = THEME_NAMES[(table_no + person_no * 2 + question) % len(THEME_NAMES)]
    wording = THEMES[theme][(table_no * 3 + person_no + question) % len(THEMES[theme])]
    return theme, "%s (bord %d)" % (wording, table_no + 1)


def https(daemon, path):
    conn = http.client.HTTPSConnection("127.0.0.1", daemon.port, timeout=tt.TIMEOUT,
                                       context=tt.tls_context(daemon.ca))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


class Synthesis(WorkshopCase):

    async def setup_workshop(self, tables=TABLES, per_table=PER_TABLE):
        await self.workshop(extra={"rate": 1000, "rate_burst": 1000}, tables=tables)
        self.q = [await self.board(title="Vad behöver regionen?", columns=["Nu", "Sedan"]),
                  await self.board(title="Vad kan vi göra själva?", columns=["Nu", "Sedan"])]
        self.people = []
        for ti, t in enumerate(self.tables):
            for pi in range(per_table):
                self.people.append((ti, pi, t, await self.person("Deltagare %d-%d" % (ti, pi), t)))
        await self.phase("write")

    async def post_all(self):
        """Every participant posts one note per question, all at once.
        Returns {note id: (table, theme, text)}."""
        acked = {}

        async def post(ti, pi, t, c):
            for qi, b in enumerate(self.q):
                theme, text = note_text(ti, pi, qi)
                r = await c.call("note.add", room=self.R, board=b, text=text)
                self.assertNotIn(r["note"], acked)
                acked[r["note"]] = (t, theme, text)
        await asyncio.gather(*(post(*p) for p in self.people))
        self.assertEqual(len(acked), len(self.people) * len(self.q))
        return acked

    # ------------------------------------------------------------------

    async def test_end_to_end_tables_to_ranked_export(self):
        await self.setup_workshop()
        acked = await self.post_all()
        await self.phase("group")
        s = (await self.mod.call("synthesis.create", room=self.R,
                                 name="Fem prioriterade områden"))["synthesis"]
        self.assertEqual(s, "s1")

        # Suggestions: deterministic, only unclustered notes of the scope.
        sug = await self.mod.call("cluster.suggest", room=self.R, scope=s)
        again = await self.mod.call("cluster.suggest", room=self.R, scope=s)
        self.assertEqual(sug, again)
        self.assertEqual(sug["considered"], len(acked))
        self.assertGreaterEqual(len(sug["suggestions"]), 3, sug)
        seen = set()
        for g in sug["suggestions"]:
            self.assertTrue(g["label"])
            self.assertGreaterEqual(len(g["notes"]), 2)
            self.assertTrue(seen.isdisjoint(g["notes"]))
            seen.update(g["notes"])
            self.assertTrue(set(g["notes"]) <= set(acked))
        # The suggestions agree with the themes the notes were written on
        # far better than chance: most notes of a suggestion share a theme.
        agree = sum(max(sum(1 for n in g["notes"] if acked[n][1] == th) for th in THEMES)
                    for g in sug["suggestions"])
        self.assertGreater(agree / len(seen), 0.6, sug)

        # Reject the first suggestion; none of its pairs comes back.
        rejected = sug["suggestions"][0]["notes"]
        await self.mod.call("cluster.reject", room=self.R, scope=s, notes=rejected)
        after = await self.mod.call("cluster.suggest", room=self.R, scope=s)
        for g in after["suggestions"]:
            self.assertLessEqual(len(set(g["notes"]) & set(rejected)), 1, g)

        # Sort every note by hand into one cluster per theme (what the
        # moderator ends up with after accepting and editing suggestions).
        clusters = {}
        for th in THEME_NAMES:
            notes = sorted((n for n in acked if acked[n][1] == th), key=lambda n: int(n[1:]))
            first, rest = notes[:3], notes[3:]
            clusters[th] = (await self.mod.call("cluster.create", room=self.R, scope=s,
                                                name=th.capitalize(), notes=first))["cluster"]
            await self.mod.call("cluster.assign", room=self.R, scope=s, cluster=clusters[th],
                                notes=rest)
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertFalse(res["ranked"])
        self.assertEqual(res["unclustered"], [])
        self.assertEqual(res["tables_total"], TABLES)
        self.assertEqual(sum(len(c["notes"]) for c in res["clusters"]), len(acked))

        # A hidden dot vote: 3 dots each, at most 2 per cluster.
        await self.phase("vote")
        v = (await self.mod.call("vote.open", room=self.R, scope=s, budget=3, max_per_item=2,
                                 hidden=True))["vote"]
        c0 = self.people[0][3]
        self.assertEqual(await c0.error("vote.cast", room=self.R, vote=v,
                                        dots=[clusters["trafik"]] * 3), "over_budget")
        self.assertEqual(await c0.error("vote.cast", room=self.R, vote=v,
                                        dots=["c1", "c2", "c3", "c4"]), "over_budget")
        self.assertEqual(await c0.error("vote.cast", room=self.R, vote=v, dots=["c99"]),
                         "cluster_not_found")
        raw_start = {id(p[3]): len(p[3].raw) for p in self.people}
        expected = {}
        ballots = {}

        async def cast(i, c):
            # Everyone votes; every third person moves their dots after.
            a = THEME_NAMES[i % 6]
            b = THEME_NAMES[(i * 5 + 1) % 6]
            dots = [clusters[a], clusters[a], clusters[b]] if a != b else [clusters[a]] * 2
            await c.call("vote.cast", room=self.R, vote=v, dots=dots)
            if i % 3 == 0:
                dots = [clusters[THEME_NAMES[(i + 2) % 6]]]
                await c.call("vote.cast", room=self.R, vote=v, dots=dots)
            ballots[i] = dots
        await asyncio.gather(*(cast(i, p[3]) for i, p in enumerate(self.people)))
        for dots in ballots.values():
            for d in dots:
                expected[d] = expected.get(d, 0) + 1
        # While hidden, the result shows no totals, not even to moderators.
        hidden = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertFalse(hidden["ranked"])
        self.assertTrue(all(c["dots"] == 0 for c in hidden["clusters"]))
        closed = await self.mod.call("vote.close", room=self.R, vote=v)
        self.assertEqual(await c0.error("vote.cast", room=self.R, vote=v, dots=[]),
                         "vote_closed")
        await self.marker([p[3] for p in self.people])
        # Nobody learned who put dots where: the others' renderings of
        # vote.cast carry neither voter nor dots nor (hidden) totals.
        for i, (_, _, _, c) in enumerate(self.people):
            for e in c.events[self.R]:
                if e["kind"] == "vote.cast" and e["author"] is not None:
                    self.assertEqual(e["author"]["id"], c.identity["id"])
            frames = c.raw[raw_start[id(c)]:]
            others = [p[3].identity for p in self.people if p[3] is not c]
            for f in frames:
                if '"vote.cast"' not in f:
                    continue
                for who in others:
                    self.assertNotIn(who["id"], f)
                    self.assertNotIn(who["name"], f)
        ev = await self.mod.event(self.R, closed["seq"])
        self.assertEqual(ev["data"]["totals"], expected)

        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertTrue(res["ranked"])
        got = {c["id"]: c["dots"] for c in res["clusters"]}
        self.assertEqual({k: v for k, v in got.items() if v}, expected)
        dots_in_order = [c["dots"] for c in res["clusters"]]
        self.assertEqual(dots_in_order, sorted(dots_in_order, reverse=True))
        for i, c in enumerate(res["clusters"]):
            first = dots_in_order.index(c["dots"])
            self.assertEqual(c["rank"], first + 1, res)
            self.assertEqual(c["tie"], dots_in_order.count(c["dots"]) > 1)
            self.assertEqual(c["raised_at"], len(c["tables"]))
            for n in c["notes"]:
                self.assertEqual(n["table"], acked[n["id"]][0])
                self.assertEqual(n["text"], acked[n["id"]][2])
                self.assertIn(n["question"], ("Vad behöver regionen?", "Vad kan vi göra själva?"))
                self.assertTrue(n["author_name"].startswith("Deltagare"))

        # Action items on the winner, listed and updated.
        top = res["clusters"][0]["id"]
        a = (await self.mod.call("action.create", room=self.R, cluster=top,
                                 text="Ta fram en plan", owner="Regionens samordnare",
                                 due="2027-03-31"))["action"]
        self.assertEqual(await self.mod.error("action.create", room=self.R, cluster=top,
                                              text="x", due="2027-13-01"), "bad_request")
        await self.mod.call("action.update", room=self.R, action=a, status="doing")
        acts = (await c0.call("action.list", room=self.R))["actions"]
        self.assertEqual([(x["id"], x["status"], x["cluster"]) for x in acts], [(a, "doing", top)])

        # Versions.
        p1 = await self.mod.call("synthesis.publish", room=self.R, synthesis=s)
        await self.mod.call("action.update", room=self.R, action=a, status="done")
        p2 = await self.mod.call("synthesis.publish", room=self.R, synthesis=s)
        self.assertEqual((p1["version"], p2["version"]), (1, 2))
        g1 = await c0.call("synthesis.get", room=self.R, synthesis=s, version=1)
        g2 = await c0.call("synthesis.get", room=self.R, synthesis=s)
        self.assertEqual([x["version"] for x in g2["versions"]], [1, 2])
        self.assertEqual(g1["snapshot"]["clusters"][0]["actions"][0]["status"], "doing")
        self.assertEqual(g2["snapshot"]["clusters"][0]["actions"][0]["status"], "done")

        # Exports: CSV has every note exactly once with its table.
        ex = await self.mod.call("export", room=self.R, format="csv")
        self.assertTrue(ex["body"].startswith("\ufeff"))
        rows = list(csv.DictReader(io.StringIO(ex["body"][1:], newline="")))
        self.assertEqual(sorted(r["note_id"] for r in rows), sorted(acked))
        names = {t: "Bord %d" % (i + 1) for i, t in enumerate(self.tables)}
        cname = {c["id"]: c["name"] for c in res["clusters"]}
        for r in rows:
            t, th, text = acked[r["note_id"]]
            self.assertEqual((r["table"], r["text"]), (names[t], text))
            self.assertEqual(r["theme"], cname[clusters[th]])
        js = json.loads((await self.mod.call("export", room=self.R, format="json"))["body"])
        self.assertEqual(js["format"], "tavla.export.v1")
        self.assertEqual(len(js["notes"]), len(acked))
        self.assertEqual(js["syntheses"][0]["result"]["clusters"], res["clusters"][:0] +
                         js["syntheses"][0]["result"]["clusters"])
        md = (await self.mod.call("export", room=self.R, format="markdown"))["body"]
        for c in res["clusters"]:
            self.assertIn(c["name"], md)
        self.assertIn("Ta fram en plan", md)
        html = (await self.mod.call("export", room=self.R, format="html"))["body"]
        self.assertTrue(html.startswith("<!doctype html>"))
        self.assertNotIn("<script", html)

        # The same over HTTPS with a signed, expiring link.
        link = await self.mod.call("export.link", room=self.R, format="csv")
        self.assertTrue(link["url"].startswith("/export?t="))
        status, headers, body = https(self.d, link["url"])
        self.assertEqual(status, 200, body[:200])
        self.assertTrue(headers["content-type"].startswith("text/csv"))
        self.assertIn("filename=", headers.get("content-disposition", ""))
        self.assertEqual(body.decode("utf-8"), ex["body"])
        token = urllib.parse.parse_qs(urllib.parse.urlparse(link["url"]).query)["t"][0]
        payload, sig = token.split(".")
        forged = payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
        self.assertEqual(https(self.d, "/export?t=" + forged)[0], 403)
        self.assertEqual(https(self.d, "/export")[0], 400)
        self.assertEqual(https(self.d, "/export?t=garbage")[0], 400)
        # A participant may not export.
        self.assertEqual(await c0.error("export", room=self.R, format="csv"), "forbidden")

        # The JSON export re-imports into a new room (tavla import) and
        # exports again to the same notes, themes and action items.
        cli = await asyncio.to_thread(tt.run_cli, self.d, "export", self.R, "json",
                                      token=self.mod.token)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertEqual(json.loads(cli.stdout), json.loads(
            (await self.mod.call("export", room=self.R, format="json"))["body"]) | {
                "exported_at": json.loads(cli.stdout)["exported_at"]})
        imp = await asyncio.to_thread(tt.run_cli, self.d, "import", "-", "Kopia",
                                      token=self.mod.token, input=cli.stdout, timeout=120)
        self.assertEqual(imp.returncode, 0, imp.stderr)
        copy = imp.stdout.strip()
        await self.mod.join(room=copy)
        js2 = json.loads((await self.mod.call("export", room=copy, format="json"))["body"])

        def shape(m):
            texts = {n["id"]: n["text"] for n in m["notes"]}
            notes = sorted((n["text"], n["table_name"], n["question"],
                            n.get("author_name") or n.get("proxy_for")) for n in m["notes"])
            themes = sorted((c["name"], tuple(sorted(texts[n["id"]] for n in c["notes"])))
                            for syn in m["syntheses"] for c in syn["result"]["clusters"])
            acts = sorted((a["text"], a["status"], a["owner"], a["due"]) for a in m["actions"])
            return notes, themes, acts, [t["name"] for t in m["tables"]], m["phase"]
        self.assertEqual(shape(js2), shape(js))
        self.assertEqual(js2["room"]["title"], "Kopia")

        # After a restart the same result (replayed from the log).
        before = await self.mod.call("synthesis.result", room=self.R, scope=s)
        await self.mod.close_quietly()
        self.d.stop()
        self.d.start()
        self.mod = await self.moderator(self.d)
        await self.mod.join(room=self.R)
        self.assertEqual(await self.mod.call("synthesis.result", room=self.R, scope=s), before)
        # Links from before the restart are refused.
        self.assertEqual(https(self.d, link["url"])[0], 403)

    # ------------------------------------------------------------------

    async def test_two_level_convergence(self):
        await self.setup_workshop(tables=3, per_table=2)
        acked = await self.post_all()
        (t1, t2, t3) = self.tables
        at = {t: [p[3] for p in self.people if p[2] == t] for t in self.tables}
        mine = {t: sorted(n for n in acked if acked[n][0] == t) for t in self.tables}
        a1 = at[t1][0]
        # Participants group only in their table's scope, only in `group`.
        self.assertEqual(await a1.error("cluster.create", room=self.R, scope=t1, name="X"),
                         "wrong_phase")
        await self.phase("group")
        self.assertEqual(await a1.error("cluster.create", room=self.R, scope=t2, name="X"),
                         "forbidden")
        self.assertEqual(await a1.error("synthesis.create", room=self.R, name="X"), "forbidden")
        self.assertEqual(await a1.error("cluster.create", room=self.R, scope=t1, name="X",
                                        notes=[mine[t2][0]]), "note_not_found")
        self.assertEqual(await a1.error("cluster.create", room=self.R, scope="t9", name="X"),
                         "scope_not_found")
        tc = {}
        for t in self.tables:
            c = at[t][0]
            tc[t] = (await c.call("cluster.create", room=self.R, scope=t, name="Vårt tema " + t,
                                  notes=mine[t][:2]))["cluster"]
        # Tables vote on their own clusters.
        await self.phase("vote")
        tv = {}
        for t, dots in ((t1, 3), (t2, 1), (t3, 0)):
            tv[t] = (await self.mod.call("vote.open", room=self.R, scope=t))["vote"]
            if dots:
                await at[t][0].call("vote.cast", room=self.R, vote=tv[t], dots=[tc[t]] * dots)
            # Another table's vote is not yours.
            other = at[t2 if t != t2 else t1][0]
            self.assertEqual(await other.error("vote.cast", room=self.R, vote=tv[t], dots=[]),
                             "forbidden")
            await self.mod.call("vote.close", room=self.R, vote=tv[t])
        # The plenary merges the tables' clusters into one theme.
        s = (await self.mod.call("synthesis.create", room=self.R, name="Plenum"))["synthesis"]
        plen = (await self.mod.call("cluster.create", room=self.R, scope=s,
                                    name="Gemensamt tema"))["cluster"]
        await self.phase("group")  # so that only the scope can refuse it
        self.assertEqual(await a1.error("cluster.merge", room=self.R, cluster=tc[t1], into=plen),
                         "forbidden")
        for t in (t1, t2):
            await self.mod.call("cluster.merge", room=self.R, cluster=tc[t], into=plen)
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        c = [c for c in res["clusters"] if c["id"] == plen][0]
        self.assertEqual(c["carried"], {t1: 3, t2: 1})
        self.assertEqual(c["carried_total"], 4)
        self.assertEqual((c["raised_at"], res["tables_total"]), (2, 3))
        self.assertEqual(sorted(n["id"] for n in c["notes"]), sorted(mine[t1][:2] + mine[t2][:2]))
        # The tables keep their own clusters.
        own = await a1.call("synthesis.result", room=self.R, scope=t1)
        self.assertEqual([x["id"] for x in own["clusters"]], [tc[t1]])
        self.assertEqual(own["clusters"][0]["dots"], 3)
        self.assertEqual(await a1.error("synthesis.result", room=self.R, scope=t2), "forbidden")
        # Table t2 saw nothing of t1's grouping and voting.
        await self.marker([p[3] for p in self.people])
        for c2 in at[t2]:
            for e in c2.events[self.R]:
                if e["kind"].startswith(("cluster.", "vote.")):
                    self.assertNotEqual(e["data"].get("table"), t1, e)
        # A plenary vote with its own budget.
        pv = (await self.mod.call("vote.open", room=self.R, scope=s, budget=5))["vote"]
        await a1.call("vote.cast", room=self.R, vote=pv, dots=[plen] * 5)
        res = await a1.call("synthesis.result", room=self.R, scope=s)
        self.assertEqual(res["clusters"][0]["dots"], 5)  # open, not hidden: live

    # ------------------------------------------------------------------

    async def test_duplicates_splits_and_undo(self):
        await self.setup_workshop(tables=2, per_table=2)
        acked = await self.post_all()
        notes = sorted(acked, key=lambda n: int(n[1:]))
        s = (await self.mod.call("synthesis.create", room=self.R, name="Syntes",
                                 boards=[self.q[0]]))["synthesis"]
        q0 = [n for n in notes if acked[n][2] and n in
              {x["id"] for x in (await self.mod.call("synthesis.result", room=self.R,
                                                     scope=s))["unclustered"]}]
        self.assertEqual(len(q0), 4)  # only the first question's notes
        self.assertEqual(await self.mod.error("synthesis.create", room=self.R, name="X",
                                              boards=["b9"]), "board_not_found")
        c1 = (await self.mod.call("cluster.create", room=self.R, scope=s, name="A",
                                  notes=q0))["cluster"]
        # Split two notes off, then merge back.
        c2 = (await self.mod.call("cluster.split", room=self.R, cluster=c1, name="B",
                                  notes=q0[:2]))["cluster"]
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertEqual({c["id"]: sorted(n["id"] for n in c["notes"]) for c in res["clusters"]},
                         {c1: sorted(q0[2:]), c2: sorted(q0[:2])})
        await self.mod.call("cluster.merge", room=self.R, cluster=c2, into=c1)
        self.assertEqual(await self.mod.error("cluster.update", room=self.R, cluster=c2, name="Z"),
                         "cluster_not_found")
        await self.mod.call("undo", room=self.R)   # the merge
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertEqual(sorted(c["id"] for c in res["clusters"]), sorted([c1, c2]))
        await self.mod.call("cluster.update", room=self.R, cluster=c2, name="B2")
        await self.mod.call("undo", room=self.R)   # the rename
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertEqual({c["id"]: c["name"] for c in res["clusters"]}[c2], "B")
        # Duplicates: shown under their note, counted once, not votable.
        await self.mod.call("note.merge", room=self.R, note=q0[3], into=q0[2])
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        c = [c for c in res["clusters"] if c["id"] == c1][0]
        self.assertEqual([n["id"] for n in c["notes"]], [q0[2]])
        self.assertEqual([d["id"] for d in c["notes"][0]["duplicates"]], [q0[3]])
        v = (await self.mod.call("vote.open", room=self.R, scope=s, on="notes"))["vote"]
        p = self.people[0][3]
        self.assertEqual(await p.error("vote.cast", room=self.R, vote=v, dots=[q0[3]]),
                         "note_not_found")
        await p.call("vote.cast", room=self.R, vote=v, dots=[q0[2]])
        await self.mod.call("vote.close", room=self.R, vote=v)
        await self.mod.call("undo", room=self.R)   # the duplicate marking
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        c = [c for c in res["clusters"] if c["id"] == c1][0]
        self.assertEqual(sorted(n["id"] for n in c["notes"]), sorted(q0[2:]))
        # Deleting a cluster unclusters its notes; undo restores it.
        await self.mod.call("cluster.delete", room=self.R, cluster=c2)
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertEqual(sorted(n["id"] for n in res["unclustered"]), sorted(q0[:2]))
        await self.mod.call("undo", room=self.R)
        res = await self.mod.call("synthesis.result", room=self.R, scope=s)
        self.assertEqual(res["unclustered"], [])
        # Not a workshop: the synthesis ops say so.
        room = (await self.mod.call("room.create", kind="meeting", title="Möte"))["room"]
        await self.mod.join(room=room["id"])
        self.assertEqual(await self.mod.error("synthesis.create", room=room["id"], name="X"),
                         "not_a_workshop")

    # ------------------------------------------------------------------

    async def test_aggregation_across_rooms(self):
        # Two workshop rooms of one national session, then a plenary room.
        await self.workshop(tables=2, title="Region Nord")
        nord, nord_tables = self.R, list(self.tables)
        qn = await self.board(title="Vad behöver vi?")
        anon = await self.board(title="Hemligt", anonymity="anonymous")
        await self.phase("write")
        a = await self.person("Anna", nord_tables[0])
        b = await self.person("Bertil", nord_tables[1])
        await a.call("note.add", room=nord, board=qn, text="Bättre kollektivtrafik")
        await b.call("note.add", room=nord, board=qn, text="Fler bussar på kvällen")
        await b.call("note.add", room=nord, board=anon, text="Ingen vet att jag skrev detta")
        await self.workshop(tables=1, title="Region Syd")
        syd = self.R
        qs = await self.board(title="Vad behöver vi?")
        await self.phase("write")
        c = await self.person("Cecilia", self.tables[0])
        await c.call("note.add", room=syd, board=qs, text="Tåg till grannkommunen")
        await self.workshop(title="Nationell syntes")
        plen = self.R
        into = await self.board(title="Alla regioner")
        raw0 = len(self.mod.raw)
        r1 = await self.mod.call("notes.import", room=plen, **{"from": nord}, board=into)
        r2 = await self.mod.call("notes.import", room=plen, **{"from": syd}, board=into)
        self.assertEqual((r1["imported"], r2["imported"]), (3, 1))
        # Nothing new: nothing imported twice.
        self.assertEqual((await self.mod.call("notes.import", room=plen, **{"from": nord},
                                              board=into))["imported"], 0)
        # The anonymous note's author never travels (the other, named,
        # note of the same person does, by name only, never by id).
        # Presence messages of the source rooms name who is connected
        # there, by design (2.4): they are not part of the import.
        items = []
        for f in self.mod.raw[raw0:]:
            m = json.loads(f)
            items += m["items"] if m.get("type") == "batch" else [m]
        frames = "\n".join(json.dumps(m, ensure_ascii=False) for m in items
                            if m.get("type") != "presence")
        ev = [e for e in self.mod.events[plen] if e["kind"] == "notes.imported"]
        by_text = {n["text"]: n for e in ev for n in e["data"]["notes"]}
        self.assertEqual(by_text["Bättre kollektivtrafik"].get("proxy_for"), "Anna")
        self.assertNotIn("proxy_for", by_text["Ingen vet att jag skrev detta"])
        self.assertNotIn(b.identity["id"], frames)
        s = (await self.mod.call("synthesis.create", room=plen, name="Sverige"))["synthesis"]
        res = await self.mod.call("synthesis.result", room=plen, scope=s)
        self.assertEqual(res["tables_total"], 3)  # two of Nord, one of Syd
        where = {n["text"]: n["table_name"] for n in res["unclustered"]}
        self.assertEqual(where["Bättre kollektivtrafik"], "Region Nord / Bord 1")
        self.assertEqual(where["Tåg till grannkommunen"], "Region Syd / Bord 1")
        ids = [n["id"] for n in res["unclustered"] if "Ingen vet" not in n["text"]]
        cl = (await self.mod.call("cluster.create", room=plen, scope=s, name="Resor",
                                  notes=ids))["cluster"]
        res = await self.mod.call("synthesis.result", room=plen, scope=s)
        top = [x for x in res["clusters"] if x["id"] == cl][0]
        self.assertEqual(top["raised_at"], 3)
        # Later notes are pulled in; the origin names the source note.
        await a.call("note.add", room=nord, board=qn, text="Pendlarparkering")
        r3 = await self.mod.call("notes.import", room=plen, **{"from": nord}, board=into)
        self.assertEqual(r3["imported"], 1)
        # Only a moderator of the source room may import it.
        other = await self.moderator(self.d, org="Region Annan", user="annan",
                                     password="ett annat lösenord 2")
        room = (await other.call("room.create", kind="workshop", title="Annan"))["room"]
        await other.join(room=room["id"])
        bo = (await other.call("board.create", room=room["id"], title="X", layout="columns",
                               columns=["A"]))["board"]
        self.assertEqual(await other.error("notes.import", room=room["id"], **{"from": nord},
                                           board=bo), "forbidden")
        self.assertEqual(await other.error("notes.import", room=room["id"], **{"from": "r_nonexistent1"},
                                           board=bo), "room_not_found")
        # The export keeps the provenance.
        rows = (await self.mod.call("export", room=plen, format="csv"))["body"]
        self.assertIn("Region Syd / Bord 1", rows)
        # A restart replays the imports to the same result.
        before = await self.mod.call("synthesis.result", room=plen, scope=s)
        for cl_ in (a, b, c, other):
            await cl_.close_quietly()
        await self.mod.close_quietly()
        self.d.stop()
        self.d.start()
        self.mod = await self.moderator(self.d)
        await self.mod.join(room=plen)
        self.assertEqual(await self.mod.call("synthesis.result", room=plen, scope=s), before)

    # ------------------------------------------------------------------

    async def test_exports_keep_authors_hidden(self):
        # No export, result or published version carries the author of an
        # anonymous note to anyone, nor of a moderators-only note to an
        # observer or participant; hidden (private) notes stay out for
        # observers.
        await self.workshop(tables=1, title="Anonym verkstad")
        named = await self.board(title="Öppen fråga")
        mods = await self.board(title="För moderatorer", anonymity="moderators")
        anon = await self.board(title="Anonym fråga", anonymity="anonymous")
        await self.phase("write")
        writer = await self.person("Hemliga Hanna", self.tables[0])
        obs = await self.person("Observatör Olle", observer=True)
        await writer.call("note.add", room=self.R, board=named, text="Synligt namn")
        await writer.call("note.add", room=self.R, board=mods, text="Bara moderatorer vet")
        await writer.call("note.add", room=self.R, board=anon, text="Ingen vet vem")
        await self.mod.call("writing.set", room=self.R, private=True)
        await writer.call("note.add", room=self.R, board=named, text="Dold tanke")
        s = (await self.mod.call("synthesis.create", room=self.R, name="S"))["synthesis"]
        await self.mod.call("synthesis.publish", room=self.R, synthesis=s)
        who = (writer.identity["id"], writer.identity["name"])

        def authors_of(text, body):
            """The lines/objects of body that mention the note text."""
            return [line for line in body.replace("},{", "}\n{").splitlines() if text in line]

        for fmt in ("json", "csv", "markdown", "html"):
            for viewer, moderator in ((self.mod, True), (obs, False)):
                body = (await viewer.call("export", room=self.R, format=fmt))["body"]
                for line in authors_of("Ingen vet vem", body):
                    for w in who:
                        self.assertNotIn(w, line, (fmt, moderator))
                if not moderator:
                    for line in authors_of("Bara moderatorer vet", body):
                        for w in who:
                            self.assertNotIn(w, line, fmt)
                    self.assertNotIn("Dold tanke", body, fmt)
                self.assertNotIn(writer.identity["id"], body, fmt)
            self.assertIn(who[1], (await self.mod.call("export", room=self.R,
                                                       format=fmt))["body"])
        for c in (writer, obs):
            r = json.dumps(await c.call("synthesis.result", room=self.R, scope=s),
                           ensure_ascii=False)
            self.assertNotIn(writer.identity["id"], r)
            snap = json.dumps(await c.call("synthesis.get", room=self.R, synthesis=s),
                              ensure_ascii=False)
            self.assertEqual(snap.count(who[1]), 1)  # the named note only


if __name__ == "__main__":
    tt.main()
