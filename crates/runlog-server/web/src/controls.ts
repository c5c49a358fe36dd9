// The bar above a page's charts: x-axis, log scale, smoothing and a
// metric-name filter. Settings are kept in localStorage, so that every
// page draws the way the user last chose.

import { ChartSettings, XAxis } from "./chart";
import { el } from "./format";

const KEY = "runlog.charts";

/** The settings the user last chose. */
export function loadSettings(): ChartSettings {
  const fallback: ChartSettings = { xAxis: "step", log: false, smoothing: 0.6 };
  try {
    return { ...fallback, ...JSON.parse(localStorage.getItem(KEY) ?? "{}") };
  } catch {
    return fallback;
  }
}

/** A bar that edits `settings` and calls `changed` after each edit. */
export function chartBar(
  settings: ChartSettings,
  changed: () => void,
  filtered: (text: string) => void,
): HTMLElement {
  const axis = el("select", "x-axis");
  for (const [value, label] of [
    ["step", "Step"],
    ["relative", "Relative time"],
    ["wall", "Wall time"],
  ]) {
    const option = el("option", undefined, label);
    option.value = value;
    option.selected = settings.xAxis === value;
    axis.append(option);
  }
  axis.onchange = () => {
    settings.xAxis = axis.value as XAxis;
    save(settings, changed);
  };

  const log = el("input", "log-scale");
  log.type = "checkbox";
  log.checked = settings.log;
  log.onchange = () => {
    settings.log = log.checked;
    save(settings, changed);
  };

  const smoothing = el("input", "smoothing");
  smoothing.type = "range";
  smoothing.min = "0";
  smoothing.max = "0.99";
  smoothing.step = "0.01";
  smoothing.value = String(settings.smoothing);
  const shown = el("span", "smoothing-value", settings.smoothing.toFixed(2));
  smoothing.oninput = () => (shown.textContent = Number(smoothing.value).toFixed(2));
  smoothing.onchange = () => {
    settings.smoothing = Number(smoothing.value);
    save(settings, changed);
  };

  const filter = el("input", "metric-filter");
  filter.type = "search";
  filter.placeholder = "Filter metrics";
  filter.oninput = () => filtered(filter.value.trim().toLowerCase());

  return el(
    "div",
    "toolbar",
    el("label", undefined, "X-axis ", axis),
    el("label", undefined, log, " Log scale"),
    el("label", undefined, "Smoothing ", smoothing, shown),
    filter,
    el("span", "hint", "Drag to zoom · double-click to reset"),
  );
}

function save(settings: ChartSettings, changed: () => void): void {
  localStorage.setItem(KEY, JSON.stringify(settings));
  changed();
}
