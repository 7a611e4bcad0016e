"""test_92_disk_full: a full disk refuses writes with storage_full, never
acknowledges one it could not store, keeps serving reads, and heals by
itself once space is free again (PROTOCOL.md 7.1 storage_full "the disk is
full; nothing was saved"; issue 8).

The database lives on a 16 MiB tmpfs (or, where tmpfs cannot be mounted, a
loop-mounted 24 MiB ext4 image); the daemon's config, certificate and logs
stay on the ordinary disk. A filler file takes every free byte, then notes
are posted until one is refused: it must be storage_full, and more of the
same size are refused too. History, room.list and a fresh resume + join
with since keep working. Deleting the filler makes the next post succeed
on the same daemon, at the next seq. At the end the database must pass
integrity_check, hold every acknowledged note once and no refused one, and
have no gap. Needs root (mount); skipped with a message otherwise.
"""

import asyncio
import errno
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
import crashcycle  # noqa: E402

TEXT_CHARS = 3900           # near chat.send's 4,000: fills the disk fast
MAX_POSTS = 400             # bound of the filling loop
#: Room for the database plus a whole WAL: SQLite checkpoints at 1,000
#: pages (4 MiB), so on a 4 MiB filesystem the WAL alone fills it and
#: nothing can be written even with the filler gone.
TMPFS_MB = 16
IMAGE_MB = 24


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)


class SmallFs:
    """A small filesystem mounted on a new directory: tmpfs, else a loop
    ext4 image. mount() returns None or the reason it could not."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tavla-full-")
        self.image = None
        self.kind = None

    def mount(self):
        why = []
        r = run("mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % TMPFS_MB, "tmpfs", self.dir)
        if r.returncode == 0:
            self.kind = "tmpfs %d MiB" % TMPFS_MB
            return None
        why.append("tmpfs: " + (r.stderr.strip() or "status %d" % r.returncode))
        fd, self.image = tempfile.mkstemp(prefix="tavla-full-", suffix=".img")
        os.close(fd)
        for cmd in (("dd", "if=/dev/zero", "of=" + self.image, "bs=1M", "count=%d" % IMAGE_MB,
                     "status=none"),
                    ("mkfs.ext4", "-F", "-q", self.image),
                    ("mount", "-o", "loop", self.image, self.dir)):
            try:
                r = run(*cmd)
            except OSError as e:
                why.append("%s: %s" % (cmd[0], e))
                return "; ".join(why)
            if r.returncode:
                why.append("%s: %s" % (cmd[0], r.stderr.strip() or "status %d" % r.returncode))
                return "; ".join(why)
        self.kind = "ext4 loop image %d MiB" % IMAGE_MB
        return None

    def cleanup(self):
        if self.kind:
            if run("umount", self.dir).returncode:
                run("umount", "-l", self.dir)
        try:
            os.rmdir(self.dir)
        except OSError:
            pass
        if self.image:
            os.unlink(self.image)


def fill(path):
    """Writes a file at path until the filesystem has no byte left."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * size
            try:
                for _ in range(1 << 16):
                    f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
        try:
            os.fsync(f.fileno())
        except OSError:
            pass


