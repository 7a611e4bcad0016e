"""natscluster: the harness of tavla's cluster-mode tests.

Responsible for: starting N nats-server processes as one JetStream cluster
on 127.0.0.1 (ephemeral client, route and monitoring ports, a generated
config and a JetStream store per server, all in one temporary directory),
waiting until JetStream has a meta leader, killing (-9) and restarting one
server, reading a stream's state straight from NATS (a small blocking NATS
client of its own, so a test can check the stream independently of
tavlad), and starting M tavlad nodes with the cluster_* settings, each with
its own data directory and port. Not responsible for: what is right; the
assertions live in the test files, like tavlatest's.

It follows tavlatest.py's conventions and builds on it: a tavlad node is a
tavlatest.Daemon with cluster settings in its config, and every nats-server
is registered with tavlatest's daemon lists, so the file watchdog
(TV_TEST_TIMEOUT) kills it, a failing test prints its log tail and keeps its
directory, and tavlatest.main() kills whatever still runs on exit. A
nats-server also dies with the test process (PR_SET_PDEATHSIG), so a test
killed from outside leaves no server behind. The environment may name the
server binary:

    NATS_SERVER    path of nats-server (default: the one on PATH)

Lifecycle of a server: NatsServer() writes its config → start() (process
runs, client port accepts) → kill9() / stop() → start() again on the same
ports and store (restart()) → cleanup() (stopped, directory removed unless
kept). NatsCluster.start() starts all and waits for a meta leader that every
server agrees on.

Invariants:
 1. Every wait is bounded in time (each raises AssertionError naming what
    did not happen, with the servers' log tails).
 2. A server or node started through ClusterCase is stopped when its test
    ends, nodes before servers (cleanups run last-in first-out), so a
    node's clean stop is checked while NATS still runs.
 3. Ports and directories are fresh per cluster; a restarted server gets
    back the same ports and JetStream store, as a rebooted machine would.
"""

import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402

