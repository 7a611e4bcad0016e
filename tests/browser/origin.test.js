// origin.test.js: a page of another origin cannot talk to tavlad from a
// real browser (PROTOCOL.md 1 and 1.1). A page served by a plain HTTP
// server on another port of the same host (the same *site*, so the
// session cookie's SameSite=Strict does not stop it) and a data: URL page
// (Origin "null") each try `new WebSocket('wss://…/ws', 'tavla.v1')` and
// the HTTPS fallback (POST /api/session, GET /api/events, POST /api/send)
// with credentials. tavlad must refuse each: the WebSocket handshake with
// 403 (never open, never a hello), the fallback with 403 `forbidden`.
// The same WebSocket and fallback calls from the daemon's own page work,
// so the refusals are the daemon's Origin rule and not a broken setup. The
// statuses are read from the browser's network layer (the debugging
// protocol), since CORS hides them from the page itself.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { person, BASE } from './helpers.js';

const WSS = BASE.replace(/^https:/, 'wss:').replace(/\/?$/, '/ws');
const API = BASE.replace(/\/?$/, '/api');

let browser;
let server;
let foreign;
before(async () => {
  // As helpers.launch(), but without Chromium's Local Network Access
  // checks, which stop a data: page's requests to 127.0.0.1 before they
  // leave the browser: here the daemon itself must refuse them.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-features=LocalNetworkAccessChecks'],
  });
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="sv"><title>En annan sajt</title><p>Annan sajt</p></html>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  foreign = `http://127.0.0.1:${server.address().port}/`;
});
after(async () => {
  await browser.close();
  await new Promise((resolve) => server.close(resolve));
});

/* Runs in the page: opens the WebSocket and reports what happened within
 * ten seconds (a loaded machine is slow; a refusal closes at once):
 * opened (and the first message), or error/close. */
async function tryWebSocket(page) {
  return page.evaluate((url) => new Promise((resolve) => {
    const out = { opened: false, first: null, error: false, close: null };
    const ws = new WebSocket(url, 'tavla.v1');
    ws.onopen = () => { out.opened = true; };
    ws.onmessage = (m) => { if (!out.first) out.first = String(m.data).slice(0, 200); ws.close(); };
    ws.onerror = () => { out.error = true; };
    ws.onclose = (e) => { out.close = e.code; resolve(out); };
    setTimeout(() => resolve(out), 10000);
  }), WSS);
}

/* Runs the three fallback requests in the page, with the cookie. Returns
 * what the page could see (fetch fails on a CORS-less foreign response). */
async function tryFallback(page) {
  return page.evaluate(async (api) => {
    const out = {};
    for (const [name, method, path, body] of [
      ['session', 'POST', '/session', ''],
      ['send', 'POST', '/send', '{"op":"ping","id":"x"}'],
    ]) {
      try {
        const r = await fetch(api + path, { method, body, credentials: 'include' });
        out[name] = r.status;
      } catch (e) {
        out[name] = 'blocked';
      }
    }
    return out;
  }, API);
}

/* The HTTP statuses tavlad gave the page's requests, as the browser's
 * network layer saw them through the debugging protocol (also for
 * responses CORS keeps from the page, which playwright does not report). */
async function statuses(context, page) {
  const seen = [];
  const reqs = new Map();
  const early = new Map(); // ExtraInfo may come before requestWillBeSent
  const note = (r, status) => {
    if (r.url.startsWith(API)) seen.push(`${r.method} ${new URL(r.url).pathname} ${status}`);
  };
  const cdp = await context.newCDPSession(page);
  cdp.on('Network.requestWillBeSent', (e) => {
    reqs.set(e.requestId, e.request);
    if (early.has(e.requestId)) note(e.request, early.get(e.requestId));
    early.delete(e.requestId);
  });
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    const r = reqs.get(e.requestId);
    if (r) note(r, e.statusCode);
    else early.set(e.requestId, e.statusCode);
  });
  await cdp.send('Network.enable');
  return seen;
}

/* The debugging protocol's events may arrive after the page's fetch has
 * resolved: waits up to five seconds for line to be among seen. */
async function seenEventually(seen, line) {
  for (let i = 0; i < 50 && !seen.includes(line); i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  return seen.includes(line);
}

/* Chromium reports a refused handshake's status on the console. */
function consoleLines(page) {
  const lines = [];
  page.on('console', (m) => lines.push(m.text()));
  return lines;
}

test('the daemon\'s own page may open a WebSocket and a fallback session', async () => {
  const { context, page } = await person(browser);
  const seen = await statuses(context, page);
  await page.goto(BASE);
  const ws = await tryWebSocket(page);
  assert.equal(ws.opened, true, JSON.stringify(ws));
  assert.match(ws.first, /"type":"hello"/);
  const fb = await tryFallback(page);
  assert.deepEqual(fb, { session: 201, send: 202 });
  assert.ok(await seenEventually(seen, 'POST /api/session 201'), seen.join(', '));
  await context.close();
});

for (const [label, where] of [['a page on another port of the same host', () => foreign],
  ['a data: URL page (Origin null)', () => 'data:text/html,<!doctype html><title>data</title><p>data</p>']]) {
  test(`${label} is refused: WebSocket 403, fallback 403`, async () => {
    const { context, page } = await person(browser);
    const seen = await statuses(context, page);
    const lines = consoleLines(page);
    // A session cookie of the daemon's own origin exists first, as it would
    // for a participant who used the fallback earlier in this browser.
    const own = await context.newPage();
    await own.goto(BASE);
    assert.deepEqual(await tryFallback(own), { session: 201, send: 202 });
    await own.close();

    await page.goto(where());
    const ws = await tryWebSocket(page);
    assert.equal(ws.opened, false, `the WebSocket opened: ${JSON.stringify(ws)}`);
    assert.equal(ws.first, null);
    assert.equal(ws.error, true);
    assert.equal(ws.close, 1006);
    assert.ok(lines.some((l) => /403/.test(l)), `no 403 in the console: ${lines.join(' | ')}`);

    const fb = await tryFallback(page);
    // The page learns nothing either way (no CORS headers); what counts is
    // that tavlad answered 403 and did nothing.
    assert.notEqual(fb.session, 201);
    await page.waitForTimeout(200);
    assert.ok(await seenEventually(seen, 'POST /api/session 403'), seen.join(', '));
    assert.ok(await seenEventually(seen, 'POST /api/send 403'), seen.join(', '));
    assert.ok(!seen.some((s) => / 20\d$/.test(s)), seen.join(', '));
    await context.close();
  });
}