class DiskFull(tt.TavlaCase):

    def daemon_on_small_fs(self, config=None):
        """A started Daemon whose data_dir (database, certificate) is a new
        small filesystem; its config and logs stay on the ordinary disk.
        Skips the test when no small filesystem can be mounted."""
        fs = SmallFs()
        why = fs.mount()
        self.addCleanup(fs.cleanup)    # runs after the daemon's stop
        if why:
            self.skipTest("cannot mount a small filesystem (%s)" % why)
        sys.stderr.write("\n(data on %s at %s)\n" % (fs.kind, fs.dir))
        d = tt.Daemon(dict(config or {}, data_dir='"%s"' % fs.dir))
        self.addCleanup(d.cleanup)
        d.db = os.path.join(fs.dir, "tavla.db")
        d.ca = os.path.join(fs.dir, "tls", "cert.pem")
        d.filler = os.path.join(fs.dir, "filler")
        return d.start()

    async def test_full_disk_refuses_then_heals(self):
        d = self.daemon_on_small_fs()
        mod = await self.moderator(d)
        room = (await mod.call("room.create", kind="workshop", title="Fullt"))["room"]
        R = room["id"]
        await mod.join(room=R)
        p = await self.participant(d, room["code"], "Disa")
        acked = {}                      # seq -> text
        refused = []

        def note(n):
            return ("lapp %d " % n) + "å" * (TEXT_CHARS - 12)

        for n in range(3):
            acked[(await p.call("chat.send", room=R, text=note(n)))["seq"]] = note(n)

        filler = d.filler
        fill(filler)
        # Post until the disk refuses. SQLite may still place a few notes
        # in space it already holds (the WAL's tail): those are acks and
        # must be stored like any other.
        first_error = None
        for n in range(3, 3 + MAX_POSTS):
            r = await p.request("chat.send", room=R, text=note(n))
            if r["ok"]:
                acked[r["result"]["seq"]] = note(n)
            else:
                refused.append(note(n))
                first_error = r
                break
        self.assertIsNotNone(first_error, "%d notes of %d chars were acknowledged on a full "
                             "disk" % (MAX_POSTS, TEXT_CHARS))
        self.assertError(first_error, "storage_full")
        # While it is full, every further note is refused, none acknowledged.
        for n in range(1000, 1005):
            r = await p.request("chat.send", room=R, text=note(n))
            self.assertError(r, "storage_full")
            refused.append(note(n))
        head = max(acked)
        # Reads keep working: history, room.list, a new connection's resume
        # and join with since.
        h = await p.call("history", room=R, limit=1000)
        self.assertEqual([e["seq"] for e in h["events"]], list(range(1, head + 1)))
        self.assertEqual((await mod.call("room.list"))["rooms"][0]["head"], head)
        q = await self.resumed(d, p.token)
        j = await q.join(room=R, since=head - 2)
        self.assertEqual((j["head"], j["complete"]), (head, True))
        await q.wait_seq(R, head)
        self.assertEqual(tt.seqs(q.events[R]), [head - 1, head])
        # Space again: the same daemon takes writes, at the next seq.
        os.unlink(filler)
        for n in range(2000, 2003):
            r = await p.request("chat.send", room=R, text=note(n))
            self.assertTrue(r["ok"], "after the filler was deleted: %r" % r)
            self.assertEqual(r["result"]["seq"], max(acked) + 1)
            acked[r["result"]["seq"]] = note(n)
        await mod.wait_seq(R, max(acked))
        await p.close_quietly()
        await q.close_quietly()
        await mod.close_quietly()
        await d.astop()
        self.assertEqual(d.db_integrity(), "ok")
        con = sqlite3.connect("file:%s?mode=ro" % d.db, uri=True)
        try:
            rows = con.execute("SELECT seq, kind, json_extract(data, '$.text') FROM events"
                               " WHERE room_id = ?1 ORDER BY seq", (R,)).fetchall()
        finally:
            con.close()
        self.assertEqual([s for s, _, _ in rows], list(range(1, len(rows) + 1)), "gap-free")
        texts = {s: t for s, k, t in rows if k == "chat.message"}
        self.assertEqual(texts, acked, "exactly the acknowledged notes are stored")
        for t in refused:
            self.assertNotIn(t, texts.values(), "a refused note was stored")
        sys.stderr.write("(%d notes acknowledged, %d refused while full)\n"
                         % (len(acked), len(refused)))

    async def test_full_disk_under_concurrent_load(self):
        """Group commit meets a full disk: 6 clients (2 rooms) keep 4
        requests each in flight while the disk fills and empties again.
        A refused request is retried with the same id until acknowledged;
        since nothing was saved it must then commit afresh, never replay."""
        d = self.daemon_on_small_fs(crashcycle.LOAD_CONFIG)
        posters, ledger = await crashcycle.setup(d, clients=6, rooms=2, seed=92, window=4)
        # storage_error too: a write queued behind a refused one of the same
        # room is refused for its seq (store.c, invariant 2) with that code.
        ledger.refusals = ("storage_full", "storage_error")
        marks = {}

        async def fill_then_free():
            await asyncio.sleep(0.3)
            marks["before"] = len(ledger.acks)
            fill(d.filler)
            deadline = time.monotonic() + 20
            while sum(ledger.refused.values()) < 50 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            marks["refused"] = sum(ledger.refused.values())
            await asyncio.sleep(0.3)
            os.unlink(d.filler)
            marks["freed"] = len(ledger.acks)
            await asyncio.sleep(0.5)

        await crashcycle.load_until(posters, ledger, fill_then_free())
        await crashcycle.drain(posters, ledger)
        await crashcycle.close_all(posters)
        await d.astop()
        ledger.verify(d.db, posters, full=True)
        summary = ("acks=%d (%d before the fill, %d when freed) refusals=%d of %d requests %r"
                   % (len(ledger.acks), marks.get("before", -1), marks.get("freed", -1),
                      sum(ledger.refused.values()), len(ledger.refused),
                      ledger.refused_codes))
        sys.stderr.write("(%s)\n" % summary)
        self.assertTrue(ledger.ok(), "%s\n%s" % (summary, "\n".join(ledger.anomalies[:30])))
        self.assertGreaterEqual(marks["refused"], 50, "the full disk refused too little: " + summary)
        # The disk's own refusals say storage_full; storage_error only ever
        # follows them (the writes queued behind a refused one).
        self.assertGreater(ledger.refused_codes.get("storage_full", 0), 0, summary)
        self.assertGreater(len(ledger.acks), marks["freed"], "no ack after space was freed")
        self.assertEqual(crashcycle.unacked_count(posters), 0, summary)


if __name__ == "__main__":
    tt.main()