NATS_SERVER = os.environ.get("NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"

#: Seconds a cluster may take to elect its JetStream meta leader.
READY_TIMEOUT = 20.0


def _die_with_parent():
    """preexec_fn of every nats-server: SIGKILL it when the test process
    (the thread that started it) dies, whatever kills the test."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)       # PR_SET_PDEATHSIG
    except OSError:
        pass


def _port_open(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# nats-server
# --------------------------------------------------------------------------

class NatsServer:
    """One nats-server process with JetStream on 127.0.0.1.

    Attributes: name (server_name, "n1"...), port (clients), cluster_port
    (routes), monitor_port (HTTP monitoring: /jsz, /healthz, /varz),
    url ("nats://127.0.0.1:PORT"), data_dir (config, log and store),
    store_dir, conf, log_path, proc (subprocess.Popen or None), keep.
    The attribute names proc, data_dir, keep and stderr_tail() are the ones
    tavlatest's watchdog and failure report use for its daemons.
    """

    def __init__(self, name, base_dir, cluster_name, port=None, cluster_port=None,
                 monitor_port=None):
        self.name = name
        self.cluster_name = cluster_name
        self.data_dir = os.path.join(base_dir, name)
        os.makedirs(self.data_dir, exist_ok=True)
        self.store_dir = os.path.join(self.data_dir, "js")
        self.conf = os.path.join(self.data_dir, "nats.conf")
        self.log_path = os.path.join(self.data_dir, "nats.log")
        self.port = port or tt.free_port()
        self.cluster_port = cluster_port or tt.free_port()
        self.monitor_port = monitor_port or tt.free_port()
        self.url = "nats://127.0.0.1:%d" % self.port
        self.routes = []
        self.proc = None
        self.keep = bool(os.environ.get("TV_KEEP"))
        tt._current_daemons.append(self)
        tt._all_daemons.append(self)

    def write_config(self, routes, tls=None):
        """Writes the config; routes are the other servers' cluster ports
        (a server may list itself too: nats-server ignores that route).
        tls: None, or (cert file, key file) that clients must then connect
        with TLS to (the routes stay plain)."""
        self.routes = list(routes)
        self.tls = tls
        if tls:
            self.url = "tls://127.0.0.1:%d" % self.port
        text = """# written by tests/integration/natscluster.py
server_name: %(name)s
listen: 127.0.0.1:%(port)d
http: 127.0.0.1:%(monitor)d
max_payload: 1MB
jetstream {
  store_dir: "%(store)s"
  max_memory_store: 64MB
  max_file_store: 1GB
}
cluster {
  name: %(cluster)s
  listen: 127.0.0.1:%(cport)d
  routes: [
%(routes)s
  ]
}
""" % {"name": self.name, "port": self.port, "monitor": self.monitor_port,
       "store": self.store_dir, "cluster": self.cluster_name, "cport": self.cluster_port,
       "routes": "\n".join("    nats-route://127.0.0.1:%d" % p for p in self.routes)}
        if not self.routes:     # a lone server: a cluster block would wait for peers
            text = text[:text.index("cluster {")]
        if tls:
            text += 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n}\n' % tls
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(text)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=10.0):
        """Runs nats-server with its config (log appended to nats.log) and
        returns once its client port accepts connections. JetStream may
        not have a leader yet: NatsCluster.wait_ready() waits for that."""
        assert not self.running, "%s is already running" % self.name
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([NATS_SERVER, "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.data_dir, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.proc.poll() is not None:
                status, self.proc = self.proc.returncode, None
                raise AssertionError("nats-server %s exited with status %s\n%s"
                                     % (self.name, status, self.stderr_tail()))
            if time.monotonic() > deadline:
                self.kill9()
                raise AssertionError("nats-server %s did not listen within %.0f s\n%s"
                                     % (self.name, timeout, self.stderr_tail()))
            time.sleep(0.02)
        return self

    def kill9(self):
        """SIGKILL (a crashed machine, as far as NATS can tell) and wait."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self, timeout=10.0):
        """SIGTERM (nats-server's clean shutdown) and wait; SIGKILL after
        timeout s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, timeout=10.0):
        """Starts the server again on the same ports and store."""
        return self.start(timeout)

    def monitor(self, path, timeout=2.0):
        """GET http://127.0.0.1:MONITOR_PORT/path; returns the decoded JSON,
        or None when the server does not answer."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.monitor_port, path),
                                        timeout=timeout) as r:
                return json.loads(r.read().decode("utf-8"))
        except (OSError, ValueError):
            return None

    def meta_leader(self):
        """The JetStream meta leader this server believes in ("" if none,
        None when the server does not answer)."""
        j = self.monitor("/jsz")
        if j is None:
            return None
        return (j.get("meta_cluster") or {}).get("leader") or ""

    def stderr_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except FileNotFoundError:
            text = []
        return "---- tail of %s ----\n%s\n---- end ----" % (self.log_path, "\n".join(text))

    def cleanup(self):
        """Stops the server and forgets it (the directory goes with its
        cluster's)."""
        try:
            self.stop()
        finally:
            if self in tt._all_daemons:
                tt._all_daemons.remove(self)


