"""The Run API: context managers, params, tables, images, artifacts,
text logs, run lists."""

import numpy as np
import pytest

import runlog


def test_a_run_is_completed_on_exit_and_failed_with_its_traceback(store):
    with store.start_run("exp", "ok", params={"lr": 3e-4}, tags={"team": "vision"}) as run:
        run.log("loss", 1.0)
    assert run.info["status"] == "completed"
    assert run.params == {"lr": "0.0003"}
    assert run.tags == {"team": "vision"}
    with pytest.raises(ZeroDivisionError):
        with store.start_run("exp", "boom") as failing:
            failing.log("loss", 2.0)
            1 / 0  # noqa: B018
    assert failing.info["status"] == "failed"
    stderr = "\n".join(failing.read_log("stderr"))
    assert "ZeroDivisionError" in stderr and "Traceback" in stderr


def test_params_are_write_once(run):
    run.log_param("lr", 0.1)
    run.log_param("lr", "0.1")
    with pytest.raises(runlog.ExistsError):
        run.log_param("lr", 0.2)


def test_tables_hold_numbers_and_strings(run):
    assert run.log_row("eval", acc=0.5, split="val") == 0
    assert run.log_table("eval", {"acc": np.array([0.6, 0.7])}) == range(1, 3)
    assert run.log_table("preds", {"label": ["cat", "dog"], "p": [0.9, 0.8]}) == range(0, 2)
    table = run.table("eval")
    assert table == {"rows": 3, "acc": [0.5, 0.6, 0.7], "split": ["val", None, None]}
    assert run.table("preds") == {"rows": 2, "p": [0.9, 0.8], "label": ["cat", "dog"]}
    assert run.get_metrics(as_lists=True)["eval/acc"] == [0.5, 0.6, 0.7]
    with pytest.raises(runlog.KindError):
        run.log_row("eval", split=1.0)


def test_artifacts_text_files_and_images(run, tmp_path):
    run.log_text("notes/readme.md", "# hello\n")
    big = tmp_path / "weights.bin"
    big.write_bytes(bytes(range(256)) * 4096)
    entry = run.upload_file("model/weights.bin", big)
    assert entry["size"] == 256 * 4096
    assert run.read_artifact("model/weights.bin") == big.read_bytes()
    assert [a["path"] for a in run.artifacts()] == ["model/weights.bin", "notes/readme.md"]
    assert [a["path"] for a in run.artifacts("notes")] == ["notes/readme.md"]
    with pytest.raises(runlog.InvalidError, match=r"\.\."):
        run.log_text("../escape.txt", "x")


def test_matplotlib_figures_are_logged_as_png_without_a_display(run):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for step in range(2):
        figure = Figure()
        figure.add_subplot().plot([0, 1], [step, 1 - step])
        run.log_image("curve", plot=figure)
    images = run.images("curve")
    assert [i["step"] for i in images] == [0, 1]
    assert images[0]["media_type"] == "image/png"
    assert run.read_artifact(images[1]["path"]).startswith(b"\x89PNG")


def test_text_logs_read_by_line(run):
    run.append_log("node-0/stdout", "epoch 1\nepoch 2\nhalf")
    assert run.read_log("node-0/stdout") == ["epoch 1", "epoch 2", "half"]
    assert run.read_log("node-0/stdout", start=1, limit=1) == ["epoch 2"]
    assert run.log_streams()[0]["lines"] == 2


def test_run_lists_filter_and_summarise(store):
    for i, status in enumerate(["completed", "failed", "completed"]):
        run = store.start_run("exp" if i < 2 else "other", f"r{i}", tags={"k": str(i % 2)})
        run.log_list("loss", [3.0 - i, 1.0, 2.0])
        getattr(run, "complete" if status == "completed" else "fail")()
    runs = store.runs()
    assert len(runs) == 3
    assert runs[0].metrics["loss"]["min"] == 1.0
    assert runs[2].metrics["loss"]["first"] == 1.0
    assert [r.name for r in store.runs(experiment="exp")] == ["r0", "r1"]
    assert [r.name for r in store.runs(status="failed")] == ["r1"]
    assert [r.name for r in store.runs(tags={"k": "0"})] == ["r0", "r2"]
    assert store.experiments() == {"exp": 2, "other": 1}
    compared = store.compare("loss", [r.id for r in runs])
    assert [h.values[0] for h in compared.values()] == [3.0, 2.0, 1.0]
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            runs.to_pandas()


def test_get_run_by_name_and_unknown_ids(store):
    run = store.start_run("exp", "named")
    assert store.get_run(experiment="exp", name="named").id == run.id
    with pytest.raises(runlog.NotFoundError):
        store.get_run(999)
    with pytest.raises(runlog.ExistsError):
        store.start_run("exp", "named")
