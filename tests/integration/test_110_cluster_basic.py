"""test_110_cluster_basic: one workshop served by three tavlad nodes of a
NATS JetStream cluster (three nats-servers, stream replicas 3).

 - The moderator account made on node 1's data dir before the cluster
   existed, published with `admin cluster-import`, logs in on every node.
 - Participants join by code on all three nodes and post notes at once
   (and the moderators chat at once on every node): every acknowledged
   note is in the log exactly once, at the seq its ack named; every node
   serves the same gap-free log (same seqs, same events); every client
   live-received the same events in the same order.
 - A retried request (same id) sent through another node answers with the
   first result and "replayed":true and appends nothing.
 - A participant who joined on one node resumes with its token on another,
   even at once (the node waits a moment for the token to arrive).
 - /metrics of each node reports the cluster counters.
 - A forum: search on one node finds what was written on another; a seen
   mark set on one node counts on another.
 - A phase change on one node races notes on the others: every note lands
   before it or is refused with wrong_phase after being run again; a node
   stopped and started again serves the same log.
"""

import asyncio
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import natscluster as nc  # noqa: E402

ORG, USER, PASSWORD = "Region Norrfjäll", "mod", "hemligt lösenord 1"
NOTES_EACH = 12


def metric(node, name):
    status, body = tt.https_get(node, "/metrics")
    assert status == 200, (status, body[:200])
    m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), body)
    return float(m.group(1)) if m else None


