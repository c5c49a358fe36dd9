// Small multiples: one chart per metric, under the chart bar. Rebuilt
// when a setting changes; refreshed (keeping zoom) while runs write.

import { ChartSettings, Line, MetricChart } from "./chart";
import { chartBar, loadSettings } from "./controls";
import { el } from "./format";

export class ChartGrid {
  readonly root: HTMLElement;
  private readonly grid = el("div", "grid");
  private readonly settings: ChartSettings = loadSettings();
  private charts = new Map<string, MetricChart>();
  private filter = "";

  constructor(
    private metrics: string[],
    private readonly linesOf: (metric: string) => Line[],
  ) {
    const bar = chartBar(
      this.settings,
      () => this.rebuild(),
      (text) => {
        this.filter = text;
        this.applyFilter();
      },
    );
    this.root = el("div", "charts", bar, this.grid);
    this.rebuild();
  }

  /** Refetches every chart, adding charts for metrics that appeared. */
  async refresh(metrics: string[]): Promise<void> {
    const known = new Set(this.metrics);
    const fresh = metrics.filter((m) => !known.has(m));
    this.metrics = metrics;
    for (const metric of fresh) this.add(metric);
    this.applyFilter();
    await Promise.all([...this.charts.values()].map((c) => c.load()));
  }

  /** Stops every chart. */
  destroy(): void {
    for (const chart of this.charts.values()) chart.destroy();
    this.charts.clear();
  }

  private rebuild(): void {
    this.destroy();
    this.grid.replaceChildren();
    if (this.metrics.length === 0) this.grid.append(el("p", "muted", "No metrics yet."));
    for (const metric of this.metrics) this.add(metric);
    this.applyFilter();
  }

  private add(metric: string): void {
    const lines = this.linesOf(metric);
    if (lines.length === 0) return;
    this.grid.querySelector(":scope > p.muted")?.remove();
    const chart = new MetricChart(metric, lines, this.settings);
    this.charts.set(metric, chart);
    this.grid.append(chart.root);
    chart.load().catch((e) => chart.root.append(el("p", "error", String(e))));
  }

  private applyFilter(): void {
    for (const [metric, chart] of this.charts) {
      chart.root.hidden = this.filter !== "" && !metric.toLowerCase().includes(this.filter);
    }
  }
}
