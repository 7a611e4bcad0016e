// meeting.test.js: a network meeting in the web client. A moderator
// (laptop) and three participants (phones, 360 px), each in a browser
// context of their own: the agenda advanced by the moderator and seen by a
// participant; a named poll answered by three participants with live result
// bars, an answer changed, the poll closed; an anonymous poll that shows no
// names anywhere; a check-in round; hands raised and the word given to the
// next in the queue; a chat reply and a reaction.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, moderatorLogin, join, shot } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const NAMES = ['Åsa', 'Bo', 'Cecilia'];

test('meeting: agenda, live polls, anonymous poll, round, speaker queue, chat', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(15000);
  await moderatorLogin(M);
  await M.getByLabel('Namn på workshoppen').fill('Nätverksträff i Lillby');
  await M.getByLabel('Sort').selectOption('meeting');
  await M.getByRole('button', { name: 'Skapa', exact: true }).click();
  const codeEl = M.locator('.joincode__code');
  await codeEl.waitFor();
  const code = (await codeEl.textContent()).trim();
  assert.match(code, /^[A-Z2-9]{6}$/);

  for (const [title, start] of [['Incheckning', '09:30'], ['Strategin i praktiken', '09:45']]) {
    await M.getByLabel('Rubrik').fill(title);
    await M.getByLabel('Börjar').fill(start);
    await M.getByRole('button', { name: 'Lägg till', exact: true }).click();
    await M.locator('.agenda__title', { hasText: title }).waitFor();
  }

  const P = {};
  for (const name of NAMES) {
    const p = await person(browser, { viewport: { width: 360, height: 740 } });
    p.page.setDefaultTimeout(15000);
    await join(p.page, code, name);
    await p.page.locator('.agenda__title', { hasText: 'Strategin i praktiken' }).waitFor();
    P[name] = p;
  }
  const A = P['Åsa'].page;
  const B = P['Bo'].page;
  const C = P['Cecilia'].page;

  // The agenda advances; every participant's marker follows.
  await M.getByRole('button', { name: 'Gå till Incheckning' }).click();
  await A.locator('.agenda__item[aria-current="step"]', { hasText: 'Incheckning' }).waitFor();
  await M.getByRole('button', { name: 'Gå till Strategin i praktiken' }).click();
  for (const X of [A, B, C]) await X.locator('.agenda__item[aria-current="step"]', { hasText: 'Strategin i praktiken' }).waitFor();
  assert.equal(await A.locator('.agenda__item[aria-current]').count(), 1);

  // A named poll with live results.
  await M.getByLabel('Fråga', { exact: true }).fill('Ska vi ses igen i vår?');
  await M.getByLabel('Svarsalternativ, ett per rad').fill('Ja\nNej\nVet inte');
  await M.getByRole('button', { name: 'Starta omröstningen' }).click();
  const poll = (X) => X.locator('article.poll', { hasText: 'Ska vi ses igen i vår?' });
  const count = (X, answer) => poll(X).locator('.bar', { hasText: answer }).locator('.bar__n');
  await poll(A).waitFor();
  await poll(A).getByRole('button', { name: 'Ja', exact: true }).click();
  await count(C, 'Ja').filter({ hasText: '1' }).waitFor();
  await poll(B).getByRole('button', { name: 'Ja', exact: true }).click();
  await poll(C).getByRole('button', { name: 'Nej', exact: true }).click();
  await count(A, 'Ja').filter({ hasText: '2' }).waitFor();
  await count(A, 'Nej').filter({ hasText: '1' }).waitFor();
  // Bo changes his answer; the bars follow everywhere.
  await poll(B).getByRole('button', { name: 'Vet inte', exact: true }).click();
  await poll(B).locator('[aria-pressed="true"]', { hasText: 'Vet inte' }).waitFor();
  for (const X of [M, A, C]) {
    await count(X, 'Ja').filter({ hasText: '1' }).waitFor();
    await count(X, 'Vet inte').filter({ hasText: '1' }).waitFor();
  }
  assert.match(await poll(M).textContent(), /3 har svarat/);
  await shot(A, 'meeting-poll-360');
  await poll(M).getByRole('button', { name: 'Stäng omröstningen' }).click();
  await poll(A).locator('.poll__meta', { hasText: 'stängd' }).waitFor();
  assert.equal(await poll(A).getByRole('button', { name: 'Ja', exact: true }).count(), 0, 'answering a closed poll');
  // A named poll lists who answered what once closed.
  await poll(A).locator('.poll__ballots li', { hasText: 'Bo: Vet inte' }).waitFor();

  // An anonymous poll: counts, never names.
  await M.getByLabel('Fråga', { exact: true }).fill('Hur var förmiddagen?');
  await M.getByLabel('Svarsalternativ, ett per rad').fill('Bra\nOkej');
  await M.getByLabel('Anonym (inga namn visas)').check();
  await M.getByRole('button', { name: 'Starta omröstningen' }).click();
  const anon = (X) => X.locator('article.poll', { hasText: 'Hur var förmiddagen?' });
  await anon(A).waitFor();
  await anon(A).getByRole('button', { name: 'Bra', exact: true }).click();
  await anon(B).getByRole('button', { name: 'Bra', exact: true }).click();
  await anon(C).getByRole('button', { name: 'Okej', exact: true }).click();
  await anon(M).locator('.bar', { hasText: 'Bra' }).locator('.bar__n', { hasText: '2' }).waitFor();
  await anon(M).locator('.bar', { hasText: 'Okej' }).locator('.bar__n', { hasText: '1' }).waitFor();
  await anon(M).getByRole('button', { name: 'Stäng omröstningen' }).click();
  for (const X of [M, A, B, C]) {
    await anon(X).locator('.poll__meta', { hasText: 'stängd' }).waitFor();
    await anon(X).locator('.bar', { hasText: 'Bra' }).locator('.bar__n', { hasText: '2' }).waitFor();
    const text = await anon(X).textContent();
    for (const name of NAMES) assert.ok(!text.includes(name), `${name} named in the anonymous poll`);
  }

  // A check-in round: named answers, public.
  await M.getByLabel('Fråga till rundan').fill('Hur kommer du hit i dag?');
  await M.getByRole('button', { name: 'Öppna rundan' }).click();
  const round = (X) => X.locator('article.round', { hasText: 'Hur kommer du hit i dag?' });
  await round(A).waitFor();
  await round(A).getByLabel('Ditt svar').fill('Nyfiken');
  await round(A).getByRole('button', { name: 'Svara' }).click();
  await round(B).getByLabel('Ditt svar').fill('Lite trött');
  await round(B).getByRole('button', { name: 'Svara' }).click();
  await round(C).locator('li', { hasText: 'Åsa: Nyfiken' }).waitFor();
  await round(C).locator('li', { hasText: 'Bo: Lite trött' }).waitFor();
  await round(M).getByRole('button', { name: 'Stäng rundan' }).click();
  await round(A).getByText('Rundan är stängd.').waitFor();

  // Hands and the speaker queue.
  await A.getByRole('button', { name: 'Räck upp handen' }).click();
  await B.getByRole('button', { name: 'Räck upp handen' }).click();
  await M.locator('ol.queue li').nth(1).waitFor();
  assert.deepEqual(await M.locator('ol.queue li').allTextContents(), ['Åsa', 'Bo']);
  await M.getByRole('button', { name: 'Nästa talare' }).click();
  for (const X of [A, B, C, M]) await X.locator('.speaker', { hasText: 'Ordet har Åsa' }).waitFor();
  await C.locator('ol.queue li').first().filter({ hasText: 'Bo' }).waitFor();
  assert.deepEqual(await C.locator('ol.queue li').allTextContents(), ['Bo']);
  await B.getByRole('button', { name: 'Ta ner handen' }).click();
  await M.getByText('Ingen har räckt upp handen.').waitFor();

  // Chat: a message, a reply to it, a reaction.
  await A.getByLabel('Meddelande').fill('Var hittar jag bilderna?');
  await A.getByRole('button', { name: 'Skicka' }).click();
  const msg = (X) => X.locator('li.chat__msg', { hasText: 'Var hittar jag bilderna?' }).first();
  await msg(M).waitFor();
  await msg(M).getByRole('button', { name: 'Svara Åsa' }).click();
  await M.getByLabel('Meddelande').fill('De kommer i kväll.');
  await M.getByRole('button', { name: 'Skicka' }).click();
  await A.locator('li.chat__msg', { hasText: 'De kommer i kväll.' }).locator('.chat__quote', { hasText: 'Svar till Åsa' }).waitFor();
  await msg(B).getByRole('button', { name: /^Reagera med 👍/ }).click();
  await msg(A).getByRole('button', { name: 'Reagera med 👍 (1)' }).waitFor();

  for (const X of [A, B, C]) assert.ok(await X.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'sideways scrolling at 360 px');
  await shot(M, 'meeting-moderator');
  await shot(B, 'meeting-participant-360');
  for (const X of [M, A, B, C]) assert.deepEqual(X.errors, [], `page errors: ${X.errors.join('; ')}`);
  for (const p of [mod, ...Object.values(P)]) await p.context.close();
});
