// common.js: pieces both views draw the same way.
//
// Responsible for the status line (connection, phase, private writing,
// timer), the chat list, and turning an error reply into a sentence. Not
// responsible for any request or state change.

import { h } from './dom.js';
import { t, phaseName, has } from './i18n.js';
import { timerRemaining, formatClock } from './state.js';

export function statusLine(app, { meeting = false } = {}) {
  const m = app.model;
  const conn = app.session.state;
  const outboxCount = app.session.outbox.length;
  const items = [
    h('span', { class: `chip chip--${conn === 'online' ? 'ok' : 'warn'}`, 'data-conn': conn },
      t(`conn_${conn}`)),
    meeting ? null : h('span', { class: 'chip chip--phase', 'data-phase': m.phase }, t('phase_is', { phase: phaseName(m.phase) })),
  ];
  if (conn === 'online' && app.session.linkMode === 'http') {
    items.push(h('span', { class: 'chip chip--ok', title: t('via_https_hint') }, t('via_https')));
  }
  if (m.private) items.push(h('span', { class: 'chip chip--private' }, t('private_writing_on')));
  if (m.timer.state !== 'stopped' || m.timerExpired) {
    const left = timerRemaining(m.timer, app.session.serverNow());
    const txt = m.timerExpired ? t('timer_expired')
      : m.timer.state === 'paused' ? t('timer_paused', { time: formatClock(left) })
        : t('timer_left', { time: formatClock(left) });
    items.push(h('span', { class: ['chip', 'chip--timer', m.timerExpired && 'chip--alert'], role: 'timer' }, txt));
  }
  if (outboxCount) items.push(h('span', { class: 'chip chip--warn' }, t('outbox_waiting', { n: outboxCount })));
  return h('div', { class: 'statusbar__items' }, items);
}

export function chatList(model, pending) {
  const recent = model.chat.slice(-50);
  if (!recent.length && !pending.length) return h('p', { class: 'hint', text: t('chat_empty') });
  return h('ul', { class: 'chat__list' },
    recent.map((c) => h('li', { class: 'chat__msg' },
      h('span', { class: 'chat__author', text: c.author ? `${c.author.name}: ` : '' }), c.text)),
    pending.map((it) => h('li', { class: 'chat__msg chat__msg--local' },
      it.args.text, ' ', h('span', { class: 'note__saving', text: t('saving') }))));
}

export function errorText(e) {
  const code = (e && e.code) || 'error';
  return has(`err_${code}`) ? t(`err_${code}`) : t('err_generic', { message: (e && e.message) || code });
}
