// Compare: one chart per metric that any chosen run has, one line per
// run, with a legend naming them.

import { get, RunDetail } from "./api";
import { Line, PALETTE } from "./chart";
import { el } from "./format";
import { ChartGrid } from "./grid";
import { View } from "./view";

export class ComparePage implements View {
  readonly root = el("div", "compare-page");
  private runs: RunDetail[] = [];
  private grid: ChartGrid | null = null;

  constructor(private readonly ids: string[]) {}

  async poll(): Promise<void> {
    const before = this.runs;
    this.runs = await Promise.all(this.ids.map((id) => get<RunDetail>(`/runlog/api/runs/${id}`)));
    const metrics = [...new Set(this.runs.flatMap((r) => Object.keys(r.metrics)))].sort();
    if (!this.grid) {
      const lines: Line[] = this.runs.map((run, i) => ({ run, label: run.name || run.id, color: PALETTE[i % PALETTE.length] }));
      this.grid = new ChartGrid(metrics, (m) => lines.filter((l) => m in l.run.metrics));
      const names = this.runs.map((r, i) => {
        const a = el("a", "run-link", r.name || r.id);
        a.href = `#/run/${r.id}`;
        a.style.color = PALETTE[i % PALETTE.length];
        return a;
      });
      this.root.replaceChildren(el("h1", undefined, `Comparing ${this.runs.length} runs`), el("div", "compare-runs", ...names), this.grid.root);
    } else if (this.runs.some((r, i) => r.last_write_ms !== before[i]?.last_write_ms)) {
      await this.grid.refresh(metrics);
    }
  }

  destroy(): void {
    this.grid?.destroy();
  }
}
