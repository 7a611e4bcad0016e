"""test_83_phase_matrix: every workshop op, in every phase, from every role
(PROTOCOL.md 4 "Workshop ops", 4.14-4.16, 5.2).

The ops come from protocol/messages.def; for each op whose rules this file
knows (the workshop ops of PROTOCOL.md 4.10-4.26), each phase (setup,
write, group, vote, discuss, closed) and each sender (moderator,
participant, observer, and a participant of another room: not a member),
the expected outcome is derived from the documented rules alone:

  1. a sender that has not joined the room on this connection (a
     non-member cannot): `not_in_room`;
  2. a role the op's row of messages.def does not list: `forbidden`;
  3. phase `closed`: `wrong_phase` for every op but `phase.set`, `undo`
     and `workshop.status` (4, "Every op of a workshop except ..."), from
     moderators too;
  4. participants: `note.add` only in `write`; `note.edit` of the text only
     in `write`, of place or colour in `write` and `group`; `note.delete`
     only in `write` (5.2, 4.14-4.16): else `wrong_phase`;
  5. otherwise the op is allowed: the reply is ok, or a domain error that
     is none of the refusals above (a note.approve of a note that does not
     wait for approval is `bad_request`, say).

Each combination is sent and the reply compared. Ops of messages.def this
file has no rules for (other room kinds' ops, ops added later) are listed
as skipped, never guessed; ops outside the workshop (ping, login, chat...)
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
         "workshop.status"}
#: Ops outside the workshop, covered by test_55's state-by-role matrix.
NOT_WORKSHOP = {"ping", "login", "resume", "join", "leave", "room.create", "room.list",
                "chat.send", "history"}
#: The refusals of rules 1-4; an allowed op must get none of them.
REFUSALS = {"not_in_room", "forbidden", "wrong_phase", "not_a_workshop", "not_authenticated"}
#: Closed workshops refuse everything but these (PROTOCOL.md 4).
OPEN_WHEN_CLOSED = {"phase.set", "undo", "workshop.status"}


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
        senders = {"moderator": mod, "participant": part, "observer": obs,
                   "non-member": stranger}

        rows = [r for r in op_rows() if r["room"]]
        skipped = sorted(r["wire"] for r in rows
                         if r["wire"] not in KNOWN and r["wire"] not in NOT_WORKSHOP)
        rows = [r for r in rows if r["wire"] in KNOWN]
        self.assertEqual({r["wire"] for r in rows}, KNOWN,
                         "a workshop op of PROTOCOL.md 4 is missing from messages.def")

        def args_for(op, variant, role, phase, mine):
            note = mine if role == "moderator" and mine else own
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
            if phase != "closed":
                mine = (await mod.call("note.add", room=room, board="b1",
                                       text="Moderatorns lapp i %s" % phase))["note"]
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
