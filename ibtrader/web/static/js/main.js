// The dashboard: session -> event stream -> state -> views. All data comes from the REST API
// and the stream; views are redrawn at most once per animation frame, whatever the event rate.

import * as api from "./api.js";
import { ChartView } from "./chart.js";
import { $, clock, el, money, num, price, setText, signClass, syncRows } from "./dom.js";
import { OrderForm } from "./orderform.js";
import { Stream } from "./stream.js";

const MAX_SIGNALS = 30;
const MAX_DONE_ORDERS = 20;
const BANNER_SECONDS = 8;

const state = {
  account: {}, positions: [], orders: new Map(), quotes: new Map(), decisions: new Map(),
  signals: [], connection: { state: "disconnected", reason: "" }, stream: "connecting",
  retryIn: 0, selected: localStorage.getItem("ibtrader.symbol") || "",
};

// ----- rendering, batched per frame --------------------------------------------------------
const dirty = new Set();
let frame = 0;
function invalidate(...parts) {
  for (const p of parts) dirty.add(p);
  if (!frame) frame = requestAnimationFrame(render);
}
const views = {
  header: renderHeader, positions: renderPositions, orders: renderOrders,
  watchlist: renderWatchlist, decisions: renderDecisions, signals: renderSignals,
};
function render() {
  frame = 0;
  const parts = [...dirty];
  dirty.clear();
  for (const part of parts) views[part]();
}

function renderHeader() {
  const pill = $("#connection");
  let text;
  let mode;
  if (state.stream === "reconnecting") {
    mode = "reconnecting";
    text = `reconnecting… (${state.retryIn} s)`;
  } else if (state.stream === "connecting") {
    mode = "connecting";
    text = "connecting…";
  } else {
    mode = state.connection.state === "connected" ? "connected" : "disconnected";
    text = state.connection.reason ? `${state.connection.state}: ${state.connection.reason}`
      : state.connection.state;
  }
  pill.dataset.state = mode;
  setText(pill, text);
  const a = state.account;
  for (const name of ["net_liquidation", "buying_power", "daily_pnl", "unrealized_pnl", "realized_pnl"]) {
    const dd = $(`#acct-${name}`);
    setText(dd, money(a[name]));
    if (dd.classList.contains("pnl")) dd.className = `pnl ${signClass(a[name])}`;
  }
  const kill = $("#kill-switch");
  const engaged = Boolean(a.kill_switch);
  kill.dataset.engaged = String(engaged);
  setText(kill, engaged ? "Release kill switch" : "Kill switch");
}

function renderPositions() {
  const open = state.positions.filter((p) => p.quantity !== 0);
  syncRows($("#positions tbody"), open, (p) => p.symbol, (p) => [
    p.symbol, { text: num(p.quantity), class: "num" }, { text: price(p.avg_price), class: "num" },
    { text: price(p.mark), class: "num" }, { text: money(p.market_value), class: "num" },
    { text: money(p.unrealized_pnl), class: `num ${signClass(p.unrealized_pnl)}` },
    { text: money(p.realized_pnl), class: `num ${signClass(p.realized_pnl)}` },
    { text: money(p.daily_pnl), class: `num ${signClass(p.daily_pnl)}` },
  ], (tr, p, created) => { if (created) tr.addEventListener("click", () => select(p.symbol)); });
}

function renderOrders() {
  const all = [...state.orders.values()].sort((a, b) => (b.created || 0) - (a.created || 0));
  const working = all.filter((o) => !o.is_final);
  const done = $("#orders-all").checked ? all.filter((o) => o.is_final).slice(0, MAX_DONE_ORDERS) : [];
  setText($("#working-count"), working.length ? `(${working.length} working)` : "");
  const shownPrice = (o) => price(o.order_type === "stp" ? o.stop : o.limit ?? o.stop);
  syncRows($("#orders tbody"), [...working, ...done], (o) => o.key, (o) => [
    o.symbol, { text: o.side, class: `side-${o.side}` }, { text: num(o.quantity), class: "num" },
    o.order_type, { text: o.order_type === "mkt" ? "" : shownPrice(o), class: "num" },
    { text: o.last_error && o.state === "rejected" ? `rejected: ${o.last_error}` : o.state,
      class: `state-${o.state}` },
    { text: num(o.filled), class: "num" }, { text: price(o.avg_fill_price), class: "num" },
  ], (tr, o, created) => {
    if (created) {
      const button = el("button", { type: "button", class: "small", "aria-label": `Cancel ${o.symbol} order` }, "Cancel");
      button.addEventListener("click", () => cancelOrder(tr.dataset.key, button));
      tr.append(el("td", {}, button));
    }
    const button = tr.querySelector("button");
    button.hidden = Boolean(state.orders.get(tr.dataset.key)?.is_final);
  });
}

