// fallback.test.js: participants on networks that block WebSockets. The
// client finds out by itself and speaks tavla.v1 over plain HTTPS instead
// (PROTOCOL.md §1.1: an event stream and POSTs). Three ways a WebSocket
// fails: the constructor throws (a browser policy), the socket never opens
// (a firewall that drops the upgrade), and the upgrade is accepted but
// nothing comes through (a proxy that swallows frames). Over the fallback a
// participant joins, writes notes, sees another participant's notes live,
// goes offline, writes, comes back, and every note arrives exactly once
// ("sparat"; the moderator's view and the room's log hold each text once).
// A second tab of the same browser opens a fallback session of its own
// (X-Tavla-Session) and both tabs stay online side by side.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, moderatorLogin, createWorkshop, join, writeNote, noteByText, shot,
  loggedNoteTexts, columnsBoard } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

// Run in the page before its own scripts.
function wsThrows() {
  window.WebSocket = function WebSocket() { throw new DOMException('blocked by policy', 'SecurityError'); };
}
function wsNeverOpens() {
  window.WebSocket = class {
    constructor() { this.readyState = 0; }
    send() { throw new DOMException('still connecting', 'InvalidStateError'); }
    close() { this.readyState = 3; }
  };
}

async function blockedPerson(how, opts) {
  const p = await person(browser, opts);
  if (how === 'throws') await p.context.addInitScript(wsThrows);
  else if (how === 'never-opens') await p.context.addInitScript(wsNeverOpens);
  else if (how === 'silent-proxy') {
    // The upgrade succeeds, but no frame ever reaches the daemon or the page.
    await p.context.routeWebSocket(/\/ws$/, () => {});
  }
  let sockets = 0;
  p.page.on('websocket', () => { sockets += 1; });
  p.sockets = () => sockets;
  p.page.setDefaultTimeout(30000);
  return p;
}

