// One metric as a uPlot chart: one line per run, from the server's
// downsampled buckets (last value, with the min–max band behind a single
// run's line so that no spike vanishes). Drag to zoom fetches the zoomed
// range at full resolution; double-click goes back to the whole run.

import uPlot from "uplot";
import { get, History, num, RunRow } from "./api";
import * as fmt from "./format";

/** What the x-axis shows. */
export type XAxis = "step" | "relative" | "wall";

/** How every chart of a page draws. */
export interface ChartSettings {
  xAxis: XAxis;
  log: boolean;
  /** Exponential moving average weight, 0 (raw) to 0.99. */
  smoothing: number;
}

/** One line: a run's series. */
export interface Line {
  run: RunRow;
  label: string;
  color: string;
}

/** Line colours, distinct on white. */
export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d", "#4b5563", "#ca8a04"];

const HEIGHT = 220;

/** A line's buckets keyed by x, for hover. */
interface Fetched {
  xs: number[];
  steps: number[];
  values: (number | null)[];
  smooth: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
  counts: number[];
  at: Map<number, number>;
}

export class MetricChart {
  readonly root: HTMLElement;
  private plot: uPlot | null = null;
  private readonly legend: HTMLElement;
  private readonly box: HTMLElement;
  private fetched: Fetched[] = [];
  /** The zoomed step range, or null for the whole run. */
  private range: [number, number] | null = null;
  /** Each line's first timestamp, the zero of relative time. */
  private origins: number[] = [];
  private sequence = 0;
  private settingData = false;
  private readonly resize: ResizeObserver;

