// synthesis.js: grouping notes into themes, dot voting and the ranked result
// (PROTOCOL.md §4.27–4.47, docs/synthesis.md).
//
// Responsible for the moderator's synthesis board (create a synthesis from
// chosen questions and tables; every note with its question and table;
// themes as columns; notes moved into themes by dragging, by the arrow keys
// or by selecting several and picking a theme; rename, merge, split, delete;
// undo; suggestions to accept or reject; opening and closing a dot vote;
// the ranked result; action items; publishing; exports) and for the
// participant's part (grouping their own table's notes in phase group with
// the same controls, placing their dots within the budget, the result). Not
// responsible for the connection or the model: the clusters themselves are
// read with synthesis.result whenever an event says they changed
// (model.synthRev), so the daemon's rendering for this viewer is the one
// truth.
//
// Invariants:
//  1. No step needs dragging: every move has a button, a menu or a key.
//  2. Text people typed is only ever set as textContent or a field's value.
//  3. Fields the user is typing in survive redraws: their value lives in
//     ui.drafts, keyed by the field's data-key.

import { h, redraw, focusKey, field, busy } from './dom.js';
import { t } from './i18n.js';
import { voteOf, dotCounts, myTable, tableName } from './state.js';
import { errorText } from './common.js';

const REFRESH_MS = 150;

/* A holder of the scope's result, refetched when the model changes. */
function resultKeeper(app, onChange) {
  const k = { scope: '', data: null, rev: -1, seq: -1, timer: null, busy: false, error: null };
  k.want = (scope) => {
    const m = app.model;
    if (!scope) { k.data = null; k.scope = ''; return; }
    if (scope === k.scope && k.rev === m.synthRev && k.seq === m.seq) return;
    if (scope !== k.scope) k.data = null;
    k.scope = scope;
    k.rev = m.synthRev;
    k.seq = m.seq;
    if (k.timer) clearTimeout(k.timer);
    else busy(1);
    k.timer = setTimeout(() => {
      k.timer = null;
      if (app.session.state !== 'online') { k.rev = -1; busy(-1); return; }
      app.session.request('synthesis.result', { room: m.id, scope }).then((r) => {
        if (k.scope === scope) { k.data = r; k.error = null; onChange(); }
      }, (e) => { k.error = e; onChange(); }).finally(() => busy(-1));
    }, REFRESH_MS);
  };
  return k;
}

/* Every note of a result: clustered ones with their cluster id. */
function allNotes(res) {
  const out = [];
  if (!res) return out;
  for (const c of res.clusters || []) for (const n of c.notes || []) out.push({ ...n, cluster: c.id });
  for (const n of res.unclustered || []) out.push({ ...n, cluster: '' });
  return out;
}

function draft(ui, key, attrs = {}, tag = 'input') {
  const el = h(tag, { ...attrs, 'data-key': key });
  if (tag === 'input' && !attrs.type) el.type = 'text';
  el.value = ui.drafts[key] !== undefined ? ui.drafts[key] : (attrs.value || '');
  el.addEventListener('input', () => { ui.drafts[key] = el.value; });
  return el;
}

/* "Lapp av Åsa, Bord 1, Vad behöver …: text" for a screen reader. */
export function synthNoteName(n) {
  const who = n.proxy_for || n.author_name;
  const where = [n.table_name, n.question].filter(Boolean).join(', ');
  return `${who ? t('note_by', { name: who }).replace(/:$/, '') : t('note_anon').replace(/:$/, '')}${where ? ` (${where})` : ''}:`;
}

// --- the board of one scope: themes as columns ------------------------------

