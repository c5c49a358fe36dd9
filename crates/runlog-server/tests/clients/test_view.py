"""The web view in a real headless Chromium, over a demo database: the run
list against the engine, a chart per metric, compare, live updates and
an image artifact. Screenshots go to target/browser-screenshots/."""

import math
import os
import subprocess

import pytest
from conftest import point_mlflow_at, start, stop
from mlflow import MlflowClient
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import runlog

# The first colour of the page's palette (chart.ts), as drawn.
BLUE = (37, 99, 235)
RED = (220, 38, 38)
GREEN = (22, 163, 74)
IMAGE_SIZE = (48, 32)

# Counts the canvas pixels of a colour: a line drawn in it, not axes.
COUNT_COLOUR = """
const [canvas, r, g, b] = arguments;
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let n = 0;
for (let i = 0; i < data.length; i += 4) {
  const near = (j, want) => Math.abs(data[i + j] - want) < 24;
  if (near(0, r) && near(1, g) && near(2, b) && data[i + 3] > 200) n++;
}
return n;
"""


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    """A demo database with an image series in its first run, served."""
    db = tmp_path_factory.mktemp("view") / "demo"
    subprocess.run(
        [
            os.environ.get("RUNLOG_DB_BIN", "target/debug/runlog-db"),
            "demo",
            str(db),
            "--steps",
            "3000",
        ],
        check=True,
        capture_output=True,
    )
    with runlog.open(db) as store:
        first = store.runs()[0]["id"]
        for step in (0, 100, 200):
            picture = db.parent / f"sample-{step}.png"
            Image.new("RGB", IMAGE_SIZE, (step, 80, 160)).save(picture)
            store.get_run(first).log_image("samples", path=picture, step=step)
    binary = os.environ.get("RUNLOG_SERVER_BIN", "target/debug/runlog-server")
    process, url = start(binary, db)
    point_mlflow_at(url)
    yield {"url": url, "db": db, "first": first}
    stop(process)


def visit(browser, url):
    """Loads `url` afresh (a change of the hash alone keeps the page)."""
    browser.get(url)
    browser.refresh()


def drawn(browser, canvas, colour):
    """Whether `canvas` shows more than a few pixels of `colour`."""
    return browser.execute_script(COUNT_COLOUR, canvas, *colour) > 50


def wait(browser, until, seconds=15):
    return WebDriverWait(browser, seconds, poll_frequency=0.1).until(lambda _: until())


def engine(view):
    return runlog.open(view["db"], read_only=True)


def pick_column(browser, name):
    """Adds a metric to the run list's columns through the picker."""
    browser.find_element(By.CSS_SELECTOR, ".picker summary").click()
    for label in browser.find_elements(By.CSS_SELECTOR, ".picker-group label"):
        if label.text == name:
            box = label.find_element(By.TAG_NAME, "input")
            if not box.is_selected():
                box.click()
    browser.find_element(By.CSS_SELECTOR, ".picker summary").click()


# The run list as the page shows it, read at once (a poll may redraw it):
# run id -> column key -> cell text, in the table's order.
READ_TABLE = """
const keys = [...document.querySelectorAll('table.runs th')].map((th) => th.dataset.key);
return [...document.querySelectorAll('table.runs tr[data-run]')].map((tr) =>
  [tr.dataset.run, Object.fromEntries([...tr.cells].map((td, i) => [keys[i], td.innerText]))]);
"""


def table(browser):
    return dict(browser.execute_script(READ_TABLE))


def cell(browser, run, key):
    """The text of a run-list cell, by run id and column key."""
    return table(browser).get(run, {}).get(key)