function renderWatchlist() {
  const quotes = [...state.quotes.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
  const tbody = $("#watchlist tbody");
  syncRows(tbody, quotes, (q) => q.symbol, (q) => [
    q.symbol, { text: price(q.bid), class: "num" }, { text: price(q.ask), class: "num" },
    { text: price(q.last), class: "num" },
  ], (tr, q, created) => { if (created) tr.addEventListener("click", () => select(q.symbol)); });
  for (const tr of tbody.rows) tr.setAttribute("aria-selected", String(tr.dataset.key === state.selected));
  const list = $("#symbols");
  if (list.options.length !== quotes.length) {
    list.replaceChildren(...quotes.map((q) => el("option", { value: q.symbol })));
  }
}

function renderDecisions() {
  const pending = [...state.decisions.values()].filter((d) => d.state === "pending");
  const ul = $("#decisions");
  ul.replaceChildren(...pending.map((d) => {
    const accept = el("button", { type: "button", class: "primary" }, "Accept");
    const dismiss = el("button", { type: "button" }, "Dismiss");
    accept.addEventListener("click", () => decide(d.id, "accept", [accept, dismiss]));
    dismiss.addEventListener("click", () => decide(d.id, "dismiss", [accept, dismiss]));
    const what = `${d.action || d.side || ""} ${num(d.quantity)} ${d.symbol}`.trim();
    const levels = [d.entry_price && `@ ${price(d.entry_price)}`, d.stop && `stop ${price(d.stop)}`,
                    d.target && `target ${price(d.target)}`].filter(Boolean).join(" · ");
    return el("li", { dataset: { id: d.id } },
      el("div", {}, el("strong", { class: `side-${d.side}` }, what), " ", levels),
      el("div", { class: "muted small" }, `${d.strategy}: ${d.reason || ""}`),
      el("div", { class: "buttons" }, accept, dismiss));
  }));
  $('[data-empty-for="decisions"]').hidden = pending.length > 0;
}

function renderSignals() {
  $("#signals").replaceChildren(...state.signals.map((s) => el("li", {},
    el("span", { class: "muted" }, clock(s.created || s.time)),
    el("strong", { class: `side-${s.side}` }, `${s.side} ${s.symbol}`),
    el("span", {}, s.strategy), el("span", { class: "muted" }, s.reason || ""))));
  $('[data-empty-for="signals"]').hidden = state.signals.length > 0;
}

let bannerTimer = 0;
function banner(message) {
  const box = $("#banner");
  setText(box, message);
  box.hidden = false;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => { box.hidden = true; }, BANNER_SECONDS * 1000);
}

// ----- applying data -----------------------------------------------------------------------
const listOf = (value) => (Array.isArray(value) ? value : Object.values(value || {}));

function applyOrder(order) {
  // A command's answer may arrive after the stream's newer news of the same order: keep the newer.
  const known = state.orders.get(order.key);
  if (!known || (order.updated ?? 0) >= (known.updated ?? 0)) state.orders.set(order.key, order);
}
function applyQuotes(quotes) {
  for (const q of listOf(quotes)) {
    state.quotes.set(q.symbol, q);
    chart.onQuote(q);
  }
}
function applyDecision(d) {
  if (d.state === "pending") state.decisions.set(d.id, d);
  else state.decisions.delete(d.id);
}
function applySignal(s) {
  state.signals = [s, ...state.signals.filter((x) => x.id !== s.id)].slice(0, MAX_SIGNALS);
}

const handlers = {
  snapshot(data) {
    state.account = data.account || {};
    state.positions = listOf(data.positions);
    state.orders = new Map(listOf(data.orders).map((o) => [o.key, o]));
    state.quotes = new Map();
    applyQuotes(data.quotes);
    state.decisions = new Map();
    listOf(data.decisions).forEach(applyDecision);
    if (data.connection) state.connection = data.connection;
    pickSymbol();
    invalidate(...Object.keys(views));
    document.body.dataset.ready = "true";
  },
  order(o) { applyOrder(o); invalidate("orders"); },
  fill(f) { banner(`Filled: ${f.side} ${num(f.quantity)} ${f.symbol} @ ${price(f.price)}`); },
  positions(list) { state.positions = listOf(list); invalidate("positions"); },
  account(a) { state.account = a; invalidate("header"); },
  quotes(list) {
    applyQuotes(list);
    if (!chart.symbol) pickSymbol();  // the engine had no quotes yet when we connected
    invalidate("watchlist");
  },
  signal(s) { applySignal(s); invalidate("signals"); },
  decision(d) { applyDecision(d); invalidate("decisions"); },
  connection(c) { state.connection = c; invalidate("header"); },
  risk(r) { banner(`Risk: ${r.message}`); },
  error(e) { banner(`${e.source}: ${e.message}`); },
  resync() { reload(); },
};

