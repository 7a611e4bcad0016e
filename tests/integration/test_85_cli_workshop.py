"""test_85_cli_workshop: a moderator runs a two-table post-it workshop end to
end with nothing but the `tavla` command-line client.

The moderator logs in, creates a workshop room, two tables and a board with
two columns, opens the write phase with private writing; three participants
join by code, are seated round robin and post a note each. `board show`
then draws exactly what each identity may see (own text, a placeholder for
a table mate's note, nothing of the other table) before and after the
reveal; the moderator moves a note, deletes one and undoes the deletion;
the group phase refuses a participant's note (exit 1, wrong_phase); the
timer, readiness, focus and `status` lines, --id retries and `send` (which
joins the room it names) are checked on the way, and the workshop closes.
All of it runs twice: with the default page and with pages of 10 events.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

ORG = "Region Västerhav"
PASSWORD = "post-it och penna 7"


class CliWorkshop(tt.TavlaCase):

    def setUp(self):
        if not os.access(tt.TAVLA, os.X_OK):
            self.skipTest("tavla not built at %s" % tt.TAVLA)
        self.d = self.start_daemon()
        tt.create_moderator(self.d, ORG, "samordnare", PASSWORD)

    def cli(self, *args, token=None, expect=0):
        """Runs tavla as token and asserts its exit status; returns stdout."""
        p = tt.run_cli(self.d, *args, token=token)
        self.assertEqual(tt.sanitizer_lines(p.stderr), [], "tavla %s" % " ".join(args))
        self.assertEqual(p.returncode, expect,
                         "tavla %s: status %d\nstdout: %s\nstderr: %s"
                         % (" ".join(args), p.returncode, p.stdout, p.stderr))
        if expect == 0:
            self.assertEqual(p.stderr, "", "tavla %s wrote to stderr" % " ".join(args))
        self.last_stderr = p.stderr
        return p.stdout

    def login(self):
        p = tt.run_cli(self.d, "login", "samordnare", env={"TAVLA_PASSWORD": PASSWORD})
        self.assertEqual(p.returncode, 0, p.stderr)
        token = p.stdout.strip()
        self.assertEqual(len(token), tt.TOKEN_LEN)
        return token

    def seq(self, *args, token):
        """A change that prints the event's seq; returns it."""
        out = self.cli(*args, token=token)
        self.assertRegex(out, r"^[0-9]+\n$", "tavla %s" % " ".join(args))
        return int(out)

    def test_two_tables_end_to_end(self):
        mod = self.login()

        room, code = self.cli("room", "create", "workshop", "Framtidsverkstad",
                              token=mod).split()
        self.assertEqual(self.cli("table", "create", room, "Bord 1", token=mod), "t1\n")
        self.assertEqual(self.cli("table", "create", room, "Bord 2", token=mod), "t2\n")
        self.assertEqual(self.cli("board", "create", room, "Idéer", "--layout", "columns",
                                  "--columns", "Nu, Sen", token=mod), "b1\n")
        s1 = self.seq("phase", room, "write", token=mod)
        s2 = self.seq("writing", room, "private", token=mod)
        self.assertEqual(s2, s1 + 1)

        # Three participants join by code and are seated round robin.
        people = {}
        for name in ("Åsa", "Bo", "Cecilia"):
            tok, r = self.cli("join", code, name).split()
            self.assertEqual(r, room)
            people[name] = tok
        asa, bo, cecilia = people["Åsa"], people["Bo"], people["Cecilia"]
        self.assertEqual(self.cli("table", "assign", room, token=asa), "t1\n")
        self.assertEqual(self.cli("table", "assign", room, token=bo), "t2\n")
        self.assertEqual(self.cli("table", "assign", room, token=cecilia), "t1\n")

        # A note each; --id makes the retry of Åsa's note a no-op.
        self.assertEqual(self.cli("note", "add", room, "b1", "Cykelbanor överallt",
                                  "--id", "asa-1", token=asa), "n1\n")
        self.assertEqual(self.cli("note", "add", room, "b1", "Cykelbanor överallt",
                                  "--id", "asa-1", token=asa), "n1\n")
        self.assertEqual(self.cli("note", "add", room, "b1", "Fler parker", "--column", "1",
                                  "--colour", "green", token=bo), "n2\n")
        self.assertEqual(self.cli("note", "add", room, "b1", "Torghandel\nvarje dag",
                                  token=cecilia), "n3\n")

        # Private writing: Åsa sees her text, Cecilia's note as a
        # placeholder (no text, no position), nothing of table 2.
        self.assertEqual(self.cli("board", "show", room, token=asa),
                         "phase write private\n"
                         "board b1 columns Idéer\n"
                         "  column 0 Nu\n"
                         "    table t1 Bord 1\n"
                         "      n1 yellow Cykelbanor överallt\n"
                         "  column 1 Sen\n"
                         "  position unknown\n"
                         "    table t1 Bord 1\n"
                         "      n3 - (hidden)\n")
        self.assertEqual(self.cli("board", "show", room, "b1", token=bo),
                         "phase write private\n"
                         "board b1 columns Idéer\n"
                         "  column 0 Nu\n"
                         "  column 1 Sen\n"
                         "    table t2 Bord 2\n"
                         "      n2 green Fler parker\n")
        # The moderator sees every text.
        everything = ("board b1 columns Idéer\n"
                      "  column 0 Nu\n"
                      "    table t1 Bord 1\n"
                      "      n1 yellow Cykelbanor överallt\n"
                      "      n3 yellow Torghandel varje dag\n"
                      "  column 1 Sen\n"
                      "    table t2 Bord 2\n"
                      "      n2 green Fler parker\n")
        self.assertEqual(self.cli("board", "show", room, token=mod),
                         "phase write private\n" + everything)

        # Readiness and focus show in the moderator's status.
        self.seq("ready", room, token=cecilia)
        self.seq("focus", room, "b1", token=mod)
        status = self.cli("status", room, token=mod).splitlines()
        self.assertEqual(status[0], "workshop write private stopped - b1")
        self.assertEqual(status[1:], ["table t1 2 0 1 2 empty Bord 1",
                                      "table t2 1 0 0 1 empty Bord 2"])
        self.seq("ready", room, "--not", token=cecilia)

        # The reveal shows the table its notes.
        self.seq("writing", room, "reveal", token=mod)
        self.assertEqual(self.cli("board", "show", room, token=asa),
                         "phase write open\n"
                         "board b1 columns Idéer\n"
                         "  column 0 Nu\n"
                         "    table t1 Bord 1\n"
                         "      n1 yellow Cykelbanor överallt\n"
                         "      n3 yellow Torghandel varje dag\n"
                         "  column 1 Sen\n")

        # The moderator moves a note, deletes one, and undoes the deletion.
        self.seq("note", "edit", room, "n1", "--column", "1", token=mod)
        deleted = self.seq("note", "delete", room, "n3", token=mod)
        self.assertEqual(self.cli("board", "show", room, token=asa),
                         "phase write open\n"
                         "board b1 columns Idéer\n"
                         "  column 0 Nu\n"
                         "  column 1 Sen\n"
                         "    table t1 Bord 1\n"
                         "      n1 yellow Cykelbanor överallt\n")
        self.assertEqual(self.seq("undo", room, token=mod), deleted + 1)
        self.assertEqual(self.cli("board", "show", room, token=cecilia),
                         "phase write open\n"
                         "board b1 columns Idéer\n"
                         "  column 0 Nu\n"
                         "    table t1 Bord 1\n"
                         "      n3 yellow Torghandel varje dag\n"
                         "  column 1 Sen\n"
                         "    table t1 Bord 1\n"
                         "      n1 yellow Cykelbanor överallt\n")

        # Grouping: participants no longer write.
        self.seq("phase", room, "group", token=mod)
        self.cli("note", "add", room, "b1", "För sent", token=bo, expect=1)
        self.assertRegex(self.last_stderr, r"^tavla: wrong_phase: ")
        # ... but still move their own notes; not someone else's.
        self.seq("note", "edit", room, "n2", "--column", "0", token=bo)
        self.cli("note", "edit", room, "n1", "--column", "0", token=bo, expect=1)
        self.assertRegex(self.last_stderr, r"^tavla: not_yours: ")

        # The timer, then the status of both tables.
        self.seq("timer", room, "start", "1", token=mod)
        status = self.cli("status", room, token=mod).splitlines()
        self.assertRegex(status[0], r"^workshop group open (running [01]|stopped -) b1$")
        self.assertEqual(status[1:], ["table t1 2 0 0 2 empty Bord 1",
                                      "table t2 1 0 0 1 empty Bord 2"])

        # send joins the room the request names, then sends it as it is.
        r = tt.strict_loads(self.cli("send", '{"op":"workshop.status","room":"%s"}' % room,
                                     token=mod))
        self.assertIs(r["ok"], True, r)
        self.assertEqual([t["id"] for t in r["result"]["tables"]], ["t1", "t2"])

        # --json prints whole replies and the board as one object.
        r = tt.strict_loads(self.cli("--json", "table", "create", room, "Bord 3", token=mod))
        self.assertEqual(r["result"]["table"], "t3")
        b = tt.strict_loads(self.cli("--json", "board", "show", room, token=bo))
        self.assertEqual(b["phase"], "group")
        self.assertEqual([n["id"] for n in b["notes"]], ["n2"])
        self.assertEqual(b["notes"][0]["column"], 0)

        # Closed: nothing changes any more, not even the moderator's notes.
        self.seq("phase", room, "closed", token=mod)
        self.cli("note", "add", room, "b1", "Efteråt", token=mod, expect=1)
        self.assertRegex(self.last_stderr, r"^tavla: wrong_phase: ")
        self.assertEqual(self.cli("board", "show", room, token=mod),
                         "phase closed open\n"
                         "board b1 columns Idéer\n"
                         "  column 0 Nu\n"
                         "    table t1 Bord 1\n"
                         "      n3 yellow Torghandel varje dag\n"
                         "    table t2 Bord 2\n"
                         "      n2 green Fler parker\n"
                         "  column 1 Sen\n"
                         "    table t1 Bord 1\n"
                         "      n1 yellow Cykelbanor överallt\n")

    def test_matrix_premoderation_and_usage(self):
        mod = self.login()
        room, code = self.cli("room", "create", "workshop", "Prioritering", token=mod).split()
        self.assertEqual(self.cli("board", "create", room, "Nytta mot insats", "--layout",
                                  "matrix", "--x-axis", "Insats", "--y-axis", "Nytta",
                                  "--premoderation", token=mod), "b1\n")
        self.seq("phase", room, "write", token=mod)
        tok, _ = self.cli("join", code, "Dana").split()
        # No tables in this room: nobody needs a seat.
        self.assertEqual(self.cli("note", "add", room, "b1", "Snabb vinst", "--x", "0.25",
                                  "--y", "0.9", "--colour", "pink", token=tok), "n1\n")
        status = self.cli("status", room, token=mod).splitlines()
        self.assertEqual(status, ["workshop write open stopped - -",
                                  "pending n1 b1 - pink Snabb vinst"])
        # Waiting for approval: the writer sees it marked, others nothing.
        self.assertEqual(self.cli("board", "show", room, token=tok),
                         "phase write open\n"
                         "board b1 matrix Nytta mot insats\n"
                         "  x-axis Insats\n"
                         "  y-axis Nytta\n"
                         "    no table\n"
                         "      n1 0.25,0.90 pink [pending] Snabb vinst\n")
        self.seq("note", "approve", room, "n1", token=mod)
        self.seq("board", "update", room, "b1", "--premoderation", "off", "--title",
                 "Nytta/insats", token=mod)
        self.assertEqual(self.cli("board", "show", room, "b1", token=mod),
                         "phase write open\n"
                         "board b1 matrix Nytta/insats\n"
                         "  x-axis Insats\n"
                         "  y-axis Nytta\n"
                         "    no table\n"
                         "      n1 0.25,0.90 pink Snabb vinst\n")
        self.cli("board", "show", room, "b9", token=mod, expect=1)
        self.assertRegex(self.last_stderr, r"^tavla: board_not_found: ")

        # Errors from the server exit 1 with its code.
        self.cli("phase", room, "brainstorm", token=mod, expect=1)
        self.assertRegex(self.last_stderr, r"^tavla: bad_request: ")
        self.cli("undo", room, token=tok, expect=1)
        self.assertRegex(self.last_stderr, r"^tavla: forbidden: ")
        # Bad command lines exit 2 before connecting.
        for args in (("note", "add", room, "b1"),
                     ("note", "paint", room),
                     ("board", "create", room, "X"),
                     ("board", "create", room, "X", "--layout", "matrix", "--x-axis", "A"),
                     ("board", "create", room, "X", "--layout", "columns", "--columns", "A,,B"),
                     ("board", "update", room, "b1"),
                     ("note", "add", room, "b1", "t", "--x", "1.5", "--y", "0"),
                     ("note", "add", room, "b1", "t", "--x", "0.5"),
                     ("note", "edit", room, "n1"),
                     ("writing", room, "secret"),
                     ("timer", room, "start"),
                     ("timer", room, "start", "0"),
                     ("timer", room, "stop", "5"),
                     ("ready", room, "--layout", "columns"),
                     ("status",)):
            self.cli(*args, token=mod, expect=2)