def test_the_run_list_matches_the_engine(view, browser, screenshots):
    visit(browser, view["url"] + "/#/")
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-run]"))
    pick_column(browser, "loss")
    runs = engine(view).runs()
    shown = table(browser)
    assert set(shown) == {str(r["id"]) for r in runs}
    for r in runs:
        row = shown[str(r["id"])]
        assert row["status"] == r["status"]
        assert row["name"] == r["name"]
        for which in ("last", "min", "max"):
            assert math.isclose(
                float(row[f"m:loss:{which}"]), r["metrics"]["loss"][which], rel_tol=1e-4
            )
    sidebar = {
        a.find_element(By.CLASS_NAME, "exp-name").text: a.find_element(
            By.CLASS_NAME, "exp-count"
        ).text
        for a in browser.find_elements(By.CSS_SELECTOR, "#sidebar a.exp")
    }
    for experiment, count in engine(view).experiments().items():
        assert sidebar[experiment] == str(count)
    browser.save_screenshot(str(screenshots / "run-list.png"))


def test_the_list_sorts_and_filters(view, browser):
    visit(browser, view["url"] + "/#/")
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-run]"))
    pick_column(browser, "loss")
    browser.find_element(By.CSS_SELECTOR, 'th[data-key="m:loss:min"]').click()
    mins = [float(row["m:loss:min"]) for row in table(browser).values()]
    assert mins == sorted(mins, reverse=True) and len(mins) == len(engine(view).runs())
    failed = [r for r in engine(view).runs() if r["status"] == "failed"]
    status = browser.find_element(By.CSS_SELECTOR, "select.status-filter")
    status.find_element(By.CSS_SELECTOR, 'option[value="failed"]').click()
    assert set(table(browser)) == {str(r["id"]) for r in failed}
    status.find_element(By.CSS_SELECTOR, 'option[value=""]').click()
    browser.find_element(By.CSS_SELECTOR, "input.run-filter").send_keys("batch_size=128")
    expected = {str(r["id"]) for r in engine(view).runs() if r["params"].get("batch_size") == "128"}
    assert expected and set(table(browser)) == expected


def test_a_run_page_draws_a_chart_for_every_metric(view, browser, screenshots):
    store = engine(view)
    first = view["first"]
    summary = next(r for r in store.runs() if r["id"] == first)
    names = sorted(set(store.get_run(first).get_metrics()) - set(summary["texts"]))
    assert {"loss", "eval/accuracy"} <= set(names), "metrics and table columns"
    visit(browser, view["url"] + f"/#/run/{first}")
    wait(
        browser,
        lambda: len(browser.find_elements(By.CSS_SELECTOR, "section.chart[data-ready]"))
        >= len(names),
    )
    charts = {
        c.get_attribute("data-metric"): c
        for c in browser.find_elements(By.CSS_SELECTOR, "section.chart")
    }
    assert sorted(charts) == names
    for name in names:
        canvas = charts[name].find_element(By.TAG_NAME, "canvas")
        wait(browser, lambda canvas=canvas: drawn(browser, canvas, BLUE))
    params = browser.find_element(By.CSS_SELECTOR, ".kv-box").text
    for key, value in summary["params"].items():
        assert key in params and value in params
    browser.save_screenshot(str(screenshots / "run-page.png"))


def test_compare_draws_one_line_per_run_with_a_legend(view, browser, screenshots):
    runs = engine(view).runs()[:3]
    visit(browser, view["url"] + "/#/")
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-run]"))
    for r in runs:
        browser.find_element(By.CSS_SELECTOR, f'tr[data-run="{r["id"]}"] input.select-run').click()
    browser.find_element(By.CSS_SELECTOR, "button.compare").click()
    loss = wait(
        browser,
        lambda: browser.find_element(
            By.CSS_SELECTOR, 'section.chart[data-metric="loss"][data-ready]'
        ),
    )
    labels = [e.text for e in loss.find_elements(By.CSS_SELECTOR, ".legend-label")]
    assert labels == [r["name"] for r in runs]
    canvas = loss.find_element(By.TAG_NAME, "canvas")
    for colour in (BLUE, RED, GREEN):
        wait(browser, lambda colour=colour: drawn(browser, canvas, colour))
    browser.save_screenshot(str(screenshots / "compare.png"))


