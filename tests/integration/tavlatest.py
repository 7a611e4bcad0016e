"""tavlatest: the harness of tavla's black-box tests.

Responsible for: starting a real tavlad on a free port with a generated
configuration in a fresh data directory, stopping it (and checking that it
stopped cleanly and that the sanitizers reported nothing), adding moderator
accounts through `tavlad admin`, and talking tavla.v1 to it with an
independent client (Debian's python3-websockets, not our C codec), with a raw
frame-level client for what a well-behaved library refuses to send, and with
our own CLI. Not responsible for: deciding what is right; every assertion
about the protocol lives in the test files, which cite PROTOCOL.md.

Each tests/integration/test_NN_area.py is a standalone script registered with
ctest (tests/CMakeLists.txt). It imports this module, defines
unittest.IsolatedAsyncioTestCase subclasses of TavlaCase and ends with
`tavlatest.main()`. The environment names the binaries:

    TAVLAD         path of the daemon   (default: $TV_SOURCE_DIR/build/tavlad)
    TAVLA          path of the CLI      (default: $TV_SOURCE_DIR/build/tavla)
    TV_SOURCE_DIR  the source tree
    TV_KEEP=1      keep every data directory (they are kept anyway when a test fails)
    TV_TEST_TIMEOUT  seconds before the whole file is aborted (default 115)

Invariants:
 1. Every receive is bounded in time: nothing here waits forever, and
    main() aborts the whole file (killing its daemons) after TV_TEST_TIMEOUT.
 2. A daemon started through TavlaCase.start_daemon() is stopped with SIGTERM
    at the end of the test, which must exit 0 within 10 s with no
    AddressSanitizer / LeakSanitizer / UBSan ("runtime error:") report.
 3. Client keeps every message the server sent, in arrival order, with
    batches unpacked (PROTOCOL.md 2.5): tests see exactly what went over the
    wire, minus the batch envelope.
 4. When a test fails, the tail of the stderr log of each daemon that test
    started is printed and the daemon's data directory is kept.
"""

