// The run list: a table of an experiment's runs with their status,
// times, chosen params and the last/min/max of chosen metrics, sortable
// by any column, filtered by status and by name, param or tag, with
// runs selected for comparison. Rows come from the engine's summaries.

import { get, num, RunRow } from "./api";
import * as fmt from "./format";
import { el } from "./format";
import { View } from "./view";

const PAGE = 100;
const PICKED_KEY = "runlog.columns";

/** A column of the table. */
interface Column {
  key: string;
  title: string;
  sub?: string;
  sort: (r: RunRow) => number | string | undefined;
  cell: (r: RunRow) => Node | string;
}

/** What the list shows, kept across polls and visits. */
interface ListState {
  experiment: string | undefined;
  status: string;
  text: string;
  sortKey: string;
  descending: boolean;
  page: number;
  params: string[] | null;
  metrics: string[] | null;
}

const state: ListState = {
  experiment: undefined,
  status: "",
  text: "",
  sortKey: "start",
  descending: true,
  page: 0,
  ...JSON.parse(localStorage.getItem(PICKED_KEY) ?? "{}"),
};

/** Runs chosen for comparison, across pages and polls. */
export const selected = new Set<string>();

export class RunList implements View {
  readonly root: HTMLElement;
  private rows: RunRow[] = [];
  private answer = "";
  private shown = false;
  private readonly table = el("table", "runs");
  private readonly pager = el("div", "pager");
  private readonly picker = el("details", "picker");
  private readonly compare = el("button", "compare");
  private readonly count = el("span", "count");

  constructor(experiment: string | undefined) {
    if (experiment !== state.experiment) state.page = 0;
    state.experiment = experiment;
    const text = el("input", "run-filter");
    text.type = "search";
    text.placeholder = "Filter: name, or key=value of a param or tag";
    text.value = state.text;
    text.oninput = () => {
      state.text = text.value;
      state.page = 0;
      this.render();
    };
    const status = el("select", "status-filter");
    for (const s of ["", "running", "completed", "failed", "killed"]) {
      const option = el("option", undefined, s === "" ? "Any status" : s);
      option.value = s;
      option.selected = s === state.status;
      status.append(option);
    }
    status.onchange = () => {
      state.status = status.value;
      state.page = 0;
      this.render();
    };
    this.compare.onclick = () => {
      location.hash = `#/compare/${[...selected].join(",")}`;
    };
    const title = el("h1", undefined, experiment ?? "All runs");
    const bar = el("div", "toolbar", text, status, this.picker, this.count, this.compare);
    this.root = el("div", "run-list", title, bar, el("div", "table-wrap", this.table), this.pager);
  }

  async poll(): Promise<void> {
    const answer = await get<{ runs: RunRow[] }>("/runlog/api/runs", { experiment: state.experiment });
    const text = JSON.stringify(answer.runs);
    if (text === this.answer) return;
    this.answer = text;
    this.rows = answer.runs;
    this.render();
  }

  destroy(): void {}

  private render(): void {
    const params = names(this.rows, (r) => Object.keys(r.params));
    const metrics = names(this.rows, (r) => Object.keys(r.metrics));
    const pickedParams = (state.params ?? params.slice(0, 3)).filter((p) => params.includes(p));
    const pickedMetrics = (state.metrics ?? metrics.slice(0, 3)).filter((m) => metrics.includes(m));
    this.renderPicker(params, metrics, pickedParams, pickedMetrics);

    const columns = [...fixedColumns(), ...pickedParams.map(paramColumn), ...pickedMetrics.flatMap(metricColumns)];
    const shown = this.rows.filter(matches);
    const sortBy = columns.find((c) => c.key === state.sortKey) ?? columns[3];
    shown.sort((a, b) => compare(sortBy.sort(a), sortBy.sort(b), state.descending));

    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const page = shown.slice(state.page * PAGE, (state.page + 1) * PAGE);

    const head = el("tr");
    for (const c of columns) {
      const th = el("th", c.key === sortBy.key ? (state.descending ? "sorted desc" : "sorted asc") : "", c.title);
      if (c.sub) th.append(el("span", "sub", c.sub));
      th.dataset.key = c.key;
      if (c.key !== "select") {
        th.onclick = () => {
          state.descending = state.sortKey === c.key ? !state.descending : c.key !== "name";
          state.sortKey = c.key;
          this.render();
        };
      }
      head.append(th);
    }
    const body = el("tbody");
    for (const run of page) {
      const tr = el("tr");
      tr.dataset.run = run.id;
      if (selected.has(run.id)) tr.classList.add("chosen");
      for (const c of columns) tr.append(el("td", c.key.startsWith("m:") ? "num" : "", c.cell(run)));
      body.append(tr);
    }
    this.table.replaceChildren(el("thead", undefined, head), body);
    if (page.length === 0) this.table.append(el("caption", "muted", this.rows.length ? "No run matches." : "No runs yet."));

    this.count.textContent = `${shown.length.toLocaleString("en-US")} of ${this.rows.length.toLocaleString("en-US")} runs`;
    this.compare.textContent = `Compare ${selected.size}`;
    this.compare.disabled = selected.size < 1;
    this.renderPager(shown.length, pages);
    // For the page bench (bench/view_page.py): when the list first showed.
    if (!this.shown) performance.mark("runlog:run-list");
    this.shown = true;
  }