test('without WebSockets the client falls back to HTTPS and loses nothing', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(20000);
  await moderatorLogin(M);
  const code = await createWorkshop(M, 'Workshop på kommunens gästnät');
  await columnsBoard(M, 'Vad behöver byn?', ['Idéer']);

  const a = await blockedPerson('never-opens', { viewport: { width: 360, height: 780 } });
  const b = await blockedPerson('silent-proxy');
  const c = await blockedPerson('throws');
  const A = a.page, B = b.page, C = c.page;
  const t0 = Date.now();
  await join(A, code, 'Annika');
  const joinMs = Date.now() - t0;
  await join(B, code, 'Bertil');
  await join(C, code, 'Cecilia');
  for (const P of [A, B, C]) {
    await P.locator('body[data-transport="http"][data-conn="online"]').waitFor();
    await P.locator('.chip', { hasText: 'Via HTTPS' }).waitFor();
  }

  await writeNote(A, 'Annika ett');
  await noteByText(A, 'Annika ett').locator('.note__saved', { hasText: 'sparat' }).waitFor();
  await writeNote(B, 'Bertil ett');
  // Live over the event stream, both ways.
  await noteByText(A, 'Bertil ett').waitFor();
  await noteByText(B, 'Annika ett').waitFor();
  await noteByText(C, 'Bertil ett').waitFor();
  await writeNote(C, 'Cecilia ett');
  await noteByText(A, 'Cecilia ett').waitFor();

  // A goes offline, writes two notes; meanwhile B writes one.
  await a.context.setOffline(true);
  await A.locator('body[data-conn="closed"]').waitFor();
  await writeNote(A, 'Annika offline ett');
  await writeNote(A, 'Annika offline två');
  assert.equal(await A.locator('li.note--local .note__saving', { hasText: 'sparar…' }).count(), 2);
  await writeNote(B, 'Bertil medan Annika var borta');
  await noteByText(B, 'Bertil medan Annika var borta').locator('.note__saved').waitFor();
  await shot(A, 'fallback-offline-360');

  // Back: the outbox goes out over HTTPS, and what was missed comes in.
  await a.context.setOffline(false);
  await A.locator('body[data-transport="http"][data-conn="online"]').waitFor();
  for (const text of ['Annika offline ett', 'Annika offline två']) {
    await noteByText(A, text).locator('.note__saved', { hasText: 'sparat' }).waitFor();
    await noteByText(B, text).waitFor();
  }
  await noteByText(A, 'Bertil medan Annika var borta').waitFor();
  await A.locator('li.note--local').waitFor({ state: 'detached' });

  // Cut off right after the POST left: the retry with the same id is
  // answered, never applied twice.
  await writeNote(A, 'Annika avbruten');
  await a.context.setOffline(true);
  await A.locator('body[data-conn="closed"]').waitFor();
  await a.context.setOffline(false);
  await noteByText(A, 'Annika avbruten').locator('.note__saved').waitFor();

  // A reload behind the same firewall goes straight to HTTPS.
  const t1 = Date.now();
  await A.reload();
  await A.locator('body[data-transport="http"][data-conn="online"]').waitFor();
  const reloadMs = Date.now() - t1;
  await noteByText(A, 'Annika avbruten').waitFor();

  const all = ['Annika ett', 'Bertil ett', 'Cecilia ett', 'Annika offline ett', 'Annika offline två',
    'Bertil medan Annika var borta', 'Annika avbruten'];
  for (const text of all) {
    for (const [who, P] of [['moderator', M], ['Annika', A], ['Bertil', B], ['Cecilia', C]]) {
      await noteByText(P, text).waitFor();
      assert.equal(await noteByText(P, text).count(), 1, `${who} sees "${text}" once`);
    }
  }
  assert.deepEqual((await loggedNoteTexts(M)).sort(), [...all].sort());
  // The blocked pages never had a working WebSocket: B's only one is the
  // routed fake, A's and C's are stand-ins playwright never sees.
  assert.equal(a.sockets(), 0);
  assert.equal(c.sockets(), 0);
  console.log(`fallback: first join ${joinMs} ms (WebSocket never opens), reload ${reloadMs} ms (straight to HTTPS)`);
  for (const P of [A, B, C]) {
    assert.deepEqual(P.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED|Failed to load resource|EventSource|WebSocket/.test(e)), []);
  }

  // A second tab in the same browser: the cookie jar is shared, but each tab
  // names its own session in X-Tavla-Session, so both are online at once
  // and neither takes the other's requests or events.
  const A2 = await a.context.newPage();
  A2.errors = [];
  A2.setDefaultTimeout(30000);
  const sessionHeaders = new Set();
  A2.on('request', (r) => { if (r.url().includes('/api/send')) sessionHeaders.add(r.headers()['x-tavla-session']); });
  await A2.goto(A.url());
  await A2.locator('body[data-transport="http"][data-conn="online"]').waitFor();
  await writeNote(B, 'Bertil efter att Annika öppnat en flik till');
  await noteByText(A, 'Bertil efter att Annika öppnat en flik till').waitFor();
  await noteByText(A2, 'Bertil efter att Annika öppnat en flik till').waitFor();
  await writeNote(A2, 'Annika i andra fliken');
  await writeNote(A, 'Annika i första fliken');
  for (const P of [A, A2, B]) {
    await noteByText(P, 'Annika i andra fliken').waitFor();
    await noteByText(P, 'Annika i första fliken').waitFor();
  }
  assert.equal(await A.evaluate(() => document.body.dataset.conn), 'online', 'the first tab stayed online');
  assert.equal(sessionHeaders.size, 1, 'the second tab names one session of its own');
  assert.ok([...sessionHeaders][0], 'a session header on every send');
  const logged = await loggedNoteTexts(M);
  assert.equal(logged.filter((x) => x === 'Annika i andra fliken').length, 1);
  assert.equal(logged.filter((x) => x === 'Annika i första fliken').length, 1);
  for (const p of [a, b, c, mod]) await p.context.close();
});
