#!/usr/bin/python3
"""crashcycle: kill -9 tavlad under write load, again and again, and check
that every acknowledged request survived exactly once (issue 8: "a note is
acknowledged only after its SQLite COMMIT and the ack carries its sequence
number; every acknowledged (identity, client id) exists exactly once after
any failure").

Responsible for: a load driver (Poster: one participant identity on one
connection, posting chat.send with client ids "c<conn>-<n>" and keeping
every request that was sent but not acknowledged), the ledger of what was
acknowledged (Ledger), the check of the database against that ledger
(Ledger.verify, read-only with Python's sqlite3 while tavlad is down) and
the supervisor (crash_cycles) that kills and restarts the daemon. Not
responsible for: starting the daemon (tavlatest.Daemon) or unittest
plumbing (test_90_crash_cycles.py runs it in quick mode; test_91_crash_points
uses the same pieces with fault sites instead of kill -9).

One cycle: start tavlad (same data dir, same port) → every poster
reconnects, `resume`s with its token, `join`s its room with `since` → it
first re-sends every request it sent without an ack (same id, same body),
then posts new ones → after a random 50–500 ms of load, SIGKILL → the
database is checked → next cycle. At the end the daemon is started once
more, every request still unacknowledged is retried until acked, and the
daemon is stopped with SIGTERM (exit 0) before a last full check.

Invariants checked (each failure is counted, named and printed):
 1. PRAGMA integrity_check is 'ok' after every cycle.
 2. Every acknowledged (identity, client id) has exactly one row in
    `requests` whose result is the acknowledged seq, and the room's event
    with that seq is that identity's chat.message with the text sent.
 3. Every chat.message text (each embeds its client id) is stored once,
    and each has its `requests` row pointing at it.
 4. Each room's seqs are exactly 1..head.
 5. A retry of a request the database already held (committed, ack lost)
    is answered "replayed":true with the stored seq; a retry of one it did
    not hold is a fresh commit.
 6. No chat.send gets an error reply other than overloaded/rate_limited
    (retried) or, when the caller allows them (Ledger(refusals=...)), codes
    that say nothing was saved, such as storage_full: those are retried,
    and their retry must then commit afresh, never replay. Every request
    gets a reply while the daemon lives.

Command line (the binary comes from $TAVLAD or --tavlad):
    crashcycle.py --cycles 100 --clients 50 --seed 1
prints one line per cycle with -v and always a summary line:
    crashcycle: cycles=100 clients=50 ... acks=N missing=0 duplicates=0 ...
and exits 0 only when every check passed.
"""

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tavlatest as tt  # noqa: E402
import websockets  # noqa: E402

#: Daemon settings for load: no rate limit, no per-request debug log (a long
#: run would write gigabytes of it).
LOAD_CONFIG = {"rate": 1000000, "rate_burst": 1000000, "log_level": "info"}
#: Error codes after which a request is simply sent again.
TRANSIENT = ("overloaded", "rate_limited")
#: Bound of one reply while the daemon lives (the sanitizer build is slow).
REPLY_TIMEOUT = 30.0


def note_text(cid, seed):
    """The text of request cid: unique per request, and it names its id."""
    return "%s lapp %d – idé nr %s" % (cid, seed, cid.split("-", 1)[1])


def cid_of(text):
    return text.split(" ", 1)[0]


