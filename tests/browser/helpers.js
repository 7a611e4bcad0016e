// helpers.js: what the browser tests share: Debian's chromium through
// playwright-core, the daemon's address and moderator account (from run.sh),
// screenshots under tests/artifacts/, axe-core injected into a page, and the
// steps a moderator or participant takes in the web client.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.resolve(here, '../artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export const BASE = process.env.TAVLA_URL || 'https://127.0.0.1:8443/';
export const MOD_USER = process.env.TAVLA_MOD_USER || 'mod';
export const MOD_PASSWORD = process.env.TAVLA_MOD_PASSWORD || '';
// ?ws=… only when the page is served by something else than the daemon.
const WS = process.env.TAVLA_WS ? `ws=${encodeURIComponent(process.env.TAVLA_WS)}` : '';

export function url(query = '') {
  const q = [query, WS].filter(Boolean).join('&');
  return q ? `${BASE}?${q}` : BASE;
}

/* A browser with a fresh profile (playwright makes a new temporary
 * user-data-dir for every launch); close it with browser.close(). */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/* A separate context (own storage, own device id): one person. */
export async function person(browser, opts = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: opts.viewport || { width: 1280, height: 900 }, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return { context, page };
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const AXE = readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

/* Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page; returns the
 * violations with impact serious or critical (every violation with
 * {all: true}), and writes all to a file. */
export async function axe(page, name, { all = false } = {}) {
  // Injected through the debugging protocol, so the page's CSP does not apply.
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(res.violations, null, 2));
  return all ? res.violations : res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export function describeViolations(vs) {
  return vs.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('\n');
}

// --- steps --------------------------------------------------------------

export async function moderatorLogin(page, lang = 'sv') {
  await page.goto(url(`moderator&lang=${lang}`));
  await page.getByLabel(lang === 'sv' ? 'Användarnamn' : 'User name').fill(MOD_USER);
  await page.getByLabel(lang === 'sv' ? 'Lösenord' : 'Password').fill(MOD_PASSWORD);
  await page.getByRole('button', { name: lang === 'sv' ? 'Logga in' : 'Log in' }).click();
}

/* Creates a workshop from the rooms page; returns its join code. */
export async function createWorkshop(page, title) {
  await page.getByLabel('Namn på workshoppen').fill(title);
  await page.getByRole('button', { name: 'Skapa', exact: true }).click();
  const code = page.locator('.joincode__code');
  await code.waitFor();
  return (await code.textContent()).trim();
}

export async function join(page, code, name) {
  await page.goto(url(`code=${code}`));
  await page.getByLabel('Ditt namn').fill(name);
  await page.getByRole('button', { name: 'Gå med' }).click();
  await page.locator('body[data-conn="online"]').waitFor();
}

/* Writes a note in the participant view (in column `column`, default 0). */
export async function writeNote(page, text, column) {
  await page.getByLabel('Lappens text').fill(text);
  if (column !== undefined) await page.getByLabel('Kolumn').selectOption(String(column));
  await page.getByRole('button', { name: 'Lägg upp lappen' }).click();
}

export function noteByText(page, text) {
  return page.locator('li.note[data-id]', { hasText: text });
}

/* The texts of every note.created event in the moderator's current room,
 * read from the room's log (history) over a connection of its own. */
export async function loggedNoteTexts(page) {
  return page.evaluate(async () => {
    const ws = new WebSocket(`wss://${location.host}/ws`, 'tavla.v1');
    const send = (m) => ws.send(JSON.stringify(m));
    const replies = {};
    await new Promise((res) => { ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      const items = m.type === 'batch' ? m.items : [m];
      for (const it of items) {
        if (it.type === 'hello') send({ op: 'resume', id: 'r', token: localStorage.getItem('tavla.mod.token') });
        if (it.type === 'reply') {
          replies[it.id] = it;
          if (it.id === 'r') send({ op: 'join', id: 'j', room: localStorage.getItem('tavla.mod.room') });
          if (it.id === 'j') send({ op: 'history', id: 'h', room: localStorage.getItem('tavla.mod.room'), limit: 1000 });
          if (it.id === 'h') res();
        }
      }
    }; });
    ws.close();
    return replies.h.result.events.filter((e) => e.kind === 'note.created').map((e) => e.data.text);
  });
}

/* A column board "title" with the given columns, then phase write. */
export async function columnsBoard(M, title, columns) {
  await M.getByLabel('Fråga eller rubrik').fill(title);
  await M.getByLabel('Kolumner', { exact: true }).fill(columns.join('\n'));
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Skriva', exact: true }).click();
  await M.locator('[data-phase="write"][aria-pressed="true"]').waitFor();
}

/* Waits until the page has caught up (no render scheduled and no result
 * being fetched: <html data-pending="0">, see clients/web/dom.js busy())
 * and two frames have passed, so the next click, key or drag acts on the
 * layout the person would see. */
export async function settle(page) {
  await page.waitForFunction(() => (document.documentElement.dataset.pending || '0') === '0');
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/* True once the element is the page's focused element, false if it is not
 * within `timeout` ms. The client moves focus on the frame after a render
 * (clients/web/dom.js focusKey), so an element can be on the page a moment
 * before it has the focus. */
export async function focused(locator, timeout = 5000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await locator.evaluate((el) => el === document.activeElement).catch(() => false)) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/* Fills a field until it holds exactly `value`. A render that replaces the
 * focused field gives the focus back but cannot keep the selection of a
 * number field (browsers expose none), so a fill that a render interrupts
 * between selecting the old value and typing appends instead ("3" -> "33"). */
export async function fillExactly(locator, value, tries = 5) {
  for (let i = 0; i < tries; i++) {
    await locator.fill(value);
    if (await locator.inputValue() === value) return;
  }
  throw new Error(`the field does not keep ${JSON.stringify(value)}`);
}