class CliPaging(CliWorkshop):
    """Pages of 10 events: the tests above run again with every read paged,
    and a participant's `tail` and `board show` read a log whose pages end
    on events it is not sent (another table's notes)."""

    def setUp(self):
        if not os.access(tt.TAVLA, os.X_OK):
            self.skipTest("tavla not built at %s" % tt.TAVLA)
        self.d = self.start_daemon({"page": 10})
        tt.create_moderator(self.d, ORG, "samordnare", PASSWORD)

    def test_pages_that_end_out_of_sight(self):
        mod = self.login()
        room, code = self.cli("room", "create", "workshop", "Lång", token=mod).split()
        self.cli("table", "create", room, "Bord 1", token=mod)                # 2
        self.cli("table", "create", room, "Bord 2", token=mod)                # 3
        self.cli("board", "create", room, "Idéer", "--layout", "timeline",
                 "--columns", "Före,Under,Efter", token=mod)                  # 4
        self.seq("phase", room, "write", token=mod)                           # 5
        asa = self.cli("join", code, "Åsa").split()[0]                        # 6
        self.cli("table", "assign", room, "t1", token=asa)                    # 7
        bo = self.cli("join", code, "Bo").split()[0]                          # 8
        self.cli("table", "assign", room, "t2", token=bo)                     # 9
        self.assertEqual(self.cli("note", "add", room, "b1", "Bos", token=bo), "n1\n")
        self.assertEqual(self.seq("chat", room, "hej", token=mod), 11)
        # Åsa is sent 1-9 and 11: the first page ends on seq 10, which she
        # is not sent, and the tail must still go on to the next page.
        out = self.cli("tail", room, "--since", "0", "--count", "10", "--for", "20",
                       token=asa)
        self.assertEqual([tt.strict_loads(l)["seq"] for l in out.splitlines()],
                         list(range(1, 10)) + [11])
        # Another 15 notes of hers, and Bo's again at the end of a page.
        for i in range(15):
            self.cli("note", "add", room, "b1", "Åsa %d" % i, "--column", str(i % 3),
                     token=asa)                                               # 12-26
        self.cli("note", "add", room, "b1", "Bo igen", token=bo)              # 27
        self.cli("note", "add", room, "b1", "Bo en gång till", token=bo)      # 28
        self.cli("note", "add", room, "b1", "Bo till sist", token=bo)         # 29
        self.cli("note", "add", room, "b1", "Bo, absolut sist", token=bo)     # 30
        b = tt.strict_loads(self.cli("--json", "board", "show", room, token=asa))
        self.assertEqual([n["id"] for n in b["notes"]], ["n%d" % i for i in range(2, 17)])
        self.assertEqual([n["text"] for n in b["notes"]], ["Åsa %d" % i for i in range(15)])
        b = tt.strict_loads(self.cli("--json", "board", "show", room, token=mod))
        self.assertEqual(len(b["notes"]), 20)
        out = self.cli("board", "show", room, token=bo)
        self.assertEqual(out.splitlines()[:4], ["phase write open", "board b1 timeline Idéer",
                                                "  column 0 Före", "    table t2 Bord 2"])
        self.assertNotIn("Åsa", out)


if __name__ == "__main__":
    tt.main()