import asyncio
import base64
import collections
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("TV_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
TAVLAD = os.environ.get("TAVLAD") or os.path.join(SOURCE_DIR, "build", "tavlad")
TAVLA = os.environ.get("TAVLA") or os.path.join(SOURCE_DIR, "build", "tavla")

SUBPROTOCOL = "tavla.v1"
#: Default bound of every single receive, in seconds. Generous because the
#: suite also runs against the sanitizer build, which is several times slower.
TIMEOUT = 10.0
#: The token alphabet and length of PROTOCOL.md section 3.
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
TOKEN_LEN = 43
#: The join-code alphabet of PROTOCOL.md 4.6.
CODE_CHARS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


# --------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------

#: Daemons started by the test that is running now (see _Result).
_current_daemons = []
#: Every daemon this process started and has not cleaned up (for the watchdog).
_all_daemons = []


def free_port():
    """Returns a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sanitizer_lines(text):
    """Returns the lines of text that carry a sanitizer report."""
    return [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKS)]


class Daemon:
    """One tavlad process and its data directory.

    Lifecycle: Daemon() writes the configuration → start() runs the process
    and waits for `tavlad ready` → stop()/astop() (signal, exit 0, clean logs)
    or kill9() or await_exit() (a deliberate crash) → start()/restart() may
    run it again on the same directory and port → cleanup() removes the
    directory unless a test failed.

    Attributes: port, url ("wss://127.0.0.1:PORT/ws"), https ("https://...:PORT"),
    data_dir, conf (the config file), ca (the self-signed certificate the
    daemon makes in data_dir/tls on first start), db (data_dir/tavla.db),
    proc (the running subprocess.Popen or None).
    """

    def __init__(self, extra_config=None, data_dir=None, port=None):
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="tavla-it-")
        self.port = port or free_port()
        self.url = "wss://127.0.0.1:%d/ws" % self.port
        self.https = "https://127.0.0.1:%d" % self.port
        self.conf = os.path.join(self.data_dir, "tavlad.conf")
        self.ca = os.path.join(self.data_dir, "tls", "cert.pem")
        self.db = os.path.join(self.data_dir, "tavla.db")
        self.stdout_path = os.path.join(self.data_dir, "tavlad.stdout")
        self.stderr_path = os.path.join(self.data_dir, "tavlad.stderr")
        self.extra_config = dict(extra_config or {})
        self.proc = None
        self.keep = bool(os.environ.get("TV_KEEP"))
        self.ready_line = None
        self.moderators = {}        # (org, user) -> password, by create_moderator()
        self._err_offset = 0
        self._write_config()
        _current_daemons.append(self)
        _all_daemons.append(self)

    def _write_config(self):
        lines = ["# written by tests/integration/tavlatest.py",
                 "port %d" % self.port,
                 'data_dir "%s"' % self.data_dir,
                 "log_level debug"]
        for key, value in self.extra_config.items():
            lines.append("%s %s" % (key, value))
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=10.0, env=None):
        """Runs `tavlad -c CONF` and returns once it printed `tavlad ready`.
        stdout and stderr are appended to files in the data directory, so a
        restart keeps the earlier runs' logs. `env` adds environment
        variables for this run only (TAVLA_FAULT, say). Raises AssertionError
        (with the stderr tail) when the daemon exits or stays silent for
        `timeout` s."""
        assert not self.running, "tavlad is already running"
        out_offset = os.path.getsize(self.stdout_path) if os.path.exists(self.stdout_path) else 0
        self._err_offset = os.path.getsize(self.stderr_path) if os.path.exists(self.stderr_path) else 0
        env = dict(os.environ, **(env or {}))
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([TAVLAD, "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=env,
                                         cwd=self.data_dir)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.stdout_path, "rb") as f:
                f.seek(out_offset)
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if line.startswith("tavlad ready"):
                        self.ready_line = line
                        return self
            if self.proc.poll() is not None:
                raise AssertionError("tavlad exited with status %s before it was ready\n%s"
                                     % (self.proc.returncode, self.stderr_tail()))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("tavlad printed no 'tavlad ready' line within %.0f s\n%s"
                                     % (timeout, self.stderr_tail()))
            time.sleep(0.02)

    def restart(self):
        """Starts the daemon again on the same data directory and port."""
        return self.start()

    def send_signal(self, sig):
        """Sends sig (signal.SIGHUP, ...) to the running daemon."""
        assert self.running, "tavlad is not running"
        self.proc.send_signal(sig)

    def _check_exit(self, sig, expect_status):
        status = self.proc.returncode
        self.proc = None
        self.check_logs()
        if status != expect_status:
            raise AssertionError("tavlad exited with status %s after %s, expected %s\n%s"
                                 % (status, signal.Signals(sig).name, expect_status,
                                    self.stderr_tail()))

    def stop(self, sig=signal.SIGTERM, timeout=10.0, expect_status=0):
        """Sends sig and waits for the exit. Asserts that the daemon exits
        with expect_status within timeout and that its stderr holds no
        sanitizer report. Blocks the calling thread: from a coroutine whose
        clients should see the close frames, use astop()."""
        assert self.running, "tavlad is not running"
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise AssertionError("tavlad did not exit within %.0f s of %s\n%s"
                                 % (timeout, signal.Signals(sig).name, self.stderr_tail()))
        self._check_exit(sig, expect_status)

    async def astop(self, sig=signal.SIGTERM, timeout=10.0, expect_status=0):
        """stop() for coroutines: the event loop keeps running (so clients
        can read their close frames) while the daemon shuts down."""
        assert self.running, "tavlad is not running"
        self.proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self.proc = None
                raise AssertionError("tavlad did not exit within %.0f s of %s\n%s"
                                     % (timeout, signal.Signals(sig).name, self.stderr_tail()))
            await asyncio.sleep(0.02)
        self._check_exit(sig, expect_status)

    def kill9(self):
        """Kills the daemon with SIGKILL (a crash or power cut as far as the
        process is concerned) and waits for it. Still checks the logs: a
        sanitizer report written before the kill is a bug all the same."""
        assert self.running, "tavlad is not running"
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.check_logs()

    async def await_exit(self, timeout=10.0):
        """Waits (without blocking the event loop) for a daemon that is to
        die on its own, a fault site's abort say, and returns its exit
        status (negative: the signal). Still checks the logs like kill9().
        Raises AssertionError when it is still running after timeout s."""
        assert self.proc is not None, "tavlad was not started"
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError("tavlad still runs %.0f s later\n%s"
                                     % (timeout, self.stderr_tail()))
            await asyncio.sleep(0.01)
        status, self.proc = self.proc.returncode, None
        self.check_logs()
        return status

    def stderr_text(self, whole=False):
        """Returns the daemon's stderr log: this run's part, or all runs'."""
        try:
            with open(self.stderr_path, "rb") as f:
                if not whole:
                    f.seek(self._err_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, lines=40):
        text = self.stderr_text(whole=True).splitlines()[-lines:]
        return "---- tail of %s ----\n%s\n---- end ----" % (self.stderr_path, "\n".join(text))

    def check_logs(self):
        """Asserts that this run's stderr carries no sanitizer report."""
        bad = sanitizer_lines(self.stderr_text())
        if bad:
            raise AssertionError("sanitizer report in tavlad's stderr:\n%s\n%s"
                                 % ("\n".join(bad[:20]), self.stderr_tail(80)))

    def cleanup(self):
        """Stops a still-running daemon (with the usual checks), fails if it
        died on its own (a crash the test may not have noticed), and removes
        the data directory unless it is to be kept."""
        try:
            if self.running:
                self.stop()
            elif self.proc is not None:
                status, self.proc = self.proc.returncode, None
                self.keep = True
                raise AssertionError("tavlad died during the test (status %s%s)\n%s"
                                     % (status, ", signal %s" % signal.Signals(-status).name
                                        if status < 0 else "", self.stderr_tail()))
        finally:
            if self in _all_daemons:
                _all_daemons.remove(self)
            if not self.keep:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def db_integrity(self):
        """Runs PRAGMA integrity_check on the database (the daemon must be
        stopped) and returns its first row ('ok' when sound)."""
        import sqlite3
        assert not self.running, "stop tavlad before opening its database"
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return con.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            con.close()


def start_daemon(extra_config=None, data_dir=None):
    """Writes a configuration (port, data_dir, log_level debug, plus the
    extra_config keys) and starts tavlad. Returns the running Daemon; the
    caller stops it (TavlaCase.start_daemon does that for you). data_dir
    defaults to a new temporary directory; Daemon.cleanup() removes the
    directory, whichever it is, unless it is kept."""
    return Daemon(extra_config, data_dir).start()


def create_moderator(daemon, org, user, password):
    """Adds moderator `user` of organisation `org` (created when missing)
    with `tavlad -c CONF admin user-add ORG USER`, the password on stdin.
    Works while the daemon runs. Asserts exit status 0."""
    p = subprocess.run([TAVLAD, "-c", daemon.conf, "admin", "user-add", org, user],
                       input=(password + "\n").encode("utf-8"), capture_output=True,
                       timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    bad = sanitizer_lines(err)
    if p.returncode != 0 or bad:
        raise AssertionError("tavlad admin user-add %s %s: status %d\nstdout: %s\nstderr: %s"
                             % (org, user, p.returncode, p.stdout.decode("utf-8", "replace"), err))
    daemon.moderators[(org, user)] = password


def run_cli(daemon, *args, token=None, input=None, env=None, ca=True, url=True, timeout=30):
    """Runs the CLI as `tavla --url URL --ca CA [--token T] ARGS...` and
    returns the subprocess.CompletedProcess (text mode, UTF-8). `ca` may be
    False (no --ca) or another file; `env` adds environment variables."""
    cmd = [TAVLA]
    if url:
        cmd += ["--url", daemon.url if url is True else url]
    if ca:
        cmd += ["--ca", daemon.ca if ca is True else ca]
    if token is not None:
        cmd += ["--token", token]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(cmd, input=input, capture_output=True, text=True,
                          encoding="utf-8", env=full_env, timeout=timeout)


def tls_context(cafile):
    """A client TLS context that trusts only cafile and checks the host name
    (the daemon's certificate names DNS:localhost and IP:127.0.0.1)."""
    return ssl.create_default_context(cafile=cafile)


def cert_fingerprint_pem(path):
    """SHA-256 of the DER form of the first certificate in a PEM file."""
    with open(path, encoding="ascii") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def peer_fingerprint(daemon, cafile=None):
    """Connects with TLS (verifying against cafile, default daemon.ca) and
    returns the SHA-256 of the certificate the daemon presents."""
    ctx = tls_context(cafile or daemon.ca)
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=TIMEOUT) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


def https_get(daemon, path, cafile=None):
    """GET over HTTPS; returns (status, body text)."""
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", daemon.port, timeout=TIMEOUT,
                                       context=tls_context(cafile or daemon.ca))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Strict JSON and event helpers
