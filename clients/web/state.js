// state.js: the room model and the rules that build it from events.
//
// Responsible for turning the events of one room, applied in seq order, into
// the state the views draw (members, tables, seats, boards, notes, phase,
// private writing, timer, readiness, focus, chat), mirroring PROTOCOL.md §5.
// Not responsible for the connection, ordering or duplicates (protocol.js
// hands over each event once, in order) nor for anything in the DOM: this
// module is pure and runs unchanged under node for tests.
//
// Invariants:
//  1. model.seq is the seq of the last event applied; applyEvent ignores an
//     event whose seq is not above it (a second guard behind protocol.js).
//  2. A note is never forgotten once seen: a deletion keeps its skeleton
//     (deleted: true, no text), as the daemon does.
//  3. A note's author is the note's writer, never the moderator who moved,
//     edited, restored or approved it (data.owner names the writer there).
//  4. Unknown event kinds and fields are ignored, but still advance seq.

export const PHASES = ['setup', 'write', 'group', 'vote', 'discuss', 'closed'];
export const COLOURS = ['yellow', 'pink', 'green', 'blue', 'orange', 'purple'];

/* A new, empty model of a room. `me` is this client's identity id. */
export function createRoom(info = {}, me = null, role = null) {
  return {
    id: info.id || null,
    code: info.code || '',
    kind: info.kind || '',
    title: info.title || '',
    role,
    me,
    seq: 0,
    members: {},        // id -> {id, name, role}
    presence: {},       // id -> true
    tables: [],         // [{id, name}]
    seats: {},          // identity -> table id
    boards: [],         // [{id, title, layout, columns, x_axis, y_axis, anonymity, premoderation}]
    notes: {},          // id -> note
    noteOrder: [],      // ids in order first seen
    phase: 'setup',
    private: false,
    timer: { state: 'stopped', ends_at: 0, remaining_ms: 0, seconds: 0 },
    timerExpired: false,
    ready: {},          // identity -> done
    focus: null,
    chat: [],           // [{seq, ts, author, text, reply_to}]
    // synthesis (PROTOCOL.md §5.9): the views ask synthesis.result for the
    // clusters; the model keeps what they need to know when to ask again.
    syntheses: [],      // [{id, name, boards, tables}]
    votes: {},          // id -> {id, scope, table, on, budget, max_per_item, hidden, closed, totals, results, voters, mine}
    synthRev: 0,        // bumped by every synthesis event
    // meetings and forums (PROTOCOL.md §9.6)
    agenda: {},         // id -> {id, title, kind, start, minutes, presenter}
    current: '',        // agenda item now
    polls: {},          // id -> poll (see applyMeeting)
    pollOrder: [],
    rounds: {},         // id -> {id, kind, prompt, closed, answers: [{id, name, text}]}
    roundOrder: [],
    queue: [],          // [{identity, name}]
    speaker: '',        // identity
    speakerName: '',
    reactions: {},      // target seq -> emoji -> [identity]
  };
}

/* The table this client sits at ('' when none). */
export function myTable(model) {
  return (model.me && model.seats[model.me]) || '';
}

export function boardById(model, id) {
  return model.boards.find((b) => b.id === id) || null;
}

export function tableName(model, id) {
  const t = model.tables.find((x) => x.id === id);
  return t ? t.name : '';
}

/* Notes of a board, in the order first seen; deleted ones left out unless
 * asked for. */
export function notesOf(model, boardId, { deleted = false } = {}) {
  const out = [];
  for (const id of model.noteOrder) {
    const n = model.notes[id];
    if (n.board === boardId && (deleted || !n.deleted)) out.push(n);
  }
  return out;
}

/* Is this note one this client wrote? */
export function isMine(model, note) {
  return !!model.me && note.owner === model.me;
}

/* What a participant may do in a phase (PROTOCOL.md §5.2). */
export function phaseAllows(phase, what) {
  if (what === 'write' || what === 'edit_text' || what === 'delete') return phase === 'write';
  if (what === 'move') return phase === 'write' || phase === 'group';
  return false;
}