class Poster:
    """One participant identity on one connection at a time.

    Lifecycle: connect() (first time: join by code, keep the token; later:
    resume with the token and join the room with since) → run(stop) posts
    with `window` requests in flight until stop is set or the connection
    dies → connect() again after a restart.

    unacked: client id -> text of every request created and not yet
    acknowledged, oldest first; run() sends those again before new ones.
    """

    def __init__(self, k, room, seed, window=2):
        self.k = k
        self.room = room            # {"id", "code", ...}
        self.seed = seed
        self.window = window
        self.identity = None
        self.token = None
        self.n = 0                  # counter of the next new client id
        self.unacked = {}
        self.inflight = set()
        self.since = 0              # highest seq of the room seen
        self.ws = None
        self.closed = True
        self._waiting = {}
        self._ctl = 0
        self._reader = None

    # --- the connection ---

    async def connect(self, daemon):
        self.ws = await websockets.connect(
            daemon.url, ssl=tt.tls_context(daemon.ca), subprotocols=[tt.SUBPROTOCOL],
            max_size=None, ping_interval=None, close_timeout=1, open_timeout=tt.TIMEOUT)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), tt.TIMEOUT))
        if hello.get("type") != "hello":
            raise AssertionError("first message is not hello: %r" % hello)
        self.closed = False
        self._waiting = {}
        self._reader = asyncio.ensure_future(self._read(self.ws, self._waiting))
        if self.token is None:
            r = await self.call("join", code=self.room["code"], name="Deltagare %d" % self.k)
            self.identity, self.token = r["identity"]["id"], r["token"]
            self.since = max(self.since, r["head"])
        else:
            await self.call("resume", token=self.token)
            for _ in range(1000):       # pages (PROTOCOL.md 4.4)
                r = await self.call("join", room=self.room["id"], since=self.since)
                if r["complete"]:
                    break
                self.since = max(self.since, r["through"])

    async def _read(self, ws, waiting):
        try:
            async for frame in ws:
                msg = json.loads(frame)
                for m in msg["items"] if msg.get("type") == "batch" else [msg]:
                    t = m.get("type")
                    if t == "reply":
                        fut = waiting.pop(m.get("id"), None)
                        if fut and not fut.done():
                            fut.set_result(m)
                    elif t == "event" and m.get("room") == self.room["id"]:
                        self.since = max(self.since, m["seq"])
        except (websockets.ConnectionClosed, OSError):
            pass
        finally:
            if ws is self.ws:
                self.closed = True
            for fut in waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection lost"))
            waiting.clear()

    async def request(self, msg, timeout=REPLY_TIMEOUT):
        """Sends msg and returns its reply; ConnectionError when the
        connection is (or goes) down first."""
        if self.closed:
            raise ConnectionError("connection lost")
        fut = asyncio.get_running_loop().create_future()
        self._waiting[msg["id"]] = fut
        try:
            await self.ws.send(json.dumps(msg, ensure_ascii=False))
        except (websockets.ConnectionClosed, OSError) as e:
            self._waiting.pop(msg["id"], None)
            fut.cancel()
            raise ConnectionError(str(e))
        return await asyncio.wait_for(fut, timeout)

    async def call(self, op, **args):
        self._ctl += 1
        r = await self.request(dict(op=op, id="ctl-%d" % self._ctl, **args), tt.TIMEOUT)
        if r.get("ok") is not True:
            raise AssertionError("%s failed: %r" % (op, r))
        return r["result"]

    async def close(self):
        if self.ws is not None:
            self.ws.transport.abort()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=2)

    # --- posting ---

    def _next(self, new):
        for cid, text in self.unacked.items():
            if cid not in self.inflight:
                return cid, text
        if not new:
            return None, None
        cid = "c%d-%d" % (self.k, self.n)
        self.n += 1
        text = note_text(cid, self.seed)
        self.unacked[cid] = text
        return cid, text

    async def run(self, ledger, stop, new=True):
        """Posts with `window` requests in flight (unacknowledged ones
        first) until stop is set, the connection dies, or (new=False)
        nothing is left unacknowledged."""
        await asyncio.gather(*(self._worker(ledger, stop, new) for _ in range(self.window)))

    async def _worker(self, ledger, stop, new):
        while not stop.is_set() and not self.closed:
            cid, text = self._next(new)
            if cid is None:
                return
            self.inflight.add(cid)
            try:
                r = await self.request({"op": "chat.send", "id": cid, "room": self.room["id"],
                                        "text": text})
            except ConnectionError:
                return
            except asyncio.TimeoutError:
                if not self.closed:
                    ledger.anomaly("no reply to %s within %.0f s" % (cid, REPLY_TIMEOUT))
                return
            finally:
                self.inflight.discard(cid)
            if not ledger.reply(self, cid, r):
                await asyncio.sleep(0.05)


