// synthesis.test.js: from two tables' notes to a ranked result in the web
// client. A moderator (laptop) and three participants (phones, 360 px), each
// in a browser context of their own: notes written at two tables; a
// participant groups their table's notes in phase group with the
// select-and-assign controls; the moderator creates a synthesis, asks for
// suggestions and accepts one by keyboard with an edited label, assigns
// notes by selecting them and picking a theme (no dragging), moves one by
// the arrow keys, undoes, and drags one with the mouse; opens
// a dot vote; the participants place dots within the budget at 360 px
// ("sparat"), see live totals; the vote closes; the ranked result has the
// expected order on every screen; the CSV export link holds every note once.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, moderatorLogin, createWorkshop, join, writeNote, noteByText, shot, settle, focused, fillExactly } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const NOTES = {
  'Åsa': ['Fler bussar till byarna', 'Tätare bussar på kvällen'],
  'Bo': ['Bussar som går oftare till byarna'],
  'Cecilia': ['Säkra cykelvägar till skolan', 'En mötesplats för unga i centrum'],
};
const ALL = Object.values(NOTES).flat();

async function noSideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test('synthesis: suggestions, select-and-assign, dot voting at 360 px, ranked result, CSV export', async () => {
  const mod = await person(browser);
  const M = mod.page;
  M.setDefaultTimeout(15000);
  await moderatorLogin(M);
  const code = await createWorkshop(M, 'Prioritera i Lillby');
  for (const name of ['Bord 1', 'Bord 2']) {
    await M.getByLabel('Bordets namn').fill(name);
    await M.getByRole('button', { name: 'Skapa bord' }).click();
    await M.locator('.status-table tbody th', { hasText: name }).waitFor();
  }
  await M.getByLabel('Fråga eller rubrik').fill('Vad behöver Lillby?');
  await M.getByLabel('Kolumner', { exact: true }).fill('Nu\nSedan');
  await M.getByRole('button', { name: 'Skapa tavla' }).click();
  await M.getByRole('button', { name: 'Skriva', exact: true }).click();
  await M.locator('[data-phase="write"][aria-pressed="true"]').waitFor();

  const people = {};
  for (const [name, table] of [['Åsa', 'Bord 1'], ['Bo', 'Bord 1'], ['Cecilia', 'Bord 2']]) {
    const p = await person(browser, { viewport: { width: 360, height: 740 } });
    p.page.setDefaultTimeout(15000);
    await join(p.page, code, name);
    await p.page.getByRole('button', { name: table, exact: true }).click();
    await p.page.getByText(`Du sitter vid ${table}.`).waitFor();
    for (const text of NOTES[name]) {
      await writeNote(p.page, text);
      await noteByText(p.page, text).locator('.note__saved').waitFor();
    }
    people[name] = p;
  }
  const A = people['Åsa'].page;
  const B = people['Bo'].page;
  const C = people['Cecilia'].page;

  // Phase group: Åsa groups her table's notes with the keyboard and the
  // select-and-assign controls; Cecilia's table is not hers.
  await M.getByRole('button', { name: 'Gruppera', exact: true }).click();
  const group = A.locator('section.group');
  await group.waitFor();
  assert.equal(await group.locator('li.note--synth').count(), 3, 'Åsa groups her table’s three notes');
  assert.equal(await group.getByText('Säkra cykelvägar').count(), 0, 'another table’s note in the table scope');
  await group.getByRole('checkbox', { name: /Fler bussar till byarna/ }).focus();
  await A.keyboard.press('Space');
  await group.getByRole('checkbox', { name: /Tätare bussar/ }).check();
  await group.getByLabel('Nytt tema').fill('Buss');
  await group.getByRole('button', { name: 'Skapa tema med 2 markerade' }).click();
  const busTheme = group.locator('section.theme', { has: A.locator('h3', { hasText: 'Buss' }) });
  await busTheme.locator('li.note--synth').nth(1).waitFor();
  // Bo, at the same table, sees the theme with the same two notes.
  await B.locator('section.group section.theme h3', { hasText: 'Buss' }).waitFor();
  assert.ok(await noSideways(A), 'sideways scrolling at 360 px (grouping)');
  await shot(A, 'participant-group-360');

  // The moderator's synthesis board: a synthesis of both tables.
  await M.getByRole('button', { name: 'Syntes', exact: true }).click();
  await M.getByLabel('Namn på syntesen').fill('Det viktigaste för Lillby');
  await M.getByRole('button', { name: 'Skapa syntes' }).click();
  await M.locator('#synth-title', { hasText: 'Det viktigaste för Lillby' }).waitFor();
  const unclustered = M.locator('section.theme--none li.note--synth');
  await unclustered.nth(ALL.length - 1).waitFor();
  // Every note with its provenance: question and table.
  const cyc = M.locator('li.note--synth', { hasText: 'Säkra cykelvägar' });
  assert.match(await cyc.textContent(), /Bord 2/);
  assert.match(await cyc.textContent(), /Vad behöver Lillby\?/);
  assert.match(await cyc.getByRole('checkbox').getAttribute('id'), /^sel-n/);
  assert.equal((await cyc.locator('.sr-only').first().textContent()).trim(), 'Lapp av Cecilia (Bord 2, Vad behöver Lillby?):');

  // Suggestions: the first is accepted by keyboard, with an edited label.
  await M.getByRole('button', { name: 'Föreslå teman' }).click();
  const firstAccept = M.locator('li.suggestion').first().getByRole('button', { name: 'Godta' });
  await firstAccept.waitFor();
  assert.equal(await focused(firstAccept), true, 'focus on the first suggestion');
  const sugNotes = await M.locator('li.suggestion').first().locator('.suggestion__notes li').allTextContents();
  assert.ok(sugNotes.length >= 2, `a suggestion of ${sugNotes.length} notes`);
  const label = M.locator('li.suggestion').first().getByLabel('Temats namn');
  await label.focus();
  await M.keyboard.press('ControlOrMeta+a');
  await M.keyboard.type('Kollektivtrafik');
  await M.keyboard.press('Tab');
  // Tab leaves the label and reaches the suggestion's accept button.
  await M.keyboard.press('Enter');
  const kollektiv = M.locator('section.theme', { has: M.locator('h3', { hasText: 'Kollektivtrafik' }) });
  await kollektiv.waitFor();
  for (const text of sugNotes) await kollektiv.locator('li.note--synth', { hasText: text }).waitFor();

  // Select-and-assign: a theme "Unga" made from a selected note, then a
  // note moved into "Cykel" by the menu; nothing is dragged.
  await M.getByLabel('Nytt tema').fill('Cykel');
  await M.getByRole('button', { name: 'Skapa tema', exact: true }).click();
  const cykel = M.locator('section.theme', { has: M.locator('h3', { hasText: 'Cykel' }) });
  await cykel.waitFor();
  const unga = M.locator('section.theme', { has: M.locator('h3', { hasText: 'Unga' }) });
  for (const [text, theme, loc] of [['Säkra cykelvägar', 'Cykel', cykel], ['En mötesplats för unga', 'Unga', unga]]) {
    const note = M.locator('li.note--synth', { hasText: text });
    if (await loc.count() && await loc.locator('li.note--synth', { hasText: text }).count()) continue;
    await note.getByRole('checkbox').check();
    if (theme === 'Unga') {
      await M.getByLabel('Nytt tema').fill('Unga');
      await M.getByRole('button', { name: 'Skapa tema med 1 markerade' }).click();
    } else {
      await M.getByLabel('Flytta markerade till').selectOption({ label: 'Cykel' });
      await M.getByRole('button', { name: 'Flytta', exact: true }).click();
    }
    await loc.locator('li.note--synth', { hasText: text }).waitFor();
  }
  // A note moved with the arrow keys: left, then back right. Each step
  // waits for the daemon's acknowledgement (the live region's "moved to"),
  // so the undo below is sure to find the right move last on the stack.
  const live = M.locator('#live');
  const moved = async (steps) => {
    try {
      await steps();
    } catch (e) {
      await shot(M, 'synthesis-keys-failed');
      console.log('keyboard moves failed; error line:', await M.locator('p.error').textContent(),
        'live:', await live.textContent());
      throw e;
    }
  };
  const young = unga.locator('li.note--synth');
  await moved(async () => {
    await settle(M);
    await young.focus();
    await M.keyboard.press('ArrowLeft');
    await live.filter({ hasText: 'flyttade till Cykel' }).waitFor();
    await cykel.locator('li.note--synth', { hasText: 'En mötesplats för unga' }).waitFor();
    await settle(M);
    await M.locator('li.note--synth', { hasText: 'En mötesplats för unga' }).focus();
    await M.keyboard.press('ArrowRight');
    await live.filter({ hasText: 'flyttade till Unga' }).waitFor();
    await unga.locator('li.note--synth', { hasText: 'En mötesplats för unga' }).waitFor();
    // Undo takes the last move back.
    await settle(M);
    await M.locator('[data-key="syn-undo"]').click();
    await live.filter({ hasText: 'Ångrade ändring' }).waitFor();
    await cykel.locator('li.note--synth', { hasText: 'En mötesplats för unga' }).waitFor();
  });
  // Dragging does the same with a mouse.
  await settle(M);
  await cykel.locator('li.note--synth', { hasText: 'En mötesplats för unga' }).dragTo(unga.locator('h3'));
  try {
    await unga.locator('li.note--synth', { hasText: 'En mötesplats för unga' }).waitFor();
  } catch (e) {
    await shot(M, 'synthesis-drag-failed');
    console.log('drag failed; error line:', await M.locator('p.error').textContent(), 'live:', await M.locator('#live').textContent());
    throw e;
  }
  await shot(M, 'moderator-synthesis');

  // Dot vote: 3 dots each, live totals.
  await settle(M);
  await M.getByRole('button', { name: 'Rösta', exact: true }).click();
  await fillExactly(M.getByLabel('Prickar per person'), '3');
  await M.getByRole('button', { name: 'Öppna röstningen' }).click();
  await M.getByRole('button', { name: 'Stäng röstningen' }).waitFor();

  // Unga 4, Kollektivtrafik 3, Cykel 2.
  const ballots = { 'Åsa': ['Unga', 'Unga', 'Cykel'], 'Bo': ['Unga', 'Kollektivtrafik', 'Kollektivtrafik'], 'Cecilia': ['Unga', 'Cykel', 'Kollektivtrafik'] };
  for (const [name, dots] of Object.entries(ballots)) {
    const P = people[name].page;
    const vote = P.locator('section.vote');
    await vote.waitFor();
    await vote.getByRole('button', { name: 'Lägg en prick på Unga' }).waitFor();
    await P.locator('.vote__left', { hasText: '3 av 3 prickar kvar.' }).waitFor().catch(async (e) => {
      await shot(P, `synthesis-vote-failed-${name}`);
      throw e;
    });
    for (const d of dots) await vote.getByRole('button', { name: `Lägg en prick på ${d}` }).click();
    await P.locator('.vote__left', { hasText: '0 av 3 prickar kvar.' }).waitFor().catch(async (e) => {
      await shot(P, `synthesis-vote-spent-failed-${name}`);
      console.log(`${name}: ballot not spent; left:`, await P.locator('.vote__left').textContent(),
        'error line:', await P.locator('p.error').textContent().catch(() => null));
      throw e;
    });
    await P.locator('.vote__left .note__saved').waitFor();
    // Every dot spent: no more can be placed, but one can be moved.
    assert.equal(await vote.getByRole('button', { name: 'Lägg en prick på Unga' }).isDisabled(), true);
    assert.ok(await noSideways(P), `sideways scrolling at 360 px (${name} voting)`);
  }
  // Cecilia moves a dot from Kollektivtrafik to Cykel and back.
  const cv = C.locator('section.vote');
  await cv.getByRole('button', { name: 'Ta bort en prick från Kollektivtrafik' }).click();
  await C.locator('.vote__left', { hasText: '1 av 3 prickar kvar.' }).waitFor();
  await cv.getByRole('button', { name: 'Lägg en prick på Kollektivtrafik' }).click();
  await C.locator('.vote__left', { hasText: '0 av 3 prickar kvar.' }).waitFor();
  await C.locator('.vote__left .note__saved').waitFor();
  await shot(C, 'participant-vote-360');
  // Live totals on the moderator's board (the vote is not hidden).
  await M.locator('.vote-ctl__status', { hasText: '3 har röstat' }).waitFor();
  await M.locator('section.theme', { has: M.locator('h3', { hasText: 'Unga' }) }).locator('.theme__dots', { hasText: '4 prickar' }).waitFor();

  await M.getByRole('button', { name: 'Stäng röstningen' }).click();
  await M.locator('#result-title', { hasText: 'Resultat' }).waitFor();
  const order = async (page, sel) => (await page.locator(sel).allTextContents()).map((s) => s.trim());
  await M.locator('.result__item').nth(2).waitFor();
  assert.deepEqual(await order(M, '.result .result__name'), ['Unga', 'Kollektivtrafik', 'Cykel']);
  assert.deepEqual(await order(M, '.result .result__dots'), ['4 prickar', '3 prickar', '2 prickar']);
  assert.match(await M.locator('.result__item').first().textContent(), /lyft vid 1 av 2 bord/);
  for (const P of [A, B, C]) {
    await P.locator('#pvote-title', { hasText: 'Resultat av röstningen' }).waitFor();
    await P.locator('section.vote .result__item').nth(2).waitFor();
    assert.deepEqual(await order(P, 'section.vote .result__name'), ['Unga', 'Kollektivtrafik', 'Cykel']);
  }

  // An action item and a published version.
  const ungaTheme = M.locator('section.theme', { has: M.locator('h3', { hasText: 'Unga' }) });
  await ungaTheme.getByLabel('Åtgärd').fill('Fråga ungdomsrådet');
  await ungaTheme.getByRole('button', { name: 'Lägg till åtgärd' }).click();
  await ungaTheme.locator('.action__text', { hasText: 'Fråga ungdomsrådet' }).waitFor();
  await ungaTheme.getByLabel('Status').selectOption('doing');
  await M.waitForFunction(() => document.querySelector('.theme__actions select') && document.querySelector('.theme__actions select').value === 'doing');
  await M.getByRole('button', { name: 'Publicera version' }).click();
  await M.locator('#live', { hasText: 'Version 1 publicerad' }).waitFor();

  // Export: the CSV link holds every note exactly once.
  await settle(M);
  const popup = M.context().waitForEvent('page').catch(() => null);
  await M.getByRole('button', { name: 'CSV', exact: true }).click();
  const link = M.locator('.exports__links a[data-format="csv"]');
  try {
    await link.waitFor();
  } catch (e) {
    await shot(M, 'synthesis-export-failed');
    console.log('export failed; error line:', await M.locator('p.error').textContent(),
      'live:', await live.textContent());
    throw e;
  }
  await popup;
  const href = await link.getAttribute('href');
  assert.match(href, /\/export\?t=/);
  const csv = await M.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
  }, href);
  assert.equal(csv.status, 200);
  assert.match(csv.type, /text\/csv/);
  for (const text of ALL) {
    assert.equal(csv.body.split(text).length - 1, 1, `"${text}" once in the CSV`);
  }
  assert.equal(csv.body.trim().split('\r\n').length, ALL.length + 1, 'one row per note and a header');

  await shot(M, 'moderator-synthesis-result');
  for (const p of [M, A, B, C]) assert.deepEqual(p.errors, [], `page errors: ${p.errors.join('; ')}`);
  for (const p of [mod, ...Object.values(people)]) await p.context.close();
});
