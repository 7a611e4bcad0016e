// board.js: draws one board (columns, timeline or matrix) and its notes.
//
// Responsible for the board's markup: columns as lists; a timeline as a
// horizontal axis with a stop per column (stacked downwards on a phone); a
// matrix as a 2×2 grid with its axis labels (x_axis along the bottom,
// y_axis up the side) and each note placed at its x,y; each note with a
// screen-reader name ("Lapp av Åsa: …"), placeholders for hidden notes,
// "sparar…"/"sparat" on this device's notes, and the per-note actions
// (edit, delete, move or place by menu, approve) that the caller allows.
// Placing a note: by its menu (columns; quadrants or x/y on a matrix), by
// the arrow keys while the note or one of its buttons has focus, or by
// dragging it with a pointer. Not responsible for deciding what is allowed
// or sending anything: the caller passes `can` and `actions`
// (participant.js, moderator.js).
//
// Invariants:
//  1. Every action is a real <button> or form control; no step needs
//     dragging: the menu and the arrow keys do all that dragging does.
//  2. Text users typed is only ever set as textContent.
//  3. A note being placed is drawn where the user put it (ui.preview) until
//     the daemon's event agrees or PREVIEW_MS pass; the request leaves once
//     the keys rest for KEY_COMMIT_MS, so holding an arrow sends one edit.

import { h } from './dom.js';
import { t, getLang } from './i18n.js';
import { notesOf, tableName, isMine } from './state.js';

/* ctx: {model, ui: {editing, moving}, can(note, what), actions, redraw(),
 *       local: outbox items of note.add, showTables: bool, tableFilter} */
const KEY_COMMIT_MS = 600;
const PREVIEW_MS = 5000;
const STEP = 0.05;
const BIG_STEP = 0.25;
const NOTE_W = '9.5rem'; // .note--placed width in styles.css

export function renderBoard(ctx, board) {
  const all = notesOf(ctx.model, board.id).filter((n) =>
    !ctx.tableFilter || n.table === ctx.tableFilter || n.table === '');
  // A placeholder carries no place (PROTOCOL.md §5.4): listed apart.
  const notes = all.filter((n) => !n.placeholder);
  const hidden = all.filter((n) => n.placeholder);
  const hiddenList = hidden.length ? h('section', { class: 'column column--hidden', 'aria-labelledby': `hid-${board.id}` },
    h('h3', { class: 'column__title', id: `hid-${board.id}` }, t('hidden_notes'), ' ',
      h('span', { class: 'column__count', text: `(${hidden.length})` })),
    h('ul', { class: 'notes notes--hidden', 'aria-labelledby': `hid-${board.id}` }, hidden.map((n) => noteItem(ctx, board, n)))) : null;
  const local = (ctx.local || []).filter((it) => it.args.board === board.id);
  const head = h('h2', { class: 'board__title', id: `title-${board.id}`, text: board.title });
  const movable = notes.some((n) => ctx.can(n, 'move'));
  const hint = movable ? h('p', { class: 'board__hint', id: `kbd-${board.id}`,
    text: board.layout === 'matrix' ? t('place_hint_matrix') : t('place_hint_columns') }) : null;
  if (board.layout === 'matrix') {
    return h('section', { class: 'board board--matrix', 'aria-labelledby': `title-${board.id}` },
      head, renderMatrix(ctx, board, notes, local), hint, hiddenList);
  }
  const cols = board.columns.map((name, i) => {
    const inCol = notes.filter((n) => place0(ctx, n).column === i);
    const localCol = local.filter((it) => (it.args.column || 0) === i);
    const hid = `col-${board.id}-${i}`;
    return h('section', { class: 'column', 'aria-labelledby': hid, 'data-col': i },
      h('h3', { class: 'column__title', id: hid },
        board.layout === 'timeline' ? h('span', { class: 'timeline__tick', 'aria-hidden': 'true' }) : null,
        name, ' ', h('span', { class: 'column__count', text: `(${inCol.length})` })),
      h('ul', { class: 'notes', 'aria-labelledby': hid },
        inCol.map((n) => noteItem(ctx, board, n)),
        localCol.map((it) => localItem(it))));
  });
  if (board.layout === 'timeline') {
    const first = board.columns[0] || '';
    const last = board.columns[board.columns.length - 1] || '';
    return h('section', { class: 'board board--timeline', 'aria-labelledby': `title-${board.id}` },
      head,
      h('p', { class: 'board__hint', text: t('timeline_hint', { first, last }) }),
      h('div', { class: 'timeline', tabindex: 0, role: 'region', 'aria-label': t('timeline_region', { title: board.title }) },
        h('ol', { class: 'timeline__axis' }, cols.map((c) => h('li', { class: 'timeline__stop' }, c)))),
      hint, hiddenList);
  }
  return h('section', { class: 'board board--columns', 'aria-labelledby': `title-${board.id}` },
    head, h('div', { class: 'columns' }, cols), hint, hiddenList);
}

