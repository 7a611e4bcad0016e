// unit.test.js: the pure modules of the web client under node, without a
// browser: state.js applied to the event sequences of PROTOCOL.md (private
// writing, reveal, moves by a moderator, deletion and restore, approval,
// timer, phases), and i18n.js (every key the code uses exists in Swedish
// and English), and how protocol.js chooses between a WebSocket and the
// HTTPS fallback (with fakes of WebSocket and fetch, the event stream read through fetch with the session in a header).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRoom, applyEvent, notesOf, isMine, myTable, timerRemaining, formatClock, voteOf, dotCounts, agendaList } from '../../clients/web/state.js';
import { keys } from '../../clients/web/i18n.js';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../clients/web');
const R = 'r_k3v9q2m8x4bd';
const ASA = { id: 'i_asa', name: 'Åsa' };
const MOD = { id: 'i_mod', name: 'moderator' };
let seq = 0;
const ev = (kind, data, author = null) => ({ type: 'event', room: R, seq: ++seq, ts: 1, author, kind, data });

test('a workshop as a tablemate of the author sees it', () => {
  seq = 0;
  const m = createRoom({ id: R, code: 'K7QF4M' }, 'i_bo', 'participant');
  applyEvent(m, ev('room.created', { kind: 'workshop', title: 'Framtidsverkstad', code: 'K7QF4M' }, MOD));
  applyEvent(m, ev('member.joined', { id: 'i_asa', name: 'Åsa', role: 'participant' }));
  applyEvent(m, ev('table.created', { id: 't1', name: 'Bord 1' }, MOD));
  applyEvent(m, ev('table.assigned', { identity: 'i_bo', table: 't1', prev: '', by_moderator: false }, { id: 'i_bo', name: 'Bo' }));
  applyEvent(m, ev('board.created', { id: 'b1', title: 'Q', layout: 'columns', anonymity: 'named', premoderation: false, columns: ['Nu', 'Sen'] }, MOD));
  applyEvent(m, ev('phase.changed', { phase: 'write', prev: 'setup' }, MOD));
  applyEvent(m, ev('writing.changed', { private: true, prev: false }, MOD));
  const c = applyEvent(m, ev('note.created', { id: 'n1', board: 'b1', table: 't1', hidden: true, pending: false }));
  assert.equal(c.what, 'note.created');
  assert.equal(myTable(m), 't1');
  assert.equal(m.private, true);
  let n = m.notes.n1;
  assert.equal(n.placeholder, true);
  assert.equal(n.text, null);
  // the daemon resends nothing twice, but the model also refuses old seqs
  assert.equal(applyEvent(m, { ...ev('note.created', { id: 'n9' }), seq: 3 }), null);
  seq -= 1;
  applyEvent(m, ev('writing.revealed', { notes: [{ id: 'n1', board: 'b1', table: 't1', column: 1, x: 0, y: 0, colour: 'pink', text: 'Hemlig idé', anonymity: 'named', hidden: false, pending: false, author: 'i_asa', author_name: 'Åsa' }], private: false }));
  n = m.notes.n1;
  assert.equal(n.text, 'Hemlig idé');
  assert.equal(n.authorName, 'Åsa');
  assert.equal(n.column, 1);
  assert.equal(m.private, false);
  assert.equal(isMine(m, n), false);
  // a moderator moves it: the author stays Åsa
  applyEvent(m, ev('note.updated', { id: 'n1', board: 'b1', table: 't1', anonymity: 'named', hidden: false, pending: false, owner: 'i_asa', column: 0, prev: { column: 1 }, by_moderator: true }, MOD));
  assert.equal(m.notes.n1.column, 0);
  assert.equal(m.notes.n1.authorName, 'Åsa');
  applyEvent(m, ev('note.deleted', { id: 'n1', board: 'b1', table: 't1', anonymity: 'named', hidden: false, pending: false, owner: 'i_asa', by_moderator: true }, MOD));
  assert.equal(notesOf(m, 'b1').length, 0);
  assert.equal(notesOf(m, 'b1', { deleted: true })[0].text, null);
  applyEvent(m, ev('note.restored', { id: 'n1', board: 'b1', table: 't1', column: 0, x: 0, y: 0, colour: 'pink', text: 'Hemlig idé', anonymity: 'named', hidden: false, pending: false, owner: 'i_asa', undo_of: seq }, MOD));
  assert.equal(notesOf(m, 'b1')[0].text, 'Hemlig idé');
  applyEvent(m, ev('phase.changed', { phase: 'group', prev: 'write', undo_of: 1 }, MOD));
  assert.equal(m.phase, 'group');
  applyEvent(m, ev('some.future.kind', { x: 1 }));
  assert.equal(m.seq, seq, 'unknown kinds still advance seq');
});

