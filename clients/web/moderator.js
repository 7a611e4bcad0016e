// moderator.js: the moderator's views (laptop first): login, rooms, and the
// dashboard of one workshop.
//
// Responsible for what a moderator does in the browser: log in, create a
// workshop room, create tables and boards (questions as columns, or a matrix
// or timeline), show the join code and link, set phases, private writing and
// reveal, run the timer, see every table's notes and edit, move, delete or
// approve any of them, undo, and read each table's status
// (workshop.status). Not responsible for the connection (protocol.js), the
// model (state.js) or the board markup (board.js).
//
// Invariants:
//  1. Forms are built once per dashboard and never redrawn by events.
//  2. Every request reports its failure in the alert line; nothing is
//     retried behind the moderator's back (only participants use the outbox).

import { h, redraw, focusKey, field } from './dom.js';
import { t, phaseName } from './i18n.js';
import { renderBoard } from './board.js';
import { boardById, PHASES } from './state.js';
import { statusLine, chatList, errorText } from './common.js';
import { mountSynthesis } from './synthesis.js';

/* The login form; onDone(user, password) returns a promise. */
export function mountLogin(root, onDone) {
  const user = h('input', { type: 'text', autocomplete: 'username', required: true, 'data-key': 'user' });
  const pw = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card form', on: { submit: (e) => {
    e.preventDefault();
    err.textContent = '';
    onDone(user.value.trim(), pw.value).catch((x) => { err.textContent = errorText(x); });
  } } },
  h('h1', { text: t('moderator_login') }),
  field('mod-user', t('username'), user),
  field('mod-pw', t('password'), pw),
  err,
  h('button', { type: 'submit', class: 'btn btn--primary' }, t('log_in')));
  root.replaceChildren(form);
  user.focus();
}

/* The list of rooms and the form to create a workshop; onOpen(roomId). */
export function mountRooms(root, app, onOpen) {
  const list = h('div', {});
  const err = h('p', { class: 'error', role: 'alert' });
  const title = h('input', { type: 'text', required: true, maxlength: 200, 'data-key': 'new-room' });
  const kind = h('select', {}, ['workshop', 'meeting', 'forum'].map((k) => h('option', { value: k, text: t(`kind_${k}`) })));
  const form = h('form', { class: 'card form', on: { submit: (e) => {
    e.preventDefault();
    app.session.request('room.create', { kind: kind.value, title: title.value.trim() })
      .then((r) => onOpen(r.room.id), (x) => { err.textContent = errorText(x); });
  } } },
  h('h2', { class: 'section-title', text: t('create_workshop') }),
  field('room-title-in', t('workshop_title'), title),
  field('room-kind-in', t('room_kind'), kind),
  h('button', { type: 'submit', class: 'btn btn--primary' }, t('create')));
  root.replaceChildren(h('h1', { text: t('your_rooms') }), err, form, list,
    h('p', {}, h('button', { type: 'button', class: 'btn btn--ghost', on: { click: app.logout } }, t('log_out'))));
  app.session.request('room.list').then((r) => {
    const rooms = r.rooms || [];
    redraw(list, rooms.length ? h('ul', { class: 'room-list' }, rooms.map((x) => h('li', {},
      h('button', { type: 'button', class: 'btn btn--link', on: { click: () => onOpen(x.id) } },
        `${x.title} (${x.code}, ${t(`kind_${x.kind}`)})`)))) : h('p', { class: 'hint', text: t('no_rooms') }));
  }, (x) => { err.textContent = errorText(x); });
  title.focus();
}

