// protocol.js: one connection to tavlad, kept alive for as long as the page.
//
// Responsible for the link to the daemon — a WebSocket (subprotocol
// tavla.v1), or where a network blocks WebSockets the same messages over
// plain HTTPS (PROTOCOL.md §1.1: an event stream plus POSTs), chosen by
// itself when a WebSocket fails to open — requests and their
// replies by id, unpacking batch frames, resuming after any close (resume
// with the token, then join each followed room with since = last applied
// seq, following pages until complete), backoff between attempts, a
// heartbeat that notices a dead link, and the outbox: requests typed while
// offline, kept in localStorage and sent once the link is back, with ids that
// never change so a retry is answered "replayed" instead of applied twice.
// Not responsible for what events mean (state.js) or for drawing (views).
//
// Lifecycle of the link:
//   CLOSED --connect()--> OPENING --hello: handshake()--> SYNCING
//   OPENING --failed to open (error, or close or no hello within
//     OPEN_TIMEOUT_MS)-->
//     OPENING over the other transport at once, unless it failed too in
//     this round: then CLOSED and the backoff
//   (the transport that last reached hello is tried first, and remembered
//   for an hour in localStorage so a reload behind the same firewall goes
//   straight to HTTPS)
//   SYNCING --every room joined, complete--> ONLINE (flushOutbox)
//   any state --close / error / heartbeat timeout / 'offline'--> CLOSED
//   CLOSED --backoff timer or 'online' event--> connect()
//
// Invariants:
//  1. Events of a room reach onEvent strictly in seq order and at most once:
//     an event whose seq is not above the room's last applied seq is dropped.
//  2. An outbox item gets its request id when it is queued, before anything
//     is sent, and keeps it across reconnects and reloads; it leaves the
//     outbox only on a reply (ok, replayed, or a final error).
//  3. Requests other than outbox items are never retried: when the link
//     drops they fail with code "offline" and the user decides.
//  4. Over either transport the link looks the same to everything above
//     connect(): send(text), readyState, onmessage/onclose; messages arrive
//     in the server's order, and requests leave in the order they were sent
//     (HttpLink posts one at a time).

const OPEN_TIMEOUT_MS = 6000;
const PREFER_KEY = 'tavla.transport';
const PREFER_MS = 3600 * 1000;

const TRANSIENT = new Set(['rate_limited', 'overloaded', 'shutting_down', 'storage_full',
  'storage_error', 'not_in_room']);

function randomId(n) {
  const abc = 'abcdefghijkmnpqrstuvwxyz23456789';
  const buf = new Uint8Array(n);
  crypto.getRandomValues(buf);
  let s = '';
  for (const b of buf) s += abc[b % abc.length];
  return s;
}

/* tavla.v1 over plain HTTPS (PROTOCOL.md §1.1) behind the part of the
 * WebSocket interface Session uses: POST /api/session opens a session, a
 * streamed GET /api/events carries every server message as one `data:`
 * line and ends with `event: close`, and each request is one POST
 * /api/send. A stream that breaks is not re-attached: the link closes
 * (code 1006) and Session reconnects with a new session, resume and join
 * since, as after a dropped WebSocket.
 *
 * Every request names the session in the X-Tavla-Session header, not by
 * the cookie the daemon also sets: the cookie jar is shared by every tab
 * of the origin, the header belongs to this link alone, so each tab has a
 * session of its own. EventSource cannot send a header, so the stream is
 * read with fetch and parsed here (event:, data:, blank line). */
export class HttpLink {
  constructor(base) {
    this.base = base.replace(/\/+$/, '');
    this.readyState = 0;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    this.sid = '';
    this.abort = typeof AbortController !== 'undefined' ? new AbortController() : null;
    this.queue = Promise.resolve();
    this.start();
  }

  headers(more = {}) {
    return { 'X-Tavla-Session': this.sid, ...more };
  }