const NOTE_FIELDS = ['board', 'table', 'column', 'x', 'y', 'colour', 'text', 'anonymity',
  'hidden', 'pending', 'proxy', 'proxy_for'];

function upsertNote(model, id) {
  let n = model.notes[id];
  if (!n) {
    n = { id, board: '', table: '', column: 0, x: 0, y: 0, colour: 'yellow', text: null,
      anonymity: 'named', hidden: false, pending: false, deleted: false, owner: null,
      authorName: null, proxy_for: null, placeholder: true, seq: 0 };
    model.notes[id] = n;
    model.noteOrder.push(id);
  }
  return n;
}

function copyNote(model, n, data) {
  for (const f of NOTE_FIELDS) if (f in data) n[f] = data[f];
  if ('text' in data) n.placeholder = false;
  if (data.owner) {
    n.owner = data.owner;
    const m = model.members[data.owner];
    if (m && !n.authorName) n.authorName = m.name;
  }
}

/* Applies one event (an object as the daemon sends it) to the model.
 * Mutates `model`; returns a short description of what changed that the
 * views may announce ({what, note?}), or null. */
export function applyEvent(model, ev) {
  if (typeof ev.seq !== 'number' || ev.seq <= model.seq) return null;
  model.seq = ev.seq;
  const d = ev.data || {};
  const author = ev.author || null;
  switch (ev.kind) {
    case 'room.created':
      model.title = d.title || model.title;
      model.kind = d.kind || model.kind;
      model.code = d.code || model.code;
      return null;
    case 'member.joined':
      model.members[d.id] = { id: d.id, name: d.name, role: d.role };
      return { what: 'member', id: d.id };
    case 'member.role': {
      const m = model.members[d.identity] || (model.members[d.identity] = { id: d.identity, name: '', role: '' });
      m.role = d.role;
      if (d.identity === model.me) model.role = d.role;
      return { what: 'role', id: d.identity };
    }
    case 'chat.message':
      model.chat.push({ seq: ev.seq, ts: ev.ts, author, text: d.text, reply_to: d.reply_to || 0 });
      return { what: 'chat', author, text: d.text };
    case 'table.created':
      model.tables.push({ id: d.id, name: d.name });
      return { what: 'table' };
    case 'table.assigned':
      if (d.table) model.seats[d.identity] = d.table;
      else delete model.seats[d.identity];
      return { what: 'seat', id: d.identity };
    case 'board.created': {
      const b = { id: d.id, title: d.title, layout: d.layout, columns: d.columns || [],
        x_axis: d.x_axis || '', y_axis: d.y_axis || '', anonymity: d.anonymity || 'named',
        premoderation: !!d.premoderation };
      model.boards.push(b);
      if (!model.focus) model.focus = b.id;
      return { what: 'board' };
    }
    case 'board.updated': {
      const b = boardById(model, d.id);
      if (b) for (const f of ['title', 'anonymity', 'premoderation']) if (f in d) b[f] = d[f];
      return { what: 'board' };
    }
    case 'note.created': {
      const n = upsertNote(model, d.id);
      copyNote(model, n, d);
      n.deleted = false;
      n.seq = ev.seq;
      if (author && 'text' in d) {
        n.owner = d.owner || author.id;
        n.authorName = author.name;
      }
      return { what: 'note.created', note: n };
    }
    case 'note.updated': {
      const n = upsertNote(model, d.id);
      copyNote(model, n, d);
      return { what: 'note.updated', note: n };
    }
    case 'note.deleted': {
      const n = upsertNote(model, d.id);
      copyNote(model, n, d);
      n.deleted = true;
      n.text = null;
      return { what: 'note.deleted', note: n };
    }
    case 'note.restored':
    case 'note.approved': {
      const n = upsertNote(model, d.id);
      copyNote(model, n, d);
      n.deleted = false;
      if (ev.kind === 'note.approved') n.pending = false;
      return { what: ev.kind, note: n };
    }
    case 'writing.revealed': {
      const notes = Array.isArray(d.notes) ? d.notes : [];
      for (const r of notes) {
        const n = upsertNote(model, r.id);
        copyNote(model, n, r);
        n.hidden = false;
        if (r.author) {
          n.owner = r.author;
          if (r.author_name) n.authorName = r.author_name;
        }
      }
      model.private = false;
      return { what: 'revealed', count: notes.length };
    }
    case 'phase.changed':
      model.phase = d.phase;
      model.ready = {};
      return { what: 'phase', phase: d.phase };
    case 'writing.changed':
      model.private = !!d.private;
      return { what: 'writing', private: model.private };
    case 'timer.changed':
      model.timer = { state: d.state, ends_at: d.ends_at || 0, remaining_ms: d.remaining_ms || 0,
        seconds: d.seconds || model.timer.seconds || 0 };
      model.timerExpired = false;
      return { what: 'timer' };
    case 'timer.expired':
      model.timer = { state: 'stopped', ends_at: d.ends_at || 0, remaining_ms: 0, seconds: model.timer.seconds };
      model.timerExpired = true;
      return { what: 'timer.expired' };
    case 'ready.changed':
      model.ready[d.identity] = !!d.done;
      return { what: 'ready', id: d.identity };
    case 'view.focused':
      model.focus = d.board;
      return { what: 'focus', board: d.board };
    default:
      return applySynthesis(model, ev, d, author) || applyMeeting(model, ev, d, author);
  }
}

