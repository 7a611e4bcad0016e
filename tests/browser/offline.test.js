// offline.test.js: a participant loses the connection while writing. Two
// notes typed offline wait in the outbox ("sparar…"), a third is cut off
// right after it was sent; back online, each is saved exactly once (the
// moderator's view and the room's history hold each text once) and the
// participant sees "sparat" on all three.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, moderatorLogin, createWorkshop, join, writeNote, noteByText, shot, loggedNoteTexts } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test('notes written offline are saved exactly once after reconnecting', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(15000);
  await moderatorLogin(M);
  const code = await createWorkshop(M, 'Lärforum om landsbygdsutveckling');
  await M.getByLabel('Fråga eller rubrik').fill('Vad har vi lärt oss?');
  await M.getByLabel('Kolumner', { exact: true }).fill('Lärdomar');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Skriva', exact: true }).click();
  await M.locator('[data-phase="write"][aria-pressed="true"]').waitFor();

  const p = await person(browser, { viewport: { width: 360, height: 780 } });
  const P = p.page;
  P.setDefaultTimeout(20000);
  await join(P, code, 'Dragan');
  await P.locator('.chip--phase', { hasText: 'Fas: Skriva' }).waitFor();
  await writeNote(P, 'Före avbrottet');
  await noteByText(P, 'Före avbrottet').locator('.note__saved').waitFor();

  // The network goes away.
  await p.context.setOffline(true);
  await P.locator('body[data-conn="closed"]').waitFor();
  await writeNote(P, 'Skriven offline ett');
  await writeNote(P, 'Skriven offline två');
  const local = P.locator('li.note--local');
  assert.equal(await local.count(), 2);
  assert.equal(await local.locator('.note__saving', { hasText: 'sparar…' }).count(), 2);
  const queued = await P.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tavla.outbox.'))
    .map((k) => JSON.parse(localStorage.getItem(k)).length).reduce((a, b) => a + b, 0));
  assert.equal(queued, 2, 'both notes kept in the outbox');
  await shot(P, 'participant-offline-360');

  // Back online: the outbox is sent, each note once, and shows "sparat".
  await p.context.setOffline(false);
  await P.locator('body[data-conn="online"]').waitFor();
  for (const text of ['Skriven offline ett', 'Skriven offline två']) {
    await noteByText(P, text).locator('.note__saved', { hasText: 'sparat' }).waitFor();
  }
  await P.locator('li.note--local').waitFor({ state: 'detached' });

  // A note whose request is cut off right after it left: the retry with the
  // same id is answered, never applied twice.
  await writeNote(P, 'Avbruten mitt i');
  await p.context.setOffline(true);
  await P.locator('body[data-conn="closed"]').waitFor();
  await p.context.setOffline(false);
  await noteByText(P, 'Avbruten mitt i').locator('.note__saved').waitFor();

  // A reload resumes with the stored token and rebuilds the board.
  await P.reload();
  await P.locator('body[data-conn="online"]').waitFor();
  await noteByText(P, 'Avbruten mitt i').waitFor();

  for (const text of ['Före avbrottet', 'Skriven offline ett', 'Skriven offline två', 'Avbruten mitt i']) {
    await noteByText(M, text).waitFor();
    assert.equal(await noteByText(M, text).count(), 1, `moderator sees "${text}" once`);
    assert.equal(await noteByText(P, text).count(), 1, `participant sees "${text}" once`);
  }
  // The room's log, read through the moderator's own connection.
  const texts = await loggedNoteTexts(M);
  assert.deepEqual(texts.sort(), ['Avbruten mitt i', 'Före avbrottet', 'Skriven offline ett', 'Skriven offline två']);
  assert.deepEqual(P.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|WebSocket/.test(e)), []);
  await p.context.close();
  await mod.context.close();
});
