"""test_111_cluster_failover: cluster mode loses nothing when a node or a
NATS server dies mid-load (issue 10; PROTOCOL.md 4.3, 4.4 and 6 hold across
nodes; docs/cluster.md).

Three nats-servers form a JetStream cluster (stream replicas 3) and three
tavlad nodes use it. The moderator account is made on node 1's data dir and
published with `tavlad admin cluster-import`, so every node knows it. One
workshop room; participants spread evenly over the three nodes post notes
concurrently, each with its own idempotent request ids, one request in flight
per participant. A participant whose connection dies, or whose request goes
unanswered for REQUEST_TIMEOUT s, does what a client on a bad Wi-Fi does: it
connects to the next node that accepts (trying them in turn, nothing told
which one is dead), resumes with its token, joins with `since` = the last
seq it applied, and sends its unacknowledged request again with the same id.
An `overloaded` reply (the stream cannot be reached this moment) is retried
on the same connection after 0.2 s, as PROTOCOL.md 7.1 invites.

 (a) kill -9 of one tavlad after a third of the notes were acknowledged: its
     participants carry on from the other nodes;
 (b) kill -9 of the NATS server leading the stream after a third: the nodes
     keep taking writes from the two servers left (a quorum).

Then, in both: every note was acknowledged; acknowledgments name distinct
seqs and notes; the moderator's log (and a `join since=0` on every running
node) holds seqs 1..head without gap, each acknowledged note exactly once
with the acknowledged seq, and nothing else posted; every participant's log
(the parts before and after its failover joined) equals the moderator's over
the same seqs; the stream's subject of the room holds every acknowledged
note (read over NATS, not through tavlad); every running node
reports tavla_cluster_connected 1. In (a) the killed node, restarted on its
own data dir, serves the same log; in (b) the killed server rejoins.
"""

import asyncio
import collections
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import natscluster as nc  # noqa: E402
import websockets  # noqa: E402

PER_NODE = 4                # participants connected to each node at first
NOTES_EACH = 25             # notes every participant posts
REQUEST_TIMEOUT = 15.0      # seconds before a participant gives up on a node
STALL_MAX = 30.0            # seconds writes may stall while NATS elects a leader
ORG, USER, PASSWORD = "Region Norrfjäll", "mod", "hemligt lösenord 1"
FAST = {"rate": 1000, "rate_burst": 1000, "max_per_address": 0}
#: What a dead or cut-off connection looks like to a client.
LOST = (tt.ServerClosed, websockets.ConnectionClosed, asyncio.TimeoutError, ConnectionError,
        OSError)


def metric(node, ca, name):
    """The value of metric `name` (no labels) on node, or None."""
    status, body = tt.https_get(node, "/metrics", cafile=ca)
    assert status == 200, (status, body[:200])
    m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), body)
    return float(m.group(1)) if m else None


class Member:
    """One participant that survives the loss of its node. Its log is
    self.prior (events of the connections it had before) plus the current
    connection's events; failover() never asks which node is dead."""

    def __init__(self, case, name, node):
        self.case = case
        self.name = name
        self.node = node            # index of the node it talks to now
        self.client = None
        self.prior = []
        self.acked = {}             # request id -> (result, text, replayed)
        self.failovers = 0
        self.caught_up = 0          # events received by joins with since
        self.overloaded = 0         # `overloaded` replies, each retried

    def log(self):
        return self.prior + (self.client.events[self.case.R] if self.client else [])

    async def join(self):
        c = await self.case.connect(self.case.nodes[self.node])
        c.join_result = await c.join(code=self.case.code, name=self.name)
        self.client = c
        self.token, self.identity = c.token, c.identity

    async def failover(self):
        """Moves to the next node that accepts a connection and catches up
        with resume + join since. Raises AssertionError when none does
        within the test's patience."""
        old = self.client
        self.prior = self.log()
        self.client = None
        await old.close_quietly()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.node = (self.node + 1) % len(self.case.nodes)
            try:
                c = await self.case.connect(self.case.nodes[self.node])
                await c.resume(self.token)
                last = self.prior[-1]["seq"] if self.prior else 0
                j = await c.join(room=self.case.R, since=last)
                self.case.assertIs(j["complete"], True, j)
                self.case.assertEqual(c.identity, self.identity)
            except LOST:
                await asyncio.sleep(0.2)
                continue
            self.client = c
            self.failovers += 1
            self.caught_up += j["head"] - last
            return
        raise AssertionError("%s found no node to resume on within 30 s" % self.name)

    async def post(self, k):
        """Posts note k until it is acknowledged, failing over as needed;
        the request id and body stay the same on every attempt."""
        rid = "%s-note-%d" % (self.identity["id"], k)
        text = "%s: lapp %d" % (self.name, k)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                r = await self.client.request("note.add", id=rid, room=self.case.R,
                                              board=self.case.B, text=text, column=k % 2,
                                              timeout=REQUEST_TIMEOUT)
            except LOST:
                await self.failover()
                continue
            if r.get("ok") is not True and r["error"]["code"] == "overloaded":
                # PROTOCOL.md 7.1: the server cannot take it right now
                # (the stream is electing a leader): the same request again.
                self.overloaded += 1
                await asyncio.sleep(0.2)
                continue
            if r.get("ok") is not True:
                raise AssertionError("%s: note %d refused: %r" % (self.name, k, r))
            self.acked[rid] = (r["result"], text, bool(r.get("replayed")))
            return
        raise AssertionError("%s: note %d not acknowledged within 60 s" % (self.name, k))