/* The vote open in a scope, or the newest one (null when none). */
export function voteOf(model, scope, { open = false } = {}) {
  let best = null;
  for (const v of Object.values(model.votes)) {
    if (v.scope !== scope || (open && v.closed)) continue;
    if (!best || v.seq > best.seq) best = v;
  }
  return best;
}

/* How many of the dots a ballot ([item, item, …]) holds per item. */
export function dotCounts(dots) {
  const c = {};
  for (const x of dots || []) c[x] = (c[x] || 0) + 1;
  return c;
}

function applySynthesis(model, ev, d, author) {
  switch (ev.kind) {
    case 'synthesis.created':
      model.syntheses.push({ id: d.id, name: d.name, boards: d.boards || [], tables: d.tables || [] });
      break;
    case 'vote.opened':
      model.votes[d.id] = { id: d.id, scope: d.scope, table: d.table || '', on: d.on || 'clusters',
        budget: d.budget, max_per_item: d.max_per_item, hidden: !!d.hidden, closed: false,
        totals: {}, results: null, voters: 0, mine: null, seq: ev.seq };
      break;
    case 'vote.cast': {
      const v = model.votes[d.vote];
      if (!v) break;
      if (d.totals) v.totals = d.totals;
      if (typeof d.voters === 'number') v.voters = d.voters;
      // Only the voter receives owner and dots (PROTOCOL.md §5.9).
      if (d.dots && author && author.id === model.me) {
        const mine = [];
        for (const [item, n] of Object.entries(d.dots)) for (let i = 0; i < n; i++) mine.push(item);
        v.mine = mine;
      }
      break;
    }
    case 'vote.closed': {
      const v = model.votes[d.id];
      if (!v) break;
      v.closed = true;
      v.totals = d.totals || v.totals;
      v.results = d.results || [];
      if (typeof d.voters === 'number') v.voters = d.voters;
      break;
    }
    case 'cluster.created': case 'cluster.updated': case 'cluster.assigned': case 'cluster.merged':
    case 'cluster.deleted': case 'cluster.restored': case 'duplicate.merged': case 'suggestion.rejected':
    case 'action.created': case 'action.updated': case 'synthesis.published':
      break;
    default:
      return null;
  }
  model.synthRev += 1;
  return { what: ev.kind, data: d };
}

/* Adds n to a poll's live count of one answer (an option id, a value, a
 * normalised text, or a list of option ids). */
function countAnswer(poll, answer, n) {
  if (answer === null || answer === undefined) return;
  const list = Array.isArray(answer) ? answer : [answer];
  for (const a of list) {
    const k = String(a);
    poll.counts[k] = Math.max(0, (poll.counts[k] || 0) + n);
  }
}