/* Where a note is drawn: its own place, or where the user is putting it. */
function place0(ctx, n) {
  const p = ctx.ui.preview;
  if (p && p.id === n.id) {
    const agreed = p.column !== undefined ? (n.column || 0) === p.column
      : Math.abs((n.x || 0) - p.x) < 1e-3 && Math.abs((n.y || 0) - p.y) < 1e-3;
    if ((p.sent && agreed) || Date.now() - p.at > PREVIEW_MS) ctx.ui.preview = null;
    else return p;
  }
  return { column: n.column || 0, x: n.x || 0, y: n.y || 0 };
}

/* "inflytande" from "Inflytande", but "EU" stays "EU". */
function lowerFirst(s) {
  if (!s || s.length < 2 || s[1] !== s[1].toLocaleLowerCase(getLang())) return s || '';
  return s[0].toLocaleLowerCase(getLang()) + s.slice(1);
}

/* The name of the quadrant at (x, y): "Mycket inflytande, lite intresse". */
export function quadrantName(board, x, y) {
  return t('quadrant', { xl: t(x >= 0.5 ? 'much' : 'little'), x: lowerFirst(board.x_axis),
    yl: t(y >= 0.5 ? 'much' : 'little'), y: lowerFirst(board.y_axis) }).replace(/^./, (c) => c.toLocaleUpperCase(getLang()));
}

function renderMatrix(ctx, board, notes, local) {
  const list = h('ul', { class: 'matrix__notes', 'aria-label': t('matrix_notes', { x: board.x_axis, y: board.y_axis }) });
  for (const n of notes) {
    const li = noteItem(ctx, board, n);
    const p = place0(ctx, n);
    place(li, p.x, p.y);
    list.append(li);
  }
  for (const it of local) {
    const li = localItem(it);
    place(li, it.args.x, it.args.y);
    list.append(li);
  }
  // Top row: much y; right column: much x.
  const quads = [[0.25, 0.75], [0.75, 0.75], [0.25, 0.25], [0.75, 0.25]].map(([x, y]) =>
    h('div', { class: 'matrix__quadrant', text: quadrantName(board, x, y) }));
  return h('div', { class: 'matrix' },
    // Written upwards (styles.css): the first span is at the bottom.
    h('div', { class: 'matrix__y' },
      h('span', { class: 'matrix__end', text: t('little') }),
      h('span', { class: 'matrix__axis', text: `${board.y_axis} →` }),
      h('span', { class: 'matrix__end', text: t('much') })),
    h('div', { class: 'matrix__area' }, h('div', { class: 'matrix__grid', 'aria-hidden': 'true' }, quads), list),
    h('div', { class: 'matrix__x' },
      h('span', { class: 'matrix__end', text: t('little') }),
      h('span', { class: 'matrix__axis', text: `${board.x_axis} →` }),
      h('span', { class: 'matrix__end', text: t('much') })));
}

// CSSOM, not a style attribute: allowed under the page's CSP.
function place(el, x, y) {
  el.classList.add('note--placed');
  const fx = clamp(Number(x) || 0);
  const fy = clamp(Number(y) || 0);
  el.style.left = `calc(${fx.toFixed(3)} * (100% - ${NOTE_W}))`;
  el.style.bottom = `${(fy * 75).toFixed(1)}%`;
  el.dataset.x = fx.toFixed(2);
  el.dataset.y = fy.toFixed(2);
}

function clamp(v) {
  return Math.min(1, Math.max(0, v));
}

// --- placing by keyboard and by pointer ------------------------------------