class Ledger:
    """What the clients were told, and the check of the database against it.

    acks: client id -> (identity, room, seq) of every acknowledged request
    (client ids are unique across identities here, "c<conn>-<n>").
    expect: client id -> seq or None for requests sent but unacknowledged
    when the database was last checked: the stored seq, or None when the
    database did not hold it (so its retry must be a fresh commit).
    """

    def __init__(self, seed, refusals=()):
        self.seed = seed
        self.refusals = tuple(refusals)   # error codes that are retried
        self.refused = {}                  # client id -> times refused
        self.refused_codes = {}            # error code -> replies
        self.acks = {}
        self.expect = {}
        self.replayed = 0
        self.replayed_after_crash = 0
        self.fresh_after_crash = 0
        self.anomalies = []
        self.missing = 0
        self.duplicates = 0
        self.gaps = 0
        self.integrity = "not checked"
        self.new_acks = []          # acked since the last verify
        self.heads = {}             # room -> head at the last verify
        self.stored = {}            # client id -> (room, seq) of chats verified

    def anomaly(self, text):
        if len(self.anomalies) < 1000:
            self.anomalies.append(text)

    def reply(self, poster, cid, r):
        """Files the reply to request cid. Returns False when it should be
        sent again (a transient refusal)."""
        if r.get("ok") is True:
            seq = r.get("result", {}).get("seq")
            if not isinstance(seq, int):
                self.anomaly("ack of %s without a seq: %r" % (cid, r))
                seq = -1
            if r.get("replayed"):
                self.replayed += 1
            if cid in self.expect:
                want = self.expect.pop(cid)
                if want is None:
                    self.fresh_after_crash += 1
                    if r.get("replayed"):
                        self.anomaly("%s: replayed seq %s, but the database did not hold it"
                                     % (cid, seq))
                else:
                    self.replayed_after_crash += 1
                    if not r.get("replayed") or seq != want:
                        self.anomaly("%s: retry answered %r, the database holds seq %d"
                                     % (cid, r, want))
            if cid in self.refused and r.get("replayed"):
                self.anomaly("%s was refused (%d times), yet a retry replays seq %s: "
                             "something was saved" % (cid, self.refused[cid], seq))
            if cid in self.acks:
                if self.acks[cid][2] != seq:
                    self.anomaly("%s acknowledged twice with seqs %d and %d"
                                 % (cid, self.acks[cid][2], seq))
            else:
                self.acks[cid] = (poster.identity, poster.room["id"], seq)
                self.new_acks.append(cid)
            poster.unacked.pop(cid, None)
            return True
        code = (r.get("error") or {}).get("code")
        if code in TRANSIENT:
            return False
        if code in self.refusals:
            # "nothing was saved": the retry must commit afresh.
            self.refused[cid] = self.refused.get(cid, 0) + 1
            self.refused_codes[code] = self.refused_codes.get(code, 0) + 1
            return False
        self.anomaly("%s refused: %r" % (cid, r))
        poster.unacked.pop(cid, None)
        self.expect.pop(cid, None)
        return True

    def verify(self, db_path, posters, full=False):
        """Checks the database (tavlad must be down) against the ledger.
        full=False checks what changed since the last call (new acks, new
        events, retried requests); full=True checks everything. Updates the
        counters; returns the number of new problems."""
        before = self.missing + self.duplicates + self.gaps + len(self.anomalies)
        con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
        try:
            self.integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
            if self.integrity != "ok":
                self.anomaly("integrity_check: %s" % self.integrity)
            heads = {}
            for room, n, lo, hi in con.execute(
                    "SELECT room_id, count(*), min(seq), max(seq) FROM events GROUP BY room_id"):
                heads[room] = hi
                if lo != 1 or n != hi:
                    self.gaps += 1
                    self.anomaly("room %s: %d events, seqs %d..%d" % (room, n, lo, hi))
            if full:
                self.heads, self.stored = {}, {}
            # Every idempotency record, read once: requests_recent has no
            # index (store.c), so a lookup per event or per ack would scan
            # it each time and the check would grow with the square of the
            # run's requests.
            requests = {}
            for ident, cid, result in con.execute(
                    "SELECT identity_id, client_id, result FROM requests_all"):
                requests.setdefault((ident, cid), []).append(result)
            # Invariant 3: each new chat event once, and its request row.
            for room, head in heads.items():
                rows = con.execute(
                    "SELECT seq, author_id, data FROM events"
                    " WHERE room_id = ?1 AND seq > ?2 AND kind = 'chat.message'",
                    (room, self.heads.get(room, 0)))
                for seq, author, data in rows:
                    text = json.loads(data)["text"]
                    cid = cid_of(text)
                    results = requests.get((author, cid), [None])
                    if len(results) != 1:
                        self.anomaly("%s has %d request rows" % (cid, len(results)))
                    result = results[0]
                    if cid in self.stored:
                        self.duplicates += 1
                        self.anomaly("%s stored twice: %r and %r"
                                     % (cid, self.stored[cid], (room, seq)))
                        continue
                    self.stored[cid] = (room, seq)
                    if text != note_text(cid, self.seed):
                        self.anomaly("%s: stored text %r" % (cid, text))
                    if result is None or json.loads(result).get("seq") != seq:
                        self.anomaly("event %s/%d (%s) has request row %r" % (room, seq, cid, result))
            self.heads = heads
            # Invariant 2: every acknowledged request, exactly once.
            cids = list(self.acks) if full else self.new_acks
            for cid in cids:
                ident, room, seq = self.acks[cid]
                rows = requests.get((ident, cid), [])
                ev = con.execute("SELECT author_id, kind, data FROM events WHERE room_id = ?1"
                                 " AND seq = ?2", (room, seq)).fetchone()
                if len(rows) != 1 or ev is None:
                    self.missing += 1
                    self.anomaly("acknowledged %s (seq %d) missing: requests %r, event %r"
                                 % (cid, seq, rows, ev))
                    continue
                if json.loads(rows[0]).get("seq") != seq:
                    self.anomaly("acknowledged %s: seq %d, request row says %s" % (cid, seq, rows[0]))
                if (ev[0], ev[1], json.loads(ev[2]).get("text")) != (
                        ident, "chat.message", note_text(cid, self.seed)):
                    self.anomaly("acknowledged %s: seq %d holds %r" % (cid, seq, ev))
                if self.stored.get(cid) != (room, seq):
                    self.anomaly("acknowledged %s: seq %d, its text is at %r"
                                 % (cid, seq, self.stored.get(cid)))
            self.new_acks = []
            # Invariant 5: what a retry of each unacknowledged request must get.
            self.expect = {}
            for p in posters:
                for cid in p.unacked:
                    where = self.stored.get(cid)
                    self.expect[cid] = where[1] if where else None
        finally:
            con.close()
        return self.missing + self.duplicates + self.gaps + len(self.anomalies) - before

    def ok(self):
        return not (self.missing or self.duplicates or self.gaps or self.anomalies) \
            and self.integrity == "ok"


