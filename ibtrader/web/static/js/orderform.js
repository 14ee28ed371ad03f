// The order form: the server's own validation and risk checks as the trader types
// (POST /orders/preview, nothing sent), each problem next to the field it is about, and
// POST /orders on submit with the 422 problems shown the same way.

import { ApiError, post } from "./api.js";
import { $, setText } from "./dom.js";

const PREVIEW_DELAY = 200;  // ms after the last keystroke
// Where a problem goes when the server does not name its field (core/orders/validation.py codes).
const FIELD_OF_CODE = {
  unknown_contract: "symbol", bad_quantity: "quantity", lot_size: "quantity",
  stop_wrong_side: "stop", stop_limit_inconsistent: "limit", bad_trail: "stop",
  tif_not_allowed: "tif", policy_not_allowed: "order_type",
};
const FIELDS = ["symbol", "side", "quantity", "order_type", "limit", "stop", "tif"];

function newClientKey() {
  // Same shape as the engine's keys: 12 hex digits of ms, then 14 random hex digits.
  const random = crypto.getRandomValues(new Uint8Array(7));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `ibt-${Date.now().toString(16).padStart(12, "0")}${hex}`;
}

export class OrderForm {
  constructor(form) {
    this.form = form;
    this.timer = 0;
    this.previewSeq = 0;
    this.clientKey = newClientKey();
    this.submit = $("#of-submit", form);
    this.result = $("#order-result", form);
    form.addEventListener("input", () => this.changed());
    form.addEventListener("change", () => this.changed());
    form.addEventListener("submit", (event) => { event.preventDefault(); this.place(); });
    this.showTypeFields();
    this.label();
  }

  field(name) { return this.form.elements.namedItem(name); }

  setSymbol(symbol) {
    if (this.field("symbol").value === symbol) return;
    this.field("symbol").value = symbol;
    this.changed();
  }

  changed() {
    this.clientKey = newClientKey();  // a different order now: a new key
    this.showTypeFields();
    this.label();
    setText(this.result, "");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.preview(), PREVIEW_DELAY);
  }

  showTypeFields() {
    const type = this.field("order_type").value;
    for (const box of this.form.querySelectorAll("[data-needs]")) {
      box.hidden = !box.dataset.needs.split(" ").includes(type);
    }
  }

  label() {
    const side = this.field("side").value;
    const qty = this.field("quantity").value.trim();
    const symbol = this.field("symbol").value.trim().toUpperCase();
    this.submit.textContent = symbol && qty ? `${side === "buy" ? "Buy" : "Sell"} ${qty} ${symbol}` : "Place order";
    this.submit.classList.toggle("danger", side === "sell");
    this.submit.classList.toggle("primary", side === "buy");
  }

  /** The request body, or null after showing what is wrong locally (not a number, empty). */
  body() {
    const local = [];
    const value = (name) => this.field(name).value.trim();
    const numberOf = (name) => {
      const text = value(name);
      if (text === "") return undefined;
      const n = Number(text);
      if (!Number.isFinite(n)) local.push({ field: name, message: `${name} must be a number, got "${text}"` });
      return n;
    };
    const type = value("order_type");
    const body = { symbol: value("symbol").toUpperCase(), side: value("side"), order_type: type,
                   tif: value("tif"), client_key: this.clientKey };
    if (!body.symbol) local.push({ field: "symbol", message: "enter a symbol" });
    const qty = numberOf("quantity");
    if (qty === undefined) local.push({ field: "quantity", message: "enter a quantity" });
    body.quantity = qty;
    if (type === "lmt" || type === "stp-lmt") body.limit = numberOf("limit");
    if (type === "stp" || type === "stp-lmt") body.stop = numberOf("stop");
    for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
    if (local.length) {
      this.showProblems(local);
      return null;
    }
    return body;
  }

  async preview() {
    const body = this.body();
    if (!body) return;
    const seq = ++this.previewSeq;
    let problems = [];
    try {
      const answer = await post("/orders/preview", body);
      problems = answer.ok ? [] : answer.problems || [];
    } catch (err) {
      problems = problemsOf(err);
    }
    if (seq === this.previewSeq) this.showProblems(problems);  // only the newest answer counts
  }

  async place() {
    clearTimeout(this.timer);
    this.previewSeq++;  // an older preview must not overwrite what the submit says
    const body = this.body();
    if (!body) return;
    this.submit.disabled = true;
    setText(this.result, "Sending…");
    try {
      const order = await post("/orders", body);
      this.showProblems([]);
      setText(this.result, `Sent: ${order.side} ${order.quantity} ${order.symbol} ${order.order_type} — ${order.state}`);
      this.clientKey = newClientKey();
    } catch (err) {
      setText(this.result, err.status === 422 ? "Not sent." : `Not sent: ${err.message}`);
      this.showProblems(problemsOf(err));
    } finally {
      this.submit.disabled = false;
    }
  }

  showProblems(problems) {
    const byField = new Map(FIELDS.map((f) => [f, []]));
    byField.set("", []);
    const type = this.field("order_type").value;
    for (const p of problems) {
      let field = p.field || FIELD_OF_CODE[p.code] || "";
      if (!field && ["missing_price", "bad_price", "off_tick", "unexpected_price"].includes(p.code)) {
        field = type === "stp" ? "stop" : "limit";
      }
      if (field === "type") field = "order_type";
      if (!byField.has(field) || (field && this.field(field)?.closest("[hidden]"))) field = "";
      byField.get(field).push(p.message);
    }
    for (const [field, messages] of byField) {
      const slot = this.form.querySelector(`.problem[data-for="${field}"]`);
      if (slot) setText(slot, messages.join(" · "));
      const input = field && this.field(field);
      if (input) input.setAttribute("aria-invalid", messages.length ? "true" : "false");
    }
  }
}

function problemsOf(err) {
  if (!(err instanceof ApiError)) return [{ field: "", message: String(err) }];
  if (err.problems.length) {
    return err.problems.map((p) => ({ ...p, field: p.field || (err.problems.length === 1 ? err.field : "") }));
  }
  return [{ field: err.field, code: err.code, message: err.message }];
}