/* Puts note n at `where` ({x, y} or {column}) on the screen now and sends
 * the move once the user stops (invariant 3). */
function preview(ctx, n, where, li, board) {
  const ui = ctx.ui;
  clearTimeout(ui.commitTimer);
  ui.preview = { id: n.id, ...where, at: Date.now(), sent: false };
  if (where.column === undefined && li) place(li, where.x, where.y);
  else ctx.redraw(`note-${n.id}`);
  ctx.announce(where.column === undefined
    ? t('placed_at', { x: Math.round(where.x * 100), y: Math.round(where.y * 100), quadrant: quadrantName(board, where.x, where.y) })
    : t('moved_to', { column: board.columns[where.column] }));
  ui.commitTimer = setTimeout(() => commit(ctx, n), KEY_COMMIT_MS);
}

function commit(ctx, n) {
  const p = ctx.ui.preview;
  if (!p || p.id !== n.id || p.sent) return;
  p.sent = true;
  p.at = Date.now();
  ctx.actions.move(n, p.column !== undefined ? { column: p.column } : { x: p.x, y: p.y });
  // Drawn from the model again once PREVIEW_MS pass, agreed or not.
  setTimeout(() => { if (ctx.ui.preview && ctx.ui.preview.id === n.id) ctx.redraw(); }, PREVIEW_MS + 50);
}

function onNoteKey(ctx, board, n, e) {
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  const tag = e.target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || e.target.closest('.move-menu')) return;
  const d = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[e.key];
  if (!d) return;
  const p = place0(ctx, n);
  const li = e.currentTarget;
  if (board.layout === 'matrix') {
    e.preventDefault();
    const step = e.shiftKey ? BIG_STEP : STEP;
    // Keep to the grid of steps, so five presses are exactly 25 %.
    const snap = (v, dv) => clamp(Math.round((v + dv * step) / STEP) * STEP);
    preview(ctx, n, { x: snap(p.x, d[0]), y: snap(p.y, d[1]) }, li, board);
    return;
  }
  if (!d[0]) return; // up and down stay with the browser (scrolling)
  e.preventDefault();
  const col = Math.min(board.columns.length - 1, Math.max(0, p.column + d[0]));
  if (col !== p.column) preview(ctx, n, { column: col }, li, board);
}

/* Dragging with a mouse, pen or finger: the note follows the pointer and
 * lands where it is let go (a column, or a place on the matrix). */