  constructor(
    readonly metric: string,
    private readonly lines: Line[],
    private readonly settings: ChartSettings,
  ) {
    this.box = fmt.el("div", "plot");
    this.legend = fmt.el("div", "legend");
    const title = fmt.el("div", "chart-title", metric);
    this.root = fmt.el("section", "chart", title, this.box, this.legend);
    this.root.dataset.metric = metric;
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT }));
    this.resize.observe(this.box);
  }

  /** Fetches the lines (in the zoomed range, if any) and draws them. */
  async load(): Promise<void> {
    const sequence = ++this.sequence;
    const buckets = Math.min(2000, Math.max(200, Math.round(this.width())));
    const query = { name: this.metric, buckets, start: this.range?.[0], end: this.range?.[1] };
    const histories = await Promise.all(
      this.lines.map((line) => get<History>(`/runlog/api/runs/${line.run.id}/history`, query)),
    );
    if (sequence !== this.sequence) return;
    histories.forEach((h, i) => {
      if (this.origins[i] === undefined && this.range === null && h.timestamps.length) this.origins[i] = h.timestamps[0];
    });
    this.fetched = histories.map((h, i) => this.prepare(h, this.origins[i] ?? this.lines[i].run.start_ms));
    this.draw();
  }

  /** Stops observing the page. */
  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  private width(): number {
    return Math.max(240, this.box.clientWidth || 480);
  }

  private x(step: number, timestamp: number, origin: number): number {
    switch (this.settings.xAxis) {
      case "step":
        return step;
      case "relative":
        return (timestamp - origin) / 1000;
      case "wall":
        return timestamp / 1000;
    }
  }

  private prepare(history: History, origin: number): Fetched {
    const order = history.steps.map((_, i) => i);
    const xs = history.steps.map((s, i) => this.x(s, history.timestamps[i], origin));
    if (this.settings.xAxis !== "step") order.sort((a, b) => xs[a] - xs[b]);
    const plotted = (v: number): number | null =>
      Number.isFinite(v) && (!this.settings.log || v > 0) ? v : null;
    const f: Fetched = { xs: [], steps: [], values: [], smooth: [], min: [], max: [], counts: [], at: new Map() };
    for (const i of order) {
      f.at.set(xs[i], f.xs.length);
      f.xs.push(xs[i]);
      f.steps.push(history.steps[i]);
      f.values.push(plotted(num(history.values[i])));
      f.min.push(plotted(num(history.min[i])));
      f.max.push(plotted(num(history.max[i])));
      f.counts.push(history.counts[i]);
    }
    f.smooth = smooth(f.values, this.settings.smoothing);
    return f;
  }

  private draw(): void {
    const faint = this.settings.smoothing > 0;
    const single = this.lines.length === 1;
    const tables: uPlot.AlignedData[] = this.fetched.map((f) => {
      const ys = faint ? [f.values, f.smooth] : [f.values];
      return (single ? [f.xs, ...ys, f.max, f.min] : [f.xs, ...ys]) as uPlot.AlignedData;
    });
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    if (!this.plot) {
      this.plot = new uPlot(this.options(faint, single), data, this.box);
      this.root.dataset.ready = "1";
      // For the page bench (bench/view_page.py): when a chart first drew.
      performance.mark("runlog:chart");
    } else {
      this.settingData = true;
      this.plot.setData(data, this.range === null);
      this.settingData = false;
    }
    this.root.dataset.points = String(this.fetched.reduce((n, f) => n + f.xs.length, 0));
    if (this.range) this.root.dataset.range = this.range.join("-");
    else delete this.root.dataset.range;
    this.showLegend(null);
  }

  private options(faint: boolean, single: boolean): uPlot.Options {
    const series: uPlot.Series[] = [{}];
    for (const line of this.lines) {
      if (faint) series.push({ stroke: line.color + "40", width: 1, spanGaps: true, points: { show: false } });
      series.push({ stroke: line.color, width: 1.5, spanGaps: true, points: { show: false } });
    }
    const bands: uPlot.Band[] = [];
    if (single) {
      const color = this.lines[0].color;
      const hidden = { stroke: "transparent", width: 0, points: { show: false }, spanGaps: true };
      series.push({ ...hidden }, { ...hidden });
      bands.push({ series: [series.length - 2, series.length - 1], fill: color + "22" });
    }
    const time = this.settings.xAxis === "wall";
    return {
      width: this.width(),
      height: HEIGHT,
      series,
      bands,
      legend: { show: false },
      scales: { x: { time }, y: this.settings.log ? { distr: 3 } : {} },
      axes: [
        {
          values: this.settings.xAxis === "relative" ? (_u, ticks) => ticks.map((t) => fmt.span(t * 1000)) : undefined,
          stroke: "#6b7280",
          grid: { stroke: "#eef0f3" },
          ticks: { stroke: "#e5e7eb" },
        },
        {
          values: (_u, ticks) => ticks.map((t) => fmt.value(t)),
          size: 60,
          stroke: "#6b7280",
          grid: { stroke: "#eef0f3" },
          ticks: { stroke: "#e5e7eb" },
        },
      ],
      cursor: {
        drag: { x: true, y: false },
        bind: {
          dblclick: () => () => {
            this.unzoom();
            return null;
          },
        },
      },
      hooks: {
        setCursor: [(u) => this.showLegend(u.cursor.idx ?? null)],
        setSelect: [(u) => this.zoom(u)],
      },
    };
  }

  private zoom(u: uPlot): void {
    if (u.select.width < 2 || this.settingData) return;
    const lo = u.posToVal(u.select.left, "x");
    const hi = u.posToVal(u.select.left + u.select.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    u.setScale("x", { min: lo, max: hi });
    const steps = this.fetched.flatMap((f) => stepsAround(f, lo, hi));
    if (steps.length === 0) return;
    this.range = [Math.min(...steps), Math.max(...steps)];
    void this.load();
  }

  private unzoom(): void {
    this.range = null;
    void this.load();
  }

  private showLegend(idx: number | null): void {
    const data = this.plot?.data;
    const x = idx !== null && data ? data[0][idx] : null;
    const rows = this.lines.map((line, i) => {
      const f = this.fetched[i];
      const at = x === null ? (f && f.xs.length ? f.xs.length - 1 : -1) : (f?.at.get(x) ?? -1);
      const swatch = fmt.el("span", "swatch");
      swatch.style.background = line.color;
      const row = fmt.el("div", "legend-row", swatch, fmt.el("span", "legend-label", line.label));
      if (f && at >= 0) row.append(fmt.el("span", "legend-value", describe(f, at, this.settings.smoothing > 0)));
      return row;
    });
    if (x !== null) rows.unshift(fmt.el("div", "legend-x", this.xLabel(x)));
    this.legend.replaceChildren(...rows);
  }

  private xLabel(x: number): string {
    switch (this.settings.xAxis) {
      case "step":
        return `step ${x.toLocaleString("en-US")}`;
      case "relative":
        return fmt.span(x * 1000);
      case "wall":
        return fmt.when(x * 1000);
    }
  }
}

/** A bucket as hover text: its last value exactly, and the range it hides. */
function describe(f: Fetched, at: number, smoothed: boolean): string {
  const v = f.values[at];
  let text = `step ${f.steps[at].toLocaleString("en-US")}: ${v === null ? "—" : String(v)}`;
  if (smoothed && f.smooth[at] !== null) text += ` (smoothed ${fmt.value(f.smooth[at] as number)})`;
  if (f.counts[at] > 1) {
    const lo = f.min[at];
    const hi = f.max[at];
    text += ` · ${f.counts[at]} points, ${lo === null ? "—" : fmt.value(lo)} to ${hi === null ? "—" : fmt.value(hi)}`;
  }
  return text;
}

/** The steps of a line's buckets within [lo, hi], and one either side. */
function stepsAround(f: Fetched, lo: number, hi: number): number[] {
  let first = f.xs.findIndex((x) => x >= lo);
  if (first < 0) return [];
  let last = first;
  while (last + 1 < f.xs.length && f.xs[last + 1] <= hi) last += 1;
  first = Math.max(0, first - 1);
  last = Math.min(f.xs.length - 1, last + 1);
  return [f.steps[first], f.steps[last]];
}

/** TensorBoard's smoothing: an exponential moving average, debiased at the start. */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values;
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    last = last * weight + (1 - weight) * v;
    n += 1;
    return last / (1 - Math.pow(weight, n));
  });
}
