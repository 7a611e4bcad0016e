"""test_110_cluster_ops: what an operator of cluster mode relies on
(ops/runbook.md "Cluster mode"; issue 10's contract).

 - `tavlad --check-cluster` exits 0 and reports the stream (its name,
   leader) when the cluster is usable, and exits 1 with a reason, within a
   few seconds, when no NATS server answers.
 - Migration: a single-node store (moderator, room, chats) is published
   with `tavlad admin cluster-import`; a second import adds nothing to the
   stream; a fresh node that never saw the store then knows the moderator,
   lists the room and serves the very same log, and the old store's
   participant resumes there with its token.
 - /readyz is 503 while a node's NATS connection is down and 200 again
   after NATS returns; /metrics says tavla_cluster_connected 0 / 1; the
   node keeps running throughout.
 - NATS over TLS (`tls://` URLs, `cluster_tls_ca`): import, check-cluster
   and a write work; a node trusting another CA, or only the system's,
   is told so by --check-cluster (exit 1). (`cluster_creds` needs NATS
   accounts with JWT credentials, which nothing here can issue: untested.)
"""

import asyncio
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import natscluster as nc  # noqa: E402

ORG, USER, PASSWORD = "Region Norrfjäll", "mod", "hemligt lösenord 1"


def metric(node, name, ca=None):
    status, body = tt.https_get(node, "/metrics", cafile=ca)
    assert status == 200, (status, body[:200])
    m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), body)
    return float(m.group(1)) if m else None


