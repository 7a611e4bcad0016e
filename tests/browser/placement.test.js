// placement.test.js: notes placed on a matrix (stakeholders: power and
// interest) and on a timeline, with the keyboard only and by dragging.
// The matrix is a 2×2 grid with its axis labels; a participant moves its
// note with the arrow keys (and with the "Placera…" menu's quadrants) and a
// second participant sees the note at the new place. On a timeline (a
// horizontal axis of years) the arrow keys move a note to the next year;
// a drag does the same with a pointer. Also the moderator's join code with
// its QR code (GET /qr.svg) and the printable join sheet.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, moderatorLogin, createWorkshop, join, writeNote, noteByText, shot, axe,
  describeViolations, fillExactly } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

async function noSerious(page, name) {
  const v = await axe(page, name);
  assert.equal(v.length, 0, `axe on ${name}:\n${describeViolations(v)}`);
}

const pos = (loc) => loc.evaluate((el) => [Number(el.dataset.x), Number(el.dataset.y)]);

test('matrix and timeline: place notes by keyboard and by drag; join QR code', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(15000);
  await moderatorLogin(M);
  const code = await createWorkshop(M, 'Intressentanalys för landsbygdsprogrammet');

  // The join code with its QR code and the link as text.
  const qr = M.locator('img.joincode__qr');
  await qr.waitFor();
  const link = (await M.locator('.joincode__link').textContent()).trim();
  assert.equal(link, `${new URL(M.url()).origin}/?code=${code}`);
  assert.equal(await qr.getAttribute('alt'), `QR-kod som öppnar länken ${link}`);
  await M.waitForFunction(() => document.querySelector('img.joincode__qr').naturalWidth > 0);
  const svg = await M.evaluate(async (src) => {
    const r = await fetch(src);
    return { type: r.headers.get('content-type'), cache: r.headers.get('cache-control'), text: await r.text() };
  }, await qr.getAttribute('src'));
  assert.equal(svg.type, 'image/svg+xml');
  assert.match(svg.cache, /max-age=/);
  assert.ok(svg.text.includes(`<title>${link}</title>`), 'the QR code holds the join link');
  // Shown large (for a projector) in a dialog, and printable.
  await M.getByRole('button', { name: 'Visa QR-koden stort' }).click();
  const sheet = M.getByRole('dialog', { name: /^Gå med i Intressentanalys/ });
  await sheet.waitFor();
  await sheet.getByText(link).waitFor();
  await noSerious(M, 'moderator-qr-sheet');
  await shot(M, 'moderator-qr-sheet');
  await M.evaluate(() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; });
  await sheet.getByRole('button', { name: 'Skriv ut' }).click();
  assert.equal(await M.evaluate(() => window.printed), 1);
  await M.emulateMedia({ media: 'print' });
  assert.equal(await M.locator('.qr-sheet__qr').isVisible(), true);
  assert.equal(await M.evaluate(() => getComputedStyle(document.querySelector('.mod-grid')).visibility), 'hidden');
  await shot(M, 'moderator-qr-print');
  await M.emulateMedia({ media: 'screen' });
  await M.evaluate(() => window.dispatchEvent(new Event('afterprint')));
  await M.keyboard.press('Escape');
  await sheet.waitFor({ state: 'hidden' });

  // A matrix board and a timeline.
  await M.getByLabel('Fråga eller rubrik').fill('Vilka berörs?');
  await M.getByLabel('Form').selectOption('matrix');
  await M.getByLabel('Vågrät axel').fill('Inflytande');
  await M.getByLabel('Lodrät axel').fill('Intresse');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Vilka berörs?' }).waitFor();
  await M.getByLabel('Fråga eller rubrik').fill('Bakåt från 2050');
  await M.getByLabel('Form').selectOption('timeline');
  await M.getByLabel('Kolumner', { exact: true }).fill('2030\n2040\n2050');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Bakåt från 2050' }).waitFor();
  await M.getByRole('button', { name: 'Skriva', exact: true }).click();
  await M.locator('[data-phase="write"][aria-pressed="true"]').waitFor();

  const a = await person(browser, { viewport: { width: 360, height: 780 } });
  const b = await person(browser);
  const A = a.page, B = b.page;
  A.setDefaultTimeout(15000);
  B.setDefaultTimeout(15000);
  await join(A, code, 'Åsa');
  await join(B, code, 'Bo');

  // The 2×2 grid with its axes.
  await A.getByRole('button', { name: 'Vilka berörs?' }).click();
  await A.locator('.matrix__quadrant', { hasText: 'Mycket inflytande, mycket intresse' }).waitFor();
  assert.deepEqual(await A.locator('.matrix__quadrant').allTextContents(), [
    'Lite inflytande, mycket intresse', 'Mycket inflytande, mycket intresse',
    'Lite inflytande, lite intresse', 'Mycket inflytande, lite intresse']);
  assert.equal(await A.locator('.matrix__x .matrix__axis').textContent(), 'Inflytande →');

  await fillExactly(A.getByLabel('Inflytande vågrätt (0–100)'), '20');
  await fillExactly(A.getByLabel('Intresse lodrätt (0–100)'), '20');
  await writeNote(A, 'Länsstyrelsen');
  const note = noteByText(A, 'Länsstyrelsen');
  await note.locator('.note__saved').waitFor();
  assert.deepEqual(await pos(note), [0.2, 0.2]);
  // A new note's place chosen by quadrant name.
  await A.getByLabel('Ruta').selectOption({ label: 'Mycket inflytande, lite intresse' });
  assert.equal(await A.getByLabel('Inflytande vågrätt (0–100)').inputValue(), '75');
  await writeNote(A, 'Kommunerna');
  await noteByText(A, 'Kommunerna').locator('.note__saved').waitFor();
  assert.deepEqual(await pos(noteByText(A, 'Kommunerna')), [0.75, 0.25]);

  // Keyboard only: focus the note (Tab order), three steps right, four up.
  await note.focus();
  assert.equal(await note.evaluate((el) => el === document.activeElement), true);
  for (const k of ['ArrowRight', 'ArrowRight', 'ArrowRight', 'ArrowUp', 'ArrowUp', 'ArrowUp', 'ArrowUp']) {
    await A.keyboard.press(k);
  }
  assert.deepEqual(await pos(note), [0.35, 0.4], 'drawn at once where the keys put it');
  await A.locator('#live', { hasText: '35 % åt höger och 40 % upp' }).waitFor();
  // Shift takes a quadrant-sized step.
  await A.keyboard.press('Shift+ArrowRight');
  assert.deepEqual(await pos(note), [0.6, 0.4]);
  // Bo sees it arrive there (one edit, after the keys rest).
  const onB = noteByText(B, 'Länsstyrelsen');
  await B.getByRole('button', { name: 'Vilka berörs?' }).click();
  await onB.waitFor();
  await B.waitForFunction(() => {
    const el = [...document.querySelectorAll('li.note[data-id]')].find((x) => x.textContent.includes('Länsstyrelsen'));
    return el && el.dataset.x === '0.60' && el.dataset.y === '0.40';
  });
  assert.equal(await note.evaluate((el) => el === document.activeElement), true, 'focus stays on the note');
  await shot(A, 'participant-matrix-placed-360');

  // The "Placera…" menu: a quadrant by name, with Enter.
  await note.getByRole('button', { name: /^Placera lappen/ }).click();
  await A.getByRole('button', { name: 'Mycket inflytande, mycket intresse' }).waitFor();
  await A.waitForFunction(() => document.activeElement && document.activeElement.textContent === 'Lite inflytande, mycket intresse');
  // The first item (top left) has focus; Tab goes to the next (top right).
  await A.keyboard.press('Tab');
  await A.keyboard.press('Enter');
  await B.waitForFunction(() => {
    const el = [...document.querySelectorAll('li.note[data-id]')].find((x) => x.textContent.includes('Länsstyrelsen'));
    return el && el.dataset.x === '0.75' && el.dataset.y === '0.75';
  });
  await noSerious(A, 'participant-matrix-placing');

  // Dragging with the mouse puts it down where it is let go.
  const area = await A.locator('.matrix__notes').boundingBox();
  const box = await note.boundingBox();
  await A.mouse.move(box.x + 10, box.y + 10);
  await A.mouse.down();
  await A.mouse.move(box.x - 40, box.y + 60, { steps: 5 });
  await A.mouse.move(area.x + 5 + 10, area.y + area.height - box.height - 5 + 10, { steps: 5 });
  await A.mouse.up();
  await B.waitForFunction(() => {
    const el = [...document.querySelectorAll('li.note[data-id]')].find((x) => x.textContent.includes('Länsstyrelsen'));
    return el && Number(el.dataset.x) < 0.1 && Number(el.dataset.y) < 0.1;
  });

  // The timeline: a horizontal axis of years (stacked on a phone).
  await B.getByRole('button', { name: 'Bakåt från 2050' }).click();
  await B.getByRole('region', { name: 'Tidslinje: Bakåt från 2050' }).waitFor();
  const stops = B.locator('.timeline__stop');
  assert.equal(await stops.count(), 3);
  const [s1, s2] = [await stops.nth(0).boundingBox(), await stops.nth(1).boundingBox()];
  assert.ok(Math.abs(s1.y - s2.y) < 2 && s2.x > s1.x, 'stops side by side on a laptop');
  await writeNote(B, 'Fossilfri kollektivtrafik', 0);
  const tnote = noteByText(B, 'Fossilfri kollektivtrafik');
  await tnote.locator('.note__saved').waitFor();
  await tnote.focus();
  await B.keyboard.press('ArrowRight');
  await B.keyboard.press('ArrowRight');
  await B.locator('#live', { hasText: 'Lappen flyttas till 2050' }).waitFor();
  await A.getByRole('button', { name: 'Bakåt från 2050' }).click();
  const col = (page, i) => page.locator('.timeline__stop').nth(i);
  await col(A, 2).locator('li.note', { hasText: 'Fossilfri kollektivtrafik' }).waitFor();
  await col(M, 2).locator('li.note', { hasText: 'Fossilfri kollektivtrafik' }).waitFor().catch(async () => {
    await M.getByRole('button', { name: 'Bakåt från 2050' }).click();
    await col(M, 2).locator('li.note', { hasText: 'Fossilfri kollektivtrafik' }).waitFor();
  });
  const [t1, t2] = [await col(A, 0).boundingBox(), await col(A, 1).boundingBox()];
  assert.ok(t2.y > t1.y, 'stops one below the other at 360 px');
  await shot(A, 'participant-timeline-360');
  await noSerious(B, 'participant-timeline');
  await shot(B, 'participant-timeline');
  // Drag it back to 2040.
  const from = await tnote.boundingBox();
  const to = await col(B, 1).boundingBox();
  await B.mouse.move(from.x + 8, from.y + 8);
  await B.mouse.down();
  await B.mouse.move(to.x + to.width / 2, to.y + 60, { steps: 8 });
  await B.mouse.up();
  await col(A, 1).locator('li.note', { hasText: 'Fossilfri kollektivtrafik' }).waitFor();

  // No sideways scrolling at 360 px on either board.
  const overflow = await A.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 360px`);
  for (const x of [M, A, B]) assert.deepEqual(x.errors, []);
  for (const x of [mod, a, b]) await x.context.close();
});