class ClusterBasic(nc.ClusterCase):

    def setUp(self):
        self.require_cluster_mode()

    async def retry(self, client, op, codes, timeout=10.0, **args):
        """Sends op until it stops failing with one of codes (a node may
        not yet have applied what another node appended a moment ago);
        returns the result."""
        t0 = asyncio.get_running_loop().time()
        while True:
            r = await client.request(op, **args)
            if r.get("ok") is True:
                return r["result"]
            code = r.get("error", {}).get("code")
            if code not in codes or asyncio.get_running_loop().time() - t0 > timeout:
                raise AssertionError("%s %r: %r" % (op, args, r))
            await asyncio.sleep(0.05)

    async def test_three_nodes_one_workshop(self):
        nats = self.start_nats(3)
        nodes = self.make_nodes(nats, 3, extra={"rate": 1000, "rate_burst": 1000})
        tt.create_moderator(nodes[0], ORG, USER, PASSWORD)
        out = nc.cluster_import(nodes[0])
        print(out.strip(), file=sys.stderr)
        for d in nodes:
            d.start(timeout=20.0)
            d.moderators[(ORG, USER)] = PASSWORD

        # The moderator logs in on each node; the room is made on node 1.
        mods = []
        for d in nodes:
            m = await self.connect(d)
            await self.retry(m, "login", ("bad_credentials",), user=USER, password=PASSWORD)
            mods.append(m)
        room = (await mods[0].call("room.create", kind="workshop", title="Tre noder"))["room"]
        R, code = room["id"], room["code"]
        for m in mods:
            await self.retry(m, "join", ("room_not_found",), room=R)
        table = (await mods[1].call("table.create", room=R, name="Bord 1"))["table"]
        board = (await mods[2].call("board.create", room=R, title="Vad behöver vi?",
                                    layout="columns", columns=["Nu", "Sedan"]))["board"]
        await mods[0].call("phase.set", room=R, phase="write")

        # Two participants per node, each seated by the moderator of
        # another node.
        people = []
        for i, d in enumerate(nodes):
            for k in range(2):
                p = await self.connect(d)
                r = await self.retry(p, "join", ("bad_code",), code=code,
                                     name="Deltagare %d-%d" % (i + 1, k))
                p.identity, p.token = r["identity"], r["token"]
                if not people:
                    # At once on another node: the token travels with the
                    # join; that node waits for it rather than refuse it.
                    q = await self.connect(nodes[(i + 2) % 3])
                    self.assertEqual((await q.resume(p.token))["identity"]["id"],
                                     p.identity["id"])
                    await q.close()
                a = await self.retry(mods[(i + 1) % 3], "table.assign", ("not_a_member",),
                                     room=R, identity=p.identity["id"], table=table)
                # Acknowledged by one node, seen by the participant's own
                # node once that node applied it.
                await p.wait_seq(R, a["seq"], timeout=10)
                people.append((i, p))

        # Everyone at once: notes from every participant, chat from every
        # moderator.
        async def post_notes(i, p, who):
            acks = []
            for n in range(NOTES_EACH):
                text = "Idé %d från %s" % (n, who)
                r = await p.call("note.add", room=R, board=board, column=n % 2, text=text)
                acks.append((r["seq"], r["note"], text))
            return acks

        async def chat(m, i):
            return [(await m.call("chat.send", room=R, text="Nod %d säger %d" % (i + 1, n)))["seq"]
                    for n in range(NOTES_EACH)]

        results = await asyncio.gather(
            *[post_notes(i, p, "%d-%d" % (i, j)) for j, (i, p) in enumerate(people)],
            *[chat(m, i) for i, m in enumerate(mods)])
        note_acks = [a for r in results[:len(people)] for a in r]
        chat_seqs = [s for r in results[len(people):] for s in r]
        acked = [s for s, _, _ in note_acks] + chat_seqs
        self.assertEqual(len(set(acked)), len(acked), "two acks name one seq")

        # A retried request through another node: the first result again.
        i0, p0 = people[0]
        rid = "retry-1"
        first = await p0.request("note.add", id=rid, room=R, board=board, column=0,
                                 text="Samma förfrågan")
        self.assertTrue(first["ok"], first)
        other = nodes[(i0 + 1) % 3]
        p0b = await self.connect(other)
        r = await self.retry(p0b, "resume", ("bad_token",), token=p0.token)
        p0b.identity, p0b.token = r["identity"], p0.token
        await p0b.join(room=R, since=0)
        again = await p0b.request("note.add", id=rid, room=R, board=board, column=0,
                                  text="Samma förfrågan")
        self.assertTrue(again["ok"], again)
        self.assertIs(again.get("replayed"), True, again)
        self.assertEqual(again["result"], first["result"])

        # A marker from node 3 reaches everyone; then compare.
        last = (await mods[2].call("view.focus", room=R, board=board))["seq"]
        clients = mods + [p for _, p in people] + [p0b]
        for c in clients:
            await c.wait_seq(R, last, timeout=30)
        logs = []
        for m in mods:
            evs = [e for e in m.events[R] if e["seq"] <= last]
            self.assertContiguous(evs, first=evs[0]["seq"], last=last)
            logs.append([(e["seq"], e["kind"], e.get("data")) for e in evs])
        self.assertEqual(logs[0], logs[1], "node 1 and node 2 differ")
        self.assertEqual(logs[0], logs[2], "node 1 and node 3 differ")

        # The whole log from the start, read on each node, is the same.
        full = []
        for d in nodes:
            c = await self.resumed(d, p0.token)
            r = await c.join(room=R, since=0)
            self.assertTrue(r["complete"], r)
            await c.wait_seq(R, last, timeout=30)
            evs = [e for e in c.events[R] if e["seq"] <= last]
            self.assertContiguous(evs, first=1, last=last)
            full.append([(e["seq"], e["kind"], e.get("data")) for e in evs])
        self.assertEqual(full[0], full[1])
        self.assertEqual(full[0], full[2])

        # Each acked note once, at its acked seq.
        by_seq = {s: (k, d) for s, k, d in full[0]}
        created = [d["id"] for _, k, d in full[0] if k == "note.created"]
        self.assertEqual(len(created), len(set(created)), "a note was appended twice")
        self.assertEqual(len(created), len(note_acks) + 1)
        for seq, note, text in note_acks:
            kind, data = by_seq[seq]
            self.assertEqual((kind, data["id"], data["text"]), ("note.created", note, text))

        # Every live client received its events in the same order as the
        # log (participants see what their role lets them see).
        order = [s for s, _, _ in full[0]]
        for c in clients:
            got = [e["seq"] for e in c.events[R] if e["seq"] <= last]
            self.assertEqual(got, sorted(got))
            self.assertTrue(set(got) <= set(order))

        published = [metric(d, "tavla_cluster_publish_total") for d in nodes]
        applied = [metric(d, "tavla_cluster_applied_total") for d in nodes]
        conflicts = [metric(d, "tavla_cluster_conflicts_total") for d in nodes]
        retries = [metric(d, "tavla_cluster_retries_total") for d in nodes]
        connected = [metric(d, "tavla_cluster_connected") for d in nodes]
        seconds = [metric(d, "tavla_cluster_publish_seconds_total") for d in nodes]
        print("events %d; published %s applied %s conflicts %s retries %s; mean publish %s ms"
              % (last, published, applied, conflicts, retries,
                 ["%.2f" % (1000 * s / p) for s, p in zip(seconds, published)]), file=sys.stderr)
        self.assertEqual(connected, [1.0, 1.0, 1.0])
        self.assertTrue(all(p and p > 0 for p in published), published)
        self.assertTrue(all(a and a > 0 for a in applied), applied)

    async def test_phase_change_races_notes_on_other_nodes(self):
        """A moderator on node 1 ends the writing phase while participants
        on nodes 2 and 3 keep adding notes: each note is either in the log
        before the phase change or refused with wrong_phase (a note checked
        against the old phase on its node and then beaten by the change is
        run again there and refused); none lands after it. Node 3, stopped
        and started again on its data dir, then serves the same log."""
        nats = self.start_nats(3)
        nodes = self.make_nodes(nats, 3, extra={"rate": 1000, "rate_burst": 1000})
        tt.create_moderator(nodes[0], ORG, USER, PASSWORD)
        nc.cluster_import(nodes[0])
        for d in nodes:
            d.start(timeout=20.0)
            d.moderators[(ORG, USER)] = PASSWORD
        mod = await self.moderator(nodes[0], ORG, USER, PASSWORD)
        room = (await mod.call("room.create", kind="workshop", title="Fasbyte"))["room"]
        R, code = room["id"], room["code"]
        await mod.join(room=R)
        board = (await mod.call("board.create", room=R, title="Idéer", layout="columns",
                                columns=["A"]))["board"]
        phase = await mod.call("phase.set", room=R, phase="write")
        people = []
        for i in (1, 2):
            for k in range(3):
                p = await self.connect(nodes[i])
                r = await self.retry(p, "join", ("bad_code",), code=code,
                                     name="Skribent %d-%d" % (i + 1, k))
                p.identity, p.token = r["identity"], r["token"]
                await p.wait_seq(R, phase["seq"], timeout=10)
                people.append(p)

        acked, refused = [], []

        async def writer(p, who):
            n = 0
            while n < 500:          # until the phase change refuses it
                r = await p.request("note.add", room=R, board=board, column=0,
                                    text="%s skriver %d" % (who, n))
                n += 1
                if r.get("ok"):
                    acked.append(r["result"]["seq"])
                else:
                    self.assertEqual(r["error"]["code"], "wrong_phase", r)
                    refused.append(r)
                    return

        async def switch():
            await asyncio.sleep(0.3)
            r = await mod.call("phase.set", room=R, phase="vote")
            return r["seq"]

        results = await asyncio.gather(switch(), *[writer(p, "p%d" % j)
                                                  for j, p in enumerate(people)])
        changed = results[0]
        self.assertGreater(len(acked), 0)
        self.assertEqual(len(refused), len(people), "every writer ends refused")
        self.assertTrue(all(s < changed for s in acked),
                        "a note acknowledged after the phase change: %s > %d"
                        % ([s for s in acked if s > changed], changed))
        last = (await mod.call("view.focus", room=R, board=board))["seq"]
        await mod.wait_seq(R, last, timeout=20)
        log = [(e["seq"], e["kind"], e.get("data")) for e in mod.events[R] if e["seq"] <= last]
        late = [s for s, k, _ in log if k == "note.created" and s > changed]
        self.assertEqual(late, [], "notes in the log after the phase change")

        # Node 3 stops and comes back on its own data dir: same log.
        await nodes[2].astop()
        more = (await mod.call("chat.send", room=R, text="Medan nod 3 sov"))["seq"]
        nodes[2].start(timeout=20.0)
        c = await self.resumed(nodes[2], mod.token)
        r = await c.join(room=R, since=0)
        self.assertTrue(r["complete"], r)
        await c.wait_seq(R, more, timeout=20)
        again = [(e["seq"], e["kind"], e.get("data")) for e in c.events[R] if e["seq"] <= last]
        self.assertEqual(again, log, "the restarted node serves another log")
        print("phase change at seq %d; %d notes before it, %d writers refused"
              % (changed, len(acked), len(refused)), file=sys.stderr)

    async def test_forum_across_nodes(self):
        """A forum: a thread and a post written on node 2 are found by
        search on node 3 (the search index is filled by every node's
        store); a seen mark set on node 1 is the unread count's base on
        node 3."""
        nats = self.start_nats(3)
        nodes = self.make_nodes(nats, 3)
        tt.create_moderator(nodes[0], ORG, USER, PASSWORD)
        nc.cluster_import(nodes[0])
        for d in nodes:
            d.start(timeout=20.0)
            d.moderators[(ORG, USER)] = PASSWORD
        mod = await self.moderator(nodes[0], ORG, USER, PASSWORD)
        room = (await mod.call("room.create", kind="forum", title="Forum i tre noder"))["room"]
        R, code = room["id"], room["code"]
        await mod.join(room=R)
        asa = await self.connect(nodes[1])
        r = await self.retry(asa, "join", ("bad_code",), code=code, name="Åsa Öberg")
        asa.identity, asa.token = r["identity"], r["token"]
        th = (await asa.call("thread.create", room=R, title="Hållbarhet i regionen",
                             text="Hur följer vi upp hållbarheten?"))["thread"]
        post = await asa.call("post.add", room=R, thread=th, text="Vi mäter kusten varje vår.")
        await mod.wait_seq(R, post["seq"], timeout=10)

        m3 = await self.connect(nodes[2])
        await self.retry(m3, "login", ("bad_credentials",), user=USER, password=PASSWORD)
        await m3.join(room=R)
        await m3.wait_seq(R, post["seq"], timeout=10)
        hits = (await m3.call("search", room=R, q="kusten"))["hits"]
        self.assertEqual([h["seq"] for h in hits], [post["seq"]])

        # The moderator marks everything seen on node 1; node 3 counts from it.
        await mod.call("rooms.seen", room=R, seq=post["seq"])
        more = await asa.call("chat.send", room=R, text="En sak till")
        await m3.wait_seq(R, more["seq"], timeout=10)
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            u = [x for x in (await m3.call("rooms.unread"))["rooms"] if x["id"] == R][0]
            if u["seen"] == post["seq"] or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        self.assertEqual((u["seen"], u["unread"]), (post["seq"], 1))


if __name__ == "__main__":
    nc.main()