# --------------------------------------------------------------------------

def strict_loads(text):
    """json.loads that refuses duplicate keys: the server must not send them
    either (PROTOCOL.md 1)."""
    def pairs(items):
        d = {}
        for k, v in items:
            if k in d:
                raise ValueError("duplicate key %r in a server message" % k)
            d[k] = v
        return d
    return json.loads(text, object_pairs_hook=pairs)


def dumps(obj):
    """Encodes a request as compact UTF-8 JSON (non-ASCII kept literally)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def without_ts(event):
    """A copy of an event without its server timestamp, for comparisons."""
    e = dict(event)
    e.pop("ts", None)
    return e


def seqs(events):
    return [e["seq"] for e in events]


class ServerClosed(Exception):
    """The connection closed while a request or receive was waiting."""

    def __init__(self, code, reason):
        super().__init__("connection closed by server: code %s reason %r" % (code, reason))
        self.code = code
        self.reason = reason


# --------------------------------------------------------------------------
# The independent client (python3-websockets)
# --------------------------------------------------------------------------

class Client:
    """One tavla.v1 connection over python3-websockets.

    connect() opens it and checks that the first message is `hello`. A reader
    task then files every message the server sends (batches unpacked):
      - log:       every message, in order (hello first)
      - replies:   matched to the waiting request by id (FIFO for repeats)
      - unmatched: replies no request waits for (those with "id": null)
      - events:    room -> [event], presence: room -> [presence message]
      - the feed:  events, presence and unknown message types, consumed by
                   next() in order
    Identity state learned from login/join/resume is kept in .identity and
    .token. Nothing here retries or reconnects: that is the tests' business.
    """

    def __init__(self, daemon, ws):
        self.daemon = daemon
        self.ws = ws
        self.log = []
        self.events = collections.defaultdict(list)
        self.presence = collections.defaultdict(list)
        self.unmatched = []
        self.batches = 0
        self.hello = None
        self.identity = None
        self.token = None
        self.closed = False
        self.close_code = None
        self.close_reason = None
        self.reader_error = None
        self.last_error_reply = None
        self._feed = []
        self._feed_pos = 0
        self._pending = collections.defaultdict(collections.deque)
        self._changed = asyncio.Event()
        self._ids = 0
        self._id_prefix = base64.urlsafe_b64encode(os.urandom(6)).decode()
        self._reader = None

    @classmethod
    async def connect(cls, daemon, cafile=None, timeout=TIMEOUT):
        """Opens wss://127.0.0.1:PORT/ws offering tavla.v1, verifying the
        certificate against cafile (default daemon.ca) with host-name check,
        and waits for hello. Returns the Client."""
        ws = await websockets.connect(daemon.url, ssl=tls_context(cafile or daemon.ca),
                                      subprotocols=[SUBPROTOCOL], max_size=None,
                                      ping_interval=None, close_timeout=2,
                                      open_timeout=timeout)
        c = cls(daemon, ws)
        if ws.subprotocol != SUBPROTOCOL:
            await ws.close()
            raise AssertionError("server chose subprotocol %r" % ws.subprotocol)
        c._reader = asyncio.ensure_future(c._read())
        await c._wait(lambda: c.log[0] if c.log else None, timeout, "hello")
        c.hello = c.log[0]
        if c.hello.get("type") != "hello":
            raise AssertionError("first message is not hello: %r" % c.hello)
        return c

    # --- the reader ---

    async def _read(self):
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    raise AssertionError("server sent a binary frame: %r" % frame[:80])
                msg = strict_loads(frame)
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
        except Exception as e:      # a malformed server message: fail the waiters
            self.reader_error = e
        finally:
            self.closed = True
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            err = self.reader_error or ServerClosed(self.close_code, self.close_reason)
            for q in self._pending.values():
                for fut in q:
                    if not fut.done():
                        fut.set_exception(err)
            self._pending.clear()
            self._changed.set()

    def _file(self, msg):
        self.log.append(msg)
        t = msg.get("type")
        if t == "reply":
            q = self._pending.get(msg.get("id"))
            if q:
                fut = q.popleft()
                if not q:
                    del self._pending[msg.get("id")]
                if not fut.done():
                    fut.set_result(msg)
            else:
                self.unmatched.append(msg)
            return
        if t == "event":
            self.events[msg["room"]].append(msg)
        elif t == "presence":
            self.presence[msg["room"]].append(msg)
        self._feed.append(msg)

    async def _wait(self, scan, timeout, what):
        """Calls scan() until it returns non-None, waking on every message.
        Raises asyncio.TimeoutError (naming `what`) or ServerClosed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            r = scan()
            if r is not None:
                return r
            if self.reader_error:
                raise self.reader_error
            if self.closed:
                raise ServerClosed(self.close_code, self.close_reason)
            left = deadline - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError("no %s within %.1f s" % (what, timeout))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    # --- requests ---

    def next_id(self):
        """A request id unique per identity (PROTOCOL.md 6): a random prefix
        per connection plus a counter, since mutating ids are idempotency
        keys and several connections may share one identity."""
        self._ids += 1
        return "%s-%d" % (self._id_prefix, self._ids)

    async def send(self, msg):
        """Sends a request dict as one text frame without waiting."""
        await self.ws.send(dumps(msg))

    async def send_raw(self, data):
        """Sends data as is: str → one text frame, bytes → one binary frame."""
        await self.ws.send(data)

    async def request(self, op, *, id=None, timeout=TIMEOUT, **args):
        """Sends {"op": op, "id": id (automatic when None), **args} and
        returns the whole reply message (ok or not)."""
        rid = self.next_id() if id is None else id
        msg = {"op": op, "id": rid}
        msg.update(args)
        return await self.request_msg(msg, timeout=timeout)

    async def request_msg(self, msg, timeout=TIMEOUT):
        """Sends a prepared request dict and returns its reply."""
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg["id"]].append(fut)
        if self.closed:
            raise ServerClosed(self.close_code, self.close_reason)
        await self.send(msg)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise asyncio.TimeoutError("no reply to %s within %.1f s" % (dumps(msg)[:200], timeout))

    async def call(self, op, **args):
        """request() that asserts ok:true and returns the result."""
        r = await self.request(op, **args)
        if r.get("ok") is not True or "result" not in r:
            raise AssertionError("%s %s failed: %r" % (op, dumps(args)[:200], r))
        return r["result"]

    async def error(self, op, **args):
        """request() that asserts ok:false and returns the error code.
        The whole reply is kept in .last_error_reply."""
        r = await self.request(op, **args)
        if r.get("ok") is not False or "error" not in r:
            raise AssertionError("%s %s succeeded, expected an error: %r"
                                 % (op, dumps(args)[:200], r))
        self.last_error_reply = r
        return r["error"]["code"]

    async def next_unmatched(self, timeout=TIMEOUT):
        """Returns (and consumes) the oldest reply no request waited for."""
        return await self._wait(lambda: self.unmatched.pop(0) if self.unmatched else None,
                                timeout, "reply with id null")

    # --- identity ---

    async def login(self, user, password):
        r = await self.call("login", user=user, password=password)
        self.identity, self.token = r["identity"], r["token"]
        return r

    async def resume(self, token):
        r = await self.call("resume", token=token)
        self.identity, self.token = r["identity"], token
        return r

    async def join(self, **args):
        """join (either form); remembers identity and token of a code join."""
        r = await self.call("join", **args)
        if "identity" in r:
            self.identity = r["identity"]
        if "token" in r:
            self.token = r["token"]
        return r

    # --- the feed ---

    async def next(self, type=None, kind=None, room=None, pred=None, timeout=TIMEOUT):
        """Returns the next event/presence/other message of the feed that
        matches type, kind, room and pred(message); messages skipped on the
        way are consumed (they stay in .log, .events and .presence)."""
        def scan():
            while self._feed_pos < len(self._feed):
                m = self._feed[self._feed_pos]
                self._feed_pos += 1
                if ((type is None or m.get("type") == type)
                        and (kind is None or m.get("kind") == kind)
                        and (room is None or m.get("room") == room)
                        and (pred is None or pred(m))):
                    return m
            return None
        return await self._wait(scan, timeout, "message type=%s kind=%s" % (type, kind))

    async def next_event(self, kind=None, room=None, timeout=TIMEOUT):
        return await self.next("event", kind, room, timeout=timeout)

    async def next_presence(self, room=None, about=None, timeout=TIMEOUT):
        """The next presence delta of room; with `about` (an identity id) the
        next one that names that identity in joined or left (a client may or
        may not be told about its own arrival)."""
        def names(m):
            return (about is None or about in m.get("left", [])
                    or any(j.get("id") == about for j in m.get("joined", [])))
        return await self.next("presence", None, room, names, timeout)

    async def event(self, room, seq, timeout=TIMEOUT):
        """Waits for and returns the event `seq` of room (not consuming the feed)."""
        def scan():
            for e in self.events[room]:
                if e["seq"] == seq:
                    return e
            return None
        return await self._wait(scan, timeout, "event %s of %s" % (seq, room))

    def drain(self):
        """Consumes the whole feed; returns what was unread."""
        rest = self._feed[self._feed_pos:]
        self._feed_pos = len(self._feed)
        return rest

    async def wait_seq(self, room, seq, timeout=TIMEOUT):
        """Waits until an event with seq >= `seq` of room has arrived."""
        return await self._wait(
            lambda: True if any(e["seq"] >= seq for e in self.events[room]) else None,
            timeout, "event %s of %s" % (seq, room))

    async def quiet(self, seconds=0.3):
        """Lets the connection run for a moment (to see that nothing else comes)."""
        await asyncio.sleep(seconds)

    # --- closing ---

    async def wait_closed(self, timeout=TIMEOUT):
        """Waits for the server to close; returns (code, reason)."""
        await self._wait(lambda: True if self.closed else None, timeout, "close")
        return self.close_code, self.close_reason

    async def close(self, code=1000):
        """Closes the connection normally and waits for the reader to end."""
        try:
            await asyncio.wait_for(self.ws.close(code), TIMEOUT)
        finally:
            if self._reader:
                await asyncio.wait_for(asyncio.shield(self._reader), TIMEOUT)

    def abort(self):
        """Drops the TCP connection without a close frame (a phone leaving
        the Wi-Fi)."""
        self.ws.transport.abort()

    async def close_quietly(self):
        if not self.closed:
            try:
                self.abort()
            except Exception:
                pass
        if self._reader:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 2)
            except Exception:
                pass


