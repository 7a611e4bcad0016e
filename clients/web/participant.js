// participant.js: the participant's view of a workshop room (phone first).
//
// Responsible for what a participant sees and does: phase, timer and
// private-writing notice, choosing a table (or being seated automatically),
// the board(s) live with its own notes editable and movable by menu,
// writing notes and chat through the outbox (so they survive a lost
// connection), and the readiness toggle. Not responsible for the connection
// (protocol.js), the rules of the model (state.js) or the board's markup
// (board.js).
//
// Invariants:
//  1. The writing form and chat form are built once and never redrawn, so
//     typing is never interrupted by incoming events.
//  2. Notes and chat go through session.queue (the outbox); other requests
//     need the link up and report failure instead of waiting.

import { h, redraw, focusKey, field } from './dom.js';
import { t, phaseName } from './i18n.js';
import { renderBoard, quadrantName } from './board.js';
import { boardById, myTable, isMine, phaseAllows, tableName, COLOURS } from './state.js';
import { statusLine, chatList, errorText } from './common.js';
import { mountParticipantSynthesis } from './synthesis.js';

export function mountParticipant(root, app) {
  const { session } = app;
  const ui = { editing: null, moving: null, board: null, ready: false, readyPhase: null, changeTable: false };

  const statusEl = h('div', { class: 'statusbar' });
  const tableEl = h('div', { class: 'table-choice' });
  const tabsEl = h('div', { class: 'tabs' });
  const boardEl = h('div', { class: 'board-wrap' });
  const readyEl = h('div', { class: 'ready' });
  const chatEl = h('div', { class: 'chat__list-wrap' });
  const errorEl = h('p', { class: 'error', role: 'alert' });
  const synthEl = h('div', { class: 'synth-part' });
  const synth = mountParticipantSynthesis(synthEl, app);

  // --- the note form (built once) ---
  const text = h('textarea', { rows: 3, maxlength: 500, required: true, 'data-key': 'new-note' });
  const colSel = h('select', {});
  const colour = h('select', {}, COLOURS.map((c) => h('option', { value: c, text: t(`colour_${c}`) })));
  const xIn = h('input', { type: 'number', min: 0, max: 100, step: 5, value: 50 });
  const yIn = h('input', { type: 'number', min: 0, max: 100, step: 5, value: 50 });
  const colField = field('new-col', t('column'), colSel);
  // On a matrix: a quadrant by name fills in x and y (which stay editable).
  const quadSel = h('select', {});
  quadSel.addEventListener('change', () => {
    const [qx, qy] = quadSel.value.split(',').map(Number);
    if (Number.isFinite(qx)) { xIn.value = String(qx); yIn.value = String(qy); }
  });
  const quadField = field('new-quad', t('quadrant_field'), quadSel);
  const xField = field('new-x', t('x_percent', { axis: '' }), xIn);
  const yField = field('new-y', t('y_percent', { axis: '' }), yIn);
  const writeHint = h('p', { class: 'hint' });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary' }, t('add_note'));
  const form = h('form', { class: 'note-form', 'aria-labelledby': 'note-form-title', on: { submit: onAdd } },
    h('h2', { id: 'note-form-title', class: 'section-title', text: t('write_note') }),
    field('new-text', t('note_text'), text),
    h('div', { class: 'row row--wrap' }, colField, quadField, xField, yField, field('new-colour', t('colour'), colour)),
    writeHint, submit);

  // --- chat form (built once) ---
  const chatIn = h('input', { type: 'text', maxlength: 4000, autocomplete: 'off', 'data-key': 'chat-in' });
  const chatForm = h('form', { class: 'chat__form', on: { submit: onChat } },
    field('chat-text', t('chat_message'), chatIn),
    h('button', { type: 'submit', class: 'btn' }, t('send')));

  root.replaceChildren(
    h('h1', { class: 'room-title', id: 'room-title' }),
    statusEl, errorEl, tableEl, synthEl, tabsEl, boardEl, form, readyEl,
    h('section', { class: 'chat', 'aria-labelledby': 'chat-title' },
      h('h2', { class: 'section-title', id: 'chat-title', text: t('chat') }), chatEl, chatForm));

  function currentBoard() {
    const m = app.model;
    return boardById(m, ui.board) || boardById(m, m.focus) || m.boards[0] || null;
  }

  function showError(e) {
    errorEl.textContent = e ? errorText(e) : '';
  }

  function onAdd(e) {
    e.preventDefault();
    const b = currentBoard();
    const v = text.value.trim();
    if (!b || !v) return;
    const args = { room: app.model.id, board: b.id, text: v, colour: colour.value };
    if (b.layout === 'matrix') {
      args.x = Math.min(1, Math.max(0, Number(xIn.value) / 100 || 0));
      args.y = Math.min(1, Math.max(0, Number(yIn.value) / 100 || 0));
    } else {
      args.column = Number(colSel.value) || 0;
    }
    session.queue('note.add', args);
    text.value = '';
    text.focus();
    app.announce(t('saving_note'));
    render();
  }

  function onChat(e) {
    e.preventDefault();
    const v = chatIn.value.trim();
    if (!v) return;
    session.queue('chat.send', { room: app.model.id, text: v });
    chatIn.value = '';
    render();
  }

  const can = (n, what) => {
    const m = app.model;
    if (m.role !== 'participant' || !isMine(m, n) || n.deleted) return false;
    if (what === 'edit_text' || what === 'delete') return !n.pending && phaseAllows(m.phase, what);
    if (what === 'move') return !n.pending && phaseAllows(m.phase, 'move');
    return false;
  };

  const call = (op, args) => session.request(op, { room: app.model.id, ...args }).then(() => showError(null), showError);

  const actions = {
    edit: (n, textValue) => session.queue('note.edit', { room: app.model.id, note: n.id, text: textValue }),
    del: (n) => {
      if (window.confirm(t('confirm_delete'))) session.queue('note.delete', { room: app.model.id, note: n.id });
    },
    move: (n, where) => {
      session.queue('note.edit', { room: app.model.id, note: n.id, ...where });
      app.announce(t('moving_note'));
    },
    approve: () => {},
  };

  function renderTables() {
    const m = app.model;
    if (!m.tables.length || m.role !== 'participant') return [];
    const mine = myTable(m);
    if (mine && !ui.changeTable) {
      return [h('p', { class: 'seat' }, t('you_sit_at', { table: tableName(m, mine) }), ' ',
        h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-key': 'change-table',
          on: { click: () => { ui.changeTable = true; redrawAll('table-auto'); } } }, t('change_table')))];
    }
    const pick = (table) => call('table.assign', table ? { table } : {}).then(() => { ui.changeTable = false; render(); });
    return [h('section', { class: 'card', 'aria-labelledby': 'table-title' },
      h('h2', { class: 'section-title', id: 'table-title', text: t('choose_table') }),
      h('div', { class: 'row row--wrap' },
        h('button', { type: 'button', class: 'btn btn--primary', 'data-key': 'table-auto', on: { click: () => pick(null) } }, t('table_auto')),
        m.tables.map((tb) => h('button', { type: 'button', class: 'btn', 'data-key': `table-${tb.id}`,
          'aria-pressed': mine === tb.id ? 'true' : 'false', on: { click: () => pick(tb.id) } }, tb.name))))];
  }

  function renderTabs() {
    const m = app.model;
    if (m.boards.length < 2) return [];
    const cur = currentBoard();
    return [h('nav', { 'aria-label': t('boards') }, h('ul', { class: 'tabs__list' },
      m.boards.map((b) => h('li', {}, h('button', { type: 'button', class: 'tab', 'data-key': `tab-${b.id}`,
        'aria-pressed': cur && cur.id === b.id ? 'true' : 'false',
        on: { click: () => { ui.board = b.id; redrawAll(`tab-${b.id}`); } } }, b.title)))))];
  }

  function renderReady() {
    const m = app.model;
    if (m.role !== 'participant') return [];
    if (ui.readyPhase !== m.phase) { ui.ready = false; ui.readyPhase = m.phase; }
    return [h('button', { type: 'button', class: ['btn', 'btn--ready', ui.ready && 'btn--on'], 'data-key': 'ready',
      'aria-pressed': ui.ready ? 'true' : 'false',
      on: { click: () => {
        const done = !ui.ready;
        call('ready.set', { done }).then(() => { if (!errorEl.textContent) { ui.ready = done; redrawAll('ready'); } });
      } } }, t('ready_toggle'))];
  }

  let lastFormBoard = null;
  function updateForm() {
    const m = app.model;
    const b = currentBoard();
    const canWrite = m.role === 'participant' && m.phase === 'write' && (!m.tables.length || myTable(m));
    form.hidden = !b || m.role === 'observer';
    chatForm.hidden = m.role === 'observer';
    submit.disabled = !canWrite;
    writeHint.textContent = canWrite ? (m.private ? t('private_on_hint') : '')
      : (m.phase !== 'write' ? t('writing_closed', { phase: phaseName(m.phase) }) : t('choose_table_first'));
    if (!b) return;
    const matrix = b.layout === 'matrix';
    colField.hidden = matrix;
    xField.hidden = !matrix;
    quadField.hidden = !matrix;
    yField.hidden = !matrix;
    if (matrix) {
      xField.querySelector('label').textContent = t('x_percent', { axis: b.x_axis });
      yField.querySelector('label').textContent = t('y_percent', { axis: b.y_axis });
      const qkey = `${b.id}:${b.x_axis}:${b.y_axis}`;
      if (quadSel.dataset.board !== qkey) {
        quadSel.dataset.board = qkey;
        quadSel.replaceChildren(h('option', { value: '', text: t('quadrant_choose') }),
          ...[[25, 75], [75, 75], [25, 25], [75, 25], [50, 50]].map(([qx, qy]) => h('option', { value: `${qx},${qy}`,
            text: qx === 50 ? t('place_centre') : quadrantName(b, qx / 100, qy / 100) })));
      }
    }
    const key = `${b.id}:${b.columns.join('\u0001')}`;
    if (key !== lastFormBoard) {
      lastFormBoard = key;
      const keep = colSel.value;
      colSel.replaceChildren(...b.columns.map((c, i) => h('option', { value: String(i), text: c })));
      if (keep && Number(keep) < b.columns.length) colSel.value = keep;
    }
  }

  function render() {
    const m = app.model;
    document.getElementById('room-title').textContent = m.title;
    redraw(statusEl, statusLine(app));
    redraw(tableEl, renderTables());
    redraw(tabsEl, renderTabs());
    const b = currentBoard();
    const local = session.outbox.filter((it) => it.op === 'note.add' && it.args.room === m.id);
    const ctx = { model: m, ui, can, actions, local, redraw: redrawAll, announce: app.announce, showTables: false };
    // A note being dragged keeps its element until it is let go.
    if (!ui.dragging) redraw(boardEl, b ? renderBoard(ctx, b) : h('p', { class: 'hint', text: t('no_board_yet') }));
    redraw(readyEl, renderReady());
    const pendingChat = session.outbox.filter((it) => it.op === 'chat.send' && it.args.room === m.id);
    redraw(chatEl, chatList(m, pendingChat));
    updateForm();
    synth.render();
  }

  function redrawAll(key) {
    render();
    if (key) focusKey(root, key);
  }

  return {
    render,
    onEvent(change) {
      if (change && change.what === 'focus') ui.board = null;
    },
    showError,
    failed(item) { synth.failed(item); },
    tick() { redraw(statusEl, statusLine(app)); },
  };
}
