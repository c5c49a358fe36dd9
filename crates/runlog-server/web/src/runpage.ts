// A run's page: its header, params and tags, then tabs for its charts
// (every metric and table column as its own chart), logs, text series
// and artifacts. A poll refetches what changed since the last one.

import { get, RunDetail } from "./api";
import { ArtifactPanel } from "./artifacts";
import { PALETTE } from "./chart";
import * as fmt from "./format";
import { el } from "./format";
import { ChartGrid } from "./grid";
import { LogPanel } from "./logs";
import { TextPanel } from "./texts";
import { View } from "./view";

type Tab = "charts" | "logs" | "texts" | "artifacts";

export class RunPage implements View {
  readonly root = el("div", "run-page");
  private detail: RunDetail | null = null;
  private grid: ChartGrid | null = null;
  private logs: LogPanel | null = null;
  private texts: TextPanel | null = null;
  private artifacts: ArtifactPanel | null = null;
  private tab: Tab = "charts";
  private readonly header = el("div", "run-header");
  private readonly tabs = el("nav", "tabs");
  private readonly body = el("div", "tab-body");

  constructor(private readonly id: string) {
    this.root.append(this.header, this.tabs, this.body);
  }

  async poll(): Promise<void> {
    const detail = await get<RunDetail>(`/runlog/api/runs/${this.id}`);
    const before = this.detail;
    this.detail = detail;
    this.renderHeader(detail);
    const metrics = Object.keys(detail.metrics).sort(byTable);
    if (!this.grid) {
      const line = { run: detail, label: detail.name || detail.id, color: PALETTE[0] };
      this.grid = new ChartGrid(metrics, () => [line]);
      this.logs = new LogPanel(this.id, detail.logs.map((s) => s.name));
      this.texts = new TextPanel(this.id, detail.texts);
      this.artifacts = new ArtifactPanel(detail);
      this.show(this.tab);
    } else if (before && (before.last_write_ms !== detail.last_write_ms || before.status !== detail.status)) {
      await this.grid.refresh(metrics);
    }
    this.logs?.addStreams(detail.logs.map((s) => s.name));
    this.artifacts?.update(detail);
    this.renderTabs(detail);
    if (this.tab === "logs") await this.logs?.poll();
    if (this.tab === "texts") await this.texts?.poll();
  }

  destroy(): void {
    this.grid?.destroy();
  }

  private show(tab: Tab): void {
    this.tab = tab;
    const panel = { charts: this.grid, logs: this.logs, texts: this.texts, artifacts: this.artifacts }[tab];
    if (panel) this.body.replaceChildren(panel.root);
    if (this.detail) this.renderTabs(this.detail);
    if (tab === "logs") void this.logs?.poll();
    if (tab === "texts") void this.texts?.poll();
  }

  private renderTabs(d: RunDetail): void {
    const counts: [Tab, string, number][] = [
      ["charts", "Charts", Object.keys(d.metrics).length],
      ["logs", "Logs", d.logs.length],
      ["texts", "Text", d.texts.length],
      ["artifacts", "Artifacts", d.artifacts.length],
    ];
    this.tabs.replaceChildren(
      ...counts.map(([tab, title, n]) => {
        const b = el("button", tab === this.tab ? "tab active" : "tab", title, el("span", "tab-count", String(n)));
        b.dataset.tab = tab;
        b.onclick = () => this.show(tab);
        return b;
      }),
    );
  }

  private renderHeader(d: RunDetail): void {
    const end = d.end_ms ?? (d.status === "running" ? Date.now() : d.last_write_ms);
    const facts = el(
      "div",
      "facts",
      fact("Experiment", d.experiment),
      fact("Run id", d.id),
      fact("Started", fmt.when(d.start_ms)),
      fact("Duration", fmt.span(end - d.start_ms)),
      fact("Last write", fmt.when(d.last_write_ms)),
    );
    const title = el("h1", undefined, d.name || d.id, " ", el("span", `badge ${d.status}`, d.status));
    const kv = (heading: string, map: Record<string, string>) => {
      const entries = Object.entries(map).sort(([a], [b]) => a.localeCompare(b));
      const dl = el("dl", "kv");
      for (const [k, v] of entries) dl.append(el("dt", undefined, k), el("dd", undefined, v));
      return el("details", "kv-box", el("summary", undefined, `${heading} (${entries.length})`), entries.length ? dl : el("p", "muted", "none"));
    };
    const params = kv("Params", d.params);
    const tags = kv("Tags", d.tags);
    const open = [...this.header.querySelectorAll("details")].map((x) => x.open);
    params.open = open[0] ?? true;
    tags.open = open[1] ?? false;
    this.header.replaceChildren(title, facts, el("div", "kv-row", params, tags));
  }
}

function fact(label: string, value: string): HTMLElement {
  return el("div", "fact", el("span", "fact-label", label), el("span", "fact-value", value));
}

/** Metrics first, then table columns ("TABLE/COLUMN") grouped by table. */
function byTable(a: string, b: string): number {
  const ta = a.includes("/") ? 1 : 0;
  const tb = b.includes("/") ? 1 : 0;
  return ta - tb || a.localeCompare(b);
}
