// DOM helpers. Every piece of data goes in as text (textContent), never as markup: a symbol
// or a broker's error message can never inject script into the page.

export const $ = (selector, root = document) => root.querySelector(selector);

/** el("td", {class: "num", dataset: {key: k}}, "text", childNode, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function setText(node, text) {
  const value = text === undefined || text === null ? "" : String(text);
  if (node.textContent !== value) node.textContent = value;
}

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 });
const MONEY = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function num(value) {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : NUMBER.format(value);
}

export function money(value) {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : MONEY.format(value);
}

export function price(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value >= 1 ? MONEY.format(value) : NUMBER.format(value);
}

export function clock(epochSeconds) {
  if (!epochSeconds) return "";
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour12: false });
}

/** "up" / "down" / "" by sign, for P&L colouring. */
export function signClass(value) {
  if (value === null || value === undefined || value === 0) return "";
  return value > 0 ? "up" : "down";
}

/**
 * Keep a table body's rows in step with `items`: one <tr data-key> per item, reused across
 * updates (so a quote tick only rewrites the cells that changed, and nothing flickers).
 * `cells(item)` returns [{text, class}] or strings; `extra(tr, item)` may add buttons once.
 */
export function syncRows(tbody, items, keyOf, cells, extra) {
  const existing = new Map();
  for (const tr of tbody.rows) existing.set(tr.dataset.key, tr);
  let previous = null;
  for (const item of items) {
    const key = keyOf(item);
    let tr = existing.get(key);
    existing.delete(key);
    const values = cells(item).map((c) => (typeof c === "object" && c !== null ? c : { text: c }));
    if (!tr) {
      tr = el("tr", { dataset: { key } });
      for (const v of values) tr.append(el("td"));
      if (extra) extra(tr, item, true);
    } else if (extra) {
      extra(tr, item, false);
    }
    values.forEach((v, i) => {
      const td = tr.cells[i];
      setText(td, v.text);
      const cls = v.class || "";
      if (td.className !== cls) td.className = cls;
    });
    const anchor = previous ? previous.nextSibling : tbody.firstChild;
    if (anchor !== tr) tbody.insertBefore(tr, anchor);
    previous = tr;
  }
  for (const tr of existing.values()) tr.remove();
  const empty = document.querySelector(`[data-empty-for="${tbody.closest("table").id}"]`);
  if (empty) empty.hidden = items.length > 0;
}