  private renderPager(total: number, pages: number): void {
    const prev = el("button", undefined, "‹ Previous");
    prev.disabled = state.page === 0;
    prev.onclick = () => {
      state.page -= 1;
      this.render();
    };
    const next = el("button", undefined, "Next ›");
    next.disabled = state.page >= pages - 1;
    next.onclick = () => {
      state.page += 1;
      this.render();
    };
    const from = total === 0 ? 0 : state.page * PAGE + 1;
    const to = Math.min(total, (state.page + 1) * PAGE);
    this.pager.replaceChildren(prev, el("span", undefined, ` ${from}–${to} of ${total.toLocaleString("en-US")} `), next);
    this.pager.hidden = pages <= 1;
  }

  private renderPicker(params: string[], metrics: string[], pickedParams: string[], pickedMetrics: string[]): void {
    if (this.picker.open) return;
    const group = (title: string, all: string[], picked: string[], key: "params" | "metrics") => {
      const box = el("div", "picker-group", el("h4", undefined, title));
      for (const name of all) {
        const check = el("input");
        check.type = "checkbox";
        check.checked = picked.includes(name);
        check.onchange = () => {
          const now = new Set(state[key] ?? picked);
          if (check.checked) now.add(name);
          else now.delete(name);
          state[key] = all.filter((n) => now.has(n));
          localStorage.setItem(PICKED_KEY, JSON.stringify({ params: state.params, metrics: state.metrics }));
          this.render();
        };
        box.append(el("label", undefined, check, name));
      }
      if (all.length === 0) box.append(el("span", "muted", "none"));
      return box;
    };
    this.picker.replaceChildren(
      el("summary", undefined, "Columns"),
      el("div", "picker-body", group("Params", params, pickedParams, "params"), group("Metrics", metrics, pickedMetrics, "metrics")),
    );
    this.picker.ontoggle = () => !this.picker.open && this.render();
  }
}

function fixedColumns(): Column[] {
  return [
    {
      key: "select",
      title: "",
      sort: () => undefined,
      cell: (r) => {
        const check = el("input", "select-run");
        check.type = "checkbox";
        check.checked = selected.has(r.id);
        check.onchange = () => {
          if (check.checked) selected.add(r.id);
          else selected.delete(r.id);
          check.closest("tr")?.classList.toggle("chosen", check.checked);
          const button = document.querySelector<HTMLButtonElement>("button.compare");
          if (button) {
            button.textContent = `Compare ${selected.size}`;
            button.disabled = selected.size < 1;
          }
        };
        return check;
      },
    },
    { key: "status", title: "Status", sort: (r) => r.status, cell: (r) => el("span", `badge ${r.status}`, r.status) },
    {
      key: "name",
      title: "Run",
      sort: (r) => r.name.toLowerCase(),
      cell: (r) => {
        const a = el("a", "run-link", r.name || r.id);
        a.href = `#/run/${r.id}`;
        return a;
      },
    },
    { key: "start", title: "Started", sort: (r) => r.start_ms, cell: (r) => fmt.when(r.start_ms) },
    { key: "duration", title: "Duration", sort: duration, cell: (r) => fmt.span(duration(r)) },
  ];
}

function paramColumn(name: string): Column {
  return {
    key: `p:${name}`,
    title: name,
    sub: "param",
    sort: (r) => {
      const v = r.params[name];
      return v === undefined ? undefined : Number.isNaN(Number(v)) ? v : Number(v);
    },
    cell: (r) => r.params[name] ?? "",
  };
}

function metricColumns(name: string): Column[] {
  return (["last", "min", "max"] as const).map((which) => ({
    key: `m:${name}:${which}`,
    title: which === "last" ? name : "",
    sub: which,
    sort: (r: RunRow) => {
      const s = r.metrics[name];
      return s ? num(s[which]) : undefined;
    },
    cell: (r: RunRow) => {
      const s = r.metrics[name];
      return s ? fmt.value(num(s[which])) : "";
    },
  }));
}

function duration(r: RunRow): number {
  const end = r.end_ms ?? (r.status === "running" ? Date.now() : r.last_write_ms);
  return Math.max(0, end - r.start_ms);
}

function matches(r: RunRow): boolean {
  if (state.status && r.status !== state.status) return false;
  for (const token of state.text.toLowerCase().split(/\s+/).filter(Boolean)) {
    const eq = token.indexOf("=");
    if (eq > 0) {
      const key = token.slice(0, eq);
      const value = token.slice(eq + 1);
      const has = (m: Record<string, string>) =>
        Object.entries(m).some(([k, v]) => k.toLowerCase() === key && v.toLowerCase() === value);
      if (!has(r.params) && !has(r.tags)) return false;
    } else if (!r.name.toLowerCase().includes(token) && !r.id.includes(token)) {
      return false;
    }
  }
  return true;
}

/** Every name that `of` gives for some row, most common first. */
function names(rows: RunRow[], of: (r: RunRow) => string[]): string[] {
  const counts = new Map<string, number>();
  for (const r of rows) for (const n of of(r)) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts.keys()].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a.localeCompare(b));
}

/** Missing values last whichever way; NaN after numbers. */
function compare(a: number | string | undefined, b: number | string | undefined, descending: boolean): number {
  if (a === undefined || (typeof a === "number" && Number.isNaN(a))) return b === undefined ? 0 : 1;
  if (b === undefined || (typeof b === "number" && Number.isNaN(b))) return -1;
  const order = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
  return descending ? -order : order;
}