class Failover(nc.ClusterCase):

    async def setup_cluster(self):
        self.require_cluster_mode()
        self.nats = self.start_nats(3)
        self.nodes = self.make_nodes(self.nats, 3, extra=FAST)
        tt.create_moderator(self.nodes[0], ORG, USER, PASSWORD)
        nc.cluster_import(self.nodes[0])
        for d in self.nodes:
            d.start(timeout=20.0)
        # Every node makes its own certificate; trust them all.
        self.ca = os.path.join(self.nats.base_dir, "nodes-ca.pem")
        with open(self.ca, "w", encoding="ascii") as out:
            for d in self.nodes:
                with open(d.ca, encoding="ascii") as f:
                    out.write(f.read())
        for d in self.nodes:
            d.ca = self.ca
        self.mod = await self.moderator(self.nodes[0], ORG, USER, PASSWORD)
        room = (await self.mod.call("room.create", kind="workshop",
                                    title="Framtidsverkstad i tre noder"))["room"]
        self.R, self.code = room["id"], room["code"]
        await self.mod.join(room=self.R)
        self.B = (await self.mod.call("board.create", room=self.R, title="Vad behöver vi?",
                                      layout="columns", columns=["Nu", "Sedan"]))["board"]
        await self.mod.call("phase.set", room=self.R, phase="write")
        nc.wait_in_step(self.nodes, self.ca)     # the room is on every node
        self.members = []
        for n in range(3):
            for i in range(PER_NODE):
                m = Member(self, "Deltagare %d-%d" % (n + 1, i + 1), n)
                await m.join()
                self.members.append(m)

    async def load(self, kill):
        """Every member posts NOTES_EACH notes at once; kill() runs once a
        third of all notes are acknowledged. Returns the times (s after
        the kill) of the acks that came after it, in order."""
        total = len(self.members) * NOTES_EACH
        killed = asyncio.Event()
        after = []

        def acked():
            return sum(len(m.acked) for m in self.members)

        async def member(m):
            for k in range(NOTES_EACH):
                await m.post(k)
                if killed.is_set():
                    after.append(time.monotonic() - self.killed_at)
                await asyncio.sleep(0.01)

        async def killer():
            while acked() < total // 3:
                await asyncio.sleep(0.005)
            self.killed_at = time.monotonic()
            kill()
            killed.set()
            print("killed at %d of %d acks" % (acked(), total), file=sys.stderr)

        t0 = time.monotonic()
        await asyncio.wait_for(asyncio.gather(killer(), *(member(m) for m in self.members)), 90)
        print("%d notes from %d participants in %.1f s; %d failovers, %d overloaded replies "
              "retried, %d replayed acks"
              % (acked(), len(self.members), time.monotonic() - t0,
                 sum(m.failovers for m in self.members),
                 sum(m.overloaded for m in self.members),
                 sum(r for m in self.members for _, _, r in m.acked.values())), file=sys.stderr)
        self.assertEqual(acked(), total)
        return after

    async def check_logs(self, running):
        """The checks every scenario ends with (see the file's comment)."""
        R = self.R
        acks = {}                       # seq -> (note id, text)
        for m in self.members:
            for result, text, _ in m.acked.values():
                self.assertNotIn(result["seq"], acks, "two acks name seq %d" % result["seq"])
                acks[result["seq"]] = (result["note"], text)
        self.assertEqual(len({n for n, _ in acks.values()}), len(acks), "two acks name one note")

        # The moderator marks the end; everyone waits for it.
        head = (await self.mod.call("chat.send", room=R, text="Tack, nu räcker det"))["seq"]
        await self.mod.wait_seq(R, head, timeout=20)
        live = self.mod.events[R]
        self.assertContiguous(live, 1, head)
        notes = {e["seq"]: (e["data"]["id"], e["data"]["text"])
                 for e in live if e["kind"] == "note.created"}
        self.assertEqual(notes, acks, "the log's notes differ from the acknowledged ones")
        by_seq = {e["seq"]: e for e in live}

        for m in self.members:
            await m.client.wait_seq(R, head, timeout=20)
            log = m.log()
            first = log[0]["seq"]
            self.assertContiguous(log, first, head)
            self.assertEqual(log, [by_seq[s] for s in range(first, head + 1)],
                             "%s saw another log than the moderator" % m.name)

        # A fresh catch-up from 0 on every running node serves the same log.
        for i in running:
            c = await self.connect(self.nodes[i])
            await c.resume(self.mod.token)
            j = await c.join(room=R, since=0)
            self.assertIs(j["complete"], True, j)
            await c.wait_seq(R, head, timeout=20)
            self.assertEqual(c.events[R], live, "node%d serves another log" % (i + 1))
            self.assertEqual(metric(self.nodes[i], self.ca, "tavla_cluster_connected"), 1.0,
                             "node%d" % (i + 1))

        # The stream itself, read over NATS: the room has its subject, and
        # every acknowledged note is in a record of it (a message carries
        # one or more records; docs/cluster.md).
        info = self.nats.stream_info("TAVLA", subjects=True)
        self.assertIsNotNone(info, "no stream TAVLA")
        self.assertEqual(info["config"]["num_replicas"], 3)
        subj = [s for s in info["state"].get("subjects", {}) if s.endswith("." + R)]
        self.assertEqual(len(subj), 1, "no single subject for room %s" % R)
        stored = collections.Counter()
        for m in self.nats.stream_messages("TAVLA", subj[0]):
            for rec in json.loads(m["data"])["w"]:
                ev = rec.get("ev")
                if ev and ev["kind"] == "note.created":
                    stored[json.loads(ev["data"])["text"]] += 1
        lost = [t for _, t in acks.values() if not stored[t]]
        self.assertEqual(lost, [], "acknowledged notes missing from the stream")
        figures = {name: sum(metric(self.nodes[i], self.ca, "tavla_cluster_" + name) or 0
                             for i in running)
                   for name in ("publish_total", "conflicts_total", "retries_total",
                                "applied_total")}
        print("head %d; stream: %d messages on the room's subject, %d note records for %d "
              "notes; nodes: %s" % (head, info["state"]["subjects"][subj[0]],
                                    sum(stored.values()), len(acks), figures), file=sys.stderr)
        return head, live

    async def test_a_kill9_of_a_tavlad_mid_load(self):
        await self.setup_cluster()
        victim = 2                      # node3; the moderator stays on node1
        await self.load(lambda: self.nodes[victim].kill9())
        moved = [m for m in self.members if m.failovers]
        self.assertGreaterEqual(len(moved), PER_NODE, "node3's participants did not move")
        self.assertTrue(any(m.caught_up > 0 for m in moved),
                        "nobody missed anything while moving: the test proves nothing")
        head, live = await self.check_logs([0, 1])
        # node3 comes back on its own data dir and serves the same log.
        self.nodes[victim].start(timeout=30.0)
        c = await self.connect(self.nodes[victim])
        await c.resume(self.mod.token)
        await c.join(room=self.R, since=0)
        await c.wait_seq(self.R, head, timeout=30)
        self.assertEqual(c.events[self.R], live, "the restarted node3 serves another log")

    async def test_b_kill9_of_a_nats_server_mid_load(self):
        await self.setup_cluster()
        info = self.nats.stream_info("TAVLA")
        self.assertIsNotNone(info, "no stream TAVLA after the nodes started")
        leader = self.nats.index_of(info["cluster"]["leader"])
        after = await self.load(lambda: self.nats.kill9(leader))
        self.assertGreater(len(after), 0, "no write was accepted after the kill")
        # JetStream elects a new leader for the stream among the two
        # servers left; until then writes get `overloaded` and are retried.
        stall = max(b - a for a, b in zip([0.0] + after, after))
        print("longest pause between acks after the kill of the stream leader: %.1f s" % stall,
              file=sys.stderr)
        self.assertLess(stall, STALL_MAX, "writes stalled too long after the kill")
        await self.check_logs([0, 1, 2])
        self.nats.restart(leader)
        info = self.nats.stream_info("TAVLA")
        print("stream leader after the kill: %s" % info["cluster"]["leader"], file=sys.stderr)


if __name__ == "__main__":
    # Two scenarios of up to two minutes each: the file's watchdog allows both.
    os.environ.setdefault("TV_TEST_TIMEOUT", "300")
    nc.main()