async def wait_for(what, probe, want, timeout):
    """Polls probe() until it returns want; returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        got = probe()
        if got == want:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%s: %r after %.0f s, expected %r" % (what, got, timeout, want))
        await asyncio.sleep(0.1)


class ClusterOps(nc.ClusterCase):

    def setUp(self):
        self.require_cluster_mode()

    async def test_check_cluster(self):
        nats = self.start_nats(3)
        node = self.start_node(nats, "node1")
        info = nats.stream_info("TAVLA")
        self.assertIsNotNone(info, "the node did not create the stream TAVLA")
        status, out = nc.check_cluster(node)
        print(out, file=sys.stderr)
        self.assertEqual(status, 0, out)
        self.assertIn("TAVLA", out)
        self.assertIn(info["cluster"]["leader"], out, "the stream's leader is not reported")
        self.assertTrue(any(str(s.port) in out or s.name in out for s in nats.servers),
                        "no NATS server is named")
        # NATS gone: a quick, explained no.
        for s in nats.servers:
            s.kill9()
        t0 = time.monotonic()
        status, out = nc.check_cluster(node, timeout=30)
        took = time.monotonic() - t0
        print("NATS down: status %d in %.1f s: %s" % (status, took, out.strip()), file=sys.stderr)
        self.assertEqual(status, 1, out)
        self.assertTrue(out.strip(), "check-cluster said nothing")
        self.assertLess(took, 10.0, "check-cluster took too long with NATS down")

    async def test_import_is_idempotent_and_serves_every_node(self):
        # A single-node installation with a moderator, a room and chats.
        old = tt.Daemon({"rate": 1000, "rate_burst": 1000})
        self.addCleanup(old.cleanup)
        old.start()
        mod = await self.moderator(old, ORG, USER, PASSWORD)
        room = (await mod.call("room.create", kind="workshop", title="Före klustret"))["room"]
        R = room["id"]
        await mod.join(room=R)
        p = await self.participant(old, room["code"], "Åsa")
        for i in range(20):
            await (mod if i % 2 else p).call("chat.send", room=R, text="före %d" % i)
        head = (await mod.call("chat.send", room=R, text="sista"))["seq"]
        await mod.wait_seq(R, head)
        before = list(mod.events[R])
        token = p.token
        await mod.close()
        await p.close()
        await old.astop()

        # The same data dir becomes node 1 of a cluster; import twice. The
        # stream forgets message ids after 1 s (JetStream's default is 2
        # min), so the second import cannot lean on that deduplication: it
        # must itself see that the store is in the stream already, as it
        # would when run again days later.
        nats = self.start_nats(3)
        nats.create_stream("TAVLA", duplicate_window=1.0)
        old.extra_config.update(nc.cluster_settings(nats, "node1"))
        old._write_config()
        out1 = nc.cluster_import(old)
        n1 = nats.stream_info("TAVLA")["state"]["messages"]
        await asyncio.sleep(1.5)
        out2 = nc.cluster_import(old)
        n2 = nats.stream_info("TAVLA")["state"]["messages"]
        print("import 1: %s\nimport 2: %s\nstream: %d then %d messages"
              % (out1.strip(), out2.strip(), n1, n2), file=sys.stderr)
        self.assertGreater(n1, 0, "the import published nothing")
        self.assertEqual(n2, n1, "the second import added messages")

        # A fresh node knows it all.
        node2 = self.start_node(nats, "node2")
        m2 = await self.connect(node2)
        await m2.login(USER, PASSWORD)
        rooms = await m2.call("room.list")
        self.assertIn(R, [r["id"] for r in rooms["rooms"]], rooms)
        await m2.join(room=R, since=0)
        await m2.wait_seq(R, head)
        self.assertEqual(m2.events[R], before, "node2 serves another log than the old store")
        p2 = await self.resumed(node2, token)
        j = await p2.join(room=R, since=head)
        self.assertEqual(j["head"], head)
        # Node 1 (the old data dir) starts in cluster mode and agrees.
        old.start(timeout=20.0)
        m1 = await self.connect(old)
        await m1.login(USER, PASSWORD)
        await m1.join(room=R, since=0)
        seq = (await p2.call("chat.send", room=R, text="efter"))["seq"]
        self.assertEqual(seq, head + 1)
        await m1.wait_seq(R, seq)
        self.assertEqual(m1.events[R][:len(before)], before)
        self.assertEqual(m1.events[R][-1]["data"]["text"], "efter")

    async def test_nats_over_tls(self):
        # NATS servers that speak TLS to clients, with a CA of their own.
        nats = self.start_nats(3, tls=True)
        node = nc.new_node(nats, "node1")           # cluster_tls_ca = that CA
        self.addCleanup(node.cleanup)
        tt.create_moderator(node, ORG, USER, PASSWORD)
        print(nc.cluster_import(node).strip(), file=sys.stderr)
        status, out = nc.check_cluster(node)
        self.assertEqual(status, 0, out)
        node.start(timeout=20.0)
        nc.wait_node_ready(node)
        mod = await self.moderator(node, ORG, USER, PASSWORD)
        R = (await mod.call("room.create", kind="meeting", title="Över TLS"))["room"]["id"]
        await mod.join(room=R)
        seq = (await mod.call("chat.send", room=R, text="krypterat hela vägen"))["seq"]
        info = nats.stream_info("TAVLA", subjects=True)     # read over TLS as well
        self.assertTrue(any(subj.endswith("." + R) for subj in info["state"]["subjects"]),
                        info["state"])
        self.assertGreaterEqual(seq, 1)
        # Another CA, or none (the system's store), is refused, with a reason.
        other_ca, _ = nc.make_ca_and_cert(os.path.join(nats.base_dir, "other"), "another CA")
        for ca in (other_ca, ""):
            d = nc.new_node(nats, "node2", extra={"cluster_tls_ca": '"%s"' % ca})
            self.addCleanup(d.cleanup)
            t0 = time.monotonic()
            status, out = nc.check_cluster(d)
            print("CA %r: status %d in %.1f s: %s" % (ca and "another", status,
                                                     time.monotonic() - t0, out.strip()),
                  file=sys.stderr)
            self.assertEqual(status, 1, out)
            self.assertTrue(out.strip())
            self.assertLess(time.monotonic() - t0, 10.0)

    async def test_readyz_follows_the_nats_connection(self):
        nats = self.start_nats(3)
        node = self.start_node(nats, "node1")

        def ready():
            try:
                return tt.https_get(node, "/readyz")[0]
            except OSError as e:
                return str(e)

        self.assertEqual(ready(), 200)      # start_node waited for it
        self.assertEqual(metric(node, "tavla_cluster_connected"), 1.0)
        self.assertEqual(tt.https_get(node, "/healthz")[0], 200)
        for s in nats.servers:
            s.kill9()
        took = await wait_for("readyz with NATS down", ready, 503, 15)
        print("readyz 503 %.1f s after NATS went down" % took, file=sys.stderr)
        self.assertEqual(metric(node, "tavla_cluster_connected"), 0.0)
        self.assertEqual(tt.https_get(node, "/healthz")[0], 200, "the process itself is alive")
        self.assertTrue(node.running)
        for s in nats.servers:
            s.start()
        nats.wait_ready()
        took = await wait_for("readyz with NATS back", ready, 200, 30)
        print("readyz 200 %.1f s after NATS came back" % took, file=sys.stderr)
        self.assertEqual(metric(node, "tavla_cluster_connected"), 1.0)


if __name__ == "__main__":
    nc.main()