async def setup(daemon, clients, rooms, seed, window=2):
    """Creates a moderator, `rooms` workshop rooms and `clients` posters
    (joined by code, spread over the rooms). Returns (posters, ledger)."""
    tt.create_moderator(daemon, "Kraschtest", "mod", "ett långt lösenord för krasch")
    mod = await tt.Client.connect(daemon)
    try:
        await mod.login("mod", "ett långt lösenord för krasch")
        rs = [(await mod.call("room.create", kind="workshop", title="Krasch %d" % i))["room"]
              for i in range(rooms)]
    finally:
        await mod.close_quietly()
    posters = [Poster(k, rs[k % rooms], seed, window) for k in range(clients)]
    await connect_all(posters, daemon)
    return posters, Ledger(seed)


async def connect_all(posters, daemon):
    await asyncio.gather(*(p.connect(daemon) for p in posters))


async def close_all(posters):
    await asyncio.gather(*(p.close() for p in posters))


async def load_until(posters, ledger, until, settle=15.0):
    """Runs every poster until the coroutine `until` returns (it kills the
    daemon, or waits for it to die), then until every poster noticed
    (at most `settle` s). Returns what `until` returned."""
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(p.run(ledger, stop)) for p in posters]
    try:
        result = await until
    finally:
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=settle)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
            ledger.anomaly("%d posters did not stop within %.0f s of the crash"
                           % (len(pending), settle))
        for t in done:
            if t.exception():
                ledger.anomaly("poster failed: %r" % t.exception())
    return result


async def drain(posters, ledger, timeout=60.0):
    """With the daemon up and no crash: retries every unacknowledged
    request until each is acknowledged (bounded by timeout)."""
    stop = asyncio.Event()
    deadline = time.monotonic() + timeout
    while any(p.unacked for p in posters) and time.monotonic() < deadline:
        tasks = [p.run(ledger, stop, new=False) for p in posters if p.unacked]
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if any(p.closed for p in posters):
            break
    left = sum(len(p.unacked) for p in posters)
    if left:
        ledger.anomaly("%d requests still unacknowledged after %.0f s of retries" % (left, timeout))


def unacked_count(posters):
    return sum(len(p.unacked) for p in posters)


