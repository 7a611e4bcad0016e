"""test_81_visibility: hidden text and protected authors never reach a
socket that may not have them (PROTOCOL.md 5.4 to 5.6).

For every anonymity level (named, moderators, anonymous) x private writing
(off, on) x pre-moderation (off, on) a note is written at table 1 and
followed to five sockets: its author, a participant at the same table, one
at another table, an observer and the moderator. The raw frames of each
socket are scanned for the note's text and for its author's id and name:

  - the text reaches the author and the moderator at once; the same table
    and the observer only from the event that unlocks it (the approval, the
    reveal, or its creation when neither applies), never before; the other
    table never;
  - no note-bearing event (note.*, writing.revealed) carries the author's id
    or name unless the level allows it to that viewer (presence and
    member.joined legitimately say who is in the room);
  - note.created arrives in exactly the rendering PROTOCOL.md gives for that
    viewer (full, without author, placeholder, or nothing).

Then the same viewers come back on new connections with join since=0 (from
the room's ring), ask for `history`, a late joiner is seated at table 1,
and finally the daemon restarts and everyone catches up from the store: in
each case the note-bearing events must be exactly those sent live to the
same viewer (visibility is a function of the event and the viewer only).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
from test_80_workshop import WorkshopCase, note_bearing, REVEAL  # noqa: E402

LEVELS = ("named", "moderators", "anonymous")
ROLES = ("author", "peer", "other", "observer", "moderator")


def items_of(frame):
    msg = tt.strict_loads(frame)
    return msg["items"] if msg.get("type") == "batch" else [msg]


def dump(item):
    return json.dumps(item, ensure_ascii=False)


def may_see_author(role, anon):
    return role == "author" or anon == "named" or (anon == "moderators" and role == "moderator")


def note_rendering(role, anon, hidden, pending):
    """What PROTOCOL.md promises `role` for a note.created: "full",
    "no_author", "placeholder" or None (nothing)."""
    if role == "author":
        return "full"
    if role == "moderator":
        return "no_author" if anon == "anonymous" else "full"
    if role == "other":
        return None
    if role == "peer" and pending:
        return None
    if hidden or pending:
        return "placeholder"
    return "full" if anon == "named" else "no_author"


class Scenario:
    """One room: one board at one (anonymity, private, premoderation)."""

    def __init__(self, anon, private, premod, tag):
        self.anon, self.private, self.premod, self.tag = anon, private, premod, tag
        self.text = "HEMLIG-%s-åtgärd" % tag
        self.clients = {}
        self.unlock = None

    def __repr__(self):
        return "<anonymity=%s private=%s premoderation=%s>" % (self.anon, self.private,
                                                               self.premod)


class Visibility(WorkshopCase):

    async def play(self, anon, private, premod, tag):
        sc = Scenario(anon, private, premod, tag)
        await self.workshop(tables=2, title="Verkstad %s" % tag)
        sc.R, sc.code = self.R, self.code
        sc.board = await self.board(anonymity=anon, premoderation=premod)
        t1, t2 = self.tables
        sc.table = t1
        sc.author_name = "Författare X%s" % tag
        author = await self.person(sc.author_name, t1)
        sc.author_id = author.identity["id"]
        sc.clients = {"author": author,
                      "peer": await self.person("Granne %s" % tag, t1),
                      "other": await self.person("Annan %s" % tag, t2),
                      "observer": await self.person("Iakttagare %s" % tag, observer=True),
                      "moderator": self.mod}
        await self.phase("write")
        if private:
            await self.mod.call("writing.set", room=self.R, private=True)
        r = await author.call("note.add", room=self.R, board=sc.board, text=sc.text,
                              colour="orange")
        sc.note, sc.created = r["note"], r["seq"]
        sc.unlock = sc.created
        if not premod:
            # an edit of a hidden note is as hidden as the note
            await author.call("note.edit", room=self.R, note=sc.note, text=sc.text + " v2")
        await self.marker(sc.clients.values())
        if premod:
            st = await self.mod.call("workshop.status", room=self.R)
            queued = [p for p in st["pending"] if p["id"] == sc.note]
            self.assertEqual(len(queued), 1, st)
            self.assertEqual(queued[0]["text"], sc.text)
            if anon == "anonymous":
                self.assertNotIn("author", queued[0], "the queue names an anonymous author")
                self.assertNotIn(sc.author_id, dump(st))
            else:
                self.assertEqual(queued[0]["author"], sc.author_id)
            sc.unlock = (await self.mod.call("note.approve", room=self.R, note=sc.note))["seq"]
            await self.marker(sc.clients.values())
        if private:
            r = await self.mod.call("writing.reveal", room=self.R)
            sc.unlock = sc.reveal = r["seq"]
            await self.marker(sc.clients.values())
        sc.head = await self.marker(sc.clients.values())
        sc.live = {role: c.note_items(self.R) for role, c in sc.clients.items()}
        return sc

    def check_frames(self, sc, role, frames, where):
        """The text and author rules over one socket's raw frames."""
        ctx = "%s %s (%s)" % (sc, role, where)
        seen_text = False
        for frame in frames:
            if sc.text not in frame and sc.author_id not in frame and sc.author_name not in frame:
                continue
            for item in items_of(frame):
                s = dump(item)
                if sc.text in s:
                    seen_text = True
                    if role == "moderator" and item.get("type") == "reply":
                        continue    # workshop.status: the moderator's queue
                    self.assertEqual(item.get("type"), "event", "%s: text in %s" % (ctx, s))
                    self.assertEqual(item["room"], sc.R, ctx)
                    if role == "other":
                        self.fail("%s: another table received the text: %s" % (ctx, s))
                    if role in ("peer", "observer") and item["seq"] < sc.unlock:
                        self.fail("%s: text before seq %d unlocked it: %s" % (ctx, sc.unlock, s))
                if note_bearing(item) and item.get("room") == sc.R and \
                        (sc.author_id in s or sc.author_name in s) and \
                        not may_see_author(role, sc.anon):
                    self.fail("%s: a note event names its author: %s" % (ctx, s))
        # the text does arrive where it should
        if role != "other" and where == "live":
            self.assertTrue(seen_text, "%s: the text never arrived" % ctx)

    def check_created(self, sc, role, live):
        ctx = "%s %s" % (sc, role)
        want = note_rendering(role, sc.anon, sc.private, sc.premod)
        got = [e for e in live.values() if e["kind"] == "note.created"
               and e["data"]["id"] == sc.note]
        if want is None:
            self.assertEqual(got, [], ctx)
            return
        self.assertEqual(len(got), 1, ctx)
        e = got[0]
        if want == "placeholder":
            self.assertIsNone(e["author"], ctx)
            self.assertEqual(e["data"], {"id": sc.note, "board": sc.board, "table": sc.table,
                                         "hidden": sc.private, "pending": sc.premod}, ctx)
            return
        self.assertEqual(e["data"]["text"], sc.text, ctx)
        self.assertEqual(e["data"]["colour"], "orange", ctx)
        self.assertEqual(e["data"]["anonymity"], sc.anon, ctx)
        if want == "full":
            self.assertEqual(e["author"], {"id": sc.author_id, "name": sc.author_name}, ctx)
        else:
            self.assertIsNone(e["author"], ctx)

    def check_reveal(self, sc, role, live):
        if not sc.private:
            return
        ctx = "%s %s" % (sc, role)
        rev = [e for e in live.values() if e["kind"] == REVEAL]
        notes = [n for e in rev for n in e["data"]["notes"] if n["id"] == sc.note]
        if role == "other":
            self.assertEqual(notes, [], ctx)
            return
        self.assertEqual(len(notes), 1, "%s: %s" % (ctx, rev))
        n = notes[0]
        self.assertEqual(n["text"], sc.text + ("" if sc.premod else " v2"), ctx)
        self.assertIs(n["hidden"], False, ctx)
        for e in rev:
            self.assertIsNone(e["author"], ctx)
        allowed = sc.anon == "named" or (sc.anon == "moderators" and role == "moderator")
        if allowed:
            self.assertEqual((n.get("author"), n.get("author_name")),
                             (sc.author_id, sc.author_name), ctx)
        else:
            self.assertNotIn("author", n, ctx)
            self.assertNotIn("author_name", n, ctx)

    def same_as_live(self, sc, role, got, where):
        live = sc.live[role]
        ctx = "%s %s (%s)" % (sc, role, where)
        self.assertEqual(sorted(got), sorted(live), "%s: other note events than live" % ctx)
        for seq in live:
            self.assertEqual(got[seq], live[seq], "%s: seq %d rendered differently" % (ctx, seq))

    async def catch_up(self, scenarios, where):
        """Every viewer of every scenario on a new connection: join since=0
        and history must repeat exactly what went out live."""
        for sc in scenarios:
            for role, c in sc.clients.items():
                try:
                    c2 = await self.rejoin(c, since=0, room=sc.R)
                except AssertionError as e:
                    raise AssertionError("%s %s (%s): %s [identity %s token %s]" % (
                        sc, role, where, e, c.identity, c.token)) from None
                await c2.wait_seq(sc.R, sc.head)
                self.same_as_live(sc, role, c2.note_items(sc.R), where + " join since=0")
                self.check_frames(sc, role, c2.raw, where + " join since=0")
                h = await c2.call("history", room=sc.R, limit=1000)
                hist = {e["seq"]: e for e in h["events"] if note_bearing(e)}
                self.same_as_live(sc, role, hist, where + " history")
                self.check_frames(sc, role, [tt.dumps(e) for e in h["events"]], where + " history")
                await c2.close()
            # a late joiner seated at table 1 sees exactly what the peer saw
            late = sc.late
            c2 = await self.rejoin(late, since=0, room=sc.R)
            await c2.wait_seq(sc.R, sc.late_head)
            self.same_as_live(sc, "peer", c2.note_items(sc.R), where + " late joiner")
            self.check_frames(sc, "peer", c2.raw, where + " late joiner")
            await c2.close()

    async def test_every_level_and_mode_on_every_surface(self):
        self.d = self.start_daemon({"rate": 1000, "rate_burst": 1000})
        self.mod = await self.moderator(self.d)
        scenarios = []
        k = 0
        for anon in LEVELS:
            for private in (False, True):
                for premod in (False, True):
                    k += 1
                    sc = await self.play(anon, private, premod, "Q%02d" % k)
                    scenarios.append(sc)
        # live
        for sc in scenarios:
            for role, c in sc.clients.items():
                self.check_frames(sc, role, c.raw, "live")
                self.check_created(sc, role, sc.live[role])
                self.check_reveal(sc, role, sc.live[role])
        # a late joiner: with no table yet it sees no note at all
        for sc in scenarios:
            self.R = sc.R
            late = await self.participant(self.d, sc.code, "Sen %s" % sc.tag)
            self.assertNotIn(sc.text, late.raw_since(0))
            for e in late.note_items(sc.R).values():     # at most an empty reveal
                self.assertEqual((e["kind"], e["data"]["notes"]), (REVEAL, []), sc)
            sc.late = late
            sc.late_head = (await self.seat(late, sc.table))["seq"]
        await self.catch_up(scenarios, "ring")
        # restart: the ring is gone, everything comes from the store
        await self.d.astop()
        self.d.restart()
        await self.catch_up(scenarios, "store")