class NatsCluster:
    """n nats-servers forming one JetStream cluster (n == 1: a lone
    JetStream server, no cluster block).

    Attributes: servers (list of NatsServer), urls (the comma-separated
    client URLs, what `cluster_nats` takes), base_dir, name.
    """

    def __init__(self, n=3, name="tavla-test", tls=False):
        self.name = name
        self.base_dir = tempfile.mkdtemp(prefix="tavla-nats-")
        self.servers = [NatsServer("n%d" % (i + 1), self.base_dir, name) for i in range(n)]
        routes = [s.cluster_port for s in self.servers]
        self.ca = None
        pair = None
        if tls:
            self.ca, pair = make_ca_and_cert(os.path.join(self.base_dir, "tls"))
        for s in self.servers:
            s.write_config(routes if n > 1 else [], pair)

    @property
    def urls(self):
        return ",".join(s.url for s in self.servers)

    def urls_of(self, indexes):
        return ",".join(self.servers[i].url for i in indexes)

    def start(self, timeout=READY_TIMEOUT):
        """Starts every server and waits until JetStream is ready."""
        for s in self.servers:
            s.start()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Waits until every running server names the same meta leader, that
        leader is running, and every running server reports JetStream
        healthy (/healthz: current with the meta group). Returns the
        leader's name."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            alive = [s for s in self.servers if s.running]
            names = {s.name for s in alive}
            leaders = [s.meta_leader() for s in alive]
            health = [s.monitor("/healthz") for s in alive]
            last = (leaders, health)
            if len(self.servers) == 1 and health[0] and health[0].get("status") == "ok":
                return ""       # a lone server has no meta group to lead
            if (alive and leaders[0] and leaders[0] in names
                    and all(l == leaders[0] for l in leaders)
                    and all(h is not None and h.get("status") == "ok" for h in health)):
                return leaders[0]
            if time.monotonic() > deadline:
                raise AssertionError("JetStream had no agreed meta leader within %.0f s "
                                     "(leaders %s, health %s)\n%s"
                                     % (timeout, leaders, health,
                                        "\n".join(s.stderr_tail(15) for s in self.servers)))
            time.sleep(0.1)

    def index_of(self, name):
        return [s.name for s in self.servers].index(name)

    def kill9(self, i):
        """kill -9 server i (0-based); returns it."""
        self.servers[i].kill9()
        return self.servers[i]

    def restart(self, i, timeout=READY_TIMEOUT):
        """Starts server i again and waits until the cluster is ready."""
        self.servers[i].restart()
        self.wait_ready(timeout)
        return self.servers[i]

    def probe(self, i=None):
        """A NatsProbe connected to server i, or to the first running one."""
        if i is None:
            i = next(k for k, s in enumerate(self.servers) if s.running)
        return NatsProbe(self.servers[i].port, cafile=self.ca)

    def stream_info(self, stream="TAVLA", subjects=False, timeout=5.0):
        """The JetStream API's STREAM.INFO of stream (with the message count
        of every subject in state.subjects when `subjects`), read from a
        running server; None when the stream does not exist. Retries
        while the stream has no leader (a kill -9 moment) within timeout."""
        body = {"subjects_filter": ">"} if subjects else {}
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.probe() as p:
                    r = p.request("$JS.API.STREAM.INFO." + stream, body, timeout=2.0)
            except (OSError, TimeoutError, StopIteration) as e:
                r = {"error": {"description": str(e)}}
            err = r.get("error")
            if not err:
                return r
            if err.get("err_code") == 10059:     # stream not found
                return None
            if time.monotonic() > deadline:
                raise AssertionError("STREAM.INFO %s: %r" % (stream, err))
            time.sleep(0.2)

    def create_stream(self, stream="TAVLA", subjects=None, replicas=3, duplicate_window=None):
        """Creates stream (file storage, subjects default "<stream in
        lower case>.>", the subjects tavlad uses) before any tavlad does,
        e.g. with a short duplicate_window (seconds) so that a test can
        outlast JetStream's deduplication of message ids. Returns the
        API's reply; fails on an error."""
        cfg = {"name": stream, "subjects": subjects or [stream.lower() + ".>"],
               "storage": "file", "num_replicas": replicas, "deny_delete": True,
               "deny_purge": True}
        if duplicate_window is not None:
            cfg["duplicate_window"] = int(duplicate_window * 1e9)
        with self.probe() as p:
            r = p.request("$JS.API.STREAM.CREATE." + stream, cfg, timeout=10.0)
        if r.get("error"):
            raise AssertionError("STREAM.CREATE %s: %r" % (stream, r["error"]))
        return r

    def stream_messages(self, stream="TAVLA", subject=None, timeout=30.0):
        """Every message of stream (on subject, when given) in stream order,
        as dicts {seq, subject, data (bytes), headers (text or None)}, read
        with the JetStream direct-get API of the stream leader."""
        info = self.stream_info(stream)
        if info is None:
            return []
        first, last = info["state"]["first_seq"], info["state"]["last_seq"]
        out = []
        deadline = time.monotonic() + timeout
        with self.probe() as p:
            seq = first
            while seq <= last:
                req = {"seq": seq} if subject is None else {"seq": seq, "next_by_subj": subject}
                r = p.request("$JS.API.STREAM.MSG.GET." + stream, req, timeout=2.0)
                if r.get("error"):
                    if r["error"].get("err_code") == 10037:     # no message found
                        break
                    raise AssertionError("MSG.GET %s %r: %r" % (stream, req, r["error"]))
                m = r["message"]
                out.append({"seq": m["seq"], "subject": m["subject"],
                            "data": base64.b64decode(m.get("data") or ""),
                            "headers": base64.b64decode(m["hdrs"]).decode("utf-8", "replace")
                            if m.get("hdrs") else None})
                seq = m["seq"] + 1
                if time.monotonic() > deadline:
                    raise AssertionError("reading stream %s took over %.0f s" % (stream, timeout))
        return out

    def cleanup(self):
        """Stops every server and removes the directory unless a server is
        to be kept (a failed test)."""
        keep = False
        for s in self.servers:
            try:
                s.cleanup()
            finally:
                keep = keep or s.keep
        if not keep:
            shutil.rmtree(self.base_dir, ignore_errors=True)


