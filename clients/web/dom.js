// dom.js: the few DOM helpers the views share.
//
// Responsible for building elements without innerHTML (no markup is ever
// parsed from strings, so no text a user typed can become markup) and for
// redrawing a region while keeping keyboard focus where it was. Not
// responsible for any wording (i18n.js) or layout (styles.css). No inline
// styles or handlers are ever written: the page runs under a CSP of
// default-src 'self'.

/* h('button', {class: 'x', type: 'button', on: {click: f}}, 'text', child…)
 * Props: class, text, on (event -> handler), attrs for everything else;
 * boolean true sets an empty attribute, false/null/undefined skips it. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'on') for (const [ev, f] of Object.entries(v)) el.addEventListener(ev, f);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/* Replaces the children of `container` with `children`, then gives focus
 * back to the element that had it (matched by its data-key), with the same
 * caret position in a text field. */
export function redraw(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) && active.dataset ? active.dataset.key : null;
  let sel = null;
  if (key && 'selectionStart' in active) {
    try { sel = [active.selectionStart, active.selectionEnd]; } catch (e) { sel = null; }
  }
  container.replaceChildren();
  append(container, children);
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) {
      again.focus();
      if (sel && 'setSelectionRange' in again) {
        try { again.setSelectionRange(sel[0], sel[1]); } catch (e) { /* not a text field */ }
      }
    }
  }
}

/* Focuses the element with this data-key inside root on the next frame. */
export function focusKey(root, key) {
  requestAnimationFrame(() => {
    const el = root.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (el) el.focus();
  });
}

/* A label + field pair; returns [label, field]. */
export function field(id, labelText, control) {
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, text: labelText }), control);
}

/* Work the page still has to do (a render scheduled, a result being
 * fetched): the count is kept on <html data-pending>, so a test (or an
 * observer) can wait until the page has caught up before acting on it. */
let pending = 0;
export function busy(delta) {
  pending = Math.max(0, pending + delta);
  document.documentElement.dataset.pending = String(pending);
}
