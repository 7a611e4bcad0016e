#!/usr/bin/env python3
"""test_55_conformance: RFC 6455 conformance and abuse against a running tavlad.

Responsible for driving one daemon, over TLS with hand-made frames, through
hundreds of hostile cases generated from tables: invalid UTF-8 (whole and
split across fragments), reserved bits, reserved opcodes, oversized and
fragmented control frames, broken fragment sequences, absurd claimed
lengths, unmasked frames, messages at and over max_message, close frames
with invalid codes and reasons, deep and wide JSON, hostile chat text that
must round-trip verbatim, and every op from every state or role that
messages.def forbids. Each case asserts the exact outcome (close code,
error code, or reply); between cases a separate long-lived, well-behaved
connection must get its ping answered within HEALTH_BOUND seconds, and at
the end the daemon must stop cleanly with a sound database. Not responsible
for request shapes and field errors, which test_50_bad_input covers.

Where libwebsockets 4.1.6 (and so tavlad) deviates from RFC 6455 the case
asserts what the daemon actually does and names the deviation; every one of
them is listed in PROTOCOL.md 7.3, and each is a candidate daemon fix. When
the daemon is fixed, the case fails until its expectation and PROTOCOL.md
are updated together.

Invariants:
 1. Every case runs on its own connection unless it leaves the connection
    open by contract (error replies), and no case waits without a bound.
 2. The op-by-state matrix is generated from protocol/messages.def and
    protocol/fields.def; an op whose row matches no rule fails the test.
"""

import os
import re
import socket
import ssl
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

#: A ping on the health connection must be answered within this many seconds.
#: Overridable for very slow machines; 0.2 s is the contract of this test.
HEALTH_BOUND = float(os.environ.get("TV_HEALTH_BOUND", "0.2"))
#: How long a case waits for the server's reaction to a violation.
REACT = 5.0
#: How long "nothing happens" is watched for.
QUIET = 0.3
MAX_MESSAGE = 65536

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN = 0x80

PING = b'{"op":"ping","id":"p"}'


# --------------------------------------------------------------------------
# Frames and outcomes
# --------------------------------------------------------------------------

class Raw(tt.RawConn):
    """tt.RawConn plus frames with any first byte, any claimed length and
    any masking, and a reader that reports how the server reacted."""

    def frame(self, b0, payload=b"", mask=True, length=None):
        """Sends one frame: b0 is the whole first byte (FIN, RSV, opcode);
        length, when given, is claimed instead of len(payload) (64-bit form
        when it does not fit 16 bits)."""
        n = len(payload) if length is None else length
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

    def outcome(self, wait=REACT, until=None):
        """Reads until the server closes, until(out) is true after a frame,
        or nothing came for `wait` seconds. Returns a dict: close (code,
        reason bytes) or None; eof (the TCP connection ended without a close
        frame); msgs (decoded text messages, batches unpacked); pongs (their
        payloads); binary (binary messages, which the server never sends)."""
        out = {"close": None, "eof": False, "msgs": [], "pongs": [], "binary": []}
        self.sock.settimeout(wait)
        try:
            parts, first = [], None
            while True:
                if until is not None and until(out):
                    return out
                fin, op, data = self.recv_frame()
                if op == OP_PONG:
                    out["pongs"].append(data)
                    continue
                if op == OP_PING:
                    self.send_frame(OP_PONG, data)
                    continue
                if op == OP_CLOSE:
                    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                    out["close"] = (code, data[2:])
                    return out
                if op != OP_CONT:
                    first = op
                parts.append(data)
                if fin:
                    body = b"".join(parts)
                    parts = []
                    if first == OP_BINARY:
                        out["binary"].append(body)
                    else:
                        m = tt.strict_loads(body.decode("utf-8"))
                        out["msgs"].extend(m["items"] if m.get("type") == "batch" else [m])
        except (socket.timeout, TimeoutError):
            return out
        except (ConnectionError, ssl.SSLError, OSError):
            out["eof"] = True
            return out
        finally:
            self.sock.settimeout(tt.TIMEOUT)

    def until_reply(self, rid, wait=REACT):
        """Reads until the reply with id rid (messages on the way are kept in
        .skipped); returns it, or None when the connection closed first."""
        self.sock.settimeout(wait)
        try:
            return self.reply_to(rid)
        except (ConnectionError, ssl.SSLError, OSError):
            return None
        finally:
            self.sock.settimeout(tt.TIMEOUT)


def fields_by_op():
    """fields.def as {ENUM: [(name, type, required, min, max)]}."""
    text = open(os.path.join(tt.SOURCE_DIR, "protocol", "fields.def"), encoding="utf-8").read()
    out = {}
    for m in re.finditer(r'^TV_FIELD\(\s*(\w+),\s*"([^"]+)",\s*(\w+),\s*(\d),\s*(-?\d+),\s*(-?\d+)\)',
                         text, re.M):
        out.setdefault(m.group(1), []).append(
            (m.group(2), m.group(3), m.group(4) == "1", int(m.group(5)), int(m.group(6))))
    return out


