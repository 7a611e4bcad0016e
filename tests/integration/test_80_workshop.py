"""test_80_workshop: the rules of a post-it workshop at the wire level
(PROTOCOL.md 4.10-4.26 and 5).

Covers the whole flow a moderator runs: a workshop room, tables, boards in
the three layouts, the phases and what each allows, notes added, edited,
moved and deleted by their authors (and by nobody else), a moderator's
power over every note, the colour palette and the note length limit, proxy
entry, seating (choice, round-robin, placement), the timer and its expiry,
readiness, focus, roles (promote, demote, remove) and undo.
Visibility of hidden and anonymous notes is test_81_visibility; many tables
posting at once is test_82_workshop_load.

This file also holds what those files share: RawClient, which keeps every
frame exactly as it came off the wire, and WorkshopCase, which builds rooms
with tables and boards. Invariant: every helper waits with a bound (the
harness's TIMEOUT), never forever.
"""

import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import websockets  # noqa: E402

PALETTE = ("yellow", "pink", "green", "blue", "orange", "purple")
PHASES = ("setup", "write", "group", "vote", "discuss", "closed")
#: Kinds of events that carry a note (its text, its author, or both).
NOTE_KINDS_PREFIX = "note."
REVEAL = "writing.revealed"


def note_bearing(msg):
    """True for events that can link a note to its text or its author."""
    k = msg.get("kind", "")
    return msg.get("type") == "event" and (k.startswith(NOTE_KINDS_PREFIX) or k == REVEAL)


class RawClient(tt.Client):
    """tt.Client that also keeps every text frame as received (.raw, a list
    of str, batches not unpacked): what a leak check must scan, since a
    parsed copy could hide bytes the daemon sent."""

    def __init__(self, daemon, ws):
        super().__init__(daemon, ws)
        self.raw = []

    async def _read(self):
        # tt.Client._read with one more line (self.raw.append).
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    raise AssertionError("server sent a binary frame: %r" % frame[:80])
                self.raw.append(frame)
                msg = tt.strict_loads(frame)
                if not isinstance(msg, dict) or "type" not in msg:
                    raise AssertionError("server message without type: %r" % frame[:200])
                if msg["type"] == "batch":
                    self.batches += 1
                    for item in msg["items"]:
                        self._file(item)
                else:
                    self._file(msg)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        except Exception as e:
            self.reader_error = e
        finally:
            self.closed = True
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            err = self.reader_error or tt.ServerClosed(self.close_code, self.close_reason)
            for q in self._pending.values():
                for fut in q:
                    if not fut.done():
                        fut.set_exception(err)
            self._pending.clear()
            self._changed.set()

    def raw_since(self, start):
        """The frames received after the first `start` ones, joined."""
        return "\n".join(self.raw[start:])

    def note_items(self, room):
        """The note-bearing events of room received so far, by seq."""
        return {e["seq"]: e for e in self.events[room] if note_bearing(e)}


