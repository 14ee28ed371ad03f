// The candlestick chart (TradingView Lightweight Charts v4, served by the app from its
// package): history and indicators from GET /api/v1/bars, the forming bar moved by each quote.

import { get } from "./api.js";

const BAR_SECONDS = { "1 min": 60, "5 mins": 300, "15 mins": 900, "1 hour": 3600, "1 day": 86400 };
const COLOURS = ["#e6b422", "#4fa3e0", "#c678dd", "#98c379", "#e5c07b", "#56b6c2"];
// Which fields of a multi-value indicator are prices (drawn over the candles).
const PRICE_FIELDS = { bbands: ["upper", "mid", "lower"], supertrend: ["value"] };
const OSCILLATORS = new Set(["rsi"]);  // drawn on their own scale at the bottom

const toTime = (t) => Math.floor(t);

export class ChartView {
  constructor(container, status) {
    this.container = container;
    this.status = status;
    this.symbol = "";
    this.barSize = "1 min";
    this.indicators = [];
    this.lines = [];
    this.forming = null;
    this.lastClosed = null;
    this.loadToken = 0;
    this.reloadTimer = 0;
    const lib = window.LightweightCharts;
    if (!lib) {
      this.status.textContent = "The chart library did not load.";
      return;
    }
    this.chart = lib.createChart(container, {
      autoSize: true,
      layout: { background: { type: "solid", color: "#1e2127" }, textColor: "#aab0bb" },
      grid: { vertLines: { color: "#2b2f37" }, horzLines: { color: "#2b2f37" } },
      rightPriceScale: { borderColor: "#3a3f4a" },
      timeScale: { borderColor: "#3a3f4a", timeVisible: true, secondsVisible: false },
      crosshair: { mode: 0 },
    });
    this.candles = this.chart.addCandlestickSeries({
      upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
      wickUpColor: "#26a69a", wickDownColor: "#ef5350",
    });
  }

  get seconds() { return BAR_SECONDS[this.barSize] || 60; }

  show(symbol, barSize, indicators) {
    this.symbol = symbol;
    this.barSize = barSize;
    this.indicators = indicators;
    return this.load();
  }

  async load() {
    if (!this.chart || !this.symbol) return;
    const token = ++this.loadToken;
    const params = new URLSearchParams({ bar_size: this.barSize, limit: "300" });
    if (this.indicators.length) params.set("indicators", this.indicators.join(","));
    this.status.textContent = `Loading ${this.symbol} ${this.barSize}…`;
    let data;
    try {
      data = await get(`/bars/${encodeURIComponent(this.symbol)}?${params}`);
    } catch (err) {
      if (token === this.loadToken) this.status.textContent = `Chart: ${err.message}`;
      return;
    }
    if (token !== this.loadToken) return;  // a newer choice was made while this loaded
    const bars = dedupe(data.bars.map(candle));
    this.lastClosed = bars.length ? bars[bars.length - 1] : null;
    this.forming = data.forming ? candle(data.forming) : null;
    if (this.forming && this.lastClosed && this.forming.time <= this.lastClosed.time) this.forming = null;
    this.candles.setData(this.forming ? [...bars, this.forming] : bars);
    this.drawIndicators(data.indicators || {});
    Object.assign(this.container.dataset, { symbol: this.symbol, barSize: this.barSize,
                                            bars: String(bars.length) });
    this.status.textContent = bars.length ? "" : `No ${this.barSize} bars for ${this.symbol} yet.`;
  }

  drawIndicators(series) {
    for (const line of this.lines) this.chart.removeSeries(line);
    this.lines = [];
    let colour = 0;
    let oscillator = false;
    for (const [spec, points] of Object.entries(series)) {
      const name = spec.split(":")[0];
      const own = OSCILLATORS.has(name);
      oscillator ||= own;
      const sample = points.find((p) => p && typeof p === "object") || {};
      const fields = "value" in sample ? ["value"]
        : (PRICE_FIELDS[name] || Object.keys(sample).filter((k) => k !== "time"));
      for (const field of fields) {
        const line = this.chart.addLineSeries({
          color: COLOURS[colour++ % COLOURS.length], lineWidth: 1, priceLineVisible: false,
          lastValueVisible: false, title: fields.length > 1 ? `${spec} ${field}` : spec,
          priceScaleId: own ? "osc" : "right",
        });
        line.setData(dedupe(points
          .filter((p) => p && p[field] !== null && p[field] !== undefined)
          .map((p) => ({ time: toTime(p.time), value: p[field] }))));
        this.lines.push(line);
      }
    }
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: oscillator ? 0.28 : 0.08 } });
    if (oscillator) this.chart.priceScale("osc").applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
  }

  /** A quote for the chart's symbol moves the forming bar (or starts the next one). */
  onQuote(quote) {
    if (!this.chart || quote.symbol !== this.symbol || !quote.time) return;
    const mid = quote.bid && quote.ask ? (quote.bid + quote.ask) / 2 : null;
    const px = quote.last ?? mid;
    if (px === null || px === undefined) return;
    const t = quote.time;
    const step = this.seconds;
    const anchor = this.forming || this.lastClosed;
    if (this.forming && t < this.forming.time + step) {
      if (t < this.forming.time) return;  // an older tick than the bar: nothing to show
      const f = this.forming;
      this.forming = { ...f, high: Math.max(f.high, px), low: Math.min(f.low, px), close: px };
    } else {
      let start = toTime(t - (t % step));
      if (anchor) {  // keep the server's bar grid (sessions may open off the hour)
        const base = this.forming ? anchor.time : anchor.time + step;
        if (t < base) return;
        start = base + Math.floor((t - base) / step) * step;
      }
      if (this.forming) this.scheduleReload();  // a bar closed: fresh indicators from the server
      this.forming = { time: start, open: px, high: px, low: px, close: px };
    }
    this.candles.update(this.forming);
  }

  scheduleReload() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.load(), 1500);
  }
}

function candle(bar) {
  return { time: toTime(bar.time), open: bar.open, high: bar.high, low: bar.low, close: bar.close };
}

/** Strictly ascending times, as the library requires (the last value of a time wins). */
function dedupe(points) {
  const out = [];
  for (const p of points) {
    if (out.length && out[out.length - 1].time >= p.time) {
      if (out[out.length - 1].time === p.time) out[out.length - 1] = p;
      continue;
    }
    out.push(p);
  }
  return out;
}