def op_rows():
    """messages.def as a list of dicts (enum, wire, auth, roles, room, ...)."""
    text = open(os.path.join(tt.SOURCE_DIR, "protocol", "messages.def"), encoding="utf-8").read()
    rows = []
    for m in re.finditer(r'^TV_OP\(\s*(\w+),\s*"([^"]+)",\s*(\w+),\s*([\w |]+?),\s*(\w+),'
                         r'\s*(\d+),\s*(\d),\s*(\d)\)', text, re.M):
        roles = m.group(4).replace(" ", "")
        names = set()
        for part in roles.split("|"):
            if part == "TV_ROLE_ALL":
                names |= {"moderator", "participant", "observer"}
            elif part.startswith("TV_ROLE_"):
                names.add(part[len("TV_ROLE_"):].lower())
            else:
                raise AssertionError("messages.def: unknown role %r" % part)
        rows.append({"enum": m.group(1), "wire": m.group(2), "auth": m.group(3),
                     "roles": names, "max": int(m.group(6)), "mutates": m.group(7) == "1",
                     "room": m.group(8) == "1"})
    return rows


class NoRule(AssertionError):
    pass


def forbidden_code(row, st):
    """The error code the dispatcher must give op `row` from state `st`, or
    None when the op is allowed there. Derived from the columns of
    messages.def (PROTOCOL.md 3 and 4); raises NoRule for a row this table
    does not know how to judge, so a new kind of op cannot go untested."""
    auth, roles = row["auth"], row["roles"]
    if st["kind"] == "anon":
        if auth == "TV_AUTH_IDENT":
            return "not_authenticated"
        if auth == "TV_AUTH_JOIN":       # the room form: only with an identity
            return "not_authenticated"
        if auth in ("TV_AUTH_ANY", "TV_AUTH_ANON"):
            return None
        raise NoRule("no rule for %s (auth %s) from an anonymous connection" % (row["wire"], auth))
    if auth == "TV_AUTH_ANON":
        return "already_authenticated"
    if auth == "TV_AUTH_ANY":
        return None
    if auth == "TV_AUTH_JOIN":           # the room form: members and the org's moderators
        return None if st["member"] else "forbidden"
    if auth != "TV_AUTH_IDENT":
        raise NoRule("no rule for %s (auth %s)" % (row["wire"], auth))
    if row["room"]:
        if not st["subscribed"]:
            return "not_in_room"
        return None if st["role"] in roles else "forbidden"
    if roles == {"moderator", "participant", "observer"}:
        return None
    if roles == {"moderator"}:
        return None if st["account"] else "forbidden"
    raise NoRule("no rule for %s: roles %s without a room" % (row["wire"], sorted(roles)))


def request_args(row, fields, room):
    """The op's arguments, each required field of fields.def given a valid
    value (so that only the state decides the outcome); join gets its room
    form, which is the one whose use depends on the state."""
    args = {}
    for name, typ, required, lo, hi in fields.get(row["enum"], []):
        if not required and not (row["auth"] == "TV_AUTH_JOIN" and name == "room"):
            continue
        if name == "room":
            args[name] = room
        elif typ == "TV_T_STRING":
            args[name] = "B" * max(lo, 1)
        elif typ == "TV_T_INT":
            args[name] = lo
        elif typ == "TV_T_BOOL":
            args[name] = False
        elif typ == "TV_T_STRINGS":
            args[name] = ["B"] * lo
        else:
            raise NoRule("fields.def: unknown type %s of %s.%s" % (typ, row["wire"], name))
    return args


# --------------------------------------------------------------------------
# The case tables
# --------------------------------------------------------------------------

#: Invalid UTF-8 (RFC 3629, Unicode table 3-7): the message must be refused
#: with bad_utf8 and close 1007 (PROTOCOL.md 7.1, 7.2).
BAD_UTF8 = [
    ("lone continuation 80", b"\x80"), ("lone continuation BF", b"\xbf"),
    ("overlong C0 80 (NUL)", b"\xc0\x80"), ("overlong C1 BF", b"\xc1\xbf"),
    ("overlong E0 80 80", b"\xe0\x80\x80"), ("overlong E0 9F BF", b"\xe0\x9f\xbf"),
    ("overlong F0 80 80 80", b"\xf0\x80\x80\x80"), ("overlong F0 8F BF BF", b"\xf0\x8f\xbf\xbf"),
    ("surrogate ED A0 80", b"\xed\xa0\x80"), ("surrogate ED BF BF", b"\xed\xbf\xbf"),
    ("surrogate pair (CESU-8)", b"\xed\xa0\xbd\xed\xb8\x82"),
    ("above U+10FFFF F4 90", b"\xf4\x90\x80\x80"), ("F5 lead", b"\xf5\x80\x80\x80"),
    ("5-byte form", b"\xf8\x88\x80\x80\x80"), ("6-byte form", b"\xfc\x84\x80\x80\x80\x80"),
    ("FE", b"\xfe"), ("FF", b"\xff"),
    ("truncated 2-byte", b"\xc3"), ("truncated 3-byte", b"\xe2\x82"),
    ("truncated 4-byte", b"\xf0\x9f\x99"), ("bad second byte", b"\xc3\x28"),
    ("overlong slash C0 AF", b"\xc0\xaf"),
]

#: Valid sequences at the edges of each length class: split anywhere across
#: fragments they must be reassembled and accepted (PROTOCOL.md 1).
GOOD_UTF8 = ["\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufffd", "\uffff",
             "\U00010000", "\U0001f642", "\U0010ffff"]