/* ctx: {app, ui, call, res, scope, moderator, canGroup} */
function renderThemes(ctx) {
  const { ui, res, canGroup } = ctx;
  const clusters = res.clusters || [];
  const notes = allNotes(res);
  const cols = [{ id: '', name: t('unclustered') }, ...clusters];
  const selected = notes.filter((n) => ui.sel.has(n.id));
  const vote = ctx.vote;
  const showDots = vote && (!vote.hidden || vote.closed);

  const moveNotes = (ids, cluster) => {
    if (!ids.length) return Promise.resolve();
    const args = { scope: ctx.scope, notes: ids };
    if (cluster) args.cluster = cluster;
    return ctx.call('cluster.assign', args).then(() => {
      const name = cluster ? (clusters.find((c) => c.id === cluster) || {}).name : t('unclustered');
      ctx.app.announce(t('notes_moved_to', { n: ids.length, name }));
    });
  };
  ctx.moveNotes = moveNotes;

  const columns = cols.map((c, ci) => {
    const inCol = notes.filter((n) => n.cluster === c.id);
    const hid = `th-${c.id || 'none'}`;
    const dots = c.id && showDots ? (vote.totals[c.id] || 0) : null;
    return h('section', { class: ['theme', !c.id && 'theme--none'], 'aria-labelledby': hid, 'data-cluster': c.id || '' },
      h('h3', { class: 'theme__title', id: hid, 'data-key': `theme-${c.id || 'none'}`, tabindex: -1 },
        c.id ? h('span', { class: 'sr-only', text: `${t('theme')}: ` }) : null,
        c.name, ' ', h('span', { class: 'column__count', text: `(${t('n_notes', { n: inCol.length })})` }),
        dots !== null ? h('span', { class: 'theme__dots', text: ` · ${t('n_dots', { n: dots })}` }) : null),
      c.id && c.carried_total ? h('p', { class: 'theme__meta', text: t('carried_dots', { n: c.carried_total }) }) : null,
      h('ul', { class: 'notes', 'aria-labelledby': hid }, inCol.map((n) => synthNote(ctx, n, cols, ci))),
      c.id && ctx.moderator ? clusterTools(ctx, c, clusters, inCol) : null,
      c.id && ctx.moderator ? actionItems(ctx, c) : null);
  });

  const bar = canGroup ? assignBar(ctx, clusters, selected) : null;
  return [bar, h('div', { class: 'themes' }, columns)];
}

function synthNote(ctx, n, cols, ci) {
  const { ui, canGroup } = ctx;
  const checked = ui.sel.has(n.id);
  const cbId = `sel-${n.id}`;
  const meta = h('p', { class: 'note__meta' },
    (n.proxy_for || n.author_name) ? h('span', { class: 'note__author', 'aria-hidden': 'true', text: n.proxy_for || n.author_name }) : null,
    n.table_name ? h('span', { class: 'note__table', 'aria-hidden': 'true', text: n.table_name }) : null,
    n.question ? h('span', { class: 'note__question', 'aria-hidden': 'true', text: n.question }) : null);
  const dup = (n.duplicates || []).length ? h('ul', { class: 'note__dups', 'aria-label': t('duplicates') },
    n.duplicates.map((d) => h('li', { text: d.text || d.id }))) : null;
  const onKey = (e) => {
    if (!canGroup || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.tagName === 'INPUT' && e.target.type !== 'checkbox') return;
    const d = { ArrowLeft: -1, ArrowRight: 1 }[e.key];
    if (!d) return;
    const to = cols[ci + d];
    if (!to) return;
    e.preventDefault();
    ctx.moveNotes([n.id], to.id).then(() => focusKey(document, `snote-${n.id}`));
  };
  return h('li', { class: ['note', 'note--synth', `note--${n.colour || 'yellow'}`, checked && 'note--selected'],
    'data-id': n.id, 'data-key': `snote-${n.id}`, tabindex: canGroup ? 0 : null,
    'aria-describedby': canGroup ? 'synth-kbd' : null,
    on: canGroup ? { keydown: onKey, pointerdown: (e) => onNoteDrag(ctx, n, e) } : null },
  canGroup ? h('input', { type: 'checkbox', id: cbId, class: 'note__check', 'data-key': cbId, checked,
    on: { change: (e) => { if (e.target.checked) ui.sel.add(n.id); else ui.sel.delete(n.id); ctx.redraw(cbId); } } }) : null,
  canGroup ? h('label', { for: cbId, class: 'note__label' },
    h('span', { class: 'sr-only', text: `${synthNoteName(n)} ` }), h('span', { class: 'note__text', text: n.text }))
    : h('p', { class: 'note__text' }, h('span', { class: 'sr-only', text: `${synthNoteName(n)} ` }), n.text),
  meta, dup);
}

/* Dragging with a mouse, pen or finger: the note (or, when it is ticked,
 * every ticked note) lands in the theme column it is let go over. */