class WorkshopCase(tt.TavlaCase):
    """TavlaCase with workshop helpers. Every client is a RawClient."""

    async def connect(self, daemon, cafile=None):
        c = await RawClient.connect(daemon, cafile=cafile)
        self.addAsyncCleanup(c.close_quietly)
        return c

    async def workshop(self, extra=None, tables=0, title="Framtidsverkstad"):
        """Starts a daemon (unless self.d runs), logs in a moderator, creates
        a workshop room with `tables` tables and joins it. Returns the room
        ({id, code, ...}); self.mod, self.R, self.tables are set."""
        if not getattr(self, "d", None):
            self.d = self.start_daemon(extra)
            self.mod = await self.moderator(self.d)
        room = (await self.mod.call("room.create", kind="workshop", title=title))["room"]
        self.R = room["id"]
        self.code = room["code"]
        await self.mod.join(room=self.R)
        self.tables = []
        self.marker_board = None
        for i in range(tables):
            r = await self.mod.call("table.create", room=self.R, name="Bord %d" % (i + 1))
            self.tables.append(r["table"])
        return room

    async def board(self, layout="columns", **args):
        """Creates a board (columns default ["Nu", "Sedan"]); returns its id."""
        a = dict(room=self.R, title=args.pop("title", "Vad behöver vi?"), layout=layout)
        if layout != "matrix":
            a["columns"] = args.pop("columns", ["Nu", "Sedan"])
        else:
            a["x_axis"] = args.pop("x_axis", "Inflytande")
            a["y_axis"] = args.pop("y_axis", "Intresse")
        a.update(args)
        b = (await self.mod.call("board.create", **a))["board"]
        if not getattr(self, "marker_board", None):
            self.marker_board = b
        return b

    async def phase(self, p):
        return await self.mod.call("phase.set", room=self.R, phase=p)

    async def seat(self, client, table):
        """The moderator places client at table."""
        return await self.mod.call("table.assign", room=self.R,
                                   identity=client.identity["id"], table=table)

    async def person(self, name, table=None, observer=False, code=None):
        """A participant (or observer) joined by code, placed at `table`."""
        args = {"observer": True} if observer else {}
        c = await self.participant(self.d, code or self.code, name, **args)
        if table:
            await self.seat(c, table)
        return c

    async def marker(self, clients):
        """Appends a public event (view.focus on the first board) and waits
        until every client in clients has it: everything before it has then
        reached each socket (or was skipped for it). Returns its seq."""
        seq = (await self.mod.call("view.focus", room=self.R, board=self.marker_board))["seq"]
        for c in clients:
            await c.wait_seq(self.R, seq)
        return seq

    async def rejoin(self, client, since=0, room=None):
        """A new connection of client's identity (resume), joined to the room
        (default self.R) with since; returns it after the join reply (the
        catch-up follows it)."""
        c = await self.resumed(self.d, client.token)
        r = await c.join(room=room or self.R, since=since)
        self.assertTrue(r["complete"], r)
        return c

    def notes_of(self, client, room=None):
        """The board as client sees it now: {note id: text or None}, built
        from its events (created/updated/deleted/restored/approved/revealed)."""
        board = {}
        for e in client.events[room or self.R]:
            k, d = e.get("kind"), e.get("data", {})
            if k in ("note.created", "note.approved", "note.restored"):
                board[d["id"]] = d.get("text")
            elif k == "note.updated" and "text" in d:
                board[d["id"]] = d["text"]
            elif k == "note.deleted":
                board[d["id"]] = None
            elif k == REVEAL:
                for n in d["notes"]:
                    board[n["id"]] = n.get("text")
        return board