export function mountModerator(root, app) {
  const { session } = app;
  const ui = { editing: null, moving: null, board: null, tableFilter: '', status: null };
  const room = () => app.model.id;
  const errorEl = h('p', { class: 'error', role: 'alert' });
  const showError = (e) => { errorEl.textContent = e ? errorText(e) : ''; };
  const call = (op, args = {}) => session.request(op, { room: room(), ...args })
    .then((r) => { showError(null); return r; }, (e) => { showError(e); throw e; });
  const quiet = (p) => p.catch(() => {});

  // The join sheet (renderSheet): a dialog to project or print.
  const sheet = h('dialog', { class: 'qr-sheet', 'aria-labelledby': 'qr-sheet-title' });
  sheet.addEventListener('close', () => focusKey(root, 'show-qr'));
  const statusEl = h('div', { class: 'statusbar' });
  const codeEl = h('div', { class: 'joincode' });
  const phaseEl = h('div', { class: 'row row--wrap' });
  const writingEl = h('div', { class: 'row row--wrap' });
  const timerCtl = h('div', { class: 'row row--wrap' });
  const tablesEl = h('div', {});
  const tabsEl = h('div', { class: 'tabs' });
  const boardEl = h('div', { class: 'board-wrap' });
  const pendingEl = h('div', {});
  const chatEl = h('div', {});
  const boardsPart = h('div', { class: 'mod-boards' });
  const synthPart = h('div', { class: 'mod-synth', id: 'mod-synth' });
  const viewSwitch = h('div', { class: 'view-switch' });
  ui.view = sessionStorage.getItem('tavla.mod.view') || 'boards';
  const synth = mountSynthesis(synthPart, app, { call: (op, args) => call(op, args) });
  const undoBtn = h('button', { type: 'button', class: 'btn', 'data-key': 'undo', on: { click: () => quiet(call('undo').then((r) => app.announce(t('undone', { seq: r.undone })))) } }, t('undo'));

  // forms, built once
  const tableName = h('input', { type: 'text', maxlength: 80, required: true });
  const tableForm = h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
    e.preventDefault();
    quiet(call('table.create', { name: tableName.value.trim() }).then(() => { tableName.value = ''; tableName.focus(); }));
  } } }, field('table-name', t('table_name'), tableName), h('button', { type: 'submit', class: 'btn' }, t('create_table')));

  const minutes = h('input', { type: 'number', min: 1, max: 1440, value: 5, required: true });
  const timerForm = h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
    e.preventDefault();
    quiet(call('timer.set', { action: 'start', seconds: Math.max(1, Math.round(Number(minutes.value) * 60)) }));
  } } }, field('timer-min', t('minutes'), minutes), h('button', { type: 'submit', class: 'btn' }, t('timer_start')));

  const bTitle = h('input', { type: 'text', maxlength: 200, required: true });
  const bLayout = h('select', {}, ['columns', 'matrix', 'timeline'].map((l) => h('option', { value: l, text: t(`layout_${l}`) })));
  const bCols = h('textarea', { rows: 3 });
  const bX = h('input', { type: 'text', maxlength: 200 });
  const bY = h('input', { type: 'text', maxlength: 200 });
  const bAnon = h('select', {}, ['named', 'moderators', 'anonymous'].map((a) => h('option', { value: a, text: t(`anon_${a}`) })));
  const bPre = h('input', { type: 'checkbox' });
  const colsField = field('board-cols', t('board_columns'), bCols);
  const xField = field('board-x', t('x_axis'), bX);
  const yField = field('board-y', t('y_axis'), bY);
  const syncLayout = () => {
    const matrix = bLayout.value === 'matrix';
    colsField.hidden = matrix; xField.hidden = !matrix; yField.hidden = !matrix;
  };
  bLayout.addEventListener('change', syncLayout);
  syncLayout();
  const boardForm = h('form', { class: 'form', on: { submit: (e) => {
    e.preventDefault();
    const args = { title: bTitle.value.trim(), layout: bLayout.value, anonymity: bAnon.value, premoderation: bPre.checked };
    if (bLayout.value === 'matrix') { args.x_axis = bX.value.trim(); args.y_axis = bY.value.trim(); }
    else args.columns = bCols.value.split('\n').map((s) => s.trim()).filter(Boolean);
    quiet(call('board.create', args).then((r) => { ui.board = r.board; bTitle.value = ''; bCols.value = ''; render(); }));
  } } },
  field('board-title', t('board_title'), bTitle),
  field('board-layout', t('layout'), bLayout),
  colsField, xField, yField,
  field('board-anon', t('anonymity'), bAnon),
  h('div', { class: 'field field--check' }, bPre, h('label', { for: 'board-pre', text: t('premoderation') })),
  h('button', { type: 'submit', class: 'btn' }, t('create_board')));
  bPre.id = 'board-pre';
  bCols.setAttribute('aria-describedby', 'board-cols-hint');
  colsField.append(h('p', { class: 'hint', id: 'board-cols-hint', text: t('board_columns_hint') }));

  const filterSel = h('select', { 'data-key': 'filter' });
  filterSel.addEventListener('change', () => { ui.tableFilter = filterSel.value; render(); });

  const chatIn = h('input', { type: 'text', maxlength: 4000, autocomplete: 'off' });
  const chatForm = h('form', { class: 'chat__form', on: { submit: (e) => {
    e.preventDefault();
    const v = chatIn.value.trim();
    if (v) quiet(call('chat.send', { text: v }).then(() => { chatIn.value = ''; }));
  } } }, field('mod-chat', t('chat_message'), chatIn), h('button', { type: 'submit', class: 'btn' }, t('send')));

  const section = (id, title, ...children) => h('section', { class: 'card', 'aria-labelledby': id },
    h('h2', { class: 'section-title', id, text: title }), ...children);

  root.replaceChildren(
    h('div', { class: 'mod-head' },
      h('h1', { class: 'room-title', id: 'room-title' }),
      h('button', { type: 'button', class: 'btn btn--ghost btn--small', on: { click: app.leaveRoom } }, t('all_rooms'))),
    statusEl, errorEl, sheet,
    h('div', { class: 'mod-grid' },
      h('div', { class: 'mod-side' },
        section('code-title', t('join_code'), codeEl),
        section('phase-title', t('phase'), phaseEl),
        section('writing-title', t('writing'), writingEl),
        section('timer-title', t('timer'), timerForm, timerCtl),
        section('undo-title', t('undo'), undoBtn),
        section('tables-title', t('tables'), tableForm, tablesEl),
        section('newboard-title', t('new_board'), boardForm)),
      h('div', { class: 'mod-main' },
        viewSwitch,
        boardsPart,
        synthPart,
        section('pending-title', t('pending_queue'), pendingEl),
        section('modchat-title', t('chat'), chatEl, chatForm))));

  boardsPart.append(tabsEl,
    h('div', { class: 'row row--wrap row--end' }, field('table-filter', t('show_table'), filterSel)),
    boardEl);

  function renderSwitch() {
    const b = (v, label) => h('button', { type: 'button', class: 'tab', 'data-key': `view-${v}`,
      'aria-pressed': ui.view === v ? 'true' : 'false',
      on: { click: () => { ui.view = v; sessionStorage.setItem('tavla.mod.view', v); redrawAll(`view-${v}`); } } }, label);
    return h('nav', { 'aria-label': t('dashboard_views') }, h('ul', { class: 'tabs__list' },
      h('li', {}, b('boards', t('view_boards'))), h('li', {}, b('synthesis', t('view_synthesis')))));
  }

  function currentBoard() {
    const m = app.model;
    return boardById(m, ui.board) || boardById(m, m.focus) || m.boards[0] || null;
  }

  const actions = {
    edit: (n, text) => quiet(call('note.edit', { note: n.id, text })),
    del: (n) => { if (window.confirm(t('confirm_delete'))) quiet(call('note.delete', { note: n.id })); },
    move: (n, where) => quiet(call('note.edit', { note: n.id, ...where }).then(() => app.announce(t('note_moved')))),
    approve: (n) => quiet(call('note.approve', { note: n.id })),
  };
  const can = (n, what) => {
    if (n.deleted || app.model.phase === 'closed') return false;
    if (what === 'moderate') return true;
    if (n.placeholder) return false;
    return what === 'edit_text' || what === 'move' || what === 'delete';
  };

  function joinLink() {
    return `${location.origin}/?code=${encodeURIComponent(app.model.code)}`;
  }

  // The join code, the link, its QR code (GET /qr.svg, drawn by the
  // daemon) and a sheet to project or print: rebuilt only when the code
  // changes, so the picture is not reloaded on every event.
  let codeShown = null;

  function printSheet() {
    document.body.classList.add('print-join');
    window.addEventListener('afterprint', () => document.body.classList.remove('print-join'), { once: true });
    window.print();
  }

  function renderSheet(link, qrSrc) {
    const m = app.model;
    sheet.replaceChildren(
      h('h2', { id: 'qr-sheet-title', class: 'qr-sheet__title', text: t('qr_sheet_title', { title: m.title || '' }) }),
      h('p', { class: 'qr-sheet__lead', text: t('qr_sheet_lead') }),
      h('img', { class: 'qr-sheet__qr', src: qrSrc, alt: t('qr_alt', { link }), width: 480, height: 480 }),
      h('p', { class: 'qr-sheet__code' }, h('span', { class: 'qr-sheet__label', text: `${t('join_code')}: ` }),
        h('span', { class: 'qr-sheet__codeval', text: m.code })),
      h('p', { class: 'qr-sheet__link', text: link }),
      h('div', { class: 'row row--wrap qr-sheet__actions' },
        h('button', { type: 'button', class: 'btn', 'data-key': 'sheet-print', on: { click: printSheet } }, t('print_qr')),
        h('button', { type: 'button', class: 'btn btn--primary', 'data-key': 'sheet-close', on: { click: () => sheet.close() } }, t('close'))));
  }

  function renderCode() {
    const link = joinLink();
    const qrSrc = `qr.svg?code=${encodeURIComponent(app.model.code)}`;
    renderSheet(link, qrSrc);
    const linkIn = h('input', { type: 'text', readonly: true, value: link, id: 'join-link' });
    return [
      h('p', { class: 'joincode__code', 'aria-label': t('join_code_is', { code: app.model.code.split('').join(' ') }) }, app.model.code),
      h('figure', { class: 'joincode__figure' },
        h('img', { class: 'joincode__qr', src: qrSrc, alt: t('qr_alt', { link }), width: 240, height: 240 }),
        h('figcaption', { class: 'joincode__link', text: link })),
      h('div', { class: 'field' }, h('label', { for: 'join-link', text: t('join_link') }), linkIn),
      h('div', { class: 'row row--wrap' },
        h('button', { type: 'button', class: 'btn btn--small', 'data-key': 'copy', on: { click: () => {
          linkIn.select();
          const done = () => app.announce(t('copied'));
          if (navigator.clipboard) navigator.clipboard.writeText(link).then(done, () => {}); else done();
        } } }, t('copy_link')),
        h('button', { type: 'button', class: 'btn btn--small', 'data-key': 'show-qr', 'aria-haspopup': 'dialog',
          on: { click: () => { sheet.showModal(); focusKey(sheet, 'sheet-close'); } } }, t('show_qr')),
        h('button', { type: 'button', class: 'btn btn--small', 'data-key': 'print-qr', on: { click: printSheet } }, t('print_qr'))),
    ];
  }

  function renderPhases() {
    return PHASES.map((p) => h('button', { type: 'button', class: 'btn btn--small', 'data-key': `phase-${p}`,
      'data-phase': p, 'aria-pressed': app.model.phase === p ? 'true' : 'false',
      on: { click: () => quiet(call('phase.set', { phase: p })) } }, phaseName(p)));
  }

  function renderWriting() {
    const m = app.model;
    return [
      h('button', { type: 'button', class: 'btn btn--small', 'data-key': 'private', 'aria-pressed': m.private ? 'true' : 'false',
        on: { click: () => quiet(call('writing.set', { private: !m.private })) } }, t('private_writing')),
      h('button', { type: 'button', class: 'btn btn--small', 'data-key': 'reveal',
        on: { click: () => quiet(call('writing.reveal').then((r) => app.announce(t('revealed_n', { n: r.revealed })))) } }, t('reveal')),
    ];
  }

  function renderTimerCtl() {
    const st = app.model.timer.state;
    const b = (action, label) => h('button', { type: 'button', class: 'btn btn--small', 'data-key': `timer-${action}`,
      on: { click: () => quiet(call('timer.set', { action })) } }, label);
    return [st === 'running' ? b('pause', t('timer_pause')) : null, st === 'paused' ? b('resume', t('timer_resume')) : null,
      st !== 'stopped' ? b('stop', t('timer_stop')) : null];
  }

  function renderTables() {
    const m = app.model;
    const s = ui.status;
    if (!m.tables.length) return h('p', { class: 'hint', text: t('no_tables') });
    const byId = {};
    if (s && s.tables) for (const x of s.tables) byId[x.id] = x;
    const cols = ['seated', 'present', 'writing', 'done', 'notes'];
    return h('div', { class: 'status-wrap', tabindex: 0, role: 'region', 'aria-label': t('table_status') }, h('table', { class: 'status-table' },
      h('caption', { class: 'sr-only', text: t('table_status') }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('table') }),
        cols.map((c) => h('th', { scope: 'col', text: t(`st_${c}`) })), h('th', { scope: 'col', text: t('st_state') }))),
      h('tbody', {}, m.tables.map((tb) => {
        const x = byId[tb.id] || {};
        const state = x.stuck ? t('st_stuck') : x.empty ? t('st_empty') : '';
        return h('tr', { 'data-table': tb.id }, h('th', { scope: 'row', text: tb.name }),
          cols.map((c) => h('td', { text: x[c] === undefined ? '–' : String(x[c]) })),
          h('td', { class: x.stuck ? 'warn' : '', text: state }));
      }))));
  }

  function renderTabs() {
    const m = app.model;
    if (!m.boards.length) return [];
    const cur = currentBoard();
    return [h('nav', { 'aria-label': t('boards') }, h('ul', { class: 'tabs__list' },
      m.boards.map((b) => h('li', {}, h('button', { type: 'button', class: 'tab', 'data-key': `tab-${b.id}`,
        'aria-pressed': cur && cur.id === b.id ? 'true' : 'false',
        on: { click: () => { ui.board = b.id; redrawAll(`tab-${b.id}`); } } }, b.title))),
      cur ? h('li', {}, h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-key': 'focus',
        on: { click: () => quiet(call('view.focus', { board: cur.id })) } }, t('focus_board'))) : null))];
  }

  function renderPending() {
    const p = (ui.status && ui.status.pending) || [];
    if (!p.length) return h('p', { class: 'hint', text: t('no_pending') });
    return h('ul', { class: 'pending' }, p.map((n) => h('li', {}, h('span', { text: n.text }), ' ',
      h('button', { type: 'button', class: 'btn btn--small', on: { click: () => actions.approve(n) } }, t('approve')))));
  }

  function syncFilter() {
    const m = app.model;
    const want = [''].concat(m.tables.map((x) => x.id)).join('|');
    if (filterSel.dataset.tables !== want) {
      filterSel.dataset.tables = want;
      filterSel.replaceChildren(h('option', { value: '', text: t('all_tables') }),
        ...m.tables.map((x) => h('option', { value: x.id, text: x.name })));
      filterSel.value = ui.tableFilter;
    }
  }

  function render() {
    const m = app.model;
    document.getElementById('room-title').textContent = m.title;
    redraw(statusEl, statusLine(app));
    if (codeShown !== `${m.code}|${m.title}`) {
      codeShown = `${m.code}|${m.title}`;
      redraw(codeEl, renderCode());
    }
    redraw(phaseEl, renderPhases());
    redraw(writingEl, renderWriting());
    redraw(timerCtl, renderTimerCtl());
    undoBtn.textContent = ui.status ? t('undo_n', { n: ui.status.undo }) : t('undo');
    redraw(tablesEl, renderTables());
    redraw(viewSwitch, renderSwitch());
    boardsPart.hidden = ui.view !== 'boards';
    synthPart.hidden = ui.view !== 'synthesis';
    if (ui.view === 'synthesis') synth.render();
    redraw(tabsEl, renderTabs());
    syncFilter();
    const b = currentBoard();
    const ctx = { model: m, ui, can, actions, local: [], redraw: redrawAll, announce: app.announce, showTables: true, tableFilter: ui.tableFilter };
    // A note being dragged keeps its element until it is let go.
    if (!ui.dragging) redraw(boardEl, b ? renderBoard(ctx, b) : h('p', { class: 'hint', text: t('no_board_yet') }));
    redraw(pendingEl, renderPending());
    redraw(chatEl, chatList(m, []));
  }

  function redrawAll(key) {
    render();
    if (key) focusKey(root, key);
  }

  let statusTimer = null;
  function refreshStatus() {
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => {
      if (session.state !== 'online' || !app.model) return;
      session.request('workshop.status', { room: room() }).then((s) => { ui.status = s; render(); }, () => {});
    }, 300);
  }
  const poll = setInterval(refreshStatus, 10000);

  return {
    render,
    onEvent() { refreshStatus(); },
    onOnline() { refreshStatus(); },
    showError,
    tick() { redraw(statusEl, statusLine(app)); },
    destroy() { clearInterval(poll); clearTimeout(statusTimer); },
  };
}