function onNoteDrag(ctx, n, e) {
  if (e.button !== 0 || e.target.closest('button, input, select, textarea, a')) return;
  const li = e.currentTarget;
  const x0 = e.clientX, y0 = e.clientY;
  let dragging = false;
  const move = (ev) => {
    if (ev.pointerId !== e.pointerId) return;
    const dx = ev.clientX - x0, dy = ev.clientY - y0;
    if (!dragging && Math.hypot(dx, dy) < 6) return;
    if (!dragging) { dragging = true; ctx.ui.dragging = true; li.classList.add('note--dragging'); }
    li.style.transform = `translate(${dx}px, ${dy}px)`;
  };
  const up = (ev) => {
    if (ev.pointerId !== e.pointerId) return;
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', up);
    window.removeEventListener('pointercancel', up);
    if (!dragging) return;
    ctx.ui.dragging = false;
    li.style.transform = '';
    li.classList.remove('note--dragging');
    let target = null;
    if (ev.type === 'pointerup') {
      for (const el of document.elementsFromPoint(ev.clientX, ev.clientY)) {
        if (li.contains(el)) continue;
        const col = el.closest('[data-cluster]');
        if (col) { target = col.dataset.cluster; break; }
      }
    }
    if (target === null || target === n.cluster) { ctx.redraw(); return; }
    const ids = ctx.ui.sel.has(n.id) ? [...ctx.ui.sel] : [n.id];
    ctx.ui.sel.clear();
    ctx.moveNotes(ids, target);
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', up);
  window.addEventListener('pointercancel', up);
}

/* Select notes, pick a theme: the step that needs no dragging. */
function assignBar(ctx, clusters, selected) {
  const { ui } = ctx;
  const target = h('select', { 'data-key': 'assign-to', id: 'assign-to' },
    h('option', { value: '', text: t('unclustered') }),
    clusters.map((c) => h('option', { value: c.id, text: c.name })));
  if (ui.assignTo && clusters.some((c) => c.id === ui.assignTo)) target.value = ui.assignTo;
  target.addEventListener('change', () => { ui.assignTo = target.value; });
  const newName = draft(ui, 'new-theme', { maxlength: 200, id: 'new-theme' });
  const n = selected.length;
  return h('div', { class: 'assign card', role: 'group', 'aria-labelledby': 'assign-title' },
    h('h3', { class: 'section-title', id: 'assign-title', text: t('selected_n', { n }) }),
    h('p', { class: 'hint', id: 'synth-kbd', text: t('synth_kbd_hint') }),
    h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
      e.preventDefault();
      const ids = [...ui.sel];
      ui.sel.clear();
      ctx.moveNotes(ids, target.value).then(() => ctx.redraw('assign-to'));
    } } }, field('assign-to', t('move_selected_to'), target),
    h('button', { type: 'submit', class: 'btn', 'data-key': 'assign-go', disabled: !n }, t('move_selected'))),
    h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
      e.preventDefault();
      const name = newName.value.trim();
      if (!name) return;
      const args = { scope: ctx.scope, name };
      if (ui.sel.size) args.notes = [...ui.sel];
      ctx.call('cluster.create', args).then(() => {
        ui.sel.clear();
        ui.drafts['new-theme'] = '';
        ctx.app.announce(t('theme_created', { name }));
        ctx.redraw('new-theme');
      });
    } } }, field('new-theme', t('new_theme_name'), newName),
    h('button', { type: 'submit', class: 'btn', 'data-key': 'create-theme' }, n ? t('create_theme_with', { n }) : t('create_theme'))),
    n ? h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-key': 'sel-clear',
      on: { click: () => { ui.sel.clear(); ctx.redraw('assign-to'); } } }, t('clear_selection')) : null);
}