/** Everything again from the REST API (the stream said we fell behind). */
async function reload() {
  try {
    const [account, positions, orders, quotes, decisions, signals] = await Promise.all([
      api.get("/account"), api.get("/positions"), api.get("/orders?status=all"), api.get("/quotes"),
      api.get("/decisions?state=pending"), api.get("/signals?limit=20"),
    ]);
    state.account = account;
    state.positions = positions.positions;
    state.orders = new Map(orders.orders.map((o) => [o.key, o]));
    applyQuotes(quotes.quotes);
    state.decisions = new Map();
    decisions.decisions.forEach(applyDecision);
    state.signals = signals.signals.slice(0, MAX_SIGNALS);
    invalidate(...Object.keys(views));
  } catch (err) {
    banner(`Reloading failed: ${err.message}`);
  }
}

// ----- commands ----------------------------------------------------------------------------
async function cancelOrder(key, button) {
  button.disabled = true;
  try {
    applyOrder(await api.del(`/orders/${encodeURIComponent(key)}`));
    invalidate("orders");
  } catch (err) {
    banner(`Cancel failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

async function decide(id, action, buttons) {
  buttons.forEach((b) => { b.disabled = true; });
  try {
    applyDecision(await api.post(`/decisions/${encodeURIComponent(id)}/${action}`, {}));
  } catch (err) {
    banner(`${action} failed: ${err.message}`);
    if (err.status === 409 || err.status === 404) state.decisions.delete(id);
  }
  buttons.forEach((b) => { b.disabled = false; });
  invalidate("decisions");
}

function confirmDialog(text, withFlatten) {
  const dialog = $("#confirm");
  setText($("#confirm-text"), text);
  $("#confirm-flatten-row").hidden = !withFlatten;
  $("#confirm-flatten").checked = false;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"
      ? { flatten: $("#confirm-flatten").checked } : null), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function toggleKillSwitch() {
  const engaged = Boolean(state.account.kill_switch);
  const answer = await confirmDialog(engaged
    ? "Release the kill switch? New orders will be accepted again."
    : "Engage the kill switch? Working orders are cancelled and new orders refused.", !engaged);
  if (!answer) return;
  try {
    const result = engaged ? await api.del("/kill-switch")
      : await api.post("/kill-switch", { flatten: answer.flatten });
    const now = result && typeof result.engaged === "boolean" ? result.engaged : !engaged;
    state.account = { ...state.account, kill_switch: now };
    invalidate("header");
  } catch (err) {
    banner(`Kill switch: ${err.message}`);
  }
}

// ----- chart selection ---------------------------------------------------------------------
const chart = new ChartView($("#chart"), $("#chart-status"));
const barSize = $("#bar-size");
barSize.value = localStorage.getItem("ibtrader.barSize") || "1 min";
const savedIndicators = JSON.parse(localStorage.getItem("ibtrader.indicators") || "null");
if (Array.isArray(savedIndicators)) {
  for (const box of $("#indicators").querySelectorAll("input")) box.checked = savedIndicators.includes(box.value);
}
const chosenIndicators = () => [...$("#indicators").querySelectorAll("input:checked")].map((b) => b.value);

function showChart() {
  localStorage.setItem("ibtrader.barSize", barSize.value);
  localStorage.setItem("ibtrader.indicators", JSON.stringify(chosenIndicators()));
  setText($("#chart-symbol"), state.selected);
  return chart.show(state.selected, barSize.value, chosenIndicators());
}

/** The chart's symbol at start: the one chosen last time if still quoted, else the first. */
function pickSymbol() {
  const symbol = state.quotes.has(state.selected) ? state.selected : [...state.quotes.keys()].sort()[0];
  if (symbol) select(symbol);
}

function select(symbol) {
  if (!symbol) return;
  const changed = symbol !== state.selected || !chart.symbol;
  state.selected = symbol;
  localStorage.setItem("ibtrader.symbol", symbol);
  form.setSymbol(symbol);
  invalidate("watchlist");
  if (changed) showChart();
}

// ----- start -------------------------------------------------------------------------------
const form = new OrderForm($("#order-form"));
barSize.addEventListener("change", showChart);
$("#indicators").addEventListener("change", showChart);
$("#orders-all").checked = true;
$("#orders-all").addEventListener("change", () => invalidate("orders"));
$("#kill-switch").addEventListener("click", toggleKillSwitch);
$("#logout").addEventListener("click", () => api.logout());

const stream = new Stream(handlers, (mode, retryIn) => {
  state.stream = mode;
  state.retryIn = retryIn || 0;
  invalidate("header");
});

async function start() {
  try {
    await api.loadSession();
  } catch (err) {
    if (err.status !== 401) banner(`Cannot reach the server: ${err.message}`);
  }
  stream.open();
  try {
    const { signals } = await api.get("/signals?limit=20");
    for (const s of signals.slice().reverse()) applySignal(s);
    invalidate("signals");
  } catch { /* the stream brings new ones */ }
}

start();