#: Close codes a client may not send (RFC 6455 7.4.1-7.4.2): answered with 1002.
CLOSE_INVALID = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999]
#: Registered with IANA after RFC 6455 (service restart, try again later,
#: bad gateway); lws 4.1.6 treats them as reserved: 1002 (PROTOCOL.md 7.3).
CLOSE_LATER = [1012, 1013, 1014]
#: Close codes a client may send: echoed (RFC 6455 5.5.1).
CLOSE_VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
#: Codes >= 5000 are undefined in RFC 6455 and must be refused (1002); the
#: daemon checks them itself, as lws 4.1.6 would echo them.
CLOSE_UNDEFINED = [5000, 5001, 65535]

RSV = {"RSV1": 0x40, "RSV2": 0x20, "RSV3": 0x10, "RSV1+2": 0x60, "RSV1+3": 0x50,
       "RSV2+3": 0x30, "RSV1+2+3": 0x70}
RESERVED_OPCODES = [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF]

#: Hostile chat text: stored and returned verbatim, never interpreted.
HOSTILE_TEXT = [
    "'; DROP TABLE events; --", "Robert'); DROP TABLE students;--", "' OR '1'='1",
    "\" OR \"\"=\"", "%", "_", "%_%", "50% off_now", "\\", "\\\\", "\\'", "\\%\\_",
    "a\x00b", "\x00", "\x00" * 16, "NUL at end\x00", "$1 ? :name @p ?1",
    "/* comment */ SELECT 1;", "`backticks`", "line\r\nbreak\ttab", "\x01\x1f\x7f",
    "\u2028\u2029", "\ufeffBOM", "\U0010ffff\uffff\U0001f642", "é vs e\u0301",
    "<script>alert(1)</script>", "{\"op\":\"ping\"}", "\\u0000 literally",
]