function clusterTools(ctx, c, clusters, inCol) {
  const { ui } = ctx;
  const k = (s) => `${s}-${c.id}`;
  const open = ui.open.has(c.id);
  const toggle = h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-key': k('tools'),
    'aria-expanded': open ? 'true' : 'false', 'aria-controls': k('toolsbox'),
    'aria-label': t('theme_tools_for', { name: c.name }),
    on: { click: () => { if (open) ui.open.delete(c.id); else ui.open.add(c.id); ctx.redraw(open ? k('tools') : k('rename')); } } },
  t('theme_tools'));
  if (!open) return h('div', { class: 'theme__tools' }, toggle);
  const rename = draft(ui, k('rename'), { maxlength: 200, id: k('rename'), value: c.name });
  const others = clusters.filter((x) => x.id !== c.id);
  const into = h('select', { id: k('into'), 'data-key': k('into') }, others.map((x) => h('option', { value: x.id, text: x.name })));
  const splitName = draft(ui, k('split'), { maxlength: 200, id: k('split') });
  const selHere = inCol.filter((n) => ui.sel.has(n.id)).map((n) => n.id);
  return h('div', { class: 'theme__tools', id: k('toolsbox') }, toggle,
    h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
      e.preventDefault();
      const name = rename.value.trim();
      if (name && name !== c.name) ctx.call('cluster.update', { cluster: c.id, name }).then(() => { delete ui.drafts[k('rename')]; });
    } } }, field(k('rename'), t('theme_name'), rename), h('button', { type: 'submit', class: 'btn btn--small' }, t('rename'))),
    others.length ? h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
      e.preventDefault();
      const target = into.value;
      ctx.call('cluster.merge', { cluster: c.id, into: target }).then(() => {
        ctx.app.announce(t('themes_merged'));
        ui.open.delete(c.id);
        focusKey(document, `theme-${target}`);
      });
    } } }, field(k('into'), t('merge_into'), into), h('button', { type: 'submit', class: 'btn btn--small' }, t('merge'))) : null,
    h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
      e.preventDefault();
      const name = splitName.value.trim();
      if (!name || !selHere.length) return;
      ctx.call('cluster.split', { cluster: c.id, name, notes: selHere }).then(() => {
        for (const id of selHere) ui.sel.delete(id);
        delete ui.drafts[k('split')];
      });
    } } }, field(k('split'), t('split_name', { n: selHere.length }), splitName),
    h('button', { type: 'submit', class: 'btn btn--small', disabled: !selHere.length }, t('split'))),
    h('button', { type: 'button', class: 'btn btn--small btn--danger', 'data-key': k('del'),
      on: { click: () => ctx.call('cluster.delete', { cluster: c.id }).then(() => { ui.open.delete(c.id); ctx.app.announce(t('theme_deleted', { name: c.name })); focusKey(document, 'theme-none'); }) } },
    t('delete_theme')));
}

const STATUSES = ['open', 'doing', 'done', 'dropped'];

function actionItems(ctx, c) {
  const { ui } = ctx;
  const k = (s) => `${s}-${c.id}`;
  const text = draft(ui, k('act'), { maxlength: 500, id: k('act') });
  const owner = draft(ui, k('owner'), { maxlength: 120, id: k('owner') });
  const list = (c.actions || []).map((a) => {
    const sel = h('select', { id: `ast-${a.id}`, 'data-key': `ast-${a.id}`, on: { change: (e) =>
      ctx.call('action.update', { action: a.id, status: e.target.value }) } },
    STATUSES.map((s) => h('option', { value: s, text: t(`status_${s}`) })));
    sel.value = a.status || 'open';
    return h('li', { class: 'action' }, h('span', { class: 'action__text', text: a.text }),
      a.owner ? h('span', { class: 'action__owner', text: ` – ${a.owner}` }) : null,
      h('div', { class: 'field field--inline' }, h('label', { for: sel.id, text: t('status') }), sel));
  });
  return h('div', { class: 'theme__actions' },
    h('h4', { class: 'theme__subtitle', text: t('actions') }),
    list.length ? h('ul', { class: 'actions' }, list) : null,
    h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
      e.preventDefault();
      const v = text.value.trim();
      if (!v) return;
      const args = { cluster: c.id, text: v };
      if (owner.value.trim()) args.owner = owner.value.trim();
      ctx.call('action.create', args).then(() => { delete ui.drafts[k('act')]; delete ui.drafts[k('owner')]; ctx.redraw(k('act')); });
    } } }, field(k('act'), t('action_text'), text), field(k('owner'), t('action_owner'), owner),
    h('button', { type: 'submit', class: 'btn btn--small' }, t('add_action'))));
}

// --- suggestions -------------------------------------------------------------

function suggestions(ctx) {
  const { ui } = ctx;
  const list = ui.suggestions;
  if (!list) return null;
  const byId = {};
  for (const n of allNotes(ctx.res)) byId[n.id] = n;
  const items = list.map((s, i) => {
    const key = `sug-${ui.sugRound}-${i}`;
    const label = draft(ui, `${key}-label`, { maxlength: 200, id: `${key}-label`, value: s.label });
    const done = () => {
      list.splice(i, 1);
      const next = list.length ? `sug-${ui.sugRound}-${Math.min(i, list.length - 1)}-accept` : 'suggest';
      // the keys of the rest shift by one: start a new round of keys
      ui.sugRound += 1;
      ctx.redraw(next.replace(/^sug-\d+/, `sug-${ui.sugRound}`));
    };
    return h('li', { class: 'suggestion card', 'data-suggestion': i },
      h('form', { class: 'form', on: { submit: (e) => {
        e.preventDefault();
        const name = label.value.trim() || s.label;
        ctx.call('cluster.create', { scope: ctx.scope, name, notes: s.notes }).then(() => {
          ctx.app.announce(t('theme_created', { name }));
          done();
        });
      } } },
      field(`${key}-label`, t('suggestion_label'), label),
      h('ul', { class: 'suggestion__notes', 'aria-label': t('suggestion_notes', { n: s.notes.length }) },
        s.notes.map((id) => h('li', { text: byId[id] ? byId[id].text : id }))),
      h('div', { class: 'row row--wrap' },
        h('button', { type: 'submit', class: 'btn btn--small btn--primary', 'data-key': `${key}-accept` }, t('accept')),
        h('button', { type: 'button', class: 'btn btn--small', 'data-key': `${key}-reject`,
          on: { click: () => ctx.call('cluster.reject', { scope: ctx.scope, notes: s.notes }).then(() => {
            ctx.app.announce(t('suggestion_rejected'));
            done();
          }) } }, t('reject')))));
  });
  return h('section', { class: 'suggestions', 'aria-labelledby': 'sug-title' },
    h('h3', { class: 'section-title', id: 'sug-title', text: t('suggestions_n', { n: list.length }) }),
    list.length ? h('ol', { class: 'suggestions__list' }, items) : h('p', { class: 'hint', text: t('no_suggestions') }));
}

