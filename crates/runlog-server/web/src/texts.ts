// A run's text series: every value by step, newest first.

import { get, TextPoint } from "./api";
import * as fmt from "./format";
import { el } from "./format";

export class TextPanel {
  readonly root: HTMLElement;
  private readonly choose = el("select", "text-series");
  private readonly table = el("table", "texts");

  constructor(
    private readonly run: string,
    names: string[],
  ) {
    for (const n of names) this.choose.append(Object.assign(el("option", undefined, n), { value: n }));
    this.choose.onchange = () => void this.poll();
    this.root = el("div", "text-panel", el("div", "toolbar", el("label", undefined, "Series ", this.choose)), this.table);
    if (names.length === 0) this.root.replaceChildren(el("p", "muted", "This run has no text series."));
  }

  async poll(): Promise<void> {
    const name = this.choose.value;
    if (!name) return;
    const answer = await get<{ texts: TextPoint[] }>(`/runlog/api/runs/${this.run}/texts`, { name });
    const rows = answer.texts
      .slice()
      .reverse()
      .map((t) => el("tr", undefined, el("td", "num", String(t.step)), el("td", "muted", fmt.when(t.timestamp)), el("td", "text", t.value)));
    this.table.replaceChildren(el("tr", undefined, el("th", undefined, "Step"), el("th", undefined, "Time"), el("th", undefined, "Value")), ...rows);
  }
}
