// a11y.test.js: axe-core (WCAG 2.1 A and AA rules) on the join page, the
// participant board (columns, move menu, matrix with its place menu,
// timeline) and the moderator's views (login, rooms, dashboard with the join
// QR code, the join sheet, the dashboard at 360 px) finds no serious or
// critical violation; screenshots of each main view (the participant at
// 360 px wide) go to tests/artifacts/; nothing scrolls sideways at 360 px;
// the English switch changes the page's language.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, url, moderatorLogin, createWorkshop, join, writeNote, noteByText, shot, axe, describeViolations, fillExactly } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

async function noSerious(page, name) {
  const v = await axe(page, name);
  assert.equal(v.length, 0, `axe on ${name}:\n${describeViolations(v)}`);
}

test('join page, participant board and moderator views pass axe; screenshots', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(15000);
  await M.goto(url('moderator'));
  await M.getByLabel('Användarnamn').waitFor();
  await noSerious(M, 'moderator-login');
  await shot(M, 'moderator-login');
  await moderatorLogin(M);
  await M.getByLabel('Namn på workshoppen').waitFor();
  await noSerious(M, 'moderator-rooms');
  const code = await createWorkshop(M, 'Nätverksträff för regionerna');
  await M.getByLabel('Bordets namn').fill('Bord Norr');
  await M.getByRole('button', { name: 'Skapa bord' }).click();
  await M.getByLabel('Fråga eller rubrik').fill('Vad vill vi förändra?');
  await M.getByLabel('Kolumner', { exact: true }).fill('Mål\nEffekt\nAktivitet');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByLabel('Fråga eller rubrik').fill('Intressenter');
  await M.getByLabel('Form').selectOption('matrix');
  await M.getByLabel('Vågrät axel').fill('Inflytande');
  await M.getByLabel('Lodrät axel').fill('Intresse');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Intressenter' }).waitFor();
  await M.getByLabel('Fråga eller rubrik').fill('Bakåt från 2050');
  await M.getByLabel('Form').selectOption('timeline');
  await M.getByLabel('Kolumner', { exact: true }).fill('2030\n2040\n2050');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Bakåt från 2050' }).waitFor();
  await M.getByRole('button', { name: 'Skriva', exact: true }).click();
  await M.getByRole('button', { name: 'Privat skrivande' }).click();
  await M.locator('[data-key="private"][aria-pressed="true"]').waitFor();
  await fillExactly(M.getByLabel('Minuter'), '10');
  await M.getByRole('button', { name: 'Starta' }).click();
  await M.locator('.chip--timer').waitFor();

  const p = await person(browser, { viewport: { width: 360, height: 740 } });
  const P = p.page;
  P.setDefaultTimeout(15000);
  await P.goto(url(`code=${code}`));
  await P.getByLabel('Ditt namn').waitFor();
  await noSerious(P, 'join');
  await shot(P, 'join-360');
  await join(P, code, 'Åsa');
  await P.getByRole('button', { name: 'Välj åt mig' }).click();
  await P.getByText('Du sitter vid Bord Norr.').waitFor();
  await writeNote(P, 'Fler unga i styrgruppen', 1);
  await noteByText(P, 'Fler unga i styrgruppen').locator('.note__saved').waitFor();
  const q = await person(browser, { viewport: { width: 360, height: 740 } });
  await join(q.page, code, 'Bo');
  await q.page.getByRole('button', { name: 'Bord Norr' }).click();
  await writeNote(q.page, 'Gemensam kalender', 2);
  await P.locator('li.note--placeholder').waitFor();
  await P.locator('.chip--timer').waitFor();
  await noSerious(P, 'participant-board');
  await shot(P, 'participant-board-360');
  // the move menu open, as a keyboard user sees it
  await noteByText(P, 'Fler unga i styrgruppen').getByRole('button', { name: /^Flytta/ }).click();
  await P.getByRole('button', { name: 'Till Aktivitet' }).waitFor();
  await noSerious(P, 'participant-move-menu');
  await shot(P, 'participant-move-menu-360');
  await P.keyboard.press('Escape');
  // matrix board
  await P.getByRole('button', { name: 'Intressenter' }).click();
  await fillExactly(P.getByLabel('Inflytande vågrätt (0–100)'), '80');
  await fillExactly(P.getByLabel('Intresse lodrätt (0–100)'), '20');
  await writeNote(P, 'Kommunerna');
  await noteByText(P, 'Kommunerna').locator('.note__saved').waitFor();
  await noSerious(P, 'participant-matrix');
  await shot(P, 'participant-matrix-360');
  // its place menu (quadrants and exact x/y), as a keyboard user sees it
  await noteByText(P, 'Kommunerna').getByRole('button', { name: /^Placera lappen/ }).click();
  await P.getByRole('button', { name: 'Mycket inflytande, lite intresse' }).waitFor();
  await noSerious(P, 'participant-matrix-place-menu');
  await shot(P, 'participant-matrix-place-menu-360');
  await P.keyboard.press('Escape');
  // the timeline, stacked at 360 px
  await P.getByRole('button', { name: 'Bakåt från 2050' }).click();
  await P.getByRole('region', { name: 'Tidslinje: Bakåt från 2050' }).waitFor();
  await writeNote(P, 'Alla byar har fiber', 2);
  await noteByText(P, 'Alla byar har fiber').locator('.note__saved').waitFor();
  await noSerious(P, 'participant-timeline-360');
  await shot(P, 'participant-timeline-a11y-360');
  assert.ok(await P.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
    'the timeline scrolls the page sideways at 360px');
  await P.getByRole('button', { name: 'Intressenter' }).click();
  // no horizontal scrolling at 360 px
  const overflow = await P.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 360px`);

  await M.getByRole('button', { name: 'Vad vill vi förändra?' }).click();
  await noteByText(M, 'Fler unga i styrgruppen').waitFor();
  await noSerious(M, 'moderator-dashboard');
  await shot(M, 'moderator-dashboard-full');
  // the join sheet: the QR code large, for a projector or print
  await M.locator('img.joincode__qr').waitFor();
  await M.getByRole('button', { name: 'Visa QR-koden stort' }).click();
  await M.getByRole('dialog').waitFor();
  await noSerious(M, 'moderator-join-sheet');
  await M.keyboard.press('Escape');
  await M.getByRole('dialog').waitFor({ state: 'hidden' });
  // the dashboard on a phone
  await M.setViewportSize({ width: 360, height: 780 });
  await M.getByRole('button', { name: 'Bakåt från 2050' }).click();
  await M.locator('.timeline').waitFor();
  await noSerious(M, 'moderator-dashboard-360');
  await shot(M, 'moderator-dashboard-360');
  const modOverflow = await M.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(modOverflow <= 0, `the dashboard scrolls sideways by ${modOverflow}px at 360px`);

  // English
  await P.getByRole('button', { name: 'Switch to English' }).click();
  await P.getByRole('heading', { name: 'Write a note' }).waitFor();
  assert.equal(await P.evaluate(() => document.documentElement.lang), 'en');
  await P.locator('.chip--phase', { hasText: 'Phase: Write' }).waitFor();
  await noSerious(P, 'participant-english');
  await shot(P, 'participant-english-360');
  for (const x of [M, P, q.page]) assert.deepEqual(x.errors, []);
  for (const x of [mod, p, q]) await x.context.close();
});

/* The synthesis and meeting views: not a single axe violation of any
 * impact, and no sideways scrolling at 360 px. */
async function noneAtAll(page, name) {
  const v = await axe(page, name, { all: true });
  assert.equal(v.length, 0, `axe on ${name}:\n${describeViolations(v)}`);
}

async function fitsPhone(page, name) {
  const o = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(o <= 0, `${name} scrolls sideways by ${o}px at 360px`);
}

test('synthesis board, grouping, voting and the meeting view pass axe with no violation', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(15000);
  await moderatorLogin(M);
  const code = await createWorkshop(M, 'Syntes i Lillby');
  await M.getByLabel('Bordets namn').fill('Bord Syd');
  await M.getByRole('button', { name: 'Skapa bord' }).click();
  await M.getByLabel('Fråga eller rubrik').fill('Vad behövs?');
  await M.getByLabel('Kolumner', { exact: true }).fill('Nu\nSedan');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Skriva', exact: true }).click();
  await M.locator('[data-phase="write"][aria-pressed="true"]').waitFor();
  const p = await person(browser, { viewport: { width: 360, height: 740 } });
  const P = p.page;
  P.setDefaultTimeout(15000);
  await join(P, code, 'Åsa');
  await P.getByRole('button', { name: 'Välj åt mig' }).click();
  await P.getByText('Du sitter vid Bord Syd.').waitFor();
  for (const text of ['Fler bussar till byarna', 'Bussar som går oftare', 'Cykelväg till skolan']) {
    await writeNote(P, text);
    await noteByText(P, text).locator('.note__saved').waitFor();
  }
  // The participant groups the table's notes (phase group).
  await M.getByRole('button', { name: 'Gruppera', exact: true }).click();
  await P.locator('section.group li.note--synth').nth(2).waitFor();
  await P.locator('section.group').getByRole('checkbox', { name: /Cykelväg/ }).check();
  await noneAtAll(P, 'participant-group-360');
  await fitsPhone(P, 'grouping');
  await shot(P, 'participant-group-a11y-360');

  // The moderator's synthesis board, with suggestions and a theme's tools open.
  await M.getByRole('button', { name: 'Syntes', exact: true }).click();
  await M.getByLabel('Namn på syntesen').waitFor();
  await noneAtAll(M, 'moderator-synthesis-create');
  await M.getByLabel('Namn på syntesen').fill('Prioriteringar');
  await M.getByRole('button', { name: 'Skapa syntes' }).click();
  await M.locator('section.theme--none li.note--synth').nth(2).waitFor();
  await M.getByRole('button', { name: 'Föreslå teman' }).click();
  await M.locator('#sug-title').waitFor();
  await M.getByLabel('Nytt tema').fill('Cykel');
  await M.getByRole('button', { name: 'Skapa tema', exact: true }).click();
  await M.getByRole('button', { name: 'Ändra temat Cykel' }).click();
  await M.getByLabel('Temats namn', { exact: true }).last().waitFor();
  await noneAtAll(M, 'moderator-synthesis');
  await shot(M, 'moderator-synthesis-a11y');
  await M.getByRole('button', { name: 'Rösta', exact: true }).click();
  await M.getByRole('button', { name: 'Öppna röstningen' }).click();
  await M.getByRole('button', { name: 'Stäng röstningen' }).waitFor();
  await noneAtAll(M, 'moderator-synthesis-vote');
  await M.setViewportSize({ width: 360, height: 780 });
  await noneAtAll(M, 'moderator-synthesis-360');
  await fitsPhone(M, 'the synthesis board');
  await shot(M, 'moderator-synthesis-360');

  // The participant's dots at 360 px, then the result.
  await P.getByRole('button', { name: 'Lägg en prick på Cykel' }).click();
  await P.locator('.vote__left .note__saved').waitFor();
  await noneAtAll(P, 'participant-vote-360');
  await fitsPhone(P, 'voting');
  await M.getByRole('button', { name: 'Stäng röstningen' }).click();
  await P.locator('#pvote-title', { hasText: 'Resultat av röstningen' }).waitFor();
  await noneAtAll(P, 'participant-vote-result-360');
  await M.locator('#result-title').waitFor();
  await noneAtAll(M, 'moderator-synthesis-result-360');

  // A meeting: the moderator's controls and a participant at 360 px.
  await M.setViewportSize({ width: 1280, height: 900 });
  await M.getByRole('button', { name: 'Alla workshoppar' }).click();
  await M.getByLabel('Namn på workshoppen').fill('Nätverksmöte');
  await M.getByLabel('Sort').selectOption('meeting');
  await M.getByRole('button', { name: 'Skapa', exact: true }).click();
  await M.getByLabel('Rubrik').fill('Välkomna');
  await M.getByRole('button', { name: 'Lägg till', exact: true }).click();
  await M.getByRole('button', { name: 'Gå till Välkomna' }).click();
  await M.getByLabel('Fråga', { exact: true }).fill('Hur har ni det?');
  await M.getByLabel('Svarsalternativ, ett per rad').fill('Bra\nSådär');
  await M.getByLabel('Anonym (inga namn visas)').check();
  await M.getByRole('button', { name: 'Starta omröstningen' }).click();
  await M.getByLabel('Fråga till rundan').fill('Ett ord om dagen?');
  await M.getByRole('button', { name: 'Öppna rundan' }).click();
  const mcode = (await M.locator('.joincode__code').textContent()).trim();
  const r = await person(browser, { viewport: { width: 360, height: 740 } });
  const R = r.page;
  R.setDefaultTimeout(15000);
  await join(R, mcode, 'Bo');
  await R.locator('article.poll').getByRole('button', { name: 'Bra', exact: true }).click();
  await R.locator('article.poll .poll__mine').waitFor();
  await R.getByRole('button', { name: 'Räck upp handen' }).click();
  await R.getByLabel('Meddelande').fill('Hej!');
  await R.getByRole('button', { name: 'Skicka' }).click();
  await R.locator('li.chat__msg', { hasText: 'Hej!' }).getByRole('button', { name: 'Svara Bo' }).waitFor();
  await noneAtAll(R, 'meeting-participant-360');
  await fitsPhone(R, 'the meeting view');
  await shot(R, 'meeting-participant-a11y-360');
  await M.locator('ol.queue li', { hasText: 'Bo' }).waitFor();
  await noneAtAll(M, 'meeting-moderator');
  await M.setViewportSize({ width: 360, height: 780 });
  await noneAtAll(M, 'meeting-moderator-360');
  await fitsPhone(M, 'the meeting moderator view');
  for (const x of [M, P, R]) assert.deepEqual(x.errors, []);
  for (const x of [mod, p, r]) await x.context.close();
});