// --- vote and result -----------------------------------------------------------

function voteControls(ctx) {
  const { ui, vote } = ctx;
  if (vote && !vote.closed) {
    return h('div', { class: 'vote-ctl' },
      h('p', { class: 'vote-ctl__status', 'data-vote': vote.id, text: t(vote.hidden ? 'vote_open_hidden' : 'vote_open_live',
        { budget: vote.budget, voters: vote.voters }) }),
      h('button', { type: 'button', class: 'btn btn--primary', 'data-key': 'vote-close',
        on: { click: () => ctx.call('vote.close', { vote: vote.id }).then(() => { ctx.app.announce(t('vote_closed')); focusKey(document, 'result-title'); }) } },
      t('close_vote')));
  }
  const budget = draft(ui, 'vote-budget', { type: 'number', min: 1, max: 100, value: '3', id: 'vote-budget' });
  const maxPer = draft(ui, 'vote-max', { type: 'number', min: 1, max: 100, value: '', id: 'vote-max' });
  const hidden = h('input', { type: 'checkbox', id: 'vote-hidden', 'data-key': 'vote-hidden', checked: !!ui.voteHidden,
    on: { change: (e) => { ui.voteHidden = e.target.checked; } } });
  const on = h('select', { id: 'vote-on', 'data-key': 'vote-on' },
    h('option', { value: 'clusters', text: t('vote_on_clusters') }), h('option', { value: 'notes', text: t('vote_on_notes') }));
  on.value = ui.voteOn || 'clusters';
  on.addEventListener('change', () => { ui.voteOn = on.value; });
  return h('form', { class: 'row row--wrap row--end vote-ctl', on: { submit: (e) => {
    e.preventDefault();
    const args = { scope: ctx.scope, budget: Math.max(1, Number(budget.value) || 3), on: on.value, hidden: !!hidden.checked };
    if (Number(maxPer.value) > 0) args.max_per_item = Number(maxPer.value);
    ctx.call('vote.open', args).then(() => ctx.app.announce(t('vote_opened')));
  } } },
  field('vote-budget', t('vote_budget'), budget),
  field('vote-max', t('vote_max'), maxPer),
  field('vote-on', t('vote_on'), on),
  h('div', { class: 'field field--check' }, hidden, h('label', { for: 'vote-hidden', text: t('vote_hidden') })),
  h('button', { type: 'submit', class: 'btn', 'data-key': 'vote-open' }, t('open_vote')));
}

/* The ranked result: rank, ties, dots, where it was raised, carried dots. */
export function rankedResult(app, res) {
  if (!res || !res.ranked) return null;
  const m = app.model;
  const tn = (id) => tableName(m, id) || id;
  return h('section', { class: 'result', 'aria-labelledby': 'result-title' },
    h('h3', { class: 'section-title', id: 'result-title', tabindex: -1, 'data-key': 'result-title',
      text: t(res.vote && res.vote.closed ? 'result_title' : 'result_live') }),
    h('ol', { class: 'result__list' }, (res.clusters || []).map((c) => h('li', { class: 'result__item', 'data-cluster': c.id, 'data-rank': c.rank },
      h('span', { class: 'result__rank', text: `${c.rank}.` }), ' ',
      h('span', { class: 'result__name', text: c.name }), ' ',
      h('span', { class: 'result__dots', text: t('n_dots', { n: c.dots || 0 }) }),
      c.tie ? h('span', { class: 'badge result__tie', text: t('tie') }) : null,
      res.tables_total ? h('span', { class: 'result__raised', text: t('raised_at', { n: c.raised_at || 0, of: res.tables_total }) }) : null,
      c.carried_total ? h('span', { class: 'result__carried', text: t('carried_by_table', {
        list: Object.entries(c.carried || {}).map(([tb, n]) => `${tn(tb)}: ${n}`).join(', ') }) }) : null))));
}

