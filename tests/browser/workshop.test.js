// workshop.test.js: a moderator and three participants, each in a browser
// context of its own, run a two-table workshop through the web client:
// join by code, private writing (a tablemate sees a placeholder, never the
// text; the other table sees nothing), reveal, moving a note with the
// keyboard through the move menu, a moderator's move undone, phases.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, moderatorLogin, createWorkshop, join, writeNote, noteByText, shot, focused } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test('two-table workshop: private writing, reveal, keyboard move, undo, phases', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(15000);
  await moderatorLogin(M);
  const code = await createWorkshop(M, 'Framtidsverkstad i Lillby');
  assert.match(code, /^[A-Z2-9]{6}$/);
  // the join link points at this very page's origin
  assert.equal(await M.locator('#join-link').inputValue(), `${new URL(M.url()).origin}/?code=${code}`);

  for (const name of ['Bord 1', 'Bord 2']) {
    await M.getByLabel('Bordets namn').fill(name);
    await M.getByRole('button', { name: 'Skapa bord' }).click();
    await M.locator('.status-table tbody th', { hasText: name }).waitFor();
  }
  await M.getByLabel('Fråga eller rubrik').fill('Vad ska kommunerna satsa på?');
  await M.getByLabel('Kolumner', { exact: true }).fill('Idag\nÅr 2030');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.locator('.board__title', { hasText: 'Vad ska kommunerna satsa på?' }).waitFor();
  await M.getByRole('button', { name: 'Skriva', exact: true }).click();
  await M.locator('[data-phase="write"][aria-pressed="true"]').waitFor();
  await M.getByRole('button', { name: 'Privat skrivande' }).click();
  await M.locator('[data-key="private"][aria-pressed="true"]').waitFor();

  const people = {};
  for (const [name, table] of [['Åsa', 'Bord 1'], ['Bo', 'Bord 1'], ['Cecilia', 'Bord 2']]) {
    const p = await person(browser, { viewport: { width: 390, height: 844 } });
    p.page.setDefaultTimeout(15000);
    await join(p.page, code, name);
    await p.page.getByRole('button', { name: table, exact: true }).click();
    await p.page.getByText(`Du sitter vid ${table}.`).waitFor();
    people[name] = p;
  }
  const A = people['Åsa'].page;
  const B = people['Bo'].page;
  const C = people['Cecilia'].page;

  await writeNote(A, 'Fler cykelbanor mellan byarna');
  await writeNote(B, 'En mötesplats för unga', 1);
  await noteByText(A, 'Fler cykelbanor mellan byarna').locator('.note__saved').waitFor();
  await noteByText(B, 'En mötesplats för unga').locator('.note__saved').waitFor();

  // Åsa sees Bo's note only as a placeholder: the text is nowhere in her DOM.
  await A.locator('li.note--placeholder', { hasText: 'dold lapp' }).waitFor();
  assert.equal(await A.locator('li.note[data-id]').count(), 2);
  assert.ok(!(await A.content()).includes('En mötesplats för unga'), 'hidden text leaked to a tablemate');
  assert.ok(!(await A.content()).includes('Bo:'), 'hidden author leaked');
  // Cecilia, at the other table, gets nothing of table 1.
  await C.waitForTimeout(300);
  assert.equal(await C.locator('li.note[data-id]').count(), 0);
  // The moderator reads both, from both tables.
  await noteByText(M, 'Fler cykelbanor mellan byarna').waitFor();
  await noteByText(M, 'En mötesplats för unga').waitFor();
  await shot(M, 'moderator-private-writing');
  await shot(A, 'participant-private-writing');

  // Reveal: Åsa now reads Bo's note; Cecilia still sees nothing of table 1.
  await M.getByRole('button', { name: 'Visa alla lappar' }).click();
  await noteByText(A, 'En mötesplats för unga').waitFor();
  assert.equal(await A.locator('li.note--placeholder').count(), 0);
  const boNote = noteByText(A, 'En mötesplats för unga');
  assert.equal((await boNote.locator('.sr-only').textContent()).trim(), 'Lapp av Bo:');
  await C.waitForTimeout(300);
  assert.equal(await C.locator('li.note[data-id]').count(), 0);
  assert.ok(!(await C.content()).includes('Fler cykelbanor'));

  // Åsa moves her note to "År 2030" with the keyboard only.
  const asaNote = noteByText(A, 'Fler cykelbanor mellan byarna');
  await asaNote.getByRole('button', { name: /^Flytta/ }).focus();
  await A.keyboard.press('Enter');
  const first = A.getByRole('button', { name: 'Till År 2030' });
  await first.waitFor();
  assert.equal(await focused(first), true, 'menu item not focused');
  await A.keyboard.press('Enter');
  const col2 = (page) => page.locator('section.column').nth(1);
  await col2(A).locator('li.note', { hasText: 'Fler cykelbanor' }).waitFor();
  await col2(M).locator('li.note', { hasText: 'Fler cykelbanor' }).waitFor();
  await col2(B).locator('li.note', { hasText: 'Fler cykelbanor' }).waitFor();

  // The moderator moves Bo's note to "Idag", then undoes it.
  const boOnM = noteByText(M, 'En mötesplats för unga');
  await boOnM.getByRole('button', { name: /^Flytta/ }).click();
  await M.getByRole('button', { name: 'Till Idag' }).click();
  const col1 = (page) => page.locator('section.column').nth(0);
  await col1(B).locator('li.note', { hasText: 'En mötesplats för unga' }).waitFor();
  await M.locator('[data-key="undo"]').click();
  await col2(B).locator('li.note', { hasText: 'En mötesplats för unga' }).waitFor();
  await col2(M).locator('li.note', { hasText: 'En mötesplats för unga' }).waitFor();

  // Phases: group stops writing but still allows moving; closed stops both.
  await M.getByRole('button', { name: 'Gruppera', exact: true }).click();
  await A.locator('.chip--phase', { hasText: 'Fas: Gruppera' }).waitFor();
  assert.equal(await A.getByRole('button', { name: 'Lägg upp lappen' }).isDisabled(), true);
  assert.equal(await asaNote.getByRole('button', { name: /^Redigera/ }).count(), 0);
  assert.equal(await asaNote.getByRole('button', { name: /^Flytta/ }).count(), 1);
  await M.getByRole('button', { name: 'Avslutad', exact: true }).click();
  await A.locator('.chip--phase', { hasText: 'Fas: Avslutad' }).waitFor();
  assert.equal(await asaNote.getByRole('button', { name: /^Flytta/ }).count(), 0);

  await shot(M, 'moderator-dashboard');
  await shot(A, 'participant-board');
  for (const p of [M, A, B, C]) assert.deepEqual(p.errors, [], `page errors: ${p.errors.join('; ')}`);
  for (const p of [mod, ...Object.values(people)]) await p.context.close();
});