async def crash_cycles(cycles, clients, seed, rooms=None, window=2, full_every=10,
                       min_ms=50, max_ms=500, verbose=False, out=sys.stdout, max_seconds=None):
    """The supervisor (see the file comment). Returns a summary dict."""
    rng = random.Random(seed)
    rooms = rooms or max(1, clients // 5)
    t0 = time.monotonic()
    d = tt.Daemon(LOAD_CONFIG)
    done = 0
    retried = 0
    try:
        d.start()
        posters, ledger = await setup(d, clients, rooms, seed, window)
        for cycle in range(1, cycles + 1):
            if cycle > 1:
                d.restart()
                await connect_all(posters, d)
            retried += unacked_count(posters)
            delay = rng.uniform(min_ms, max_ms) / 1000.0

            async def kill_later():
                await asyncio.sleep(delay)
                d.kill9()
            await load_until(posters, ledger, kill_later())
            await close_all(posters)
            bad = ledger.verify(d.db, posters, full=cycle % full_every == 0)
            done = cycle
            if verbose:
                out.write("cycle %d: kill after %d ms, acks=%d unacked=%d replayed_after_crash=%d"
                          " integrity=%s problems=%d\n"
                          % (cycle, delay * 1000, len(ledger.acks), unacked_count(posters),
                             ledger.replayed_after_crash, ledger.integrity, bad))
                out.flush()
            if bad or (max_seconds and time.monotonic() - t0 > max_seconds):
                break
        # The end: one more start, every unacknowledged request retried to
        # its ack, a clean stop, and a full check.
        d.restart()
        await connect_all(posters, d)
        retried += unacked_count(posters)
        await drain(posters, ledger)
        await close_all(posters)
        await d.astop()
        ledger.verify(d.db, posters, full=True)
    except BaseException:
        d.keep = True
        raise
    finally:
        if not ledger_ok_or_none(locals().get("ledger")):
            d.keep = True
        if d.running:
            d.kill9()
        d.cleanup()
    return {
        "cycles": done, "clients": clients, "rooms": rooms, "seed": seed,
        "acks": len(ledger.acks), "retried": retried,
        "replayed_after_crash": ledger.replayed_after_crash,
        "fresh_after_crash": ledger.fresh_after_crash,
        "missing": ledger.missing, "duplicates": ledger.duplicates, "gaps": ledger.gaps,
        "integrity": ledger.integrity, "problems": len(ledger.anomalies),
        "anomalies": ledger.anomalies, "seconds": round(time.monotonic() - t0, 1),
        "data_dir": d.data_dir if d.keep else None,
    }


def ledger_ok_or_none(ledger):
    return ledger is None or ledger.ok()


def summary_line(s):
    return ("crashcycle: cycles=%(cycles)d clients=%(clients)d rooms=%(rooms)d seed=%(seed)d"
            " acks=%(acks)d retried=%(retried)d replayed_after_crash=%(replayed_after_crash)d"
            " fresh_after_crash=%(fresh_after_crash)d missing=%(missing)d"
            " duplicates=%(duplicates)d gaps=%(gaps)d integrity=%(integrity)s"
            " problems=%(problems)d time=%(seconds)ss" % s)


def main(argv=None):
    ap = argparse.ArgumentParser(description="kill -9 tavlad under load, N times, and check "
                                 "that every acknowledged request exists exactly once")
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rooms", type=int, default=0, help="default: clients / 5")
    ap.add_argument("--window", type=int, default=2, help="requests in flight per client")
    ap.add_argument("--full-every", type=int, default=10,
                    help="a full check every N cycles (incremental ones in between)")
    ap.add_argument("--tavlad", help="the daemon binary (default $TAVLAD or build/tavlad)")
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="stop starting new cycles after this long (0: no limit)")
    ap.add_argument("-v", "--verbose", action="store_true", help="a line per cycle")
    a = ap.parse_args(argv)
    if a.tavlad:
        tt.TAVLAD = a.tavlad
    s = asyncio.run(crash_cycles(a.cycles, a.clients, a.seed, a.rooms or None, a.window,
                                 a.full_every, verbose=a.verbose,
                                 max_seconds=a.max_seconds or None))
    for line in s["anomalies"][:50]:
        print("  problem: %s" % line)
    if s["data_dir"]:
        print("  data dir kept: %s" % s["data_dir"])
    print(summary_line(s))
    return 0 if (s["missing"] == 0 and s["duplicates"] == 0 and s["gaps"] == 0
                 and s["problems"] == 0 and s["integrity"] == "ok") else 1


if __name__ == "__main__":
    sys.exit(main())