# --------------------------------------------------------------------------
# The raw client: RFC 6455 framing by hand
# --------------------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class RawConn:
    """A blocking WebSocket client with hand-made frames over TLS, for what
    python3-websockets will not send: invalid UTF-8 in a text frame,
    fragments, handshakes without the subprotocol or with a foreign Origin.

    RawConn(daemon) performs the handshake (rcvbuf: a small socket receive
    buffer, to play a client that stops reading); .status and .headers hold the
    HTTP answer (101 when upgraded; status None when the server closed the
    connection without answering). Every read has a socket timeout.
    """

    def __init__(self, daemon, subprotocol=SUBPROTOCOL, origin=None, path="/ws",
                 timeout=TIMEOUT, rcvbuf=None):
        ctx = tls_context(daemon.ca)
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:      # a small window makes a client that does not read
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        raw.connect(("127.0.0.1", daemon.port))
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.sock.settimeout(timeout)
        self.buf = b""
        self.skipped = []
        key = base64.b64encode(os.urandom(16)).decode()
        hdr = ["GET %s HTTP/1.1" % path,
               "Host: 127.0.0.1:%d" % daemon.port,
               "Upgrade: websocket",
               "Connection: Upgrade",
               "Sec-WebSocket-Key: " + key,
               "Sec-WebSocket-Version: 13"]
        if subprotocol:
            hdr.append("Sec-WebSocket-Protocol: " + subprotocol)
        if origin:
            hdr.append("Origin: " + origin)
        self.sock.sendall(("\r\n".join(hdr) + "\r\n\r\n").encode())
        self.headers = {}
        try:
            head = self._read_until(b"\r\n\r\n").decode("latin-1")
        except (ConnectionError, ssl.SSLError):
            self.status = None      # closed without any HTTP answer
            return
        lines = head.split("\r\n")
        self.status = int(lines[0].split()[1])
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            if self.headers.get("sec-websocket-accept") != want:
                raise AssertionError("bad Sec-WebSocket-Accept: %r" % self.headers)

    def _read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed during the handshake")
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by server (no close frame)")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload, fin=True, mask=True):
        """Sends one frame; payload is bytes (not checked in any way)."""
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text)

    def recv_frame(self):
        """Returns (fin, opcode, payload) of the next frame."""
        b0, b1 = self._read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        if b1 & 0x80:
            raise AssertionError("the server masked a frame")
        return bool(b0 & 0x80), b0 & 0x0F, self._read_exact(n)

    def recv(self):
        """Returns the next message: ("text", [messages, batches unpacked]),
        ("close", (code, reason)) or ("binary", bytes). Answers pings."""
        parts, first = [], None
        while True:
            fin, op, data = self.recv_frame()
            if op == OP_PING:
                self.send_frame(OP_PONG, data)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return "close", (code, data[2:].decode("utf-8", "replace"))
            if op != OP_CONT:
                first = op
            parts.append(data)
            if fin:
                break
        data = b"".join(parts)
        if first == OP_BINARY:
            return "binary", data
        msg = strict_loads(data.decode("utf-8"))
        return "text", (msg["items"] if msg.get("type") == "batch" else [msg])

    def recv_messages(self):
        """Reads the next text message; fails on anything else."""
        kind, value = self.recv()
        if kind != "text":
            raise AssertionError("expected a text message, got %s %r" % (kind, value))
        return value

    def read_hello(self):
        msgs = self.recv_messages()
        assert msgs[0]["type"] == "hello", msgs
        return msgs[1:]

    def read_until_close(self):
        """Reads until the close frame; returns ((code, reason), [messages before it])."""
        seen = []
        while True:
            kind, value = self.recv()
            if kind == "close":
                return value, seen
            if kind == "text":
                seen.extend(value)
            else:
                seen.append(value)

    def request(self, msg):
        """Sends a request dict and returns its reply (see reply_to)."""
        self.send_text(dumps(msg))
        return self.reply_to(msg.get("id"))

    def reply_to(self, rid):
        """Reads until the reply with id rid and returns it; every other
        message read on the way (before or after it in a batch) is appended
        to .skipped, in order."""
        found = None
        while found is None:
            for m in self.recv_messages():
                if found is None and m.get("type") == "reply" and m.get("id") == rid:
                    found = m
                else:
                    self.skipped.append(m)
        return found

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# Test-case base and runner
# --------------------------------------------------------------------------

