// board.js: draws one board (columns, timeline or matrix) and its notes.
//
// Responsible for the board's markup: columns as lists, a timeline as
// ordered columns, a matrix as a 2D area with each note placed at its x,y,
// each note with a screen-reader name ("Lapp av Åsa: …"), placeholders for
// hidden notes, "sparar…"/"sparat" on this device's notes, and the per-note
// actions (edit, delete, move by menu, approve) that the caller allows.
// Not responsible for deciding what is allowed or sending anything: the
// caller passes `can` and `actions` (participant.js, moderator.js).
//
// Invariants:
//  1. Every action is a real <button> or form control; moving a note never
//     needs dragging (a menu of columns, or x/y fields on a matrix).
//  2. Text users typed is only ever set as textContent.

import { h } from './dom.js';
import { t } from './i18n.js';
import { notesOf, tableName, isMine } from './state.js';

/* ctx: {model, ui: {editing, moving}, can(note, what), actions, redraw(),
 *       local: outbox items of note.add, showTables: bool, tableFilter} */
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
  if (board.layout === 'matrix') {
    return h('section', { class: 'board board--matrix', 'aria-labelledby': `title-${board.id}` },
      head, renderMatrix(ctx, board, notes, local), hiddenList);
  }
  const cols = board.columns.map((name, i) => {
    const inCol = notes.filter((n) => (n.column || 0) === i);
    const localCol = local.filter((it) => (it.args.column || 0) === i);
    const hid = `col-${board.id}-${i}`;
    return h('section', { class: 'column', 'aria-labelledby': hid },
      h('h3', { class: 'column__title', id: hid },
        board.layout === 'timeline' ? h('span', { class: 'column__step', 'aria-hidden': 'true', text: `${i + 1}` }) : null,
        name, ' ', h('span', { class: 'column__count', text: `(${inCol.length})` })),
      h('ul', { class: 'notes', 'aria-labelledby': hid },
        inCol.map((n) => noteItem(ctx, board, n)),
        localCol.map((it) => localItem(it))));
  });
  const Tag = board.layout === 'timeline' ? 'ol' : 'div';
  return h('section', { class: `board board--${board.layout}`, 'aria-labelledby': `title-${board.id}` },
    head,
    board.layout === 'timeline' ? h('p', { class: 'board__hint', text: t('timeline_hint') }) : null,
    h(Tag, { class: 'columns' }, Tag === 'ol' ? cols.map((c) => h('li', { class: 'columns__item' }, c)) : cols),
    hiddenList);
}

function renderMatrix(ctx, board, notes, local) {
  const area = h('ul', { class: 'matrix__area', 'aria-label': `${board.x_axis} / ${board.y_axis}` });
  for (const n of notes) {
    const li = noteItem(ctx, board, n);
    place(li, n.x, n.y);
    area.append(li);
  }
  for (const it of local) {
    const li = localItem(it);
    place(li, it.args.x, it.args.y);
    area.append(li);
  }
  return h('div', { class: 'matrix' },
    h('p', { class: 'matrix__y', text: `↑ ${board.y_axis}` }),
    area,
    h('p', { class: 'matrix__x', text: `${board.x_axis} →` }));
}

// CSSOM, not a style attribute: allowed under the page's CSP.
function place(el, x, y) {
  el.classList.add('note--placed');
  const fx = Math.min(1, Math.max(0, Number(x) || 0));
  el.style.left = `calc(${fx.toFixed(3)} * (100% - 9.5rem))`;
  el.style.bottom = `${Math.round((Number(y) || 0) * 75)}%`;
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
  return h('li', { class: cls, 'data-id': n.id },
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
      'aria-label': t('move_note', { text: label }),
      on: { click: () => { ui.moving = ui.moving === n.id ? null : n.id; ui.editing = null; ctx.redraw(ui.moving ? `menu-first-${n.id}` : `move-${n.id}`); } } }, t('move')));
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
    const x = h('input', { type: 'number', min: 0, max: 100, step: 5, value: Math.round((n.x || 0) * 100), id: `mx-${n.id}`, 'data-key': `menu-first-${n.id}` });
    const y = h('input', { type: 'number', min: 0, max: 100, step: 5, value: Math.round((n.y || 0) * 100), id: `my-${n.id}` });
    return h('form', { class: 'move-menu', id: `menu-${n.id}`, on: { keydown: onKey, submit: (e) => {
      e.preventDefault();
      ctx.actions.move(n, { x: clamp01(x.value), y: clamp01(y.value) });
      close();
    } } },
    h('div', { class: 'field field--inline' }, h('label', { for: x.id, text: t('x_percent', { axis: board.x_axis }) }), x),
    h('div', { class: 'field field--inline' }, h('label', { for: y.id, text: t('y_percent', { axis: board.y_axis }) }), y),
    h('button', { type: 'submit', class: 'btn btn--small' }, t('move_here')));
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
