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
    chat: [],           // [{seq, ts, author, text}]
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
      model.chat.push({ seq: ev.seq, ts: ev.ts, author, text: d.text });
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
      return null;
  }
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