class Flow(WorkshopCase):

    async def test_boards_in_three_layouts(self):
        await self.workshop(tables=1)
        b1 = await self.board("columns", columns=["Mål", "Effekt", "Aktivitet"])
        b2 = await self.board("matrix", title="Intressenter")
        b3 = await self.board("timeline", title="Bakåt från 2050",
                              columns=["2030", "2040", "2050"])
        self.assertEqual((b1, b2, b3), ("b1", "b2", "b3"))
        evs = {e["data"]["id"]: e for e in self.mod.events[self.R] if e["kind"] == "board.created"}
        self.assertEqual(evs["b1"]["data"]["columns"], ["Mål", "Effekt", "Aktivitet"])
        self.assertEqual(evs["b1"]["data"]["anonymity"], "named")
        self.assertIs(evs["b1"]["data"]["premoderation"], False)
        self.assertEqual((evs["b2"]["data"]["x_axis"], evs["b2"]["data"]["y_axis"]),
                         ("Inflytande", "Intresse"))
        self.assertNotIn("columns", evs["b2"]["data"])
        self.assertEqual(evs["b3"]["data"]["layout"], "timeline")
        m = self.mod
        # layout rules
        self.assertEqual(await m.error("board.create", room=self.R, title="x", layout="grid",
                                       columns=["a"]), "bad_request")
        self.assertEqual(await m.error("board.create", room=self.R, title="x",
                                       layout="columns"), "bad_request")
        self.assertEqual(await m.error("board.create", room=self.R, title="x", layout="matrix",
                                       x_axis="a"), "bad_request")
        self.assertEqual(await m.error("board.create", room=self.R, title="x", layout="columns",
                                       columns=["a"], anonymity="secret"), "bad_request")
        self.assertEqual(await m.error("board.create", room=self.R, title="x", layout="columns",
                                       columns=[]), "bad_request")
        self.assertEqual(await m.error("board.create", room=self.R, title="x", layout="columns",
                                       columns=["a"] * 41), "bad_request")
        self.assertEqual(await m.error("board.create", room=self.R, title="x", layout="columns",
                                       columns=["x" * 201]), "too_long")
        # positions: matrix needs x and y in [0,1]; columns a column that exists
        a = await self.person("Åsa", self.tables[0])
        await self.phase("write")
        n = (await a.call("note.add", room=self.R, board=b2, text="Kommunerna",
                          x=0.25, y=0.75))["note"]
        e = await a.next_event("note.created")
        self.assertEqual((e["data"]["x"], e["data"]["y"]), (0.25, 0.75))
        self.assertEqual(await a.error("note.add", room=self.R, board=b2, text="x", x=0.5),
                         "bad_request")
        self.assertEqual(await a.error("note.add", room=self.R, board=b2, text="x", x=1.5,
                                       y=0.5), "bad_request")
        self.assertEqual(await a.error("note.add", room=self.R, board=b2, text="x", x=-0.1,
                                       y=0.5), "bad_request")
        self.assertEqual(await a.error("note.add", room=self.R, board=b1, text="x", column=3),
                         "bad_request")
        self.assertEqual(await a.error("note.add", room=self.R, board=b3, text="x", column=-1),
                         "bad_request")
        self.assertEqual(await a.error("note.add", room=self.R, board="b9", text="x"),
                         "board_not_found")
        await a.call("note.edit", room=self.R, note=n, x=1, y=0)
        r = await a.call("note.add", room=self.R, board=b3, text="Fossilfritt", column=2)
        e = await a.next_event("note.created")
        self.assertEqual(e["data"]["column"], 2)
        self.assertEqual(e["data"]["id"], r["note"])

    async def test_not_a_workshop(self):
        await self.workshop()
        room = (await self.mod.call("room.create", kind="meeting", title="Nätverksträff"))["room"]
        await self.mod.join(room=room["id"])
        for op, args in (("table.create", {"name": "Bord 1"}),
                         ("board.create", {"title": "x", "layout": "columns", "columns": ["a"]}),
                         ("phase.set", {"phase": "write"}),
                         ("writing.set", {"private": True}),
                         ("timer.set", {"action": "stop"}),
                         ("undo", {}),
                         ("workshop.status", {})):
            self.assertEqual(await self.mod.error(op, room=room["id"], **args), "not_a_workshop",
                             op)

    async def test_phases_are_enforced(self):
        await self.workshop(tables=1)
        b = await self.board()
        a = await self.person("Åsa", self.tables[0])
        # setup: participants cannot write
        self.assertEqual(await a.error("note.add", room=self.R, board=b, text="för tidigt"),
                         "wrong_phase")
        await self.phase("write")
        n = (await a.call("note.add", room=self.R, board=b, text="Fler mötesplatser"))["note"]
        await self.phase("group")
        # group: moving and recolouring yes, writing and text edits no
        self.assertEqual(await a.error("note.add", room=self.R, board=b, text="x"), "wrong_phase")
        self.assertEqual(await a.error("note.edit", room=self.R, note=n, text="ny text"),
                         "wrong_phase")
        self.assertEqual(await a.error("note.delete", room=self.R, note=n), "wrong_phase")
        await a.call("note.edit", room=self.R, note=n, column=1, colour="blue")
        for p in ("vote", "discuss"):
            await self.phase(p)
            self.assertEqual(await a.error("note.add", room=self.R, board=b, text="x"),
                             "wrong_phase")
            self.assertEqual(await a.error("note.edit", room=self.R, note=n, column=0),
                             "wrong_phase")
        # moderators act in any phase but closed
        await self.mod.call("note.edit", room=self.R, note=n, text="Fler mötesplatser!")
        await self.phase("closed")
        self.assertEqual(await a.error("note.add", room=self.R, board=b, text="x"), "wrong_phase")
        self.assertEqual(await self.mod.error("note.add", room=self.R, board=b, text="x"),
                         "wrong_phase")
        self.assertEqual(await self.mod.error("table.create", room=self.R, name="x"),
                         "wrong_phase")
        self.assertEqual(await self.mod.error("phase.set", room=self.R, phase="later"),
                         "bad_request")
        # a moderator can go back
        r = await self.phase("write")
        e = await self.mod.event(self.R, r["seq"])
        self.assertEqual(e["data"], {"phase": "write", "prev": "closed"})
        await a.call("note.add", room=self.R, board=b, text="Igen")

    async def test_notes_by_author_and_moderator(self):
        await self.workshop(tables=2, extra={"note_chars": 500})
        b = await self.board()
        t1, t2 = self.tables
        a = await self.person("Åsa", t1)
        bo = await self.person("Bo", t1)
        await self.phase("write")
        r = await a.call("note.add", room=self.R, board=b, text="Fler mötesplatser",
                         colour="pink", column=1)
        n = r["note"]
        e = await bo.event(self.R, r["seq"])
        self.assertEqual(e["kind"], "note.created")
        self.assertEqual(e["author"], {"id": a.identity["id"], "name": "Åsa"})
        self.assertEqual(e["data"]["text"], "Fler mötesplatser")
        self.assertEqual(e["data"]["colour"], "pink")
        self.assertEqual(e["data"]["table"], t1)
        # default colour yellow, default column 0
        r2 = await a.call("note.add", room=self.R, board=b, text="Mer tid")
        e2 = await a.event(self.R, r2["seq"])
        self.assertEqual((e2["data"]["colour"], e2["data"]["column"]), ("yellow", 0))
        # every colour of the palette, nothing else
        for c in PALETTE:
            await a.call("note.edit", room=self.R, note=n, colour=c)
        for c in ("red", "Yellow", "gul", "#ff0"):
            self.assertEqual(await a.error("note.edit", room=self.R, note=n, colour=c),
                             "bad_request")
            self.assertEqual(await a.error("note.add", room=self.R, board=b, text="x",
                                           colour=c), "bad_request")
        # the note length limit counts characters, not bytes
        await a.call("note.add", room=self.R, board=b, text="å" * 500)
        self.assertEqual(await a.error("note.add", room=self.R, board=b, text="å" * 501),
                         "too_long")
        self.assertEqual(await a.error("note.edit", room=self.R, note=n, text="x" * 501),
                         "too_long")
        # edit, move by the author; others get not_yours
        r = await a.call("note.edit", room=self.R, note=n, text="Fler mötesplatser på landet")
        e = await bo.event(self.R, r["seq"])
        self.assertEqual(e["kind"], "note.updated")
        self.assertEqual(e["data"]["text"], "Fler mötesplatser på landet")
        await a.call("note.edit", room=self.R, note=n, column=0)
        self.assertEqual(await bo.error("note.edit", room=self.R, note=n, text="mitt"),
                         "not_yours")
        self.assertEqual(await bo.error("note.edit", room=self.R, note=n, column=1), "not_yours")
        self.assertEqual(await bo.error("note.delete", room=self.R, note=n), "not_yours")
        self.assertEqual(await bo.error("note.edit", room=self.R, note="n999", text="x"),
                         "note_not_found")
        self.assertEqual(await a.error("note.edit", room=self.R, note=n), "bad_request")
        # a moderator edits, moves and recolours any note
        r = await self.mod.call("note.edit", room=self.R, note=n, text="Mötesplatser",
                                column=1, colour="green")
        e = await a.event(self.R, r["seq"])
        self.assertEqual(e["data"]["text"], "Mötesplatser")
        self.assertIs(e["data"]["by_moderator"], True)
        # delete keeps the skeleton: id, board, table, no text
        r = await a.call("note.delete", room=self.R, note=n)
        for c in (a, bo, self.mod):
            e = await c.event(self.R, r["seq"])
            self.assertEqual(e["kind"], "note.deleted")
            self.assertEqual((e["data"]["id"], e["data"]["board"], e["data"]["table"]),
                             (n, b, t1))
            self.assertNotIn("text", e["data"])
            self.assertNotIn("Mötesplatser", json.dumps(e, ensure_ascii=False))
        self.assertEqual(await a.error("note.edit", room=self.R, note=n, text="x"),
                         "note_not_found")
        self.assertEqual(await a.error("note.delete", room=self.R, note=n), "note_not_found")
        # a moderator removes any note; its skeleton carries no text either
        r = await self.mod.call("note.delete", room=self.R, note=r2["note"])
        for c in (a, bo):
            e = await c.event(self.R, r["seq"])
            self.assertEqual(e["kind"], "note.deleted")
            self.assertNotIn("text", e["data"])
            self.assertNotIn("Mer tid", json.dumps(e, ensure_ascii=False),
                             "a removed note's text is sent again to participants")

    async def test_note_chars_is_configurable(self):
        await self.workshop(tables=0, extra={"note_chars": 20})
        b = await self.board()
        a = await self.person("Åsa")
        await self.phase("write")
        await a.call("note.add", room=self.R, board=b, text="ö" * 20)
        self.assertEqual(await a.error("note.add", room=self.R, board=b, text="ö" * 21),
                         "too_long")

    async def test_proxy_entry_and_seating_rules(self):
        await self.workshop(tables=2)
        b = await self.board()
        t1, t2 = self.tables
        a = await self.person("Åsa", t1)
        other = await self.person("Bo", t2)
        await self.phase("write")
        r = await self.mod.call("note.add", room=self.R, board=b, table=t1,
                                text="Bättre kollektivtrafik", proxy_for="Gunnel")
        e = await a.event(self.R, r["seq"])
        self.assertIs(e["data"]["proxy"], True)
        self.assertEqual(e["data"]["proxy_for"], "Gunnel")
        self.assertEqual(e["data"]["table"], t1)
        self.assertEqual(await self.mod.error("note.add", room=self.R, board=b, table="t99",
                                              text="x"), "table_not_found")
        # a participant may not enter notes for others, nor at another table
        self.assertEqual(await a.error("note.add", room=self.R, board=b, text="x",
                                       proxy_for="Gunnel"), "forbidden")
        self.assertEqual(await a.error("note.add", room=self.R, board=b, text="x", table=t2),
                         "forbidden")
        # with tables, a participant without one gets no_table
        loose = await self.person("Cia")
        self.assertEqual(await loose.error("note.add", room=self.R, board=b, text="x"),
                         "no_table")
        # a participant places only itself; moderators place anyone
        self.assertEqual(await a.error("table.assign", room=self.R,
                                       identity=other.identity["id"], table=t1), "forbidden")
        self.assertEqual(await loose.error("table.assign", room=self.R, table="t99"),
                         "table_not_found")
        self.assertEqual(await self.mod.error("table.assign", room=self.R,
                                              identity="i_nobodyatall1", table=t1),
                         "not_a_member")
        r = await loose.call("table.assign", room=self.R, table=t2)
        self.assertEqual(r["table"], t2)
        await loose.call("note.add", room=self.R, board=b, text="Nu går det")
        # an observer writes nothing
        obs = await self.person("Olle", observer=True)
        self.assertEqual(await obs.error("note.add", room=self.R, board=b, text="x"),
                         "forbidden")

    async def test_round_robin_spreads_people_evenly(self):
        await self.workshop(tables=3)
        people = []
        for i in range(9):
            p = await self.person("Deltagare %d" % i)
            r = await p.call("table.assign", room=self.R)
            people.append(r["table"])
        self.assertEqual(sorted(people.count(t) for t in self.tables), [3, 3, 3])
        # the moderator moves one: the next round-robin fills the gap
        p = await self.person("Extra")
        await self.seat(p, "t1")
        q = await self.person("Nästa")
        r = await q.call("table.assign", room=self.R)
        self.assertIn(r["table"], ("t2", "t3"))
        st = await self.mod.call("workshop.status", room=self.R)
        self.assertEqual(sorted(t["seated"] for t in st["tables"]), [3, 4, 4])

    async def test_timer(self):
        await self.workshop(tables=1)
        a = await self.person("Åsa", self.tables[0])
        m = self.mod
        t0 = time.time() * 1000
        r = await m.call("timer.set", room=self.R, action="start", seconds=600)
        e = await a.event(self.R, r["seq"])
        self.assertEqual(e["data"]["state"], "running")
        self.assertAlmostEqual(e["data"]["ends_at"], t0 + 600000, delta=5000)
        r = await m.call("timer.set", room=self.R, action="pause")
        e = await a.event(self.R, r["seq"])
        self.assertEqual(e["data"]["state"], "paused")
        self.assertTrue(590000 < e["data"]["remaining_ms"] <= 600000, e)
        self.assertEqual(await m.error("timer.set", room=self.R, action="pause"), "bad_request")
        r = await m.call("timer.set", room=self.R, action="resume")
        e = await a.event(self.R, r["seq"])
        self.assertEqual(e["data"]["state"], "running")
        self.assertEqual(await m.error("timer.set", room=self.R, action="resume"), "bad_request")
        r = await m.call("timer.set", room=self.R, action="stop")
        e = await a.event(self.R, r["seq"])
        self.assertEqual(e["data"], {"state": "stopped"})
        self.assertEqual(await m.error("timer.set", room=self.R, action="start"), "bad_request")
        self.assertEqual(await m.error("timer.set", room=self.R, action="rewind"), "bad_request")
        self.assertEqual(await a.error("timer.set", room=self.R, action="stop"), "forbidden")
        # a stopped timer never expires
        await a.quiet(0.2)
        # start with 1 s: the daemon announces the expiry, at about the end time
        start = time.monotonic()
        r = await m.call("timer.set", room=self.R, action="start", seconds=1)
        ends = (await a.event(self.R, r["seq"]))["data"]["ends_at"]
        e = await a.next_event("timer.expired", timeout=5)
        took = time.monotonic() - start
        self.assertIsNone(e["author"])
        self.assertEqual(e["data"]["ends_at"], ends)
        self.assertTrue(0.8 <= took <= 3.0, "timer.expired after %.2f s" % took)
        self.assertGreaterEqual(e["ts"], ends)
        # a paused timer does not expire; resumed it does
        r = await m.call("timer.set", room=self.R, action="start", seconds=1)
        await m.call("timer.set", room=self.R, action="pause")
        await a.quiet(1.5)
        self.assertEqual([x for x in a.events[self.R] if x["kind"] == "timer.expired"
                          and x["seq"] > r["seq"]], [])
        await m.call("timer.set", room=self.R, action="resume")
        await a.next_event("timer.expired", timeout=5)
        st = await m.call("workshop.status", room=self.R)
        self.assertEqual(st["timer"]["state"], "stopped")

    async def test_ready_focus_and_status(self):
        await self.workshop(tables=2)
        b = await self.board()
        a = await self.person("Åsa", self.tables[0])
        bo = await self.person("Bo", self.tables[0])
        obs = await self.person("Olle", observer=True)
        await self.phase("write")
        r = await a.call("ready.set", room=self.R, done=True)
        e = await self.mod.event(self.R, r["seq"])
        self.assertEqual(e["kind"], "ready.changed")
        self.assertEqual(e["data"], {"identity": a.identity["id"], "table": self.tables[0],
                                     "done": True})
        self.assertEqual(await self.mod.error("ready.set", room=self.R, done=True), "forbidden")
        self.assertEqual(await obs.error("ready.set", room=self.R, done=True), "forbidden")
        r = await self.mod.call("view.focus", room=self.R, board=b)
        for c in (a, bo, obs):
            e = await c.event(self.R, r["seq"])
            self.assertEqual((e["kind"], e["data"]), ("view.focused", {"board": b}))
        self.assertEqual(await self.mod.error("view.focus", room=self.R, board="b7"),
                         "board_not_found")
        self.assertEqual(await a.error("view.focus", room=self.R, board=b), "forbidden")
        # readiness is for moderators only: no participant or observer saw it
        for c in (a, bo, obs):
            self.assertEqual([x for x in c.events[self.R] if x["kind"] == "ready.changed"], [])
            self.assertNotIn('"ready.changed"', c.raw_since(0))
        st = await self.mod.call("workshop.status", room=self.R)
        self.assertEqual(st["phase"], "write")
        self.assertEqual(st["focus"], b)
        t1 = [t for t in st["tables"] if t["id"] == self.tables[0]][0]
        t2 = [t for t in st["tables"] if t["id"] == self.tables[1]][0]
        self.assertEqual((t1["seated"], t1["present"], t1["done"], t1["writing"]), (2, 2, 1, 1))
        self.assertIs(t1["empty"], False)
        self.assertEqual((t2["seated"], t2["present"]), (0, 0))
        self.assertIs(t2["empty"], True)
        self.assertEqual(await a.error("workshop.status", room=self.R), "forbidden")
        # readiness is per phase
        await self.phase("group")
        st = await self.mod.call("workshop.status", room=self.R)
        self.assertEqual([t["done"] for t in st["tables"]], [0, 0])

    async def test_member_roles(self):
        await self.workshop(tables=1)
        a = await self.person("Åsa", self.tables[0])
        bo = await self.person("Bo", self.tables[0])
        aid = a.identity["id"]
        self.assertEqual(await a.error("table.create", room=self.R, name="x"), "forbidden")
        self.assertEqual(await a.error("member.role", room=self.R, identity=bo.identity["id"],
                                       role="observer"), "forbidden")
        r = await self.mod.call("member.role", room=self.R, identity=aid, role="moderator")
        e = await bo.event(self.R, r["seq"])
        self.assertEqual((e["kind"], e["data"]), ("member.role", {"identity": aid,
                                                                  "role": "moderator",
                                                                  "prev": "participant"}))
        # promoted: may now create tables and set phases
        await a.call("table.create", room=self.R, name="Bord 2")
        await a.call("phase.set", room=self.R, phase="write")
        # demoted to observer: read only
        await self.mod.call("member.role", room=self.R, identity=aid, role="observer")
        self.assertEqual(await a.error("table.create", room=self.R, name="x"), "forbidden")
        self.assertEqual(await a.error("note.add", room=self.R, board="b1", text="x"),
                         "forbidden")
        await self.mod.call("member.role", room=self.R, identity=aid, role="participant")
        self.assertEqual(await self.mod.error("member.role", room=self.R, identity=aid,
                                              role="king"), "bad_request")
        self.assertEqual(await self.mod.error("member.role", room=self.R,
                                              identity="i_nobodyatall1", role="observer"),
                         "not_a_member")
        # removed: the connection is closed and the identity cannot come back
        token = bo.token
        await self.mod.call("member.role", room=self.R, identity=bo.identity["id"],
                            role="removed")
        await bo.wait_closed()
        back = await self.resumed(self.d, token)
        self.assertEqual(await back.error("join", room=self.R), "forbidden")
        self.assertEqual(await back.error("join", code=self.code), "forbidden")

    async def test_undo(self):
        await self.workshop(tables=1)
        b = await self.board()
        a = await self.person("Åsa")
        # a participant's own choice of table is not the moderator's to undo
        await a.call("table.assign", room=self.R, table=self.tables[0])
        m = self.mod
        self.assertEqual(await m.error("undo", room=self.R), "nothing_to_undo")
        self.assertEqual(await a.error("undo", room=self.R), "forbidden")
        # phase.set
        await self.phase("write")
        r = await m.call("undo", room=self.R)
        e = await a.event(self.R, r["seq"])
        self.assertEqual(e["kind"], "phase.changed")
        self.assertEqual(e["data"]["phase"], "setup")
        self.assertEqual(await m.error("undo", room=self.R), "nothing_to_undo")
        await self.phase("write")
        # writing.set
        await m.call("writing.set", room=self.R, private=True)
        r = await m.call("undo", room=self.R)
        e = await a.event(self.R, r["seq"])
        self.assertEqual((e["kind"], e["data"]["private"]), ("writing.changed", False))
        # a moderator's edit of a note
        n = (await a.call("note.add", room=self.R, board=b, text="Original"))["note"]
        await m.call("note.edit", room=self.R, note=n, text="Ändrad av moderatorn")
        r = await m.call("undo", room=self.R)
        e = await a.event(self.R, r["seq"])
        self.assertEqual((e["kind"], e["data"]["id"], e["data"]["text"]),
                         ("note.updated", n, "Original"))
        # a moderator's delete: note.restored brings the text back
        await m.call("note.delete", room=self.R, note=n)
        r = await m.call("undo", room=self.R)
        self.assertIn("undone", r)
        e = await a.event(self.R, r["seq"])
        self.assertEqual((e["kind"], e["data"]["id"], e["data"]["text"]),
                         ("note.restored", n, "Original"))
        await a.call("note.edit", room=self.R, note=n, text="Tillbaka")
        # an author's own edits are not the moderator's to undo
        r = await m.call("undo", room=self.R)
        e = await a.event(self.R, r["seq"])
        self.assertNotEqual(e["kind"], "note.updated", "undo reached an author's own edit")
        # member.role
        while True:
            r = await m.request("undo", room=self.R)
            if not r["ok"]:
                self.assertEqual(r["error"]["code"], "nothing_to_undo")
                break
        await self.phase("write")
        await m.call("undo", room=self.R)
        await self.phase("write")   # (undone and done again: the stack is [write])
        r = await m.call("member.role", room=self.R, identity=a.identity["id"], role="observer")
        r = await m.call("undo", room=self.R)
        e = await a.event(self.R, r["seq"])
        self.assertEqual((e["kind"], e["data"]["role"]), ("member.role", "participant"))
        role_undo = r
        await a.call("note.add", room=self.R, board=b, text="Deltagare igen")
        # the stack holds the last 20: 21 undoable ops, 20 undos, then nothing
        for i in range(21):
            await m.call("board.update", room=self.R, board=b, title="Titel %d" % i)
        for i in range(20):
            r = await m.call("undo", room=self.R)
        self.assertEqual(await m.error("undo", room=self.R), "nothing_to_undo")
        e = await a.event(self.R, r["seq"])
        self.assertEqual((e["kind"], e["data"]["title"]), ("board.updated", "Titel 0"))
        # undo is itself an event, on the log like any other
        kinds = [x["kind"] for x in m.events[self.R]]
        self.assertGreaterEqual(kinds.count("board.updated"), 41)
        # every undo reply names the seq it undid, member.role's too
        self.assertIn("undone", role_undo, "undo of member.role does not say what it undid")


if __name__ == "__main__":
    tt.main()