  async start() {
    try {
      const r = await fetch(`${this.base}/api/session`, { method: 'POST', credentials: 'same-origin', cache: 'no-store' });
      if (r.status !== 201) throw new Error(`session ${r.status}`);
      this.sid = (await r.json()).session || '';
      if (!this.sid) throw new Error('no session id');
    } catch (e) {
      this.finish(1006, 'no session');
      return;
    }
    if (this.readyState === 3) return;
    let r;
    try {
      r = await fetch(`${this.base}/api/events`, { headers: this.headers({ Accept: 'text/event-stream' }),
        credentials: 'same-origin', cache: 'no-store', signal: this.abort ? this.abort.signal : undefined });
    } catch (e) {
      this.finish(1006, 'stream');
      return;
    }
    if (r.status !== 200 || !r.body || this.readyState !== 0) {
      this.finish(1006, 'stream');
      return;
    }
    this.readyState = 1;
    if (this.onopen) this.onopen({});
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      let chunk;
      try { chunk = await reader.read(); } catch (e) { break; }
      if (chunk.done || this.readyState !== 1) break;
      buf += dec.decode(chunk.value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (event === 'close') {
          let c = {};
          try { c = JSON.parse(data.join('\n')); } catch (x) { /* keep the defaults */ }
          this.finish(c.code || 1006, c.reason || '');
          return;
        }
        if (data.length && this.readyState === 1 && this.onmessage) this.onmessage({ data: data.join('\n') });
      }
    }
    this.finish(1006, 'stream');
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('not open');
    this.queue = this.queue.then(async () => {
      if (this.readyState !== 1) return;
      try {
        const r = await fetch(`${this.base}/api/send`, { method: 'POST', body: text, credentials: 'same-origin',
          cache: 'no-store', headers: this.headers({ 'Content-Type': 'application/json' }) });
        // Not taken (the session is gone, too large, overloaded): close as
        // a WebSocket would, so the request is sent again after a resume.
        if (r.status !== 202) {
          this.finish(r.status === 404 ? 4002 : r.status === 413 ? 1009 : 1013, `send ${r.status}`);
        }
      } catch (e) {
        this.finish(1006, 'send');
      }
    });
  }

  close(code = 1000, reason = '') {
    this.finish(code, reason);
  }

  finish(code, reason) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    if (this.abort) this.abort.abort();
    setTimeout(() => { if (this.onclose) this.onclose({ code, reason }); }, 0);
  }
}

export class ProtocolError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export class Session {
  /* url: the wss URL; httpBase: where /api/… of the HTTPS fallback lives
   * ('' for this page's origin). storage: a localStorage-like object. outboxKey: where
   * this session's outbox lives. handlers: {event(ev), presence(msg),
   * status(state), joined(result), outbox(items), sent(item, result, replayed),
   * failed(item, error), authLost()} — each optional. */
  constructor({ url, httpBase, storage, outboxKey, handlers }) {
    this.url = url;
    this.httpBase = httpBase || '';
    this.storage = storage;
    this.outboxKey = outboxKey || 'tavla.outbox';
    this.h = handlers || {};
    this.token = null;
    this.identity = null;
    this.rooms = new Map(); // id -> {id, since}
    this.pending = new Map();
    this.ws = null;
    this.state = 'closed';
    this.attempt = 0;
    this.timer = null;
    this.heartbeat = null;
    this.clockOffset = 0; // server ms minus local ms
    this.page = 1000;
    this.stopped = false;
    this.transport = this.preferred(); // 'ws' or 'http': what connect() tries first
    this.failed = new Set(); // transports that failed to open in this round
    this.outbox = this.loadOutbox();
    if (!this.storage.getItem('tavla.device')) this.storage.setItem('tavla.device', randomId(8));
    this.device = this.storage.getItem('tavla.device');
    if (typeof window !== 'undefined') {
      window.addEventListener('offline', () => this.abandon('offline'));
      window.addEventListener('online', () => { if (this.state === 'closed') this.reconnectNow(); });
    }
  }