// --- the moderator's synthesis screen ---------------------------------------------

export function mountSynthesis(root, app, { call }) {
  const ui = { scope: '', sel: new Set(), open: new Set(), drafts: {}, suggestions: null, sugRound: 0,
    assignTo: '', voteHidden: false, voteOn: 'clusters', links: [] };
  const keeper = resultKeeper(app, () => render());
  const body = h('div', { class: 'synth' });
  root.replaceChildren(body);

  function createForm() {
    const m = app.model;
    const name = draft(ui, 'syn-name', { maxlength: 200, required: true, id: 'syn-name' });
    const boxes = (items, kind) => h('fieldset', { class: 'checks' },
      h('legend', { text: t(kind === 'b' ? 'syn_boards' : 'syn_tables') }),
      items.map((x) => h('div', { class: 'field field--check' },
        h('input', { type: 'checkbox', id: `syn-${kind}-${x.id}`, 'data-key': `syn-${kind}-${x.id}`, value: x.id, checked: true }),
        h('label', { for: `syn-${kind}-${x.id}`, text: x.title || x.name }))));
    const bfs = boxes(m.boards, 'b');
    const tfs = boxes(m.tables, 't');
    const picked = (fs, all) => {
      const on = [...fs.querySelectorAll('input:checked')].map((i) => i.value);
      return on.length === all.length ? [] : on;
    };
    return h('form', { class: 'form card', on: { submit: (e) => {
      e.preventDefault();
      const args = { name: name.value.trim() };
      if (!args.name) return;
      const b = picked(bfs, m.boards), tb = picked(tfs, m.tables);
      if (b.length) args.boards = b;
      if (tb.length) args.tables = tb;
      call('synthesis.create', args).then((r) => { ui.scope = r.synthesis; delete ui.drafts['syn-name']; render(); focusKey(root, 'suggest'); });
    } } },
    h('h3', { class: 'section-title', text: t('new_synthesis') }),
    field('syn-name', t('synthesis_name'), name),
    m.boards.length ? bfs : null, m.tables.length ? tfs : null,
    h('p', { class: 'hint', text: t('syn_all_hint') }),
    h('button', { type: 'submit', class: 'btn btn--primary', 'data-key': 'syn-create' }, t('create_synthesis')));
  }

  function scopePicker() {
    const m = app.model;
    const sel = h('select', { id: 'syn-scope', 'data-key': 'syn-scope' },
      m.syntheses.map((s) => h('option', { value: s.id, text: s.name })),
      m.tables.map((tb) => h('option', { value: tb.id, text: t('table_scope', { name: tb.name }) })),
      h('option', { value: '+', text: t('new_synthesis_opt') }));
    sel.value = ui.scope || '+';
    sel.addEventListener('change', () => { ui.scope = sel.value === '+' ? '' : sel.value; ui.sel.clear(); ui.suggestions = null; render(); });
    return field('syn-scope', t('scope'), sel);
  }

  function exportButtons() {
    const fmts = [['markdown', 'Markdown'], ['csv', 'CSV'], ['json', 'JSON'], ['html', t('printable')]];
    return h('div', { class: 'exports' },
      h('h3', { class: 'section-title', id: 'export-title', text: t('export') }),
      h('div', { class: 'row row--wrap', role: 'group', 'aria-labelledby': 'export-title' }, fmts.map(([f, label]) =>
        h('button', { type: 'button', class: 'btn btn--small', 'data-key': `export-${f}`, 'data-format': f,
          on: { click: () => {
            // Opened at once (a user gesture), pointed at the link when it comes.
            const win = window.open('', '_blank');
            call('export.link', { format: f }).then((r) => {
              const href = new URL(r.url, location.href).href;
              ui.links = [{ format: f, label, href }, ...ui.links.filter((x) => x.format !== f)];
              if (win) { win.opener = null; win.location.href = href; }
              render();
            }, () => { if (win) win.close(); });
          } } }, label))),
      ui.links.length ? h('ul', { class: 'exports__links' }, ui.links.map((l) => h('li', {},
        h('a', { href: l.href, target: '_blank', rel: 'noopener', 'data-format': l.format, text: t('open_export', { label: l.label }) })))) : null);
  }

  function render() {
    const m = app.model;
    if (!ui.scope && m.syntheses.length && !ui.creating) ui.scope = m.syntheses[m.syntheses.length - 1].id;
    keeper.want(ui.scope);
    const res = keeper.data;
    const parts = [];
    if (m.syntheses.length || m.tables.length) parts.push(scopePicker());
    if (!ui.scope) {
      parts.push(createForm());
      redraw(body, parts);
      return;
    }
    // A note being dragged keeps its element until it is let go.
    if (ui.dragging) return;
    if (!res) {
      parts.push(h('p', { class: 'hint', text: keeper.error ? errorText(keeper.error) : t('loading') }));
      redraw(body, parts);
      return;
    }
    const vote = voteOf(m, ui.scope);
    const ctx = { app, ui, call, res, scope: ui.scope, moderator: true, canGroup: m.phase !== 'closed', vote,
      redraw: (key) => { render(); if (key) focusKey(root, key); } };
    parts.push(h('h2', { class: 'section-title', id: 'synth-title', text: res.name || ui.scope }),
      h('div', { class: 'row row--wrap synth__tools' },
        h('button', { type: 'button', class: 'btn', 'data-key': 'suggest', on: { click: () => {
          call('cluster.suggest', { scope: ui.scope }).then((r) => {
            ui.suggestions = r.suggestions || [];
            ui.sugRound += 1;
            app.announce(t('suggestions_n', { n: ui.suggestions.length }));
            ctx.redraw(ui.suggestions.length ? `sug-${ui.sugRound}-0-accept` : 'suggest');
          });
        } } }, t('suggest_themes')),
        h('button', { type: 'button', class: 'btn', 'data-key': 'syn-undo', on: { click: () =>
          call('undo').then((r) => app.announce(t('undone', { seq: r.undone }))) } }, t('undo')),
        m.syntheses.some((s) => s.id === ui.scope) ? h('button', { type: 'button', class: 'btn', 'data-key': 'publish', on: { click: () =>
          call('synthesis.publish', { synthesis: ui.scope }).then((r) => app.announce(t('published', { v: r.version }))) } }, t('publish')) : null),
      suggestions(ctx),
      h('section', { class: 'card', 'aria-labelledby': 'vote-title' },
        h('h3', { class: 'section-title', id: 'vote-title', text: t('dot_vote') }), voteControls(ctx)),
      rankedResult(app, res),
      renderThemes(ctx),
      exportButtons());
    redraw(body, parts);
  }

  return { render, ui };
}

