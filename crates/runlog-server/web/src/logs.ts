// A run's text logs, one stream at a time, followed while written: each
// poll asks from the line after the last one shown, so nothing is
// skipped. A last line without its newline shows as pending until it
// is complete.

import { get, LogLines } from "./api";
import { el } from "./format";

/** Lines kept on the page; older ones are dropped from view, not from the run. */
const KEEP = 20_000;

export class LogPanel {
  readonly root: HTMLElement;
  private readonly pre = el("pre", "log");
  private readonly choose = el("select", "stream");
  private readonly follow = el("input");
  private next = 0;
  private pending: HTMLElement | null = null;
  private busy = false;

  constructor(
    private readonly run: string,
    streams: string[],
  ) {
    for (const s of streams) this.choose.append(Object.assign(el("option", undefined, s), { value: s }));
    this.choose.onchange = () => this.reset();
    this.follow.type = "checkbox";
    this.follow.checked = true;
    const bar = el("div", "toolbar", el("label", undefined, "Stream ", this.choose), el("label", undefined, this.follow, " Follow"));
    this.root = el("div", "logs", bar, this.pre);
    if (streams.length === 0) this.root.replaceChildren(el("p", "muted", "This run has no logs."));
  }

  /** Adds a stream that appeared while the page was open. */
  addStreams(streams: string[]): void {
    const known = new Set([...this.choose.options].map((o) => o.value));
    for (const s of streams.filter((s) => !known.has(s))) {
      this.choose.append(Object.assign(el("option", undefined, s), { value: s }));
      if (!this.root.contains(this.pre)) this.root.replaceChildren(this.root.firstChild ?? el("div"), this.pre);
    }
  }

  /** Reads the lines written since the last read. */
  async poll(): Promise<void> {
    const stream = this.choose.value;
    if (!stream || this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        const answer = await get<LogLines>(`/runlog/api/runs/${this.run}/logs`, { stream, from: this.next });
        if (stream !== this.choose.value) return;
        this.append(answer);
        if (answer.lines.length === 0) break;
      }
    } finally {
      this.busy = false;
    }
  }

  private reset(): void {
    this.next = 0;
    this.pending = null;
    this.pre.replaceChildren();
    void this.poll();
  }

  private append(answer: LogLines): void {
    this.pending?.remove();
    this.pending = null;
    const text = answer.lines.map((l) => l + "\n").join("");
    if (text) this.pre.append(el("span", undefined, text));
    if (answer.unterminated) {
      this.pending = el("span", "pending", answer.unterminated);
      this.pre.append(this.pending);
    }
    this.next = answer.next;
    while (this.pre.childElementCount > 1 && this.lineCount() > KEEP) this.pre.firstElementChild?.remove();
    this.pre.dataset.lines = String(this.next);
    if (this.follow.checked) this.pre.scrollTop = this.pre.scrollHeight;
  }

  private lineCount(): number {
    return (this.pre.textContent ?? "").split("\n").length;
  }
}