def test_a_running_run_updates_live(view, browser, screenshots):
    client = MlflowClient()
    experiment = client.create_experiment("live")
    run = client.create_run(experiment, run_name="training-now").info.run_id
    for step in range(10):
        client.log_metric(run, "live_loss", 1.0 / (step + 1), step=step)
    visit(browser, view["url"] + f"/#/run/{run}")
    chart = wait(
        browser,
        lambda: browser.find_element(
            By.CSS_SELECTOR, 'section.chart[data-metric="live_loss"][data-ready]'
        ),
    )
    wait(browser, lambda: chart.get_attribute("data-points") == "10")
    for step in range(10, 40):
        client.log_metric(run, "live_loss", 1.0 / (step + 1), step=step)
    wait(browser, lambda: chart.get_attribute("data-points") == "40", seconds=5)
    browser.save_screenshot(str(screenshots / "live-run.png"))

    visit(browser, view["url"] + "/#/experiment/live")
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, f'tr[data-run="{run}"]'))
    pick_column(browser, "live_loss")
    client.log_metric(run, "live_loss", 123.0, step=40)
    wait(browser, lambda: cell(browser, run, "m:live_loss:last") == "123", seconds=5)
    assert cell(browser, run, "m:live_loss:max") == "123"


def test_an_image_artifact_opens(view, browser, screenshots):
    visit(browser, view["url"] + f"/#/run/{view['first']}")
    wait(
        browser, lambda: browser.find_element(By.CSS_SELECTOR, 'button[data-tab="artifacts"]')
    ).click()
    link = wait(
        browser,
        lambda: [
            a
            for a in browser.find_elements(By.CSS_SELECTOR, "a.artifact-link")
            if a.text == "images/samples/step-200.png"
        ],
    )
    link[0].click()
    image = wait(browser, lambda: browser.find_element(By.CSS_SELECTOR, "img.artifact-image"))
    wait(browser, lambda: browser.execute_script("return arguments[0].naturalWidth", image) > 0)
    size = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image
    )
    assert tuple(size) == IMAGE_SIZE
    series = browser.find_element(By.CSS_SELECTOR, "img.series-image")
    wait(
        browser,
        lambda: browser.execute_script("return arguments[0].naturalWidth", series) == IMAGE_SIZE[0],
    )
    browser.save_screenshot(str(screenshots / "artifacts.png"))


def test_zoom_fetches_the_exact_points_and_hover_shows_them(view, browser):
    store = engine(view)
    first = view["first"]
    visit(browser, view["url"] + f"/#/run/{first}")
    chart = wait(
        browser,
        lambda: browser.find_element(
            By.CSS_SELECTOR, 'section.chart[data-metric="loss"][data-ready]'
        ),
    )
    over = chart.find_element(By.CSS_SELECTOR, ".u-over")
    width = over.size["width"]
    ActionChains(browser).move_to_element_with_offset(
        over, -width // 4, 0
    ).click_and_hold().move_by_offset(width // 10, 0).release().perform()
    wait(browser, lambda: chart.get_attribute("data-range"))
    lo, hi = (int(s) for s in chart.get_attribute("data-range").split("-"))
    steps, _, values = store.get_run(first).get_history("loss", lo, hi)
    wait(browser, lambda: chart.get_attribute("data-points") == str(len(steps)))
    assert 0 < hi - lo < 3000 and len(steps) == hi - lo + 1, "every point of the zoomed range"
    ActionChains(browser).move_to_element(over).perform()
    hovered = chart.find_element(By.CSS_SELECTOR, ".legend-value").text
    step = int(hovered.split(":")[0].removeprefix("step ").replace(",", ""))
    shown = float(hovered.split(":")[1].split("(")[0])
    assert "points" not in hovered, "a zoomed bucket is one point"
    assert shown == values[list(steps).index(step)], "the exact value, not a rounded one"