class Reveal(WorkshopCase):

    async def test_reveal_does_not_publish_notes_waiting_for_approval(self):
        """Private writing and pre-moderation: a reveal before the approval
        must not give the table (or observers) the text of a note that a
        moderator has not approved."""
        await self.workshop(tables=2)
        b = await self.board(premoderation=True)
        t1, t2 = self.tables
        a = await self.person("Åsa", t1)
        peer = await self.person("Bo", t1)
        other = await self.person("Cia", t2)
        obs = await self.person("Olle", observer=True)
        await self.phase("write")
        await self.mod.call("writing.set", room=self.R, private=True)
        text = "VÄNTAR-PÅ-GODKÄNNANDE"
        n = (await a.call("note.add", room=self.R, board=b, text=text))["note"]
        r = await self.mod.call("writing.reveal", room=self.R)
        await self.marker([a, peer, other, obs])
        for who, c in (("same table", peer), ("other table", other), ("observer", obs)):
            leaks = [f for f in c.raw if text in f]
            self.assertEqual(leaks, [], "%s received a pending note's text in the reveal "
                             "(seq %d)" % (who, r["seq"]))
        # once approved and revealed, the table has it
        await self.mod.call("note.approve", room=self.R, note=n)
        await self.mod.call("writing.reveal", room=self.R)
        await self.marker([a, peer, other, obs])
        self.assertEqual(self.notes_of(peer).get(n), text)
        self.assertNotIn(text, other.raw_since(0))

    async def test_reveal_without_tables(self):
        """A workshop without breakout tables is one table: a reveal gives
        every participant every note."""
        await self.workshop(tables=0)
        b = await self.board()
        a = await self.person("Åsa")
        peer = await self.person("Bo")
        obs = await self.person("Olle", observer=True)
        await self.phase("write")
        await self.mod.call("writing.set", room=self.R, private=True)
        n = (await a.call("note.add", room=self.R, board=b, text="Min hemliga idé"))["note"]
        await self.marker([a, peer, obs])
        self.assertNotIn("Min hemliga idé", peer.raw_since(0))
        self.assertEqual(self.notes_of(peer), {n: None})    # the placeholder
        r = await self.mod.call("writing.reveal", room=self.R)
        await self.marker([a, peer, obs])
        self.assertEqual(self.notes_of(obs).get(n), "Min hemliga idé")
        self.assertEqual(self.notes_of(peer).get(n), "Min hemliga idé",
                         "a participant in a room without tables got no reveal (seq %d)"
                         % r["seq"])

    async def test_hidden_note_moves_stay_hidden(self):
        """Moving and recolouring a hidden note tells the table that
        something moved, never what."""
        await self.workshop(tables=1)
        b = await self.board(columns=["A", "B"], anonymity="anonymous")
        a = await self.person("Åsa", self.tables[0])
        peer = await self.person("Bo", self.tables[0])
        await self.phase("write")
        await self.mod.call("writing.set", room=self.R, private=True)
        n = (await a.call("note.add", room=self.R, board=b, text="Dold lapp"))["note"]
        await a.call("note.edit", room=self.R, note=n, column=1, colour="blue")
        await a.call("note.edit", room=self.R, note=n, text="Dold lapp, ny")
        await self.mod.call("note.edit", room=self.R, note=n, colour="green")
        await self.mod.call("note.delete", room=self.R, note=n)
        await self.mod.call("undo", room=self.R)
        await self.marker([a, peer])
        raw = peer.raw_since(0)
        self.assertNotIn("Dold lapp", raw)
        self.assertNotIn(a.identity["id"], "".join(
            dump(e) for e in peer.events[self.R] if note_bearing(e)))
        for e in peer.events[self.R]:
            if note_bearing(e):
                self.assertEqual(set(e["data"]), {"id", "board", "table", "hidden", "pending"}, e)


if __name__ == "__main__":
    tt.main()
