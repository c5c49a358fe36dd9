// A run's artifacts: a list with sizes and types; images preview, other
// files download. Images logged by step (images/<key>/step-<n>.<ext>)
// are browsable by step with a slider.

import { Artifact, artifactUrl, RunRow } from "./api";
import * as fmt from "./format";
import { el } from "./format";

const IMAGE_SERIES = /^images\/(.+)\/step-(-?\d+)\.[^/]+$/;

export class ArtifactPanel {
  readonly root: HTMLElement;
  private readonly preview = el("div", "preview");
  private readonly list = el("table", "artifacts");
  private readonly series = el("div", "image-series");
  private shown = "";

  constructor(private run: RunRow & { artifacts: Artifact[] }) {
    this.root = el("div", "artifact-panel", this.series, el("div", "split", el("div", "table-wrap", this.list), this.preview));
    this.update(run);
  }

  /** Shows the artifacts of a fresh read of the run. */
  update(run: RunRow & { artifacts: Artifact[] }): void {
    this.run = run;
    const key = run.artifacts.map((a) => a.path).join("\n");
    if (key === this.shown) return;
    this.shown = key;
    const head = el("tr", undefined, el("th", undefined, "Path"), el("th", undefined, "Size"), el("th", undefined, "Type"), el("th", undefined, "Step"), el("th", undefined, "Logged"));
    const rows = run.artifacts.map((a) => {
      const link = el("a", "artifact-link", a.path);
      link.href = "#";
      link.onclick = (e) => {
        e.preventDefault();
        void this.open(a);
      };
      return el("tr", undefined, el("td", undefined, link), el("td", "num", fmt.bytes(a.size)), el("td", "muted", a.media_type), el("td", "num", a.step === null ? "" : String(a.step)), el("td", "muted", fmt.when(a.time_ms)));
    });
    this.list.replaceChildren(head, ...rows);
    if (run.artifacts.length === 0) this.list.replaceChildren(el("caption", "muted", "This run has no artifacts."));
    this.renderSeries();
  }

  private async open(a: Artifact): Promise<void> {
    const url = await artifactUrl(this.run, a.path);
    if (a.media_type.startsWith("image/")) {
      const img = el("img", "artifact-image");
      img.src = url;
      img.alt = a.path;
      this.preview.replaceChildren(el("div", "preview-title", a.path), img);
    } else if (a.media_type.startsWith("text/") || a.media_type.includes("json") || a.media_type.includes("yaml")) {
      const text = await (await fetch(url)).text();
      const save = el("a", "download", "Download");
      save.href = url;
      save.download = a.path.split("/").pop() ?? a.path;
      this.preview.replaceChildren(el("div", "preview-title", a.path, " ", save), el("pre", "artifact-text", text.slice(0, 200_000)));
    } else {
      const save = el("a", "download");
      save.href = url;
      save.download = a.path.split("/").pop() ?? a.path;
      save.click();
    }
  }

  private renderSeries(): void {
    const byKey = new Map<string, Artifact[]>();
    for (const a of this.run.artifacts) {
      const m = IMAGE_SERIES.exec(a.path);
      if (m) byKey.set(m[1], [...(byKey.get(m[1]) ?? []), a]);
    }
    this.series.replaceChildren();
    for (const [key, images] of byKey) {
      images.sort((x, y) => (x.step ?? 0) - (y.step ?? 0));
      const img = el("img", "series-image");
      const label = el("span", "muted");
      const slider = el("input");
      slider.type = "range";
      slider.min = "0";
      slider.max = String(images.length - 1);
      slider.value = slider.max;
      const show = async () => {
        const a = images[Number(slider.value)];
        label.textContent = `step ${a.step ?? "?"} (${Number(slider.value) + 1} of ${images.length})`;
        if (img.src) URL.revokeObjectURL(img.src);
        img.src = await artifactUrl(this.run, a.path);
        img.alt = `${key} at step ${a.step}`;
      };
      slider.oninput = () => void show();
      void show();
      this.series.append(el("section", "image-card", el("div", "chart-title", key), img, el("div", "toolbar", slider, label)));
    }
  }
}