class NatsProbe:
    """A minimal blocking NATS client (the text protocol of
    https://docs.nats.io/reference/reference-protocols/nats-protocol):
    CONNECT, SUB, PUB, request/reply, answering PINGs. Enough to ask the
    JetStream API what the stream holds, without trusting tavlad's reading
    of it. Use as a context manager; every read has a timeout."""

    def __init__(self, port, timeout=5.0, cafile=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.sid = 0
        info = self._line()
        if not info.startswith(b"INFO "):
            raise AssertionError("not a NATS server: %r" % info[:80])
        if json.loads(info[5:]).get("tls_required"):
            # NATS sends INFO in the clear, then the client starts TLS.
            ctx = tt.tls_context(cafile)
            self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                          b'"no_responders":true,"name":"tavla-test-probe"}\r\nPING\r\n')
        while True:
            l = self._line()
            if l == b"PONG":
                break
            if l.startswith(b"-ERR"):
                raise AssertionError("NATS refused the probe: %r" % l)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("NATS server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, body, timeout=2.0):
        """Publishes body (a dict, sent as JSON; b"" for none) on subject
        with a fresh inbox and returns the decoded JSON reply. Raises
        TimeoutError when nothing answers (no_responders or silence)."""
        self.sid += 1
        inbox = "_INBOX.tavlatest.%d.%d" % (os.getpid(), self.sid)
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        self.sock.settimeout(timeout)
        self.sock.sendall(b"SUB %s %d\r\nUNSUB %d 1\r\nPUB %s %s %d\r\n%s\r\n"
                          % (inbox.encode(), self.sid, self.sid, subject.encode(),
                             inbox.encode(), len(payload), payload))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                l = self._line()
            except socket.timeout:
                break
            if l == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif l.startswith(b"MSG "):
                n = int(l.split()[-1])
                data = self._exact(n)
                return json.loads(data.decode("utf-8"))
            elif l.startswith(b"HMSG "):
                parts = l.split()
                hlen, total = int(parts[-2]), int(parts[-1])
                data = self._exact(total)
                head, body_ = data[:hlen], data[hlen:]
                if b" 503" in head.split(b"\r\n", 1)[0]:
                    raise TimeoutError("no responders on %s" % subject)
                return json.loads(body_.decode("utf-8")) if body_ else {}
            elif l.startswith(b"-ERR"):
                raise AssertionError("NATS error: %r" % l)
        raise TimeoutError("no reply on %s within %.1f s" % (subject, timeout))


def make_ca_and_cert(directory, name="tavla test NATS CA"):
    """Makes, with the openssl command, a CA and a server certificate it
    signed for IP 127.0.0.1 and DNS localhost. Returns (CA file,
    (cert file, key file))."""
    os.makedirs(directory, exist_ok=True)
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr = os.path.join(directory, "server.key"), os.path.join(directory, "server.csr")
    cert, ext = os.path.join(directory, "server.pem"), os.path.join(directory, "san.ext")
    with open(ext, "w", encoding="ascii") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for cmd in (["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=" + name],
                ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
                ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", cert, "-days", "2", "-extfile", ext]):
        p = subprocess.run(["openssl"] + cmd, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("openssl %s: %s" % (cmd[0], p.stderr))
    return ca, (cert, key)


# --------------------------------------------------------------------------
# tavlad nodes
# --------------------------------------------------------------------------

def cluster_settings(nats, node, stream="TAVLA", replicas=None, extra=None):
    """The config keys of a cluster node: cluster_nats (every server's URL),
    cluster_node, cluster_stream, cluster_replicas (default: the number of
    servers, at most 3), plus extra. `nats` is a NatsCluster or a URL list."""
    urls = nats.urls if isinstance(nats, NatsCluster) else nats
    n = len(nats.servers) if isinstance(nats, NatsCluster) else len(urls.split(","))
    conf = {"cluster_nats": '"%s"' % urls,
            "cluster_node": '"%s"' % node,
            "cluster_stream": '"%s"' % stream,
            "cluster_replicas": replicas or min(n, 3)}
    if isinstance(nats, NatsCluster) and nats.ca:
        conf["cluster_tls_ca"] = '"%s"' % nats.ca
    conf.update(extra or {})
    return conf


def new_node(nats, node, stream="TAVLA", replicas=None, extra=None, data_dir=None):
    """A tavlatest.Daemon (not started) configured as cluster node `node`."""
    return tt.Daemon(cluster_settings(nats, node, stream, replicas, extra), data_dir)


def wait_node_ready(daemon, cafile=None, timeout=20.0):
    """Waits until the node's GET /readyz answers 200: in cluster mode a
    node prints `tavlad ready` once it listens, and is ready once it has
    applied what the stream held when it started. Returns the seconds it
    took; raises AssertionError (with the last answer) after timeout."""
    t0 = time.monotonic()
    last = None
    while True:
        try:
            last = tt.https_get(daemon, "/readyz", cafile=cafile)
            if last[0] == 200:
                return time.monotonic() - t0
        except OSError as e:
            last = e
        if time.monotonic() - t0 > timeout:
            raise AssertionError("node %s: /readyz not 200 within %.0f s: %r\n%s"
                                 % (daemon.url, timeout, last, daemon.stderr_tail()))
        time.sleep(0.05)


def stream_seq(daemon, cafile=None):
    """The node's tavla_cluster_stream_seq (last stream sequence it
    applied), or None when it does not say."""
    status, body = tt.https_get(daemon, "/metrics", cafile=cafile)
    assert status == 200, (status, body[:200])
    for line in body.splitlines():
        if line.startswith("tavla_cluster_stream_seq "):
            return int(float(line.split()[1]))
    return None


def wait_in_step(nodes, cafile=None, timeout=10.0):
    """Waits until every node has applied the same stream sequence (and
    it stays so for a moment): what one node acknowledged is then in every
    node's store. docs/cluster.md: a node serves what it has applied, so a
    test that moves a client to another node right after a write waits
    for this where a person would simply be slower. Returns that
    sequence."""
    t0 = time.monotonic()
    while True:
        seqs = [stream_seq(d, cafile) for d in nodes]
        if None not in seqs and len(set(seqs)) == 1:
            time.sleep(0.05)
            if [stream_seq(d, cafile) for d in nodes] == seqs:
                return seqs[0]
        if time.monotonic() - t0 > timeout:
            raise AssertionError("nodes not in step within %.0f s: stream seqs %s"
                                 % (timeout, seqs))
        time.sleep(0.02)


def run_tavlad(daemon, *args, input=None, timeout=60):
    """Runs `tavlad -c CONF ARGS...` (an admin command, --check-cluster)
    and returns the subprocess.CompletedProcess (text, UTF-8). Fails on a
    sanitizer report in its stderr."""
    p = subprocess.run([tt.TAVLAD, "-c", daemon.conf] + list(args), input=input,
                       capture_output=True, text=True, encoding="utf-8", timeout=timeout)
    bad = tt.sanitizer_lines(p.stderr)
    if bad:
        raise AssertionError("sanitizer report from tavlad %s:\n%s" % (" ".join(args), p.stderr))
    return p


def check_cluster(daemon, timeout=30):
    """`tavlad -c CONF --check-cluster`: (exit status, stdout + stderr)."""
    p = run_tavlad(daemon, "--check-cluster", timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def cluster_import(daemon, timeout=60):
    """`tavlad -c CONF admin cluster-import`; asserts exit 0, returns its
    output."""
    p = run_tavlad(daemon, "admin", "cluster-import", timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("tavlad admin cluster-import: status %d\nstdout: %s\nstderr: %s"
                             % (p.returncode, p.stdout, p.stderr))
    return p.stdout + p.stderr


_cluster_support = None


def cluster_support():
    """Returns None when this tavlad knows cluster mode (its --help lists
    cluster_nats and --check-cluster), else the reason it does not."""
    global _cluster_support
    if _cluster_support is None:
        try:
            p = subprocess.run([tt.TAVLAD, "--help"], capture_output=True, text=True, timeout=10)
            text = p.stdout + p.stderr
        except (OSError, subprocess.TimeoutExpired) as e:
            text = "tavlad --help failed: %s" % e
        missing = [w for w in ("cluster_nats", "check-cluster") if w not in text]
        _cluster_support = ("tavlad at %s has no cluster mode (--help does not mention %s)"
                            % (tt.TAVLAD, ", ".join(missing))) if missing else ""
        if not os.access(NATS_SERVER, os.X_OK):
            _cluster_support = "nats-server not found at %s (ops/deps.sh installs it)" % NATS_SERVER
    return _cluster_support or None


class ClusterCase(tt.TavlaCase):
    """TavlaCase with a NATS cluster and tavlad nodes. Cleanups stop nodes
    before servers (invariant 2)."""

    def require_cluster_mode(self):
        """Skips the test, saying why, when tavlad or nats-server lacks
        cluster mode."""
        why = cluster_support()
        if why:
            sys.stderr.write("SKIP: %s\n" % why)
            raise unittest.SkipTest(why)

    def start_nats(self, n=3, tls=False):
        """Starts an n-server JetStream cluster (clients over TLS with a
        CA of its own, cluster.ca, when tls); returns the NatsCluster."""
        c = NatsCluster(n, tls=tls)
        self.addCleanup(c.cleanup)
        return c.start()

    def start_node(self, nats, name, stream="TAVLA", replicas=None, extra=None, data_dir=None):
        """Starts one tavlad cluster node; returns the running Daemon."""
        d = new_node(nats, name, stream, replicas, extra, data_dir)
        self.addCleanup(d.cleanup)
        d.start(timeout=20.0)
        wait_node_ready(d)
        return d

    def make_nodes(self, nats, m=3, stream="TAVLA", extra=None):
        """Configures (does not start) m nodes node1..nodeM; their cleanup
        is registered. Returns the list of Daemons."""
        nodes = []
        for i in range(m):
            d = new_node(nats, "node%d" % (i + 1), stream, None, extra)
            self.addCleanup(d.cleanup)
            nodes.append(d)
        return nodes

    def start_nodes(self, nats, m=3, stream="TAVLA", extra=None):
        """Configures and starts m nodes; returns the list of Daemons."""
        nodes = self.make_nodes(nats, m, stream, extra)
        for d in nodes:
            d.start(timeout=20.0)
        for d in nodes:
            wait_node_ready(d)
        return nodes


#: Exit status of a test file whose every test was skipped for want of
#: cluster mode; tests/CMakeLists.txt names it SKIP_RETURN_CODE, so ctest
#: reports such a file as skipped rather than passed.
SKIPPED = 77


def main():
    """tavlatest.main() for files whose tests all need cluster mode: when
    they passed only because they were skipped (cluster_support() gives a
    reason), exits with SKIPPED instead of 0."""
    try:
        tt.main()
    except SystemExit as e:
        if e.code == 0 and cluster_support():
            sys.exit(SKIPPED)
        raise