function onPointerDown(ctx, board, n, e) {
  if (e.button !== 0 || e.target.closest('button, input, textarea, select, a, form')) return;
  const li = e.currentTarget;
  const x0 = e.clientX, y0 = e.clientY;
  let dragging = false;
  // On the window: the pointer leaves the note at once when it moves fast.
  const move = (ev) => {
    if (ev.pointerId !== e.pointerId) return;
    const dx = ev.clientX - x0, dy = ev.clientY - y0;
    if (!dragging && Math.hypot(dx, dy) < 6) return;
    if (!dragging) {
      dragging = true;
      ctx.ui.dragging = true;
      li.classList.add('note--dragging');
    }
    li.style.transform = `translate(${dx}px, ${dy}px)`;
  };
  const up = (ev) => {
    if (ev.pointerId !== e.pointerId) return;
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', up);
    window.removeEventListener('pointercancel', up);
    if (!dragging) return;
    ctx.ui.dragging = false;
    const where = ev.type === 'pointerup' ? dropPlace(board, li, ev) : null;
    li.style.transform = '';
    li.classList.remove('note--dragging');
    if (where) {
      preview(ctx, n, where, li, board);
      commit(ctx, n);
    } else {
      ctx.redraw();
    }
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', up);
  window.addEventListener('pointercancel', up);
}

function dropPlace(board, li, ev) {
  if (board.layout === 'matrix') {
    const area = li.closest('.matrix__notes');
    if (!area) return null;
    const a = area.getBoundingClientRect();
    const r = li.getBoundingClientRect();
    const x = clamp((r.left - a.left) / Math.max(1, a.width - r.width));
    const y = clamp((a.bottom - r.bottom) / Math.max(1, a.height * 0.75));
    return { x: Math.round(x * 100) / 100, y: Math.round(y * 100) / 100 };
  }
  for (const el of document.elementsFromPoint(ev.clientX, ev.clientY)) {
    if (li.contains(el)) continue;
    const col = el.closest('[data-col]');
    if (col) return { column: Number(col.dataset.col) };
  }
  return null;
}

/* The screen-reader name of a note: "Lapp av Åsa:" or "Lapp:". */
export function noteName(model, n) {
  if (n.proxy_for) return t('note_for', { name: n.proxy_for });
  const name = n.authorName || (n.owner && model.members[n.owner] && model.members[n.owner].name);
  return name ? t('note_by', { name }) : t('note_anon');
}

function noteItem(ctx, board, n) {
  const { model, ui } = ctx;
  const mine = isMine(model, n);
  const cls = ['note', `note--${n.colour || 'yellow'}`, n.placeholder && 'note--placeholder',
    n.hidden && 'note--hidden', n.pending && 'note--pending', mine && 'note--mine'];
  const body = [];
  body.push(h('span', { class: 'sr-only', text: `${noteName(model, n)} ` }));
  if (n.placeholder) {
    body.push(h('p', { class: 'note__text note__text--placeholder', text: n.pending ? t('pending_note') : t('hidden_note') }));
  } else if (ui.editing === n.id) {
    return h('li', { class: cls, 'data-id': n.id }, body, editForm(ctx, n));
  } else {
    body.push(h('p', { class: 'note__text', text: n.text }));
  }
  const meta = [];
  const name = n.proxy_for || n.authorName;
  if (name && !n.placeholder) meta.push(h('span', { class: 'note__author', 'aria-hidden': 'true', text: name }));
  if (ctx.showTables && n.table) meta.push(h('span', { class: 'note__table', text: tableName(model, n.table) }));
  if (n.hidden && !n.placeholder) meta.push(h('span', { class: 'badge', text: t('badge_hidden') }));
  if (n.pending) meta.push(h('span', { class: 'badge badge--pending', text: t('badge_pending') }));
  if (mine) meta.push(h('span', { class: 'note__saved', text: t('saved') }));
  const movable = !n.placeholder && ctx.can(n, 'move');
  if (movable) cls.push('note--movable');
  return h('li', { class: cls, 'data-id': n.id, 'data-key': `note-${n.id}`,
    tabindex: movable ? 0 : null, 'aria-describedby': movable ? `kbd-${board.id}` : null,
    on: movable ? { keydown: (e) => onNoteKey(ctx, board, n, e), pointerdown: (e) => onPointerDown(ctx, board, n, e) } : null },
  body,
  meta.length ? h('p', { class: 'note__meta' }, meta) : null,
  actionsFor(ctx, board, n));
}

function localItem(it) {
  return h('li', { class: 'note note--local note--yellow', 'data-req': it.id },
    h('span', { class: 'sr-only', text: `${t('note_mine')} ` }),
    h('p', { class: 'note__text', text: it.args.text }),
    h('p', { class: 'note__meta' }, h('span', { class: 'note__saving', text: t('saving') })));
}

function actionsFor(ctx, board, n) {
  const { ui, can, actions } = ctx;
  if (n.placeholder && !can(n, 'moderate')) return null;
  const btns = [];
  const label = n.text ? n.text.slice(0, 40) : n.id;
  if (can(n, 'edit_text')) {
    btns.push(h('button', { type: 'button', class: 'btn btn--small', 'data-key': `edit-${n.id}`,
      'aria-label': t('edit_note', { text: label }),
      on: { click: () => { ui.editing = n.id; ui.moving = null; ctx.redraw(`edit-text-${n.id}`); } } }, t('edit')));
  }
  if (can(n, 'move')) {
    btns.push(h('button', { type: 'button', class: 'btn btn--small', 'data-key': `move-${n.id}`,
      'aria-expanded': ui.moving === n.id ? 'true' : 'false', 'aria-controls': `menu-${n.id}`,
      'aria-label': t(board.layout === 'matrix' ? 'place_note' : 'move_note', { text: label }),
      on: { click: () => { ui.moving = ui.moving === n.id ? null : n.id; ui.editing = null; ctx.redraw(ui.moving ? `menu-first-${n.id}` : `move-${n.id}`); } } },
    t(board.layout === 'matrix' ? 'place' : 'move')));
  }
  if (can(n, 'delete')) {
    btns.push(h('button', { type: 'button', class: 'btn btn--small btn--danger', 'data-key': `del-${n.id}`,
      'aria-label': t('delete_note', { text: label }),
      on: { click: () => actions.del(n) } }, t('delete')));
  }
  if (n.pending && can(n, 'moderate')) {
    btns.push(h('button', { type: 'button', class: 'btn btn--small', 'data-key': `approve-${n.id}`,
      on: { click: () => actions.approve(n) } }, t('approve')));
  }
  if (!btns.length) return null;
  return h('div', { class: 'note__actions' }, btns, ui.moving === n.id ? moveMenu(ctx, board, n) : null);
}

function moveMenu(ctx, board, n) {
  const close = (key) => { ctx.ui.moving = null; ctx.redraw(key || `move-${n.id}`); };
  const onKey = (e) => { if (e.key === 'Escape') { e.preventDefault(); close(); } };
  if (board.layout === 'matrix') {
    const p = place0(ctx, n);
    const quads = [[0.25, 0.75], [0.75, 0.75], [0.25, 0.25], [0.75, 0.25], [0.5, 0.5]].map(([qx, qy], i) =>
      h('li', {}, h('button', { type: 'button', class: 'btn btn--small btn--menu', 'data-key': i ? `menu-${n.id}-q${i}` : `menu-first-${n.id}`,
        on: { click: () => { ctx.actions.move(n, { x: qx, y: qy }); close(); } } },
      i === 4 ? t('place_centre') : quadrantName(board, qx, qy))));
    const x = h('input', { type: 'number', min: 0, max: 100, step: 5, value: Math.round(p.x * 100), id: `mx-${n.id}` });
    const y = h('input', { type: 'number', min: 0, max: 100, step: 5, value: Math.round(p.y * 100), id: `my-${n.id}` });
    return h('div', { class: 'move-menu', id: `menu-${n.id}`, on: { keydown: onKey } },
      h('ul', { class: 'move-menu__list', 'aria-label': t('place_menu') }, quads),
      h('form', { class: 'move-menu__exact', on: { submit: (e) => {
        e.preventDefault();
        ctx.actions.move(n, { x: clamp01(x.value), y: clamp01(y.value) });
        close();
      } } },
      h('div', { class: 'field field--inline' }, h('label', { for: x.id, text: t('x_percent', { axis: board.x_axis }) }), x),
      h('div', { class: 'field field--inline' }, h('label', { for: y.id, text: t('y_percent', { axis: board.y_axis }) }), y),
      h('button', { type: 'submit', class: 'btn btn--small' }, t('move_here'))));
  }
  let first = true;
  const items = board.columns.map((name, i) => {
    if (i === (n.column || 0)) return null;
    const key = first ? `menu-first-${n.id}` : `menu-${n.id}-${i}`;
    first = false;
    return h('li', {}, h('button', { type: 'button', class: 'btn btn--small btn--menu', 'data-key': key,
      on: { click: () => { ctx.actions.move(n, { column: i }); close(); } } }, t('move_to', { column: name })));
  });
  return h('ul', { class: 'move-menu', id: `menu-${n.id}`, 'aria-label': t('move_menu'), on: { keydown: onKey } }, items);
}

function clamp01(v) {
  const x = Number(v) / 100;
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function editForm(ctx, n) {
  const ta = h('textarea', { id: `edit-${n.id}-ta`, rows: 3, maxlength: 500, 'data-key': `edit-text-${n.id}`, required: true });
  ta.value = n.text || '';
  return h('form', { class: 'edit-form', on: { submit: (e) => {
    e.preventDefault();
    const text = ta.value.trim();
    if (text && text !== n.text) ctx.actions.edit(n, text);
    ctx.ui.editing = null;
    ctx.redraw(`edit-${n.id}`);
  }, keydown: (e) => { if (e.key === 'Escape') { ctx.ui.editing = null; ctx.redraw(`edit-${n.id}`); } } } },
  h('label', { for: ta.id, text: t('note_text') }), ta,
  h('div', { class: 'row' },
    h('button', { type: 'submit', class: 'btn btn--small' }, t('save')),
    h('button', { type: 'button', class: 'btn btn--small btn--ghost', on: { click: () => { ctx.ui.editing = null; ctx.redraw(`edit-${n.id}`); } } }, t('cancel'))));
}