class Conformance(tt.TavlaCase):
    """All cases share one daemon (started once for the class) so that the
    health probe sees the effect of everything that went before."""

    cases = 0
    worst_health = 0.0
    d = None

    @classmethod
    def setUpClass(cls):
        # A high rate limit: this file is about hostile frames, not floods
        # (test_50 covers the limiter), and the health probe pings a lot.
        cls.d = tt.Daemon({"rate": 1000000, "rate_burst": 1000000})
        cls.d.start()
        tt.create_moderator(cls.d, "Region Norrfjäll", "mod", "hemligt lösenord 1")
        tt.create_moderator(cls.d, "Annan kommun", "other", "hemligt lösenord 2")
        cls.health = Raw(cls.d)
        cls.health.read_hello()
        cls.health_n = 0
        mod = Raw(cls.d)
        mod.read_hello()
        r = mod.request({"op": "login", "id": "l", "user": "mod", "password": "hemligt lösenord 1"})
        assert r["ok"], r
        r = mod.request({"op": "room.create", "id": "c", "kind": "workshop", "title": "Konformitet"})
        assert r["ok"], r
        cls.room = r["result"]["room"]
        cls.R = cls.room["id"]
        mod.close()

    @classmethod
    def tearDownClass(cls):
        cls.health.close()
        try:
            cls.d.stop()
            integrity = cls.d.db_integrity()
            if integrity != "ok":
                cls.d.keep = True
                raise AssertionError("integrity_check after the abuse: %r" % integrity)
        finally:
            cls.d.cleanup()
        sys.stderr.write("\ntest_55: %d cases, slowest health ping %.1f ms\n"
                         % (Conformance.cases, Conformance.worst_health * 1000))

    def setUp(self):
        tt._current_daemons.append(self.d)   # stderr tail on failure

    # --- helpers ---

    def probe_health(self, after):
        """The long-lived connection's ping must be answered in time."""
        cls = type(self)
        cls.health_n += 1
        rid = "h%d" % cls.health_n
        t0 = time.monotonic()
        cls.health.send_text(tt.dumps({"op": "ping", "id": rid}))
        r = cls.health.until_reply(rid, wait=REACT)
        dt = time.monotonic() - t0
        self.assertIsNotNone(r, "health connection lost after %s" % after)
        self.assertTrue(r["ok"], r)
        Conformance.worst_health = max(Conformance.worst_health, dt)
        self.assertLess(dt, HEALTH_BOUND, "health ping took %.0f ms after %s" % (dt * 1000, after))
        self.assertTrue(self.d.running, "tavlad died after %s" % after)

    def fresh(self):
        w = Raw(self.d)
        self.assertEqual(w.status, 101)
        w.read_hello()
        return w

    def run_case(self, name, send, check, until=None, wait=REACT):
        """One case on a fresh connection: send(w) sends the frames,
        check(outcome, w) asserts the reaction, until(outcome) (optional)
        says when the expected reaction is complete without waiting for a
        close (else the case waits up to `wait` s for it); then the health
        probe. A send that fails because the server
        already closed is not an error: the outcome tells what happened."""
        with self.subTest(case=name):
            Conformance.cases += 1
            w = self.fresh()
            try:
                try:
                    send(w)
                except (ConnectionError, ssl.SSLError, OSError):
                    pass
                check(w.outcome(wait, until), w)
            finally:
                w.close()
            self.probe_health(name)

    def run_open(self, name, send, rid, ok=True, code=None):
        """run_case for a request answered on a connection that stays open."""
        self.run_case(name, send, self.expect_reply_open(rid, ok, code),
                      until=lambda o: any(m.get("type") == "reply" for m in o["msgs"])
                      or o["close"] is not None)

    def run_pong(self, name, send, payload):
        """run_case for a ping that must be answered with its payload."""
        def check(o, w):
            self.assertEqual(o["pongs"], [payload], o)
            self.assertIsNone(o["close"], o)
            self.assertFalse(o["eof"], o)
        self.run_case(name, send, check, until=lambda o: o["pongs"] or o["close"])

    def expect_close(self, code, reply=None):
        """Checker: a close frame with `code`; with `reply` an error reply
        with that code (id null) came before it, else no reply at all."""
        def check(o, w):
            self.assertIsNotNone(o["close"], "expected close %d, got %r" % (code, o))
            self.assertEqual(o["close"][0], code, o)
            if reply is None:
                self.assertEqual(o["msgs"], [], o)
            else:
                self.assertEqual(len(o["msgs"]), 1, o)
                self.assertError(o["msgs"][0], reply, None)
        return check

    def expect_drop(self, deviation):
        """Checker for an lws deviation (PROTOCOL.md 7.3): the TCP
        connection ends without a close frame (RFC 6455 7.1.7 says the
        server SHOULD send 1002 first)."""
        def check(o, w):
            self.assertIsNone(o["close"], "%s is fixed? update the case and PROTOCOL.md 7.3: %r"
                              % (deviation, o))
            self.assertTrue(o["eof"], "%s: expected the connection to end: %r" % (deviation, o))
            self.assertEqual(o["msgs"], [], o)
        return check

    def expect_reply_open(self, rid, ok=True, code=None):
        """Checker: the request was answered and the connection stays open."""
        def check(o, w):
            self.assertIsNone(o["close"], o)
            self.assertFalse(o["eof"], o)
            r = [m for m in o["msgs"] if m.get("type") == "reply"]
            self.assertEqual(len(r), 1, o)
            if ok:
                self.assertTrue(r[0]["ok"], r[0])
                self.assertEqual(r[0]["id"], rid)
            else:
                self.assertError(r[0], code, rid)
            self.assertTrue(w.request({"op": "ping", "id": "after"})["ok"])
        return check

    def login(self, w, user="mod", password="hemligt lösenord 1"):
        r = w.request({"op": "login", "id": "login", "user": user, "password": password})
        self.assertTrue(r["ok"], r)

    # --- UTF-8 ---

    def test_utf8_invalid(self):
        for label, bad in BAD_UTF8:
            msg = b'{"op":"ping","id":"u' + bad + b'"}'
            cut = msg.index(bad) + 1          # inside the bad sequence (or just after it)
            self.run_case("bad utf8 %s, one frame" % label,
                          lambda w: w.frame(FIN | OP_TEXT, msg),
                          self.expect_close(1007, "bad_utf8"))
            self.run_case("bad utf8 %s, split across two fragments" % label,
                          lambda w: (w.frame(OP_TEXT, msg[:cut]), w.frame(FIN | OP_CONT, msg[cut:])),
                          self.expect_close(1007, "bad_utf8"))
            self.run_case("bad utf8 %s, one byte per fragment, a ping between" % label,
                          lambda w: self.bytewise(w, msg, msg.index(bad), len(bad)),
                          self.expect_close(1007, "bad_utf8"))
        # Outside any string, and in a chat text of an identified client.
        self.run_case("bad utf8 between tokens",
                      lambda w: w.frame(FIN | OP_TEXT, b'{"op":"ping",\xff"id":"x"}'),
                      self.expect_close(1007, "bad_utf8"))
        self.run_case("bad utf8 in chat text of a member",
                      lambda w: (self.login(w), w.request({"op": "join", "id": "j", "room": self.R}),
                                 w.frame(FIN | OP_TEXT, b'{"op":"chat.send","id":"c","room":"'
                                         + self.R.encode() + b'","text":"\xed\xa0\x80"}')),
                      self.expect_close_after_skip(1007, "bad_utf8"))

    def expect_close_after_skip(self, code, reply):
        """As expect_close, ignoring events and presence (the member's own
        join is broadcast to it)."""
        def check(o, w):
            self.assertIsNotNone(o["close"], o)
            self.assertEqual(o["close"][0], code, o)
            r = [m for m in o["msgs"] if m.get("type") == "reply"]
            self.assertEqual(len(r), 1, o)
            self.assertError(r[0], reply, None)
        return check

    @staticmethod
    def bytewise(w, msg, start, n):
        """Sends msg with each byte of msg[start:start+n] in its own
        continuation fragment, a ping interleaved after the first."""
        w.frame(OP_TEXT, msg[:start])
        for i in range(n):
            w.frame(OP_CONT, msg[start + i:start + i + 1])
            if i == 0:
                w.frame(FIN | OP_PING, b"mid")
        w.frame(FIN | OP_CONT, msg[start + n:])

    def test_utf8_valid_split(self):
        w = self.fresh()
        try:
            for ch in GOOD_UTF8:
                enc = ch.encode("utf-8")
                msg = b'{"op":"ping","id":"' + enc + b'"}'
                start = msg.index(enc)
                for cut in range(1, len(enc)):
                    name = "valid U+%04X split after byte %d" % (ord(ch), cut)
                    with self.subTest(case=name):
                        Conformance.cases += 1
                        w.frame(OP_TEXT, msg[:start + cut])
                        w.frame(FIN | OP_CONT, msg[start + cut:])
                        r = w.until_reply(ch)
                        self.assertIsNotNone(r, name)
                        self.assertTrue(r["ok"], r)
                        self.probe_health(name)
        finally:
            w.close()

    # --- frame-level violations ---

    def test_reserved_bits(self):
        for label, bits in RSV.items():
            for what, b0, payload in [("text", FIN | OP_TEXT, PING),
                                      ("binary", FIN | OP_BINARY, PING),
                                      ("ping", FIN | OP_PING, b"x"),
                                      ("continuation", FIN | OP_CONT, b"}")]:
                def send(w, b0=b0, payload=payload, bits=bits, what=what):
                    if what == "continuation":
                        w.frame(OP_TEXT, PING[:-1])
                    w.frame(b0 | bits, payload)
                self.run_case("%s set on %s" % (label, what), send, self.expect_close(1002))

    def test_reserved_opcodes(self):
        for op in RESERVED_OPCODES:
            self.run_case("opcode 0x%X" % op, lambda w: w.frame(FIN | op, b"abc"),
                          self.expect_close(1002))
            self.run_case("opcode 0x%X without FIN" % op, lambda w: w.frame(op, b"abc"),
                          self.expect_close(1002))
            self.run_case("opcode 0x%X inside a fragmented message" % op,
                          lambda w: (w.frame(OP_TEXT, PING[:5]), w.frame(FIN | op, b"")),
                          self.expect_close(1002))

    def test_control_frames(self):
        # Oversized control frames (RFC 6455 5.5: at most 125 bytes). lws
        # drops the connection without a close frame: deviation D3.
        for op, label in [(OP_PING, "ping"), (OP_PONG, "pong"), (OP_CLOSE, "close")]:
            for n in (126, 1000, 65535, 65536):
                payload = (b"\x03\xe8" if op == OP_CLOSE else b"") + b"x" * (n - (2 if op == OP_CLOSE else 0))
                self.run_case("%s of %d bytes" % (label, n), lambda w: w.frame(FIN | op, payload),
                              self.expect_drop("D3"))
        # Fragmented control frames: 1002.
        for op, label, payload in [(OP_PING, "ping", b"x"), (OP_PONG, "pong", b"x"),
                                   (OP_CLOSE, "close", b"\x03\xe8")]:
            self.run_case("%s without FIN" % label, lambda w: w.frame(op, payload),
                          self.expect_close(1002))
            self.run_case("%s without FIN inside a message" % label,
                          lambda w: (w.frame(OP_TEXT, PING[:4]), w.frame(op, payload)),
                          self.expect_close(1002))
        # Control frames of legal size: a ping of 125 bytes is answered with
        # the same payload, an unsolicited pong is ignored, and a ping
        # between fragments does not disturb the message.
        for n in (0, 1, 125):
            self.run_pong("ping of %d bytes" % n, lambda w: w.frame(FIN | OP_PING, b"p" * n),
                          b"p" * n)
        self.run_open("unsolicited pong then a request",
                      lambda w: (w.frame(FIN | OP_PONG, b"?"), w.frame(FIN | OP_TEXT, PING)), "p")
        self.run_open("ping between fragments",
                      lambda w: (w.frame(OP_TEXT, PING[:9]), w.frame(FIN | OP_PING, b"m"),
                                 w.frame(FIN | OP_CONT, PING[9:])), "p")

    def test_fragment_sequences(self):
        cases = [
            ("continuation without start, FIN", lambda w: w.frame(FIN | OP_CONT, PING)),
            ("continuation without start, no FIN", lambda w: w.frame(OP_CONT, PING)),
            ("continuation after a complete message",
             lambda w: (w.frame(FIN | OP_TEXT, PING), w.frame(FIN | OP_CONT, b"x"))),
            ("empty continuation without start", lambda w: w.frame(FIN | OP_CONT, b"")),
            ("text before the fragmented text finished",
             lambda w: (w.frame(OP_TEXT, PING[:5]), w.frame(FIN | OP_TEXT, PING))),
            ("binary before the fragmented text finished",
             lambda w: (w.frame(OP_TEXT, PING[:5]), w.frame(FIN | OP_BINARY, PING))),
            ("text before the fragmented binary finished",
             lambda w: (w.frame(OP_BINARY, PING[:5]), w.frame(FIN | OP_TEXT, PING))),
            ("new text after two fragments",
             lambda w: (w.frame(OP_TEXT, PING[:3]), w.frame(OP_CONT, PING[3:6]),
                        w.frame(OP_TEXT, PING))),
        ]
        for name, send in cases:
            def check(o, w, name=name):
                self.assertIsNotNone(o["close"], o)
                self.assertEqual(o["close"][0], 1002, o)
                # A complete message before the violation is answered.
                for m in o["msgs"]:
                    self.assertTrue(m.get("ok"), m)
            self.run_case(name, send, check)

    def test_claimed_lengths(self):
        # 2^63-1 claimed, a little sent: nothing is allocated for the claim;
        # the daemon either closes with 1009 at once or waits for data, and
        # stays healthy meanwhile (the health probe runs while it waits).
        head = b'{"op":"ping","id":"'
        for claim in (2 ** 63 - 1, 2 ** 32, MAX_MESSAGE + 1):
            def check(o, w, claim=claim):
                if o["close"] is not None:
                    self.assertEqual(o["close"][0], 1009, o)
                else:
                    self.assertFalse(o["eof"], o)
                    self.probe_health("a claim of %d bytes" % claim)
                    # Once more than max_message arrives: 1009. (No byte
                    # beyond the claimed frame is sent: what follows a
                    # frame the daemon refused is not part of this case.)
                    rest = min(claim - len(head), 90000)
                    try:
                        for i in range(0, rest, 30000):
                            w.sock.sendall(b"a" * min(30000, rest - i))
                    except OSError:
                        pass
                    o2 = w.outcome()
                    self.assertIsNotNone(o2["close"], o2)
                    self.assertEqual(o2["close"][0], 1009, o2)
            self.run_case("text frame claiming %d bytes" % claim,
                          lambda w: w.frame(FIN | OP_TEXT, head, length=claim),
                          check, wait=QUIET)
        # The most significant bit of a 64-bit length must be 0 (RFC 6455
        # 5.2): lws drops the connection without a close frame (D3).
        self.run_case("length with the top bit set",
                      lambda w: w.sock.sendall(struct.pack("!BBQ", FIN | OP_TEXT, 0x80 | 127, 2 ** 64 - 1)
                                               + os.urandom(4) + b"abc"),
                      self.expect_drop("D3"))

    def test_unmasked(self):
        # RFC 6455 5.1: a server MUST close the connection on an unmasked
        # client frame. lws 4.1.6 accepts them: deviation D1.
        self.run_open("unmasked text frame (D1: accepted)",
                      lambda w: w.frame(FIN | OP_TEXT, PING, mask=False), "p")
        self.run_open("unmasked fragments (D1: accepted)",
                      lambda w: (w.frame(OP_TEXT, PING[:6], mask=False),
                                 w.frame(FIN | OP_CONT, PING[6:], mask=False)), "p")
        self.run_open("masked start, unmasked continuation (D1: accepted)",
                      lambda w: (w.frame(OP_TEXT, PING[:6]),
                                 w.frame(FIN | OP_CONT, PING[6:], mask=False)), "p")
        self.run_pong("unmasked ping (D1: answered)",
                      lambda w: w.frame(FIN | OP_PING, b"um", mask=False), b"um")

    def test_binary(self):
        # PROTOCOL.md 7.1: binary_frame, and the connection stays open.
        for name, send in [("binary frame", lambda w: w.frame(FIN | OP_BINARY, PING)),
                           ("empty binary frame", lambda w: w.frame(FIN | OP_BINARY, b"")),
                           ("fragmented binary", lambda w: (w.frame(OP_BINARY, PING[:5]),
                                                            w.frame(FIN | OP_CONT, PING[5:]))),
                           ("binary of invalid UTF-8", lambda w: w.frame(FIN | OP_BINARY, b"\xff\xfe"))]:
            self.run_open(name, send, None, ok=False, code="binary_frame")

    # --- message size ---

    def chat_frame(self, size, rid, text="exakt"):
        base = tt.dumps({"op": "chat.send", "id": rid, "room": self.R, "text": text,
                         "pad": ""})
        frame = base.replace('"pad":""', '"pad":"%s"' % ("x" * (size - len(base.encode()))))
        self.assertEqual(len(frame.encode()), size)
        return frame.encode()

    def test_max_message(self):
        def member(w):
            self.login(w)
            self.assertTrue(w.request({"op": "join", "id": "j", "room": self.R})["ok"])

        def accepted(rid):
            def check(o, w):
                self.assertIsNone(o["close"], o)
                r = [m for m in o["msgs"] if m.get("type") == "reply" and m.get("id") == rid]
                self.assertEqual(len(r), 1, o)
                self.assertTrue(r[0]["ok"], r[0])
                self.assertIsInstance(r[0]["result"]["seq"], int)
            return check

        def replied(rid):
            return lambda o: any(m.get("id") == rid for m in o["msgs"]) or o["close"]
        exact = self.chat_frame(MAX_MESSAGE, "max-one")
        self.run_case("exactly max_message bytes in one frame",
                      lambda w: (member(w), w.frame(FIN | OP_TEXT, exact)),
                      accepted("max-one"), until=replied("max-one"))
        exact2 = self.chat_frame(MAX_MESSAGE, "max-three", text="exakt igen")
        self.run_case("exactly max_message bytes in three fragments",
                      lambda w: (member(w), w.frame(OP_TEXT, exact2[:1000]),
                                 w.frame(OP_CONT, exact2[1000:40000]),
                                 w.frame(FIN | OP_CONT, exact2[40000:])),
                      accepted("max-three"), until=replied("max-three"))
        over = self.chat_frame(MAX_MESSAGE + 1, "over")

        def too_big(o, w):
            self.assertIsNotNone(o["close"], o)
            self.assertEqual(o["close"][0], 1009, o)
            for m in o["msgs"]:
                if m.get("type") == "reply":
                    self.assertError(m, "too_large")
        self.run_case("max_message + 1 bytes in one frame",
                      lambda w: (member(w), w.frame(FIN | OP_TEXT, over)), too_big)
        self.run_case("max_message + 1 bytes in fragments",
                      lambda w: (member(w), w.frame(OP_TEXT, over[:30000]),
                                 w.frame(OP_CONT, over[30000:60000]),
                                 w.frame(FIN | OP_CONT, over[60000:])), too_big)
        self.run_case("max_message + 1 bytes, anonymous",
                      lambda w: w.frame(FIN | OP_TEXT, over), too_big)
        # Bytes after the refused message are not read: they cannot turn
        # the 1009 into a protocol-error close.
        self.run_case("max_message + 1 bytes, then garbage",
                      lambda w: (w.frame(FIN | OP_TEXT, over), w.sock.sendall(b"\xff" * 100)),
                      too_big)

    # --- close frames ---

    def test_close_frames(self):
        for code in CLOSE_INVALID + CLOSE_LATER:
            self.run_case("close code %d" % code,
                          lambda w: w.frame(FIN | OP_CLOSE, struct.pack("!H", code) + b"hej"),
                          self.expect_close(1002))
        for code in CLOSE_VALID:
            def echo(o, w, code=code):
                self.assertIsNotNone(o["close"], o)
                self.assertEqual(o["close"][0], code, o)
            self.run_case("close code %d (echoed)" % code,
                          lambda w: w.frame(FIN | OP_CLOSE, struct.pack("!H", code) + "hejdå".encode()),
                          echo)
        # Codes of 5000 and more are undefined: failed with 1002 (the daemon
        # checks them; lws 4.1.6 alone would echo them).
        for code in CLOSE_UNDEFINED:
            self.run_case("close code %d" % code,
                          lambda w: w.frame(FIN | OP_CLOSE, struct.pack("!H", code)),
                          self.expect_close(1002))
        # A reason that is not UTF-8: RFC 6455 8.1 requires failing with 1007.
        for label, bad in BAD_UTF8:
            self.run_case("close reason with %s" % label,
                          lambda w: w.frame(FIN | OP_CLOSE, struct.pack("!H", 1000) + b"bye" + bad),
                          self.expect_close(1007))
        # An empty close is answered with an empty one; a 1-byte body is
        # malformed (RFC 6455 5.5.1): 1002.
        def empty(o, w):
            self.assertIsNotNone(o["close"], o)
            self.assertEqual(o["close"], (None, b""), o)
        self.run_case("empty close", lambda w: w.frame(FIN | OP_CLOSE, b""), empty)
        self.run_case("close with a 1-byte body",
                      lambda w: w.frame(FIN | OP_CLOSE, b"\x03"), self.expect_close(1002))
        # A close in the middle of a fragmented message is legal (control
        # frames may interleave) and is echoed.
        self.run_case("close between fragments",
                      lambda w: (w.frame(OP_TEXT, PING[:4]),
                                 w.frame(FIN | OP_CLOSE, struct.pack("!H", 1000))),
                      lambda o, w: self.assertEqual((o["close"] or (None,))[0], 1000, o))

    # --- JSON shapes at the edges ---

    def test_json_extremes(self):
        deep_a = "[" * 10000 + "]" * 10000
        deep_o = '{"a":' * 10000 + "0" + "}" * 10000
        bad = [
            ("10,000 nested arrays in an unknown field",
             '{"op":"chat.send","id":"d1","room":"%s","text":"t","x":%s}' % (self.R, deep_a)),
            ("10,000 nested objects in an unknown field",
             '{"op":"chat.send","id":"d2","room":"%s","text":"t","x":%s}' % (self.R, deep_o)),
            ("10,000 nested arrays as the message", deep_a),
            ("10,000 nested arrays as the id", '{"op":"ping","id":%s}' % deep_a),
            ("duplicate key deep inside",
             '{"op":"chat.send","id":"d3","room":"%s","text":"t","x":[{"k":1,"k":2}]}' % self.R),
            ("huge number", '{"op":"ping","id":"n","x":1%s}' % ("0" * 400)),
        ]
        w = self.fresh()
        try:
            self.login(w)
            self.assertTrue(w.request({"op": "join", "id": "j", "room": self.R})["ok"])
            for name, text in bad:
                with self.subTest(case=name):
                    Conformance.cases += 1
                    w.send_text(text)
                    r = w.until_reply(None)
                    self.assertIsNotNone(r, name)
                    self.assertError(r, "bad_json", None)
                    self.probe_health(name)
            big_ok = [
                ("1,000 nested arrays (within jansson's depth limit)",
                 {"x": "[" * 1000 + "]" * 1000}),
                ("an array of 20,000 numbers", {"x": "[" + ",".join(["0"] * 20000) + "]"}),
                ("a 60,000-byte string", {"x": '"' + "s" * 60000 + '"'}),
                ("an object of 5,000 keys",
                 {"x": "{" + ",".join('"k%d":%d' % (i, i) for i in range(5000)) + "}"}),
                ("4,000 characters written as \\u escapes", {"text": '"' + "\\u00e5" * 4000 + '"'}),
                ("4,000 astral characters as surrogate pair escapes",
                 {"text": '"' + "\\ud83d\\ude42" * 4000 + '"'}),
            ]
            for i, (name, parts) in enumerate(big_ok):
                with self.subTest(case=name):
                    Conformance.cases += 1
                    rid = "big%d" % i
                    text = parts.get("text", '"ok"')
                    frame = '{"op":"chat.send","id":"%s","room":"%s","text":%s%s}' % (
                        rid, self.R, text, ',"x":%s' % parts["x"] if "x" in parts else "")
                    self.assertLessEqual(len(frame.encode()), MAX_MESSAGE, name)
                    w.send_text(frame)
                    r = w.until_reply(rid)
                    self.assertIsNotNone(r, name)
                    self.assertTrue(r["ok"], r)
                    self.probe_health(name)
        finally:
            w.close()

    # --- hostile chat text round-trips ---

    def test_hostile_text_roundtrip(self):
        w = self.fresh()
        try:
            self.login(w)
            r = w.request({"op": "room.create", "id": "rt", "kind": "forum", "title": "'; --"})
            room = r["result"]["room"]["id"]
            self.assertTrue(w.request({"op": "join", "id": "j", "room": room})["ok"])
            sent = {}
            for i, text in enumerate(HOSTILE_TEXT):
                with self.subTest(case="chat text %r" % text):
                    Conformance.cases += 1
                    r = w.request({"op": "chat.send", "id": "t%d" % i, "room": room, "text": text})
                    self.assertTrue(r["ok"], r)
                    sent[r["result"]["seq"]] = text
                    self.probe_health("chat text %r" % text)
            # The store gives them back verbatim through history...
            r = w.request({"op": "history", "id": "h", "room": room, "limit": 1000})
            self.assertTrue(r["ok"], r)
            stored = {e["seq"]: e["data"]["text"] for e in r["result"]["events"]
                      if e["kind"] == "chat.message"}
            self.assertEqual(stored, sent)
            # ...and so did the live events (those that came before the
            # history reply; the order of events and replies is not fixed).
            live = {m["seq"]: m["data"]["text"] for m in w.skipped
                    if m.get("type") == "event" and m.get("kind") == "chat.message"}
            self.assertTrue(live, "no live chat event arrived")
            for seq, text in live.items():
                self.assertEqual(text, sent[seq])
        finally:
            w.close()
        # And in another room nothing happened: the store was not confused.
        w = self.fresh()
        try:
            self.login(w)
            r = w.request({"op": "room.list", "id": "rl"})
            titles = sorted(x["title"] for x in r["result"]["rooms"])
            self.assertEqual(titles, sorted(["Konformitet", "'; --"]))
        finally:
            w.close()

    # --- every op from every state that may not send it ---

    def test_forbidden_ops(self):
        rows, fields = op_rows(), fields_by_op()
        self.assertGreaterEqual(len(rows), 9, "messages.def was not parsed")
        # The states: each a connection in that state.
        code = self.room["code"]
        anon = self.fresh()
        part = self.fresh()
        r = part.request({"op": "join", "id": "pj", "code": code, "name": "Deltagare"})
        self.assertTrue(r["ok"], r)
        token = r["result"]["token"]
        obs = self.fresh()
        self.assertTrue(obs.request({"op": "join", "id": "oj", "code": code, "name": "Åskådare",
                                     "observer": True})["ok"])
        mod = self.fresh()
        self.login(mod)
        self.assertTrue(mod.request({"op": "join", "id": "mj", "room": self.R})["ok"])
        other = self.fresh()
        self.login(other, "other", "hemligt lösenord 2")
        resumed = self.fresh()
        self.assertTrue(resumed.request({"op": "resume", "id": "rs", "token": token})["ok"])
        states = [
            ("anonymous", anon, {"kind": "anon"}),
            ("participant", part, {"kind": "ident", "member": True, "subscribed": True,
                                   "role": "participant", "account": False}),
            ("observer", obs, {"kind": "ident", "member": True, "subscribed": True,
                               "role": "observer", "account": False}),
            ("moderator", mod, {"kind": "ident", "member": True, "subscribed": True,
                                "role": "moderator", "account": True}),
            ("moderator of another organisation", other,
             {"kind": "ident", "member": False, "subscribed": False, "role": None,
              "account": True}),
            ("participant resumed, room not joined", resumed,
             {"kind": "ident", "member": True, "subscribed": False, "role": "participant",
              "account": False}),
        ]
        n = 0
        try:
            for row in rows:
                for label, conn, st in states:
                    want = forbidden_code(row, st)   # NoRule fails the test
                    if want is None:
                        continue
                    n += 1
                    name = "%s from %s" % (row["wire"], label)
                    with self.subTest(case=name):
                        Conformance.cases += 1
                        rid = "f%d" % n
                        msg = {"op": row["wire"], "id": rid}
                        msg.update(request_args(row, fields, self.R))
                        r = conn.request(msg)
                        self.assertError(r, want, rid)
                        self.probe_health(name)
            self.assertGreaterEqual(n, 20, "too few forbidden combinations: table not parsed?")
            # Nothing the refused requests asked for happened: the room has
            # its creation and the members that joined above.
            r = mod.request({"op": "history", "id": "hist", "room": self.R, "limit": 1000})
            kinds = [e["kind"] for e in r["result"]["events"]]
            self.assertNotIn("room.created", kinds[1:])
            for label, conn, st in states:
                self.assertTrue(conn.request({"op": "ping", "id": "alive"})["ok"], label)
        finally:
            for _, conn, _ in states:
                conn.close()

    def test_zz_final_health(self):
        """Runs last (alphabetical order): a new client is served normally
        after everything above."""
        w = self.fresh()
        try:
            self.login(w)
            r = w.request({"op": "join", "id": "j", "room": self.R})
            self.assertTrue(r["ok"], r)
            r = w.request({"op": "chat.send", "id": "final", "room": self.R, "text": "still here"})
            self.assertTrue(r["ok"], r)
        finally:
            w.close()
        self.probe_health("the final request")
        self.assertEqual(tt.sanitizer_lines(self.d.stderr_text()), [])


if __name__ == "__main__":
    tt.main()