class TavlaCase(unittest.IsolatedAsyncioTestCase):
    """Base of the integration tests: start_daemon() and connect() register
    their own cleanup (clients are dropped before their daemon stops, and
    the daemon's stop is checked: exit 0, no sanitizer report)."""

    def start_daemon(self, extra_config=None, data_dir=None):
        d = Daemon(extra_config, data_dir)
        self.addCleanup(d.cleanup)
        return d.start()

    async def connect(self, daemon, cafile=None):
        c = await Client.connect(daemon, cafile=cafile)
        self.addAsyncCleanup(c.close_quietly)
        return c

    async def moderator(self, daemon, org="Region Norrfjäll", user="mod", password="hemligt lösenord 1"):
        """Logs in a moderator (creating the account first unless this
        harness already did); returns the Client."""
        if (org, user) not in daemon.moderators:
            create_moderator(daemon, org, user, password)
        c = await self.connect(daemon)
        await c.login(user, password)
        return c

    async def participant(self, daemon, code, name, **args):
        """Connects and joins with a code; returns the Client."""
        c = await self.connect(daemon)
        c.join_result = await c.join(code=code, name=name, **args)
        return c

    async def resumed(self, daemon, token):
        """Connects and resumes; returns the Client."""
        c = await self.connect(daemon)
        await c.resume(token)
        return c

    def assertError(self, reply, code, rid="__any__"):
        """Asserts that reply is an error reply with the given code (and id)."""
        self.assertEqual(reply.get("type"), "reply", reply)
        self.assertIs(reply.get("ok"), False, reply)
        self.assertEqual(reply["error"]["code"], code, reply)
        self.assertIsInstance(reply["error"].get("message"), str, reply)
        if rid != "__any__":
            self.assertEqual(reply.get("id"), rid, reply)

    def assertContiguous(self, events, first=1, last=None):
        """Asserts that the events' seqs are first, first+1, ... (no gap, no
        duplicate) and, when given, end at last."""
        s = seqs(events)
        want = list(range(first, first + len(s)))
        if s != want:
            dup = sorted({x for x in s if s.count(x) > 1})
            gaps = sorted(set(range(first, max(s + [first]) + 1)) - set(s))
            self.fail("seqs not contiguous from %d: duplicates %s, missing %s, first 20: %s"
                      % (first, dup[:20], gaps[:20], s[:20]))
        if last is not None:
            self.assertEqual(s[-1] if s else first - 1, last, "last seq")