test('own notes, approval and the timer', () => {
  seq = 0;
  const m = createRoom({ id: R }, 'i_asa', 'participant');
  applyEvent(m, ev('board.created', { id: 'b3', title: 'T', layout: 'timeline', anonymity: 'anonymous', premoderation: true, columns: ['2030', '2050'] }, MOD));
  applyEvent(m, ev('note.created', { id: 'n4', board: 'b3', table: '', column: 1, colour: 'yellow', text: 'Fossilfritt', anonymity: 'anonymous', hidden: false, pending: true }, ASA));
  assert.equal(isMine(m, m.notes.n4), true);
  assert.equal(m.notes.n4.pending, true);
  applyEvent(m, ev('note.approved', { id: 'n4', board: 'b3', table: '', column: 1, x: 0, y: 0, colour: 'yellow', text: 'Fossilfritt', anonymity: 'anonymous', hidden: false, pending: false, owner: 'i_asa' }, MOD));
  assert.equal(m.notes.n4.pending, false);
  assert.equal(isMine(m, m.notes.n4), true);
  applyEvent(m, ev('timer.changed', { state: 'running', ends_at: 100000, seconds: 600 }, MOD));
  assert.equal(timerRemaining(m.timer, 40000), 60000);
  assert.equal(formatClock(60000), '1:00');
  applyEvent(m, ev('timer.changed', { state: 'paused', remaining_ms: 5001 }, MOD));
  assert.equal(formatClock(timerRemaining(m.timer, 0)), '0:06');
  applyEvent(m, ev('timer.expired', { ends_at: 100000 }));
  assert.equal(m.timerExpired, true);
  applyEvent(m, ev('view.focused', { board: 'b3' }, MOD));
  assert.equal(m.focus, 'b3');
});

