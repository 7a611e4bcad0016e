// app.js: the entry point; picks the view from the URL and wires the session,
// the model and the view together.
//
// Responsible for the page's flow: /?code=XXXXXX (or the code field) → name →
// participant view; /?moderator → login → rooms → dashboard; remembering the
// participant's token per room code and the moderator's token, so a reload
// resumes; the language switch; announcing changes in the aria-live region;
// redrawing at most once per frame. Not responsible for the wire
// (protocol.js), the rules (state.js) or the markup of a view.
//
// Development: ?ws=wss://127.0.0.1:PORT/ws points the page at another
// daemon than the one that served it (docs/web-client.md).

import { h, field, busy } from './dom.js';
import { t, getLang, setLang, LANGS } from './i18n.js';
import { Session, defaultUrl } from './protocol.js';
import { createRoom, applyEvent, isMine } from './state.js';
import { mountParticipant } from './participant.js';
import { mountLogin, mountRooms, mountModerator } from './moderator.js';
import { mountMeeting } from './meeting.js';
import { noteName } from './board.js';
import { errorText } from './common.js';

const store = window.localStorage;
const params = new URLSearchParams(location.search);
const wsUrl = defaultUrl(location);
const main = document.getElementById('main');
const live = document.getElementById('live');

if (params.get('lang')) setLang(params.get('lang'));

const app = {
  session: null,
  model: null,
  view: null,
  mode: params.has('moderator') ? 'moderator' : 'participant',
  code: (params.get('code') || '').trim().toUpperCase(),
  announce,
  logout,
  leaveRoom,
};

function announce(text) {
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 50);
}

let scheduled = false;
function scheduleRender() {
  if (scheduled) return;
  scheduled = true;
  busy(1);
  requestAnimationFrame(() => {
    scheduled = false;
    busy(-1);
    if (!app.view || !app.model) return;
    // The room's kind is known once its first event or the join reply came.
    if ((app.view.kind === 'meeting') !== isMeeting()) { remount(); return; }
    app.view.render();
  });
}

function isMeeting() {
  return !!app.model && (app.model.kind === 'meeting' || app.model.kind === 'forum');
}

function describe(change, ev) {
  if (!change) return null;
  const m = app.model;
  switch (change.what) {
    case 'note.created': {
      const n = change.note;
      if (isMine(m, n)) return t('note_saved');
      if (n.placeholder) return t('new_hidden_note');
      return `${t('new_note')} ${noteName(m, n)} ${n.text}`;
    }
    case 'phase': return t('phase_now', { phase: t(`phase_${change.phase}`) });
    case 'revealed': return t('notes_revealed');
    case 'timer.expired': return t('timer_expired');
    case 'writing': return change.private ? t('private_writing_on') : t('private_writing_off');
    case 'agenda.current': {
      const a = m.agenda[change.item];
      return a ? t('agenda_now', { title: a.title }) : null;
    }
    case 'poll.created': return t('new_poll_announce');
    case 'round.opened': return t('new_round_announce');
    case 'speaker': return change.identity === m.me ? t('you_have_the_word') : t('speaker_now', { name: change.name });
    case 'vote.opened': return t('vote_opened');
    case 'vote.closed': return t('vote_closed');
    case 'chat': return ev.author && m.me && ev.author.id === m.me ? null : t('new_chat', { name: ev.author ? ev.author.name : '' });
    default: return null;
  }
}

function makeSession(outboxKey) {
  const session = new Session({
    url: wsUrl,
    storage: store,
    outboxKey,
    handlers: {
      event(ev) {
        if (!app.model || ev.room !== app.model.id) return;
        const change = applyEvent(app.model, ev);
        if (app.view && app.view.onEvent) app.view.onEvent(change);
        // Only live changes are read out, not the catch-up after a join.
        if (ev.ts > session.serverNow() - 5000) {
          const msg = describe(change, ev);
          if (msg) announce(msg);
        }
        scheduleRender();
      },
      joined(res) {
        const me = session.identity ? session.identity.id : null;
        if (!app.model || app.model.id !== res.room.id) app.model = createRoom(res.room, me, res.role);
        app.model.role = res.role;
        app.model.me = me;
        app.model.title = res.room.title;
        if (res.room.kind) app.model.kind = res.room.kind;
        app.model.code = res.room.code;
        app.model.presence = {};
        for (const p of res.presence || []) app.model.presence[p.id] = true;
        scheduleRender();
      },
      presence(msg) {
        if (!app.model || msg.room !== app.model.id) return;
        for (const p of msg.joined || []) app.model.presence[p.id] = true;
        for (const id of msg.left || []) delete app.model.presence[id];
      },
      status(state) {
        document.body.dataset.conn = state;
        document.body.dataset.transport = session.linkMode || '';
        if (state === 'online' && app.view && app.view.onOnline) app.view.onOnline();
        if (app.view) app.view.tick();
      },
      outbox() { scheduleRender(); },
      sent(item) {
        if (item.op === 'note.add') announce(t('note_saved'));
        scheduleRender();
      },
      failed(item, err) {
        if (app.view && app.view.showError) app.view.showError(err);
        if (app.view && app.view.failed) app.view.failed(item, err);
        scheduleRender();
      },
      authLost(err) {
        if (app.mode === 'moderator') {
          store.removeItem('tavla.mod.token');
          store.removeItem('tavla.mod.room');
          startModerator(t('session_expired'));
        } else {
          store.removeItem(`tavla.p.${app.code}`);
          showJoin(errorText(err));
        }
      },
    },
  });
  app.session = session;
  return session;
}

// --- header ---------------------------------------------------------------