class _Result(unittest.TextTestResult):
    """Prints the stderr tail of the failing test's daemons and keeps their
    data directories. (Python 3.11 reports a failure before the test's
    cleanups run, so the logs are still there.)"""

    def startTest(self, test):
        del _current_daemons[:]
        super().startTest(test)

    def _dump(self):
        for d in _current_daemons:
            d.keep = True
            self.stream.write("\n%s\n(data dir kept: %s)\n" % (d.stderr_tail(), d.data_dir))
            self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump()

    def addError(self, test, err):
        super().addError(test, err)
        self._dump()


def _watchdog(seconds):
    sys.stderr.write("\nFAIL: the test file ran longer than %d s; killing its daemons\n" % seconds)
    for d in list(_all_daemons):
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
        sys.stderr.write("%s\n(data dir kept: %s)\n" % (d.stderr_tail(), d.data_dir))
    sys.stderr.flush()
    os._exit(3)


def main():
    """Runs the calling script's tests; exits 0 only when all passed.
    A watchdog aborts the whole file after TV_TEST_TIMEOUT seconds (115)."""
    if not os.access(TAVLAD, os.X_OK):
        sys.stderr.write("tavlad not found at %s (set TAVLAD)\n" % TAVLAD)
        sys.exit(1)
    # IsolatedAsyncioTestCase runs its loop in debug mode, which warns about
    # every callback slower than 0.1 s; the harness blocks on purpose while
    # starting and stopping daemons, so only errors are of interest here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    limit = int(os.environ.get("TV_TEST_TIMEOUT", "115"))
    timer = threading.Timer(limit, _watchdog, [limit])
    timer.daemon = True
    timer.start()
    try:
        prog = unittest.main(module="__main__", testRunner=unittest.TextTestRunner(
            resultclass=_Result, verbosity=2), exit=False)
    finally:
        timer.cancel()
        for d in list(_all_daemons):
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()
    sys.exit(0 if prog.result.wasSuccessful() else 1)
