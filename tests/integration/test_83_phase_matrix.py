"""test_83_phase_matrix: every workshop op, in every phase, from every role
(PROTOCOL.md 4 "Workshop ops", 4.14-4.16, 4.27-4.48, 5.2).

The ops come from protocol/messages.def; for each op whose rules this file
knows (the workshop ops of PROTOCOL.md 4.10-4.26), each phase (setup,
write, group, vote, discuss, closed) and each sender (moderator,
participant, observer, and a participant of another room: not a member),
the expected outcome is derived from the documented rules alone:

  1. a sender that has not joined the room on this connection (a
     non-member cannot): `not_in_room`;
  2. a role the op's row of messages.def does not list: `forbidden`;
  3. phase `closed`: `wrong_phase` for every op but `phase.set`, `undo`,
     `workshop.status`, the synthesis's reads and `action.update` (4,
     4.42), from moderators too;
  4. participants: `note.add` only in `write`; `note.edit` of the text only
     in `write`, of place or colour in `write` and `group`; `note.delete`
     only in `write` (5.2, 4.14-4.16); the grouping ops (cluster.*) only in
     `group` and in their own table's scope (4.28): else `wrong_phase`;
  5. otherwise the op is allowed: the reply is ok, or a domain error that
     is none of the refusals above (a note.approve of a note that does not
     wait for approval is `bad_request`, say).

Each combination is sent and the reply compared. The ops of meetings and
forums (no phases) are listed as skipped; any other op of messages.def
this file has no rules for fails the test, so a new op cannot land without
its rules; ops outside the workshop (ping, login, chat...)
are test_55's. Allowed requests are chosen so that they leave the
workshop as it was (phase.set to the current phase, member.role to the
same role, the timer stopped), so each phase is judged in the same state.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
from test_55_conformance import op_rows  # noqa: E402

PHASES = ["setup", "group", "vote", "discuss", "closed", "write"]   # write last: see below
ROLES = ["moderator", "participant", "observer", "non-member"]
#: The workshop ops of PROTOCOL.md 4 whose rules are written below.
KNOWN = {"table.create", "table.assign", "board.create", "board.update", "note.add",
         "note.edit", "note.delete", "note.approve", "phase.set", "writing.set",
         "writing.reveal", "timer.set", "ready.set", "view.focus", "member.role", "undo",
         "workshop.status",
         # the synthesis (PROTOCOL.md 4.27-4.48)
         "synthesis.create", "cluster.create", "cluster.update", "cluster.assign",
         "cluster.merge", "cluster.split", "cluster.delete", "note.merge", "cluster.suggest",
         "cluster.reject", "vote.open", "vote.cast", "vote.close", "synthesis.result",
         "action.create", "action.update", "action.list", "synthesis.publish",
         "synthesis.get", "export", "export.link", "notes.import"}
#: Grouping ops: participants only in their own table's scope, only in
#: phase `group` (4.28).
GROUPING = {"cluster.create", "cluster.update", "cluster.assign", "cluster.merge",
            "cluster.split", "cluster.delete", "cluster.reject", "cluster.suggest"}
#: Ops outside the workshop, covered by test_55's state-by-role matrix.
NOT_WORKSHOP = {"ping", "login", "resume", "join", "leave", "room.create", "room.list",
                "chat.send", "history"}
#: Ops of meetings and forums (PROTOCOL.md 9): their rooms have no phases;
#: their roles are test_55's, their rules test_100's and test_101's.
MEETING = {"agenda.add", "agenda.edit", "agenda.remove", "agenda.current", "poll.create",
           "poll.answer", "poll.close", "round.open", "round.answer", "round.close",
           "hand.raise", "hand.lower", "queue.next", "react", "thread.create", "post.add",
           "post.edit", "post.delete", "search", "rooms.seen", "meeting.export"}
#: The refusals of rules 1-4; an allowed op must get none of them.
REFUSALS = {"not_in_room", "forbidden", "wrong_phase", "not_a_workshop", "not_authenticated"}
#: Closed workshops refuse everything but these (PROTOCOL.md 4).
OPEN_WHEN_CLOSED = {"phase.set", "undo", "workshop.status",
                    # reads, and action items (reviewed later: 4.42)
                    "synthesis.result", "action.list", "synthesis.get", "export",
                    "export.link", "action.update"}


def expected(op, variant, phase, role, roles):
    """The documented refusal for (op, phase, sender), or None if allowed."""
    if role == "non-member":
        return "not_in_room"
    if role not in roles:
        return "forbidden"
    if phase == "closed" and op not in OPEN_WHEN_CLOSED:
        return "wrong_phase"
    if role == "participant":
        if op == "note.add" and phase != "write":
            return "wrong_phase"
        if op == "note.edit" and variant == "text" and phase != "write":
            return "wrong_phase"
        if op == "note.edit" and variant == "move" and phase not in ("write", "group"):
            return "wrong_phase"
        if op == "note.delete" and phase != "write":
            return "wrong_phase"
        if op in GROUPING and phase != "group":
            return "wrong_phase"
    return None


class PhaseMatrix(tt.TavlaCase):

    async def test_every_op_phase_and_role(self):
        d = self.start_daemon({"rate": 100000, "rate_burst": 100000})
        mod = await self.moderator(d)
        R = (await mod.call("room.create", kind="workshop", title="Fasmatris"))["room"]
        other = (await mod.call("room.create", kind="workshop", title="Annat rum"))["room"]
        await mod.join(room=R["id"])
        room = R["id"]
        await mod.call("table.create", room=room, name="Bord 1")
        await mod.call("board.create", room=room, title="Frågan", layout="columns",
                       columns=["Nu", "Sedan"])
        await mod.call("phase.set", room=room, phase="write")
        part = await self.participant(d, R["code"], "Deltagare")
        await part.call("table.assign", room=room, table="t1")
        own = (await part.call("note.add", room=room, board="b1", text="Min lapp"))["note"]
        obs = await self.participant(d, R["code"], "Observatör", observer=True)
        stranger = await self.participant(d, other["code"], "Främling")
        # The synthesis's objects the ops below name: a synthesis, a
        # cluster in the table's scope and one in the synthesis, an open
        # table vote and an action item.
        syn = (await mod.call("synthesis.create", room=room, name="Syntes"))["synthesis"]
        c_table = (await mod.call("cluster.create", room=room, scope="t1", name="Bordets tema",
                                  notes=[own]))["cluster"]
        c_syn = (await mod.call("cluster.create", room=room, scope=syn, name="Tema"))["cluster"]
        vote = (await mod.call("vote.open", room=room, scope="t1"))["vote"]
        action = (await mod.call("action.create", room=room, cluster=c_syn,
                                 text="Följ upp"))["action"]
        doomed = {}
        senders = {"moderator": mod, "participant": part, "observer": obs,
                   "non-member": stranger}

        rows = [r for r in op_rows() if r["room"]]
        skipped = sorted(r["wire"] for r in rows
                         if r["wire"] not in KNOWN and r["wire"] not in NOT_WORKSHOP)
        # A new op must be given its rules here (or be classified as a
        # meeting op) before it can land.
        self.assertEqual([op for op in skipped if op not in MEETING], [],
                         "ops of messages.def with no phase rules in this file")
        rows = [r for r in rows if r["wire"] in KNOWN]
        self.assertEqual({r["wire"] for r in rows}, KNOWN,
                         "a workshop op of PROTOCOL.md 4 is missing from messages.def")

        def args_for(op, variant, role, phase, mine):
            note = mine if role == "moderator" and mine else own
            # Participants group in their table's scope, moderators in the
            # synthesis; merges and splits that would change the clusters
            # the next combinations need are made to fail on their
            # arguments (into itself, a note not in it) once allowed.
            scope, cl = ("t1", c_table) if role != "moderator" else (syn, c_syn)
            synthesis_args = {
                "synthesis.create": {"name": "Syntes i %s" % phase},
                "cluster.create": {"scope": scope, "name": "Nytt tema"},
                "cluster.update": {"cluster": cl, "name": "Bordets tema" if scope == "t1"
                                   else "Tema"},
                "cluster.assign": {"scope": scope, "notes": [note]},
                "cluster.merge": {"cluster": cl, "into": cl},
                "cluster.split": {"cluster": cl, "name": "Del", "notes": ["n999"]},
                "cluster.delete": {"cluster": doomed.get(scope, cl)},
                "note.merge": {"note": note, "into": ""},
                "cluster.suggest": {"scope": scope},
                "cluster.reject": {"scope": scope, "notes": [note, note]},
                "vote.open": {"scope": "t1"},
                "vote.cast": {"vote": vote, "dots": []},
                "vote.close": {"vote": vote},
                "synthesis.result": {"scope": "t1"},
                "action.create": {"cluster": c_syn, "text": "Mer"},
                "action.update": {"action": action, "status": "open"},
                "action.list": {},
                "synthesis.publish": {"synthesis": syn},
                "synthesis.get": {},
                "export": {"format": "csv"},
                "export.link": {"format": "json"},
                "notes.import": {"from": other["id"], "board": "b1"},
            }
            if op in synthesis_args:
                return synthesis_args[op]
            return {
                "table.create": {"name": "Bord extra"},
                "table.assign": ({"table": "t1", "identity": part.identity["id"]}
                                 if role == "moderator" else {"table": "t1"}),
                "board.create": {"title": "Extra", "layout": "columns", "columns": ["A"]},
                "board.update": {"board": "b1", "title": "Frågan"},
                "note.add": {"board": "b1", "text": "Ny lapp i %s" % phase},
                "note.edit": ({"note": note, "text": "Ändrad i %s" % phase}
                              if variant == "text" else {"note": note, "colour": "green"}),
                "note.delete": {"note": note},
                "note.approve": {"note": note},
                "phase.set": {"phase": phase},
                "writing.set": {"private": False},
                "writing.reveal": {},
                "timer.set": {"action": "stop"},
                "ready.set": {"done": True},
                "view.focus": {"board": "b1"},
                "member.role": {"identity": obs.identity["id"], "role": "observer"},
                "undo": {},
                "workshop.status": {},
            }[op]

        n, refused, allowed, mismatches = 0, 0, 0, []
        for phase in PHASES:
            await mod.call("phase.set", room=room, phase=phase)
            # A note of the moderator's own for its edits and deletion (the
            # participant's note must survive until its deletion in `write`,
            # which comes last).
            mine = None
            doomed.clear()
            if phase != "closed":
                mine = (await mod.call("note.add", room=room, board="b1",
                                       text="Moderatorns lapp i %s" % phase))["note"]
                # A cluster per scope for this phase's cluster.delete.
                for sc in ("t1", syn):
                    doomed[sc] = (await mod.call("cluster.create", room=room, scope=sc,
                                                 name="Att ta bort"))["cluster"]
            for row in rows:
                op = row["wire"]
                for variant in (("text", "move") if op == "note.edit" else (None,)):
                    for role in ROLES:
                        want = expected(op, variant, phase, role, row["roles"])
                        args = dict(args_for(op, variant, role, phase, mine), room=room)
                        r = await senders[role].request(op, **args)
                        n += 1
                        got = None if r.get("ok") else r["error"]["code"]
                        label = "%s%s in %s from %s" % (op, "/" + variant if variant else "",
                                                       phase, role)
                        if want is not None:
                            refused += 1
                            if got != want:
                                mismatches.append("%s: want %s, got %s" % (label, want, got))
                        else:
                            allowed += 1
                            if got in REFUSALS:
                                mismatches.append("%s: allowed, got %s" % (label, got))
            # phase.set from the moderator set the same phase; nothing else
            # may have moved it.
            status = await mod.call("workshop.status", room=room)
            self.assertEqual(status["phase"], phase)
        sys.stderr.write("\ntest_83: %d combinations of %d workshop ops x %d phases x %d "
                         "senders: %d refused as documented, %d allowed; skipped (no rules "
                         "here): %s\n" % (n, len(rows), len(PHASES), len(ROLES), refused,
                                          allowed, ", ".join(skipped) or "none"))
        self.assertEqual(mismatches, [])
        # Every sender is still served.
        for role, c in senders.items():
            self.assertIn("ts", await c.call("ping"), role)

    async def test_member_role_in_other_kinds(self):
        # Roles belong to rooms of every kind (PROTOCOL.md 4): member.role
        # works in a meeting, where the workshop's ops are not_a_workshop.
        d = self.start_daemon()
        mod = await self.moderator(d)
        M = (await mod.call("room.create", kind="meeting", title="Nätverksträff"))["room"]
        await mod.join(room=M["id"])
        p = await self.participant(d, M["code"], "Gäst")
        await mod.call("member.role", room=M["id"], identity=p.identity["id"], role="observer")
        self.assertEqual(await p.error("chat.send", room=M["id"], text="hej"), "forbidden")
        self.assertEqual(await mod.error("table.create", room=M["id"], name="Bord"),
                         "not_a_workshop")


if __name__ == "__main__":
    tt.main()
