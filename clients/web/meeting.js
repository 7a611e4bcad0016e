// meeting.js: the view of a meeting or forum room (PROTOCOL.md §9,
// docs/meetings.md), for participants (phone first) and moderators.
//
// Responsible for the agenda with the current item, live polls with result
// bars (answer once, change until closed; an anonymous poll never shows a
// name), check-in/check-out rounds, raising a hand and the speaker queue,
// and the chat with replies and reactions; for moderators also adding
// agenda items and choosing the current one, creating and closing polls,
// opening and closing rounds, and giving the word to the next in the queue.
// Not responsible for the connection or the model (state.js builds the
// agenda, polls, rounds and queue from events).
//
// Invariants:
//  1. Forms a user types in are built once or keep their value in
//     ui.drafts, so incoming events never wipe what is being typed.
//  2. Names appear in a poll only when it is named; an anonymous poll's
//     view is drawn from counts alone.

import { h, redraw, field } from './dom.js';
import { t } from './i18n.js';
import { agendaList } from './state.js';
import { statusLine, errorText } from './common.js';

const REACTIONS = ['👍', '❤️', '💡'];
const KINDS = ['theme', 'talk', 'dialogue', 'break', 'lunch', 'closing'];
const ROUND_KINDS = ['checkin', 'checkout', 'round'];