function renderHeader() {
  const header = document.getElementById('top');
  const other = LANGS.find((l) => l !== getLang());
  header.replaceChildren(
    h('a', { class: 'brand', href: './', text: t('brand') }),
    h('nav', { class: 'top__nav', 'aria-label': t('site_nav') },
      app.mode === 'moderator'
        ? h('a', { class: 'top__link', href: './', text: t('participant_link') })
        : h('a', { class: 'top__link', href: './?moderator', text: t('moderator_link') }),
      h('button', { type: 'button', class: 'btn btn--small btn--ghost', lang: other,
        'aria-label': t('switch_language'), on: { click: () => { setLang(other); remount(); } } }, t('other_language'))));
  document.getElementById('skip').textContent = t('skip_to_content');
  document.title = t('page_title');
  document.documentElement.lang = getLang();
}

let remount = () => {};

// --- participant ----------------------------------------------------------

function showJoin(message) {
  remount = () => { renderHeader(); showJoin(message); };
  renderHeader();
  const code = h('input', { type: 'text', required: true, maxlength: 6, autocomplete: 'off', autocapitalize: 'characters',
    spellcheck: 'false', value: app.code, class: 'input--code' });
  const name = h('input', { type: 'text', required: true, maxlength: 60, autocomplete: 'nickname' });
  const err = h('p', { class: 'error', role: 'alert', text: message || '' });
  const btn = h('button', { type: 'submit', class: 'btn btn--primary' }, t('join'));
  const form = h('form', { class: 'card form join', on: { submit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    btn.disabled = true;
    app.code = code.value.trim().toUpperCase();
    const session = makeSession(`tavla.outbox.${app.code}`);
    try {
      const r = await session.joinByCode(app.code, name.value.trim());
      store.setItem(`tavla.p.${app.code}`, JSON.stringify({ token: r.token, room: r.room.id, name: r.identity.name, identity: r.identity.id }));
      history.replaceState(null, '', `?code=${encodeURIComponent(app.code)}${params.get('ws') ? `&ws=${encodeURIComponent(params.get('ws'))}` : ''}`);
      showParticipant();
    } catch (x) {
      session.stop();
      err.textContent = errorText(x);
      btn.disabled = false;
    }
  } } },
  h('h1', { text: t('join_title') }),
  h('p', { class: 'lead', text: t('join_lead') }),
  field('join-code', t('join_code'), code),
  field('join-name', t('your_name'), name),
  err, btn);
  main.replaceChildren(form);
  (app.code ? name : code).focus();
}

function showParticipant() {
  remount = () => { renderHeader(); showParticipant(); };
  renderHeader();
  app.view = isMeeting() ? mountMeeting(main, app) : mountParticipant(main, app);
  if (app.model) app.view.render();
}

function startParticipant() {
  const saved = app.code && JSON.parse(store.getItem(`tavla.p.${app.code}`) || 'null');
  if (!saved) { showJoin(); return; }
  const session = makeSession(`tavla.outbox.${app.code}`);
  session.token = saved.token;
  session.identity = { id: saved.identity, name: saved.name };
  session.rooms.set(saved.room, { id: saved.room, since: 0 });
  app.model = createRoom({ id: saved.room, code: app.code }, saved.identity, 'participant');
  showParticipant();
  session.connect();
}

// --- moderator ------------------------------------------------------------

function logout() {
  store.removeItem('tavla.mod.token');
  store.removeItem('tavla.mod.room');
  if (app.session) app.session.stop();
  app.session = null;
  app.model = null;
  startModerator();
}

function leaveRoom() {
  if (app.view && app.view.destroy) app.view.destroy();
  if (app.model) app.session.rooms.delete(app.model.id);
  store.removeItem('tavla.mod.room');
  app.model = null;
  app.view = null;
  showRooms();
}

function showRooms() {
  remount = () => { renderHeader(); showRooms(); };
  renderHeader();
  mountRooms(main, app, openRoom);
}

async function openRoom(roomId) {
  store.setItem('tavla.mod.room', roomId);
  if (app.model && app.model.id !== roomId) app.session.rooms.delete(app.model.id);
  app.model = null;
  try {
    await app.session.follow(roomId);
  } catch (x) {
    store.removeItem('tavla.mod.room');
    showRooms();
    return;
  }
  showDashboard();
}

function showDashboard() {
  remount = () => { renderHeader(); if (app.view && app.view.destroy) app.view.destroy(); showDashboard(); };
  renderHeader();
  app.view = isMeeting() ? mountMeeting(main, app) : mountModerator(main, app);
  app.view.render();
  if (app.view.onOnline) app.view.onOnline();
}

function startModerator(message) {
  remount = () => startModerator(message);
  renderHeader();
  const token = store.getItem('tavla.mod.token');
  if (!token) {
    mountLogin(main, async (user, password) => {
      const session = makeSession('tavla.outbox.mod');
      try {
        const r = await session.login(user, password);
        store.setItem('tavla.mod.token', r.token);
        showRooms();
      } catch (x) {
        session.stop();
        throw x;
      }
    });
    if (message) main.prepend(h('p', { class: 'error', role: 'alert', text: message }));
    return;
  }
  const session = makeSession('tavla.outbox.mod');
  session.token = token;
  const roomId = store.getItem('tavla.mod.room');
  main.replaceChildren(h('p', { class: 'hint', text: t('connecting') }));
  if (roomId) session.rooms.set(roomId, { id: roomId, since: 0 });
  session.waitOpen().then(async () => {
    while (session.state !== 'online' && !session.stopped) await new Promise((r) => setTimeout(r, 50));
    if (roomId && app.model) showDashboard(); else showRooms();
  }, () => showRooms());
}

// --- start ----------------------------------------------------------------

setInterval(() => { if (app.view && app.model && app.view.tick) app.view.tick(); }, 1000);
if (app.mode === 'moderator') startModerator(); else startParticipant();