test('every translation key the code uses exists in sv and en', () => {
  const sv = new Set(keys('sv'));
  const en = new Set(keys('en'));
  assert.deepEqual([...sv].filter((k) => !en.has(k)), [], 'in sv only');
  assert.deepEqual([...en].filter((k) => !sv.has(k)), [], 'in en only');
  const used = new Set();
  for (const f of readdirSync(web).filter((x) => x.endsWith('.js'))) {
    const src = readFileSync(path.join(web, f), 'utf8');
    for (const m of src.matchAll(/\bt\('([a-z0-9_]+)'/g)) used.add(m[1]);
  }
  for (const p of ['setup', 'write', 'group', 'vote', 'discuss', 'closed']) used.add(`phase_${p}`);
  for (const c of ['online', 'connecting', 'syncing', 'closed']) used.add(`conn_${c}`);
  for (const c of ['yellow', 'pink', 'green', 'blue', 'orange', 'purple']) used.add(`colour_${c}`);
  for (const c of ['columns', 'matrix', 'timeline']) used.add(`layout_${c}`);
  for (const c of ['named', 'moderators', 'anonymous']) used.add(`anon_${c}`);
  for (const c of ['seated', 'present', 'writing', 'done', 'notes']) used.add(`st_${c}`);
  assert.deepEqual([...used].filter((k) => !sv.has(k)), [], 'used but not translated');
});

test('no inline script, style or handler in the client files', () => {
  const html = readFileSync(path.join(web, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  for (const f of readdirSync(web).filter((x) => x.endsWith('.js'))) {
    const src = readFileSync(path.join(web, f), 'utf8').replace(/^\s*\/\/.*$/gm, '');
    assert.doesNotMatch(src, /innerHTML|setAttribute\('style'|\beval\(|new Function/, f);
  }
});

test('a dot vote: own ballot only from the voter\u2019s event, totals, the close', () => {
  const m = createRoom({ id: R }, 'i_asa', 'participant');
  applyEvent(m, ev('synthesis.created', { id: 's1', name: 'Fem områden', boards: [], tables: [] }, MOD));
  const rev = m.synthRev;
  applyEvent(m, ev('cluster.created', { id: 'c1', scope: 's1', table: '', name: 'Buss', order: 1, assign: {}, prev: {}, by_moderator: true }, MOD));
  assert.ok(m.synthRev > rev, 'a cluster event asks the views to read the result again');
  applyEvent(m, ev('vote.opened', { id: 'v1', scope: 's1', table: '', on: 'clusters', budget: 3, max_per_item: 2, hidden: false }, MOD));
  // Someone else's cast: no dots, no owner.
  applyEvent(m, ev('vote.cast', { vote: 'v1', scope: 's1', table: '', hidden: false, totals: { c1: 2 }, voters: 1 }));
  assert.equal(voteOf(m, 's1').mine, null);
  applyEvent(m, ev('vote.cast', { vote: 'v1', scope: 's1', table: '', owner: 'i_asa', hidden: false, dots: { c1: 2, c2: 1 }, totals: { c1: 4, c2: 1 }, voters: 2 }, ASA));
  const v = voteOf(m, 's1', { open: true });
  assert.deepEqual(dotCounts(v.mine), { c1: 2, c2: 1 });
  assert.deepEqual(v.totals, { c1: 4, c2: 1 });
  applyEvent(m, ev('vote.closed', { id: 'v1', scope: 's1', table: '', on: 'clusters', totals: { c1: 4, c2: 1 }, results: [{ item: 'c1', dots: 4, rank: 1 }, { item: 'c2', dots: 1, rank: 2 }], voters: 2 }, MOD));
  assert.equal(voteOf(m, 's1', { open: true }), null);
  assert.equal(voteOf(m, 's1').results[0].item, 'c1');
});

test('a meeting: agenda by start, live poll counts with prev, anonymous answers, rounds, the queue', () => {
  const m = createRoom({ id: R }, 'i_asa', 'participant');
  applyEvent(m, ev('agenda.added', { id: 'a2', title: 'Strategin', kind: 'talk', start: '09:45', minutes: 45 }, MOD));
  applyEvent(m, ev('agenda.added', { id: 'a1', title: 'Incheckning', kind: 'theme', start: '09:30', minutes: 15 }, MOD));
  assert.deepEqual(agendaList(m).map((a) => a.id), ['a1', 'a2']);
  applyEvent(m, ev('agenda.current', { item: 'a2', prev: '' }, MOD));
  assert.equal(m.current, 'a2');
  applyEvent(m, ev('poll.created', { id: 'p1', question: 'Ja eller nej?', type: 'single', options: [{ id: 'o1', text: 'Ja' }, { id: 'o2', text: 'Nej' }], anonymity: 'anonymous', results: 'live' }, MOD));
  // Others' answers reach a participant without an author.
  applyEvent(m, ev('poll.answered', { poll: 'p1', anonymity: 'anonymous', results: 'live', answer: 'o1', prev: null, first: true }));
  applyEvent(m, ev('poll.answered', { poll: 'p1', anonymity: 'anonymous', results: 'live', answer: 'o1', prev: null, first: true }, ASA));
  applyEvent(m, ev('poll.answered', { poll: 'p1', anonymity: 'anonymous', results: 'live', answer: 'o2', prev: 'o1', first: false }));
  const p = m.polls.p1;
  assert.deepEqual(p.counts, { o1: 1, o2: 1 });
  assert.equal(p.voters, 2);
  assert.equal(p.mine, 'o1');
  // A closed-results placeholder counts a voter and nothing else.
  applyEvent(m, ev('poll.created', { id: 'p2', question: 'Ord?', type: 'text', options: [], anonymity: 'named', results: 'closed' }, MOD));
  applyEvent(m, ev('poll.answered', { poll: 'p2', first: true }));
  assert.deepEqual(m.polls.p2.counts, {});
  assert.equal(m.polls.p2.voters, 1);
  applyEvent(m, ev('poll.closed', { poll: 'p2', results: { voters: 1, answers: [{ text: 'lärorikt', count: 1 }] } }, MOD));
  assert.ok(m.polls.p2.closed);
  applyEvent(m, ev('round.opened', { id: 'rd1', kind: 'checkin', prompt: 'Hur mår du?' }, MOD));
  applyEvent(m, ev('round.answered', { round: 'rd1', text: 'Bra' }, ASA));
  applyEvent(m, ev('round.answered', { round: 'rd1', text: 'Utmärkt' }, ASA));
  assert.deepEqual(m.rounds.rd1.answers, [{ id: 'i_asa', name: 'Åsa', text: 'Utmärkt' }]);
  applyEvent(m, ev('hand.raised', { identity: 'i_asa', name: 'Åsa' }, ASA));
  applyEvent(m, ev('hand.raised', { identity: 'i_bo', name: 'Bo' }, { id: 'i_bo', name: 'Bo' }));
  applyEvent(m, ev('speaker.changed', { identity: 'i_asa', name: 'Åsa', prev: '' }, MOD));
  assert.equal(m.speaker, 'i_asa');
  assert.deepEqual(m.queue.map((q) => q.identity), ['i_bo']);
  applyEvent(m, ev('chat.message', { text: 'Hej' }, ASA));
  const target = m.seq;
  applyEvent(m, ev('reaction.changed', { target, emoji: '👍', on: true }, ASA));
  applyEvent(m, ev('reaction.changed', { target, emoji: '👍', on: true }, MOD));
  applyEvent(m, ev('reaction.changed', { target, emoji: '👍', on: false }, ASA));
  assert.deepEqual(m.reactions[target]['👍'], ['i_mod']);
});

// --- protocol.js: choosing the transport --------------------------------

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

/* A daemon behind the fallback, in memory: /api/session, an event stream
 * (read with fetch) that starts with hello, and /api/send answering ping.
 * `up` false: every request fails as on a dead network. It records the
 * session header each request carried. */
function fakeHttpDaemon() {
  const d = { up: true, sessions: 0, sent: [], stream: null, headers: [] };
  const enc = new TextEncoder();
  const stream = () => {
    const waiting = [];
    const chunks = [];
    const s = {
      push(m) {
        const c = { value: enc.encode(`data: ${JSON.stringify(m)}\n\n`), done: false };
        if (waiting.length) waiting.shift()(c); else chunks.push(c);
      },
      reader: { read: () => (chunks.length ? Promise.resolve(chunks.shift()) : new Promise((r) => waiting.push(r))) },
    };
    return s;
  };
  globalThis.fetch = async (url, opts = {}) => {
    if (!d.up) throw new TypeError('Failed to fetch');
    if (url.endsWith('/api/session')) {
      d.sessions += 1;
      const sid = `sid${d.sessions}`;
      return { status: 201, json: async () => ({ protocol: 'tavla.v1', session: sid }) };
    }
    d.headers.push((opts.headers || {})['X-Tavla-Session']);
    if (url.endsWith('/api/events')) {
      d.stream = stream();
      setTimeout(() => d.stream.push({ type: 'hello', protocol: 'tavla.v1', limits: { page: 1000 } }), 1);
      return { status: 200, body: { getReader: () => d.stream.reader } };
    }
    const m = JSON.parse(opts.body);
    d.sent.push(m);
    if (m.op === 'ping') setTimeout(() => d.stream.push({ type: 'reply', id: m.id, ok: true, result: { ts: Date.now() } }), 1);
    return { status: 202 };
  };
  return d;
}

const until = async (f, ms = 3000) => {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('a WebSocket that throws: the session goes online over HTTPS and remembers it', async () => {
  const { Session } = await import('../../clients/web/protocol.js');
  const d = fakeHttpDaemon();
  let wsTries = 0;
  globalThis.WebSocket = class { constructor() { wsTries += 1; throw new Error('blocked'); } };
  const storage = memoryStorage();
  const states = [];
  const s = new Session({ url: 'wss://h/ws', storage, handlers: { status: (x) => states.push(x) } });
  s.connect();
  await until(() => s.state === 'online');
  assert.equal(s.linkMode, 'http');
  assert.equal(wsTries, 1);
  assert.equal(d.sessions, 1);
  assert.equal(d.sent[0].op, 'ping');
  assert.deepEqual([...new Set(d.headers)], ['sid1'], 'every request names the session in X-Tavla-Session');
  assert.ok(!states.includes('closed'), 'no "closed" flicker while switching transport');
  assert.equal(JSON.parse(storage.getItem('tavla.transport')).mode, 'http');
  s.stop();

  // A new page with the same storage goes straight to HTTPS.
  const s2 = new Session({ url: 'wss://h/ws', storage });
  s2.connect();
  await until(() => s2.state === 'online');
  assert.equal(wsTries, 1, 'no WebSocket tried');
  s2.stop();
});

test('both transports down: backoff, then back online over the one that worked', async () => {
  const { Session } = await import('../../clients/web/protocol.js');
  const d = fakeHttpDaemon();
  let wsTries = 0;
  globalThis.WebSocket = class {
    constructor() {
      wsTries += 1;
      setTimeout(() => { if (this.onclose) this.onclose({ code: 1006, reason: '' }); }, 1);
    }
    close() {}
  };
  const s = new Session({ url: 'wss://h/ws', storage: memoryStorage() });
  s.connect();
  await until(() => s.state === 'online');
  assert.equal(s.linkMode, 'http');
  d.up = false;
  const before = wsTries;
  s.abandon('test');
  // One round: HTTPS fails, then a WebSocket, then the backoff timer.
  await until(() => wsTries > before && s.state === 'closed' && s.timer !== null);
  const tries = wsTries;
  d.up = true;
  s.reconnectNow();
  await until(() => s.state === 'online');
  assert.equal(s.linkMode, 'http');
  assert.equal(wsTries, tries, 'the transport that worked is tried first');
  s.stop();
});