export function mountMeeting(root, app) {
  const { session } = app;
  const ui = { drafts: {}, replyTo: 0 };
  const mod = () => app.model.role === 'moderator';
  const errorEl = h('p', { class: 'error', role: 'alert' });
  const showError = (e) => { errorEl.textContent = e ? errorText(e) : ''; };
  const call = (op, args = {}) => session.request(op, { room: app.model.id, ...args })
    .then((r) => { showError(null); return r; }, (e) => { showError(e); throw e; });
  const quiet = (p) => p.catch(() => {});

  const draft = (key, attrs = {}, tag = 'input') => {
    const el = h(tag, { ...attrs, 'data-key': key });
    if (tag === 'input' && !attrs.type) el.type = 'text';
    el.value = ui.drafts[key] !== undefined ? ui.drafts[key] : (attrs.value || '');
    el.addEventListener('input', () => { ui.drafts[key] = el.value; });
    return el;
  };

  const statusEl = h('div', { class: 'statusbar' });
  const agendaEl = h('div', {});
  const speakerEl = h('div', {});
  const pollsEl = h('div', {});
  const roundsEl = h('div', {});
  const chatEl = h('div', {});
  const modEl = h('div', {});

  // the chat form, built once (invariant 1)
  const chatIn = h('input', { type: 'text', maxlength: 4000, autocomplete: 'off', 'data-key': 'chat-in' });
  const replyNote = h('p', { class: 'hint' });
  const chatForm = h('form', { class: 'chat__form', on: { submit: (e) => {
    e.preventDefault();
    const v = chatIn.value.trim();
    if (!v) return;
    const args = { room: app.model.id, text: v };
    if (ui.replyTo) args.reply_to = ui.replyTo;
    session.queue('chat.send', args);
    chatIn.value = '';
    ui.replyTo = 0;
    render();
  } } }, replyNote, field('chat-text', t('chat_message'), chatIn), h('button', { type: 'submit', class: 'btn' }, t('send')));

  const section = (id, title, ...children) => h('section', { class: 'card', 'aria-labelledby': id },
    h('h2', { class: 'section-title', id, text: title }), ...children);

  root.replaceChildren(
    h('h1', { class: 'room-title', id: 'room-title' }),
    statusEl, errorEl,
    h('div', { class: 'meet-grid' },
      h('div', { class: 'meet-main' },
        section('agenda-title', t('agenda'), agendaEl),
        section('speaker-title', t('speaker_queue'), speakerEl),
        section('polls-title', t('polls'), pollsEl),
        section('rounds-title', t('rounds'), roundsEl)),
      h('div', { class: 'meet-side' },
        modEl,
        section('chat-title', t('chat'), chatEl, chatForm))));

  // --- agenda ---

  function renderAgenda() {
    const m = app.model;
    const items = agendaList(m);
    if (!items.length) return h('p', { class: 'hint', text: t('agenda_empty') });
    return h('ol', { class: 'agenda' }, items.map((a) => {
      const cur = m.current === a.id;
      return h('li', { class: ['agenda__item', cur && 'agenda__item--current'], 'data-item': a.id, 'aria-current': cur ? 'step' : null },
        h('span', { class: 'agenda__time', text: a.start }), ' ',
        h('span', { class: 'agenda__title', text: a.title }),
        h('span', { class: 'agenda__meta', text: ` · ${t(`akind_${a.kind}`)} · ${t('n_minutes', { n: a.minutes })}${a.presenter ? ` · ${a.presenter}` : ''}` }),
        cur ? h('span', { class: 'badge agenda__now', text: t('now') }) : null,
        mod() && !cur ? h('button', { type: 'button', class: 'btn btn--small', 'data-key': `cur-${a.id}`,
          'aria-label': t('make_current', { title: a.title }),
          on: { click: () => quiet(call('agenda.current', { item: a.id })) } }, t('make_current_short')) : null);
    }));
  }

  // --- speaker queue ---

  function renderSpeaker() {
    const m = app.model;
    const up = m.queue.some((q) => q.identity === m.me);
    return [
      h('p', { class: 'speaker', 'data-speaker': m.speaker }, m.speaker ? t('speaker_now', { name: m.speakerName }) : t('no_speaker')),
      m.queue.length ? h('ol', { class: 'queue', 'aria-label': t('queue') }, m.queue.map((q) => h('li', { 'data-identity': q.identity, text: q.name })))
        : h('p', { class: 'hint', text: t('queue_empty') }),
      h('div', { class: 'row row--wrap' },
        m.role !== 'observer' ? h('button', { type: 'button', class: ['btn', up && 'btn--on'], 'data-key': 'hand', 'aria-pressed': up ? 'true' : 'false',
          on: { click: () => quiet(call(up ? 'hand.lower' : 'hand.raise').then(() => app.announce(t(up ? 'hand_lowered' : 'hand_raised')))) } },
        t(up ? 'lower_hand' : 'raise_hand')) : null,
        mod() ? h('button', { type: 'button', class: 'btn btn--primary', 'data-key': 'queue-next', disabled: !m.queue.length,
          on: { click: () => quiet(call('queue.next')) } }, t('next_speaker')) : null),
    ];
  }

  // --- polls ---

  function pollCounts(p) {
    // Closed: the daemon's aggregates; open: the live counts from events.
    if (p.closed && p.final) {
      if (p.final.counts) return p.final.counts;
      if (p.final.answers) { const c = {}; for (const a of p.final.answers) c[a.text] = a.count; return c; }
    }
    return p.counts;
  }

  function bars(p) {
    const counts = pollCounts(p);
    const rows = p.type === 'single' || p.type === 'multiple' ? p.options.map((o) => [o.id, o.text])
      : p.type === 'scale' ? ['1', '2', '3', '4', '5'].map((v) => [v, v])
        : Object.keys(counts).sort((a, b) => counts[b] - counts[a]).map((x) => [x, x]);
    const total = Math.max(1, ...rows.map(([k]) => counts[k] || 0));
    const voters = p.voters || 0;
    return h('ul', { class: 'bars', 'aria-label': t('poll_results', { n: voters }) }, rows.map(([k, label]) => {
      const n = counts[k] || 0;
      const bar = h('span', { class: 'bar__fill' });
      bar.style.width = `${Math.round((n / total) * 100)}%`;
      return h('li', { class: 'bar', 'data-answer': k, 'data-count': n },
        h('span', { class: 'bar__label', text: label }),
        h('span', { class: 'bar__track', 'aria-hidden': 'true' }, bar),
        h('span', { class: 'bar__n', text: String(n) }));
    }));
  }

  function answerForm(p) {
    const key = `ans-${p.id}`;
    const submit = (args) => quiet(call('poll.answer', { poll: p.id, ...args }).then(() => app.announce(t('answer_saved'))));
    if (p.type === 'single' || p.type === 'scale') {
      const opts = p.type === 'single' ? p.options.map((o) => [o.id, o.text]) : ['1', '2', '3', '4', '5'].map((v) => [v, v]);
      return h('div', { class: 'row row--wrap poll__answer', role: 'group', 'aria-label': t('your_answer') },
        opts.map(([v, label]) => {
          const mine = p.mine !== null && String(p.mine) === v;
          return h('button', { type: 'button', class: ['btn', 'btn--small', mine && 'btn--on'], 'data-key': `${key}-${v}`,
            'aria-pressed': mine ? 'true' : 'false',
            on: { click: () => submit(p.type === 'single' ? { choice: v } : { value: Number(v) }) } }, label);
        }));
    }
    if (p.type === 'multiple') {
      const mine = new Set(Array.isArray(p.mine) ? p.mine : []);
      const boxes = p.options.map((o) => h('div', { class: 'field field--check' },
        h('input', { type: 'checkbox', id: `${key}-${o.id}`, value: o.id, checked: mine.has(o.id), 'data-key': `${key}-${o.id}` }),
        h('label', { for: `${key}-${o.id}`, text: o.text })));
      return h('form', { class: 'poll__answer', on: { submit: (e) => {
        e.preventDefault();
        const choices = [...e.currentTarget.querySelectorAll('input:checked')].map((i) => i.value);
        if (choices.length) submit({ choices });
      } } }, h('fieldset', { class: 'checks' }, h('legend', { text: t('your_answer') }), boxes),
      h('button', { type: 'submit', class: 'btn btn--small' }, t('answer')));
    }
    const txt = draft(`${key}-text`, { maxlength: 200, id: `${key}-text` });
    return h('form', { class: 'row row--wrap row--end poll__answer', on: { submit: (e) => {
      e.preventDefault();
      if (txt.value.trim()) submit({ text: txt.value.trim() }).then(() => { delete ui.drafts[`${key}-text`]; });
    } } }, field(`${key}-text`, t('your_answer'), txt), h('button', { type: 'submit', class: 'btn btn--small' }, t('answer')));
  }

  function answerText(p, a) {
    const opt = (id) => (p.options.find((o) => o.id === id) || { text: String(id) }).text;
    if (Array.isArray(a)) return a.map(opt).join(', ');
    return p.type === 'single' ? opt(a) : String(a);
  }

  function renderPoll(p) {
    const m = app.model;
    const seeResults = p.results === 'live' || p.closed || mod();
    const ballots = p.anonymity === 'named' && p.closed && p.final && p.final.ballots;
    const answered = p.mine !== null;
    return h('article', { class: 'poll', 'data-poll': p.id, 'aria-labelledby': `pq-${p.id}` },
      h('h3', { class: 'poll__q', id: `pq-${p.id}`, text: p.question }),
      h('p', { class: 'poll__meta hint', text: [t(p.anonymity === 'anonymous' ? 'poll_anonymous' : 'poll_named'),
        t(p.results === 'live' ? 'poll_live' : 'poll_after'), p.closed ? t('poll_closed') : t('n_answered', { n: p.voters })].join(' · ') }),
      !p.closed && m.role !== 'observer' ? answerForm(p) : null,
      !p.closed && answered ? h('p', { class: 'poll__mine note__saved', text: t('you_answered') }) : null,
      seeResults ? bars(p) : h('p', { class: 'hint', text: t('results_after_close') }),
      ballots ? h('ul', { class: 'poll__ballots', 'aria-label': t('who_answered') },
        ballots.map((b) => h('li', { text: `${b.name}: ${answerText(p, b.answer)}` }))) : null,
      mod() && !p.closed ? h('button', { type: 'button', class: 'btn btn--small', 'data-key': `pclose-${p.id}`,
        on: { click: () => quiet(call('poll.close', { poll: p.id })) } }, t('close_poll')) : null);
  }

  function renderPolls() {
    const m = app.model;
    const list = m.pollOrder.map((id) => m.polls[id]).filter(Boolean).reverse();
    if (!list.length) return h('p', { class: 'hint', text: t('no_polls') });
    return list.map(renderPoll);
  }

  // --- rounds ---

  function renderRounds() {
    const m = app.model;
    const list = m.roundOrder.map((id) => m.rounds[id]).filter(Boolean).reverse();
    if (!list.length) return h('p', { class: 'hint', text: t('no_rounds') });
    return list.map((r) => {
      const key = `rans-${r.id}`;
      const txt = draft(key, { maxlength: 1000, id: key });
      const mine = r.answers.find((a) => a.id === m.me);
      return h('article', { class: 'round', 'data-round': r.id, 'aria-labelledby': `rp-${r.id}` },
        h('h3', { class: 'round__prompt', id: `rp-${r.id}` }, h('span', { class: 'badge', text: t(`rkind_${r.kind}`) }), ' ', r.prompt),
        r.answers.length ? h('ul', { class: 'round__answers' }, r.answers.map((a) => h('li', {},
          h('span', { class: 'chat__author', text: `${a.name}: ` }), a.text))) : h('p', { class: 'hint', text: t('no_answers') }),
        !r.closed && m.role !== 'observer' ? h('form', { class: 'row row--wrap row--end', on: { submit: (e) => {
          e.preventDefault();
          const v = txt.value.trim();
          if (v) quiet(call('round.answer', { round: r.id, text: v }).then(() => { delete ui.drafts[key]; render(); }));
        } } }, field(key, t(mine ? 'change_round_answer' : 'your_round_answer'), txt),
        h('button', { type: 'submit', class: 'btn btn--small' }, t('answer'))) : null,
        r.closed ? h('p', { class: 'hint', text: t('round_closed') }) : null,
        mod() && !r.closed ? h('button', { type: 'button', class: 'btn btn--small', 'data-key': `rclose-${r.id}`,
          on: { click: () => quiet(call('round.close', { round: r.id })) } }, t('close_round')) : null);
    });
  }

  // --- chat with replies and reactions ---

  function renderChat() {
    const m = app.model;
    const recent = m.chat.slice(-50);
    const pending = session.outbox.filter((it) => it.op === 'chat.send' && it.args.room === m.id);
    const bySeq = {};
    for (const c of m.chat) bySeq[c.seq] = c;
    if (!recent.length && !pending.length) return h('p', { class: 'hint', text: t('chat_empty') });
    return h('ul', { class: 'chat__list' },
      recent.map((c) => {
        const reacts = m.reactions[c.seq] || {};
        const parent = c.reply_to && bySeq[c.reply_to];
        return h('li', { class: 'chat__msg', 'data-seq': c.seq },
          parent ? h('p', { class: 'chat__quote hint', text: t('reply_to', { name: parent.author ? parent.author.name : '', text: (parent.text || '').slice(0, 60) }) }) : null,
          h('span', { class: 'chat__author', text: c.author ? `${c.author.name}: ` : '' }), c.text,
          m.role !== 'observer' ? h('div', { class: 'chat__tools' },
            REACTIONS.map((em) => {
              const who = reacts[em] || [];
              const on = who.includes(m.me);
              return h('button', { type: 'button', class: ['btn', 'btn--tiny', on && 'btn--on'], 'aria-pressed': on ? 'true' : 'false',
                'data-key': `re-${c.seq}-${em}`, 'aria-label': t('react_with', { emoji: em, n: who.length }),
                on: { click: () => quiet(call('react', { target: c.seq, emoji: em, on: !on })) } }, `${em} ${who.length || ''}`.trim());
            }),
            h('button', { type: 'button', class: 'btn btn--tiny btn--ghost', 'data-key': `reply-${c.seq}`,
              'aria-label': t('reply_to_msg', { name: c.author ? c.author.name : '' }),
              on: { click: () => { ui.replyTo = c.seq; render(); chatIn.focus(); } } }, t('reply'))) : null);
      }),
      pending.map((it) => h('li', { class: 'chat__msg chat__msg--local' }, it.args.text, ' ', h('span', { class: 'note__saving', text: t('saving') }))));
  }

  // --- moderator's controls ---

  function renderMod() {
    if (!mod()) return [];
    const aTitle = draft('ag-title', { maxlength: 200, id: 'ag-title', required: true });
    const aStart = draft('ag-start', { type: 'time', id: 'ag-start', required: true, value: '09:00' });
    const aMin = draft('ag-min', { type: 'number', min: 1, max: 1440, id: 'ag-min', value: '15' });
    const aKind = h('select', { id: 'ag-kind', 'data-key': 'ag-kind' }, KINDS.map((k) => h('option', { value: k, text: t(`akind_${k}`) })));
    const pQ = draft('p-q', { maxlength: 500, id: 'p-q', required: true });
    const pType = h('select', { id: 'p-type', 'data-key': 'p-type' }, ['single', 'multiple', 'scale', 'text'].map((k) => h('option', { value: k, text: t(`ptype_${k}`) })));
    pType.value = ui.pType || 'single';
    pType.addEventListener('change', () => { ui.pType = pType.value; });
    const pOpts = draft('p-opts', { rows: 3, id: 'p-opts' }, 'textarea');
    const pAnon = h('input', { type: 'checkbox', id: 'p-anon', 'data-key': 'p-anon', checked: !!ui.pAnon, on: { change: (e) => { ui.pAnon = e.target.checked; } } });
    const pClosed = h('input', { type: 'checkbox', id: 'p-closed', 'data-key': 'p-closed', checked: !!ui.pClosed, on: { change: (e) => { ui.pClosed = e.target.checked; } } });
    const rKind = h('select', { id: 'r-kind', 'data-key': 'r-kind' }, ROUND_KINDS.map((k) => h('option', { value: k, text: t(`rkind_${k}`) })));
    const rPrompt = draft('r-prompt', { maxlength: 500, id: 'r-prompt', required: true });
    const m = app.model;
    return h('section', { class: 'card', 'aria-labelledby': 'mctl-title' },
      h('h2', { class: 'section-title', id: 'mctl-title', text: t('meeting_controls') }),
      h('p', {}, t('join_code'), ': ', h('strong', { class: 'joincode__code joincode__code--small', text: m.code })),
      h('form', { class: 'form', on: { submit: (e) => {
        e.preventDefault();
        quiet(call('agenda.add', { title: aTitle.value.trim(), kind: aKind.value, start: aStart.value, minutes: Number(aMin.value) || 15 })
          .then(() => { delete ui.drafts['ag-title']; aTitle.value = ''; aTitle.focus(); }));
      } } }, h('h3', { class: 'section-title', text: t('add_agenda_item') }),
      field('ag-title', t('agenda_title'), aTitle), h('div', { class: 'row row--wrap' }, field('ag-start', t('start_time'), aStart),
        field('ag-min', t('minutes'), aMin), field('ag-kind', t('agenda_kind'), aKind)),
      h('button', { type: 'submit', class: 'btn' }, t('add'))),
      m.current ? h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-key': 'cur-none',
        on: { click: () => quiet(call('agenda.current', { item: '' })) } }, t('clear_current')) : null,
      h('form', { class: 'form', on: { submit: (e) => {
        e.preventDefault();
        const args = { question: pQ.value.trim(), type: pType.value, anonymity: pAnon.checked ? 'anonymous' : 'named',
          results: pClosed.checked ? 'closed' : 'live' };
        if (pType.value === 'single' || pType.value === 'multiple') args.options = pOpts.value.split('\n').map((s) => s.trim()).filter(Boolean);
        quiet(call('poll.create', args).then(() => { delete ui.drafts['p-q']; delete ui.drafts['p-opts']; pQ.value = ''; pOpts.value = ''; }));
      } } }, h('h3', { class: 'section-title', text: t('new_poll') }),
      field('p-q', t('poll_question'), pQ), field('p-type', t('poll_type'), pType),
      field('p-opts', t('poll_options'), pOpts),
      h('div', { class: 'field field--check' }, pAnon, h('label', { for: 'p-anon', text: t('poll_anon_label') })),
      h('div', { class: 'field field--check' }, pClosed, h('label', { for: 'p-closed', text: t('poll_closed_label') })),
      h('button', { type: 'submit', class: 'btn' }, t('create_poll'))),
      h('form', { class: 'form', on: { submit: (e) => {
        e.preventDefault();
        quiet(call('round.open', { kind: rKind.value, prompt: rPrompt.value.trim() }).then(() => { delete ui.drafts['r-prompt']; rPrompt.value = ''; }));
      } } }, h('h3', { class: 'section-title', text: t('new_round') }),
      field('r-kind', t('round_kind'), rKind), field('r-prompt', t('round_prompt'), rPrompt),
      h('button', { type: 'submit', class: 'btn' }, t('open_round'))),
      h('p', {}, h('button', { type: 'button', class: 'btn btn--ghost btn--small', on: { click: app.leaveRoom } }, t('all_rooms'))));
  }

  function render() {
    const m = app.model;
    document.getElementById('room-title').textContent = m.title;
    redraw(statusEl, statusLine(app, { meeting: true }));
    redraw(agendaEl, renderAgenda());
    redraw(speakerEl, renderSpeaker());
    redraw(pollsEl, renderPolls());
    redraw(roundsEl, renderRounds());
    redraw(chatEl, renderChat());
    replyNote.textContent = ui.replyTo ? t('replying_to', { seq: ui.replyTo }) : '';
    chatForm.hidden = m.role === 'observer';
    // The moderator's forms keep their drafts; redrawn only when not in use.
    if (!modEl.contains(document.activeElement) || !modEl.firstChild) redraw(modEl, renderMod());
  }

  return {
    kind: 'meeting',
    render,
    showError,
    tick() { redraw(statusEl, statusLine(app, { meeting: true })); },
    destroy() {},
  };
}