  /* A request id unique for this device: device prefix + persisted counter. */
  nextId() {
    const n = (parseInt(this.storage.getItem('tavla.counter') || '0', 10) || 0) + 1;
    this.storage.setItem('tavla.counter', String(n));
    return `${this.device}-${n}`;
  }

  serverNow() {
    return Date.now() + this.clockOffset;
  }

  setStatus(s) {
    if (this.state === s) return;
    this.state = s;
    if (this.h.status) this.h.status(s);
  }

  /* Opens the link (again). Safe to call when already open. */
  connect() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (typeof navigator !== 'undefined' && navigator.onLine === false) {
      this.scheduleReconnect();
      return;
    }
    this.setStatus('connecting');
    const mode = this.transport;
    let ws;
    try {
      ws = mode === 'http' ? new HttpLink(this.httpBase) : new WebSocket(this.url, 'tavla.v1');
    } catch (e) {
      this.openFailed(null, mode);
      return;
    }
    this.ws = ws;
    ws.mode = mode;
    ws.opened = false;
    // Open means the daemon spoke (hello): a proxy that accepts the upgrade
    // and then passes nothing on counts as a WebSocket that failed.
    const openTimer = setTimeout(() => { if (this.ws === ws && !ws.opened) this.openFailed(ws, mode); }, OPEN_TIMEOUT_MS);
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      if (!ws.opened) { ws.opened = true; clearTimeout(openTimer); }
      let m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      this.handle(m);
    };
    ws.onclose = (e) => {
      clearTimeout(openTimer);
      if (this.ws !== ws) return;
      if (!ws.opened) this.openFailed(ws, mode);
      else this.closed(e.code, e.reason);
    };
    ws.onerror = () => {};
  }

  /* A link that never opened: try the other transport at once, unless it
   * failed too in this round; then wait (backoff) and start over with the
   * transport that worked last. */
  openFailed(ws, mode) {
    if (ws) {
      if (this.ws === ws) this.ws = null;
      try { ws.close(); } catch (e) { /* never opened */ }
    }
    this.failed.add(mode);
    const other = mode === 'ws' ? 'http' : 'ws';
    if (!this.failed.has(other) && !this.stopped) {
      this.transport = other;
      this.connect();
      return;
    }
    this.setStatus('closed');
    this.failed.clear();
    this.transport = this.preferred();
    this.scheduleReconnect();
  }

  /* The transport to try first: the one that reached hello last. */
  preferred() {
    if (this.worked) return this.worked;
    try {
      const p = JSON.parse(this.storage.getItem(PREFER_KEY) || 'null');
      if (p && p.mode === 'http' && p.until > Date.now()) return 'http';
    } catch (e) { /* no preference */ }
    return 'ws';
  }

  /* Which transport the link uses now ('ws' or 'http'), or null. */
  get linkMode() {
    return this.ws ? this.ws.mode : null;
  }

  reconnectNow() {
    this.attempt = 0;
    clearTimeout(this.timer);
    this.timer = null;
    // An attempt still waiting to open (it began while offline) starts over.
    if (this.ws && !this.ws.opened) {
      const ws = this.ws;
      this.ws = null;
      try { ws.close(); } catch (e) { /* never opened */ }
      this.failed.clear();
      this.transport = this.preferred();
    }
    this.connect();
  }

  /* Drops the current socket without waiting for a close handshake (a dead
   * link may never finish one) and schedules a reconnect. */
  abandon(reason) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try { ws.close(4001, reason || 'abandon'); } catch (e) { /* already closing */ }
    this.closed(4001, reason);
  }

  closed(code, reason) {
    this.ws = null;
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const [id, p] of this.pending) {
      if (p.item) p.item.inflight = false;
      else p.reject(new ProtocolError('offline', 'the connection was lost'));
      this.pending.delete(id);
    }
    this.setStatus('closed');
    if (this.h.closed) this.h.closed(code, reason);
    this.scheduleReconnect(code === 1008 ? 10000 : 0);
  }

  scheduleReconnect(min = 0) {
    if (this.stopped || this.timer) return;
    const base = Math.min(15000, 500 * 2 ** Math.min(this.attempt, 5));
    const delay = Math.max(min, Math.round(base * (0.5 + Math.random() / 2)));
    this.attempt += 1;
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, delay);
  }

  handle(m) {
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'batch':
        if (Array.isArray(m.items)) for (const it of m.items) this.handle(it);
        return;
      case 'hello':
        if (m.limits && m.limits.page) this.page = m.limits.page;
        this.linkWorked();
        this.handshake();
        return;
      case 'reply': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (p.item) { this.outboxReply(p.item, m); return; }
        if (m.ok) {
          if (p.onReply) p.onReply(m.result);
          p.resolve(m.result);
        } else {
          const e = m.error || {};
          p.reject(new ProtocolError(e.code || 'error', e.message));
        }
        return;
      }
      case 'event': {
        const r = this.rooms.get(m.room);
        if (!r || typeof m.seq !== 'number' || m.seq <= r.since) return;
        r.since = m.seq;
        if (this.h.event) this.h.event(m);
        return;
      }
      case 'presence':
        if (this.h.presence) this.h.presence(m);
        return;
      default:
        return; // unknown message types are ignored (PROTOCOL.md §8)
    }
  }

  /* Sends a request on the open socket; the promise settles with its reply.
   * onReply runs synchronously on an ok reply, before any message that
   * follows it in the same frame. */
  raw(op, args = {}, onReply = null) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== 1) {
        reject(new ProtocolError('offline', 'not connected'));
        return;
      }
      const id = this.nextId();
      this.pending.set(id, { resolve, reject, onReply });
      this.ws.send(JSON.stringify({ op, id, ...args }));
    });
  }

  /* A request that needs the link up and the rooms joined. */
  request(op, args = {}) {
    if (this.state !== 'online') return Promise.reject(new ProtocolError('offline', 'not connected'));
    return this.raw(op, args);
  }

  /* The link reached hello: its transport is the one to try first. */
  linkWorked() {
    const mode = this.ws ? this.ws.mode : 'ws';
    this.failed.clear();
    this.worked = mode;
    this.transport = mode;
    try {
      if (mode === 'http') this.storage.setItem(PREFER_KEY, JSON.stringify({ mode, until: Date.now() + PREFER_MS }));
      else this.storage.removeItem(PREFER_KEY);
    } catch (e) { /* storage full: no preference kept */ }
  }

  async handshake() {
    const ws = this.ws;
    this.setStatus('syncing');
    try {
      const t0 = Date.now();
      const pong = await this.raw('ping');
      this.clockOffset = pong.ts - Math.round((t0 + Date.now()) / 2);
      if (this.token) {
        const r = await this.raw('resume', { token: this.token });
        this.identity = r.identity;
      }
      for (const room of this.rooms.values()) await this.joinLoop({ room: room.id }, room.since);
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setStatus('online');
      this.startHeartbeat();
      this.flushOutbox();
    } catch (e) {
      if (this.ws !== ws) return;
      if (e.code === 'bad_token' || e.code === 'forbidden' || e.code === 'room_not_found') {
        this.stop();
        if (this.h.authLost) this.h.authLost(e);
        return;
      }
      this.abandon('handshake');
    }
  }

  /* Joins (args: {room} or {code, name}) from `since`, paging until the
   * reply says complete. The room is registered the moment its first reply
   * arrives, so the events right behind it are applied. */
  async joinLoop(args, since) {
    let s = since;
    let first = null;
    for (;;) {
      const r = await this.raw('join', { ...args, since: s }, (res) => {
        if (res.token) this.token = res.token;
        if (res.identity) this.identity = res.identity;
        if (!this.rooms.has(res.room.id)) this.rooms.set(res.room.id, { id: res.room.id, since: s });
        if (this.h.joined) this.h.joined(res);
      });
      if (!first) first = r;
      if (r.complete !== false) return first;
      s = r.through;
      args = { room: r.room.id };
    }
  }

  /* First join by code on a fresh connection; resolves with the join result
   * (identity, token, room). */
  async joinByCode(code, name) {
    await this.waitOpen();
    const r = await this.joinLoop({ code, name }, 0);
    this.setStatus('online');
    this.startHeartbeat();
    this.flushOutbox();
    return r;
  }

  /* Moderator login on a fresh connection; resolves with {identity, token}. */
  async login(user, password) {
    await this.waitOpen();
    const r = await this.raw('login', { user, password });
    this.token = r.token;
    this.identity = r.identity;
    this.setStatus('online');
    this.startHeartbeat();
    return r;
  }

  /* Follows one more room on an authenticated, online link. */
  async follow(roomId) {
    if (!this.rooms.has(roomId)) this.rooms.set(roomId, { id: roomId, since: 0 });
    return this.joinLoop({ room: roomId }, this.rooms.get(roomId).since);
  }

  waitOpen() {
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => {
        if (this.state === 'syncing' || this.state === 'online') resolve();
        else if (Date.now() - t0 > 15000) reject(new ProtocolError('offline', 'no connection'));
        else setTimeout(tick, 50);
      };
      this.connect();
      tick();
    });
  }

  startHeartbeat() {
    clearInterval(this.heartbeat);
    const ws = this.ws;
    this.heartbeat = setInterval(() => {
      if (this.ws !== ws) return;
      let answered = false;
      this.raw('ping').then(() => { answered = true; }, () => {});
      setTimeout(() => { if (!answered && this.ws === ws) this.abandon('heartbeat'); }, 10000);
    }, 20000);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    const ws = this.ws;
    this.ws = null;
    if (ws) try { ws.close(1000); } catch (e) { /* closing */ }
    this.setStatus('closed');
  }

  // --- outbox ---------------------------------------------------------

  loadOutbox() {
    try {
      const v = JSON.parse(this.storage.getItem(this.outboxKey) || '[]');
      return Array.isArray(v) ? v : [];
    } catch (e) {
      return [];
    }
  }

  saveOutbox() {
    const items = this.outbox.map(({ inflight, ...rest }) => rest);
    this.storage.setItem(this.outboxKey, JSON.stringify(items));
    if (this.h.outbox) this.h.outbox(this.outbox);
  }

  /* Queues a mutating request; it is sent now if online, else when the link
   * is back. meta travels with it for the views (e.g. which board). */
  queue(op, args, meta = {}) {
    const item = { id: this.nextId(), op, args, meta, queuedAt: Date.now() };
    this.outbox.push(item);
    this.saveOutbox();
    if (this.state === 'online') this.sendItem(item);
    return item;
  }

  sendItem(item) {
    if (item.inflight || !this.ws || this.ws.readyState !== 1) return;
    item.inflight = true;
    this.pending.set(item.id, { item });
    this.ws.send(JSON.stringify({ op: item.op, id: item.id, ...item.args }));
  }

  flushOutbox() {
    for (const item of this.outbox) this.sendItem(item);
  }

  outboxReply(item, m) {
    item.inflight = false;
    if (!m.ok && TRANSIENT.has(m.error && m.error.code)) {
      setTimeout(() => { if (this.state === 'online') this.sendItem(item); }, 2000);
      return;
    }
    this.outbox = this.outbox.filter((x) => x.id !== item.id);
    this.saveOutbox();
    if (m.ok) { if (this.h.sent) this.h.sent(item, m.result, !!m.replayed); }
    else if (this.h.failed) this.h.failed(item, m.error || { code: 'error' });
  }
}

/* The WebSocket URL: ?ws=… for development, else this page's own host. */
export function defaultUrl(loc) {
  const q = new URLSearchParams(loc.search);
  if (q.get('ws')) return q.get('ws');
  return `${loc.protocol === 'http:' ? 'ws' : 'wss'}://${loc.host}/ws`;
}
