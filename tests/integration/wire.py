"""wire: a small asyncio WebSocket client that keeps the server's bytes.

Responsible for: the client side of RFC 6455 over TLS on asyncio streams
(handshake, masked text frames, pings answered), for tests that need many
cheap connections and must see exactly which bytes arrived: every message
is returned with its raw text, and the items of a `batch` (PROTOCOL.md 2.5)
with the exact bytes of each item inside the batch frame. A byte budget
lets a test drop the connection at any byte of the stream, in the middle
of a frame or of a TLS record. Not responsible for: tavla.v1 semantics
(the tests decide), reconnecting, or anything the independent
python3-websockets client (tavlatest.Client) already covers.

Invariants:
 1. Nothing waits without a bound: every read has a deadline.
 2. A frame is returned only when all of its bytes arrived within the
    budget; a frame cut by the budget (or by the peer) is never returned.
"""

import asyncio
import base64
import hashlib
import json
import os
import socket
import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_BATCH_HEAD = '{"type":"batch","items":['
_decoder = json.JSONDecoder()


class Closed(Exception):
    """The server closed (code, reason), the transport broke, or the byte
    budget ran out (code None, reason 'budget')."""

    def __init__(self, code, reason):
        super().__init__("closed: %s %r" % (code, reason))
        self.code = code
        self.reason = reason


def split_message(text):
    """Returns [(raw_text, obj)] for one server message: the message itself,
    or each item of a batch with the exact bytes it had inside the frame."""
    if not text.startswith(_BATCH_HEAD):
        return [(text, json.loads(text))]
    out, i = [], len(_BATCH_HEAD)
    while text[i] != "]":
        obj, end = _decoder.raw_decode(text, i)
        out.append((text[i:end], obj))
        i = end
        if text[i] == ",":
            i += 1
    if text[i:] != "]}":
        raise AssertionError("malformed batch tail: %r" % text[i:i + 40])
    return out


class WireConn:
    """One connection. `await WireConn.open(port, ssl_ctx)`; then send(),
    messages() and abort()/close(). `budget` (bytes of the decrypted stream
    after the HTTP handshake, None: unlimited) makes the connection behave
    as if the network died after that many bytes."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.budget = None
        self.consumed = 0

    @classmethod
    async def open(cls, port, ssl_ctx, origin=None, timeout=10.0, rcvbuf=None):
        """Connects and upgrades. rcvbuf: a small socket receive buffer (no
        autotuning), for a client that is to stop reading."""
        sock = None
        if rcvbuf:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(
                sock, ("127.0.0.1", port)), timeout)
            conn = asyncio.open_connection(sock=sock, ssl=ssl_ctx, server_hostname="127.0.0.1",
                                           limit=rcvbuf)
        else:
            conn = asyncio.open_connection("127.0.0.1", port, ssl=ssl_ctx,
                                           server_hostname="127.0.0.1")
        reader, writer = await asyncio.wait_for(conn, timeout)
        c = cls(reader, writer)
        key = base64.b64encode(os.urandom(16)).decode()
        hdr = ["GET /ws HTTP/1.1", "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
               "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
               "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: tavla.v1"]
        if origin:
            hdr.append("Origin: " + origin)
        writer.write(("\r\n".join(hdr) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            writer.transport.abort()
            raise Closed(None, "HTTP %d" % status)
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        fields = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
        if fields.get("sec-websocket-accept") != want.decode():
            raise AssertionError("bad Sec-WebSocket-Accept: %r" % fields)
        return c

    # --- sending ---

    def send_frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        key = os.urandom(4)
        # XOR with the repeated key, fast: one big-int operation.
        k = (key * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big") \
            if n else b""
        self.writer.write(head + key + masked)

    def send(self, obj):
        """Sends a request (dict or str) as one text frame."""
        text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False,
                                                           separators=(",", ":"))
        self.send_frame(OP_TEXT, text.encode("utf-8"))

    # --- receiving ---

    async def _fill(self, n, deadline):
        loop = asyncio.get_running_loop()
        while len(self.buf) < n:
            if self.budget is not None and self.consumed >= self.budget:
                raise Closed(None, "budget")
            left = deadline - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError("no data from the server")
            want = 65536
            if self.budget is not None:
                want = min(want, self.budget - self.consumed)
            try:
                chunk = await asyncio.wait_for(self.reader.read(want), left)
            except (ConnectionError, OSError) as e:
                raise Closed(None, "transport: %s" % e)
            if not chunk:
                raise Closed(None, "eof")
            self.consumed += len(chunk)
            self.buf += chunk

    async def frame(self, timeout=10.0):
        """Returns (opcode, payload) of the next whole frame."""
        deadline = asyncio.get_running_loop().time() + timeout
        await self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            await self._fill(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            await self._fill(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        await self._fill(off + n, deadline)
        payload = bytes(self.buf[off:off + n])
        del self.buf[:off + n]
        if not b0 & 0x80:
            raise AssertionError("the server fragmented a message")
        return b0 & 0x0F, payload

    async def messages(self, timeout=10.0):
        """Returns the items of the next text message, [(raw_text, obj)].
        Answers pings; raises Closed on a close frame."""
        while True:
            op, payload = await self.frame(timeout)
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(code, payload[2:].decode("utf-8", "replace"))
            if op != OP_TEXT:
                raise AssertionError("unexpected opcode %d" % op)
            return split_message(payload.decode("utf-8"))

    # --- closing ---

    def abort(self):
        """Drops the TCP connection without a close frame."""
        self.writer.transport.abort()

    async def close(self):
        """Sends close 1000 and drops the connection."""
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", 1000))
            await asyncio.wait_for(self.writer.drain(), 2)
        except Exception:
            pass
        self.abort()
