// The app: a sidebar of experiments and a page chosen by the URL's hash
// (#/, #/experiment/NAME, #/run/ID, #/compare/ID,ID), polled every two
// seconds while the tab is visible so that running runs stay live.

import { get, NeedToken, setToken } from "./api";
import { ComparePage } from "./compare";
import { el } from "./format";
import { RunList } from "./runlist";
import { RunPage } from "./runpage";
import { View } from "./view";

const POLL_MS = 2000;

const main = document.getElementById("main") as HTMLElement;
const sidebar = document.getElementById("sidebar") as HTMLElement;
const crumbs = document.getElementById("crumbs") as HTMLElement;
const live = document.getElementById("live") as HTMLElement;

let view: View | null = null;
let timer: number | undefined;
let generation = 0;

function route(): View {
  const [, kind, arg] = location.hash.split("/");
  const value = arg === undefined ? undefined : decodeURIComponent(arg);
  crumbs.replaceChildren();
  if (kind === "run" && value) {
    crumbs.append(el("span", undefined, "Run"));
    return new RunPage(value);
  }
  if (kind === "compare" && value) {
    crumbs.append(el("span", undefined, "Compare"));
    return new ComparePage(value.split(",").filter(Boolean));
  }
  return new RunList(kind === "experiment" ? value : undefined);
}

async function sidebarPoll(): Promise<void> {
  const answer = await get<{ experiments: { name: string; runs: number }[] }>("/runlog/api/experiments");
  const [, kind, arg] = location.hash.split("/");
  const current = kind === "experiment" ? decodeURIComponent(arg ?? "") : kind === undefined || kind === "" ? null : "";
  const link = (title: string, href: string, count: number | null, active: boolean) => {
    const a = el("a", active ? "exp active" : "exp", el("span", "exp-name", title));
    if (count !== null) a.append(el("span", "exp-count", count.toLocaleString("en-US")));
    a.href = href;
    return a;
  };
  const total = answer.experiments.reduce((n, e) => n + e.runs, 0);
  sidebar.replaceChildren(
    el("h3", undefined, "Experiments"),
    link("All runs", "#/", total, current === null),
    ...answer.experiments.map((e) => link(e.name, `#/experiment/${encodeURIComponent(e.name)}`, e.runs, current === e.name)),
  );
}

async function tick(mine: number): Promise<void> {
  if (mine !== generation) return;
  if (!document.hidden && view) {
    try {
      await Promise.all([view.poll(), sidebarPoll()]);
      live.textContent = `Live · ${new Date().toLocaleTimeString()}`;
      live.className = "live ok";
    } catch (error) {
      if (error instanceof NeedToken) return askToken();
      live.textContent = `Not updated: ${error instanceof Error ? error.message : String(error)}`;
      live.className = "live stale";
    }
  }
  if (mine === generation) timer = window.setTimeout(() => void tick(mine), POLL_MS);
}

function askToken(): void {
  const input = el("input", "token");
  input.type = "password";
  input.placeholder = "Bearer token";
  const form = el("form", "token-form", el("p", undefined, "This server asks for a token (runlog-server --token)."), input, el("button", undefined, "Open"));
  form.onsubmit = (e) => {
    e.preventDefault();
    setToken(input.value);
    start();
  };
  main.replaceChildren(form);
}

function start(): void {
  generation += 1;
  window.clearTimeout(timer);
  view?.destroy();
  view = route();
  main.replaceChildren(view.root);
  void tick(generation);
}

window.addEventListener("hashchange", start);
start();