// --- the participant's part ----------------------------------------------------------

/* A section in the participant's view: the open (or last) vote in a scope
 * they may vote in, and grouping their own table's notes in phase group. */
export function mountParticipantSynthesis(root, app) {
  const ui = { sel: new Set(), open: new Set(), drafts: {}, ballot: null, ballotVote: '', assignTo: '' };
  const voteKeeper = resultKeeper(app, () => render());
  const groupKeeper = resultKeeper(app, () => render());
  const call = (op, args = {}) => app.session.request(op, { room: app.model.id, ...args })
    .then((r) => { app.view.showError(null); return r; }, (e) => { app.view.showError(e); throw e; });

  function myVote() {
    const m = app.model;
    const table = myTable(m);
    let best = null;
    for (const v of Object.values(m.votes)) {
      if (v.table && v.table !== table) continue;
      if (!best || (best.closed && !v.closed) || (best.closed === v.closed && v.seq > best.seq)) best = v;
    }
    return best;
  }

  function items(v, res) {
    if (!res) return [];
    // The clusters' own order, not the standing: items do not jump while voting.
    if (v.on === 'clusters') {
      return (res.clusters || []).slice().sort((a, b) => (a.order || 0) - (b.order || 0))
        .map((c) => ({ id: c.id, name: c.name, notes: c.notes || [] }));
    }
    return allNotes(res).map((n) => ({ id: n.id, name: n.text, notes: [] }));
  }

  function cast(v, dots) {
    ui.ballot = dots;
    app.session.queue('vote.cast', { room: app.model.id, vote: v.id, dots });
    render();
  }

  function renderVote(v) {
    const res = voteKeeper.data;
    if (ui.ballotVote !== v.id) { ui.ballotVote = v.id; ui.ballot = null; }
    const ballot = ui.ballot || v.mine || [];
    const counts = dotCounts(ballot);
    const left = v.budget - ballot.length;
    const maxPer = v.max_per_item || v.budget;
    const saving = app.session.outbox.some((it) => it.op === 'vote.cast' && it.args.vote === v.id);
    const list = items(v, res);
    if (v.closed) {
      const names = {};
      for (const it of list) names[it.id] = it.name;
      return h('section', { class: 'card vote', 'aria-labelledby': 'pvote-title' },
        h('h2', { class: 'section-title', id: 'pvote-title', text: t('vote_result') }),
        h('ol', { class: 'result__list' }, (v.results || []).map((r) => h('li', { class: 'result__item', 'data-item': r.item },
          h('span', { class: 'result__rank', text: `${r.rank}.` }), ' ',
          h('span', { class: 'result__name', text: names[r.item] || r.item }), ' ',
          h('span', { class: 'result__dots', text: t('n_dots', { n: r.dots }) }),
          (v.results || []).filter((x) => x.rank === r.rank).length > 1 ? h('span', { class: 'badge result__tie', text: t('tie') }) : null))));
    }
    const showTotals = !v.hidden;
    return h('section', { class: 'card vote', 'aria-labelledby': 'pvote-title', 'data-vote': v.id },
      h('h2', { class: 'section-title', id: 'pvote-title', text: t('vote_now') }),
      h('p', { class: 'vote__left', role: 'status', 'data-left': left },
        t('dots_left', { n: left, of: v.budget }), ' ',
        saving ? h('span', { class: 'note__saving', text: t('saving') })
          : ballot.length || v.mine ? h('span', { class: 'note__saved', text: t('saved') }) : null),
      list.length ? h('ul', { class: 'vote__items' }, list.map((it) => {
        const n = counts[it.id] || 0;
        // The ballot as of the click, not of this render: two quick clicks
        // must add two dots even if no render came between them.
        const now = () => ui.ballot || ballot;
        const add = () => {
          const b = now();
          if (b.length >= v.budget || dotCounts(b)[it.id] >= maxPer) return;
          cast(v, [...b, it.id]);
        };
        const remove = () => {
          const b = now();
          const i = b.lastIndexOf(it.id);
          if (i >= 0) cast(v, b.slice(0, i).concat(b.slice(i + 1)));
        };
        return h('li', { class: 'vote__item', 'data-item': it.id },
          h('p', { class: 'vote__name', id: `vn-${it.id}`, text: it.name }),
          it.notes.length ? h('p', { class: 'vote__notes hint', text: it.notes.map((x) => x.text).join(' · ') }) : null,
          h('div', { class: 'vote__ctl' },
            h('button', { type: 'button', class: 'btn btn--small', 'data-key': `minus-${it.id}`, disabled: !n,
              'aria-label': t('dot_remove', { name: it.name }), on: { click: () => { remove(); focusKey(root, `minus-${it.id}`); } } }, '−'),
            h('span', { class: 'vote__mine', 'aria-live': 'off', text: t('my_dots', { n }) }),
            h('button', { type: 'button', class: 'btn btn--small', 'data-key': `plus-${it.id}`, disabled: left <= 0 || n >= maxPer,
              'aria-label': t('dot_add', { name: it.name }), on: { click: () => { add(); focusKey(root, `plus-${it.id}`); } } }, '+'),
            showTotals && v.totals ? h('span', { class: 'vote__total', text: t('total_dots', { n: v.totals[it.id] || 0 }) }) : null));
      })) : h('p', { class: 'hint', text: t('loading') }));
  }

  function renderGroup(table) {
    const res = groupKeeper.data;
    if (!res) return h('p', { class: 'hint', text: t('loading') });
    const ctx = { app, ui, call, res, scope: table, moderator: false, canGroup: true, vote: null,
      redraw: (key) => { render(); if (key) focusKey(root, key); } };
    return h('section', { class: 'card group', 'aria-labelledby': 'group-title' },
      h('h2', { class: 'section-title', id: 'group-title', text: t('group_table_notes') }), renderThemes(ctx));
  }

  function render() {
    const m = app.model;
    if (ui.dragging) return; // the dragged note keeps its element until let go
    if (m.role !== 'participant') { redraw(root); return; }
    const parts = [];
    const v = myVote();
    voteKeeper.want(v ? v.scope : '');
    if (v) parts.push(renderVote(v));
    const table = myTable(m);
    const grouping = m.phase === 'group' && table;
    groupKeeper.want(grouping ? table : '');
    if (grouping) parts.push(renderGroup(table));
    redraw(root, parts);
  }

  return { render, failed(item) { if (item.op === 'vote.cast') { ui.ballot = null; render(); } } };
}
