"""A typical MLflow training script, changed only in its import, logs into
runlog; the MLflow-style reads give back what it logged."""

import textwrap

import pytest

import runlog
import runlog.mlflow as mlflow

SCRIPT = textwrap.dedent(
    """
    import runlog.mlflow as mlflow

    mlflow.set_experiment("mnist")
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_params({"lr": 0.01, "epochs": 3})
        mlflow.set_tag("team", "vision")
        for epoch in range(3):
            loss = 1.0 / (epoch + 1)
            mlflow.log_metric("loss", loss, step=epoch)
            mlflow.log_metrics({"acc": 0.5 + 0.1 * epoch, "lr": 0.01}, step=epoch)
        mlflow.log_text("done", "notes.txt")
        mlflow.log_dict({"layers": [64, 64]}, "config.json")
        RUN_ID = run.info.run_id
    """
)


@pytest.fixture
def tracking(tmp_path):
    mlflow.set_tracking_uri(tmp_path / "db")
    yield tmp_path / "db"
    mlflow.set_tracking_uri(tmp_path / "elsewhere")


def test_a_training_script_logs_and_reads_back(tracking, tmp_path):
    scope: dict = {}
    exec(SCRIPT, scope)
    run_id = scope["RUN_ID"]
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "baseline"
    assert run.data.metrics == {"loss": 1.0 / 3, "acc": 0.5 + 0.2, "lr": 0.01}
    assert run.data.params == {"lr": "0.01", "epochs": "3"}
    assert run.data.tags["team"] == "vision"
    history = mlflow.MlflowClient().get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert all(m.timestamp > 0 for m in history)
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights")
    with mlflow.start_run(run_id=run_id):
        mlflow.log_artifact(artifact, artifact_path="model")
    # Pointing mlflow elsewhere closes its store, so all is on disk.
    mlflow.set_tracking_uri(tmp_path / "next")
    with runlog.open(tracking, read_only=True) as store:
        stored = store.get_run(int(run_id))
        assert stored.read_artifact("notes.txt") == b"done"
        assert stored.read_artifact("model/model.txt") == b"weights"
        assert b"layers" in stored.read_artifact("config.json")


def test_a_metric_without_a_step_is_at_step_0_as_in_mlflow(tracking):
    with mlflow.start_run() as run:
        mlflow.log_metric("x", 1.0)
        mlflow.log_metric("x", 2.0)
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "x")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (0, 2.0)]


def test_search_runs_filters_and_orders(tracking):
    mlflow.set_experiment("sweep")
    for lr, loss in [("0.1", 0.9), ("0.01", 0.4), ("0.001", 0.2)]:
        with mlflow.start_run(run_name=f"lr-{lr}"):
            mlflow.log_param("lr", lr)
            mlflow.log_metric("loss", loss)
    found = mlflow.search_runs(
        experiment_names=["sweep"],
        filter_string="metrics.loss < 0.5 AND params.lr != '0.001'",
        output_format="list",
    )
    assert [r.info.run_name for r in found] == ["lr-0.01"]
    ordered = mlflow.search_runs(
        experiment_names=["sweep"], order_by=["metrics.loss DESC"], output_format="list"
    )
    assert [r.data.metrics["loss"] for r in ordered] == [0.9, 0.4, 0.2]
    named = mlflow.search_runs(
        experiment_names=["sweep"],
        filter_string="attributes.run_name LIKE 'lr-0.0%' and attributes.status = 'FINISHED'",
        output_format="list",
    )
    assert sorted(r.info.run_name for r in named) == ["lr-0.001", "lr-0.01"]
    with pytest.raises(runlog.InvalidError):
        mlflow.search_runs(filter_string="loss < 1", output_format="list")


def test_a_failing_block_fails_the_run(tracking):
    with pytest.raises(RuntimeError):
        with mlflow.start_run() as run:
            raise RuntimeError("diverged")
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"
    assert mlflow.active_run() is None