function applyMeeting(model, ev, d, author) {
  switch (ev.kind) {
    case 'agenda.added':
      model.agenda[d.id] = { id: d.id, title: d.title, kind: d.kind, start: d.start, minutes: d.minutes, presenter: d.presenter || '' };
      return { what: 'agenda' };
    case 'agenda.updated': {
      const a = model.agenda[d.id];
      if (a) for (const f of ['title', 'kind', 'start', 'minutes', 'presenter']) if (f in d) a[f] = d[f];
      return { what: 'agenda' };
    }
    case 'agenda.removed':
      delete model.agenda[d.id];
      if (model.current === d.id) model.current = '';
      return { what: 'agenda' };
    case 'agenda.current':
      model.current = d.item || '';
      return { what: 'agenda.current', item: model.current };
    case 'poll.created':
      model.polls[d.id] = { id: d.id, question: d.question, type: d.type, options: d.options || [],
        anonymity: d.anonymity || 'named', results: d.results || 'live', closed: false,
        counts: {}, voters: 0, mine: null, final: null };
      model.pollOrder.push(d.id);
      return { what: 'poll.created', poll: d.id };
    case 'poll.answered': {
      const p = model.polls[d.poll];
      if (!p) return null;
      if (d.first) p.voters += 1;
      if ('answer' in d) {
        countAnswer(p, d.prev, -1);
        countAnswer(p, d.answer, 1);
        if (author && author.id === model.me) p.mine = d.answer;
      }
      return { what: 'poll.answered', poll: d.poll };
    }
    case 'poll.closed': {
      const p = model.polls[d.poll];
      if (!p) return null;
      p.closed = true;
      p.final = d.results || {};
      if (typeof p.final.voters === 'number') p.voters = p.final.voters;
      return { what: 'poll.closed', poll: d.poll };
    }
    case 'round.opened':
      model.rounds[d.id] = { id: d.id, kind: d.kind, prompt: d.prompt, closed: false, answers: [] };
      model.roundOrder.push(d.id);
      return { what: 'round.opened', round: d.id };
    case 'round.answered': {
      const r = model.rounds[d.round];
      if (!r || !author) return null;
      const a = r.answers.find((x) => x.id === author.id);
      if (a) a.text = d.text; else r.answers.push({ id: author.id, name: author.name, text: d.text });
      return { what: 'round.answered' };
    }
    case 'round.closed': {
      const r = model.rounds[d.round];
      if (r) r.closed = true;
      return { what: 'round.closed' };
    }
    case 'hand.raised':
      model.queue = model.queue.filter((q) => q.identity !== d.identity);
      model.queue.push({ identity: d.identity, name: d.name });
      return { what: 'hand', identity: d.identity };
    case 'hand.lowered':
      model.queue = model.queue.filter((q) => q.identity !== d.identity);
      return { what: 'hand', identity: d.identity };
    case 'speaker.changed':
      model.speaker = d.identity || '';
      model.speakerName = d.name || '';
      model.queue = model.queue.filter((q) => q.identity !== d.identity);
      return { what: 'speaker', identity: model.speaker, name: model.speakerName };
    case 'reaction.changed': {
      if (!author) return null;
      const byEmoji = model.reactions[d.target] || (model.reactions[d.target] = {});
      const who = (byEmoji[d.emoji] || []).filter((x) => x !== author.id);
      if (d.on !== false) who.push(author.id);
      byEmoji[d.emoji] = who;
      return { what: 'reaction' };
    }
    default:
      return null;
  }
}

/* The agenda in the order of its start times. */
export function agendaList(model) {
  return Object.values(model.agenda).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/* Milliseconds left on the timer at server time `now` (0 when stopped). */
export function timerRemaining(timer, now) {
  if (timer.state === 'running') return Math.max(0, timer.ends_at - now);
  if (timer.state === 'paused') return Math.max(0, timer.remaining_ms);
  return 0;
}

/* "m:ss" for a number of milliseconds, rounded up to the second. */
export function formatClock(ms) {
  const s = Math.ceil(ms / 1000);
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}
