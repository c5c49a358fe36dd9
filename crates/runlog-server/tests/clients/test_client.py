"""The real mlflow client against runlog-server: what a training script
and a notebook do, read back exactly."""

import math
import struct

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def test_a_training_script_logs_and_reads_back(server):
    mlflow.set_experiment("mnist")
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_params({"lr": 0.01, "epochs": 3})
        mlflow.set_tags({"team": "vision"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1000 + step)
        mlflow.log_metrics({"acc": 0.9, "lr": 0.01}, step=4)
        run_id = run.info.run_id
    got = MlflowClient().get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.end_time is not None
    assert got.info.run_name == "baseline"
    assert got.data.params == {"lr": "0.01", "epochs": "3"}
    assert got.data.tags["team"] == "vision"
    assert got.data.metrics == {"loss": 0.2, "acc": 0.9, "lr": 0.01}
    history = MlflowClient().get_metric_history(run_id, "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (s, 1000 + s, 1.0 / (s + 1)) for s in range(5)
    ]


def test_log_batch_and_a_long_history_come_back_whole(server):
    client = MlflowClient()
    experiment = client.create_experiment("batches")
    run = client.create_run(experiment)
    n = 30_000
    for start in range(0, n, 1000):
        metrics = [
            Metric("x", float(i), 1_700_000_000_000 + i, i) for i in range(start, start + 1000)
        ]
        client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=[Param(f"p{start}", "v")] if start == 0 else [],
            tags=[RunTag("t", str(start))],
        )
    history = client.get_metric_history(run.info.run_id, "x")
    assert len(history) == n
    assert [m.step for m in history] == list(range(n))
    assert history[-1].value == float(n - 1)
    client.set_terminated(run.info.run_id, "FAILED")
    assert client.get_run(run.info.run_id).info.status == "FAILED"


def test_non_finite_values_and_negative_zero_are_exact(server):
    client = MlflowClient()
    run = client.create_run(client.create_experiment("floats"))
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
    for step, value in enumerate(values):
        client.log_metric(run.info.run_id, "v", value, step=step)
    got = [m.value for m in client.get_metric_history(run.info.run_id, "v")]
    assert [bits(v) for v in got] == [bits(v) for v in values]


def test_search_runs_and_experiments(server):
    mlflow.set_experiment("sweep")
    for lr, loss in [("0.1", 0.9), ("0.01", 0.4), ("0.001", 0.2)]:
        with mlflow.start_run(run_name=f"lr-{lr}"):
            mlflow.log_param("lr", lr)
            mlflow.log_metric("loss", loss)
            mlflow.set_tag("family", "sweep")
    experiment = mlflow.get_experiment_by_name("sweep")
    found = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string="metrics.loss < 0.5 AND params.lr != '0.001' AND tags.family = 'sweep'",
        output_format="list",
    )
    assert [r.info.run_name for r in found] == ["lr-0.01"]
    ordered = MlflowClient().search_runs([experiment.experiment_id], order_by=["metrics.loss ASC"])
    assert [r.data.metrics["loss"] for r in ordered] == [0.2, 0.4, 0.9]
    paged = MlflowClient().search_runs([experiment.experiment_id], max_results=2)
    assert len(paged) == 2 and paged.token
    rest = MlflowClient().search_runs(
        [experiment.experiment_id], max_results=2, page_token=paged.token
    )
    assert len(rest) == 1
    names = [e.name for e in MlflowClient().search_experiments()]
    assert "sweep" in names and "Default" in names
    client = MlflowClient()
    client.set_experiment_tag(experiment.experiment_id, "owner", "me")
    client.set_experiment_tag(experiment.experiment_id, "team", "vision")
    client.delete_experiment_tag(experiment.experiment_id, "owner")
    assert client.get_experiment(experiment.experiment_id).tags == {"team": "vision"}
    finished = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string="attributes.status = 'FINISHED' and attributes.run_name LIKE 'lr-0.0%'",
        output_format="list",
    )
    assert sorted(r.info.run_name for r in finished) == ["lr-0.001", "lr-0.01"]


def test_artifacts_round_trip_byte_for_byte(server, tmp_path):
    mlflow.set_experiment("artifacts")
    payload = bytes(range(256)) * 1000
    local = tmp_path / "weights.bin"
    local.write_bytes(payload)
    image = (np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5).astype(np.uint8)
    with mlflow.start_run() as run:
        mlflow.log_text("hello ✓", "notes/readme.txt")
        mlflow.log_artifact(str(local), artifact_path="model")
        mlflow.log_image(image, "samples/image.png")
        run_id = run.info.run_id
    client = MlflowClient()
    top = sorted(a.path for a in client.list_artifacts(run_id))
    assert top == ["model", "notes", "samples"]
    assert [a.path for a in client.list_artifacts(run_id, "model")] == ["model/weights.bin"]
    out = client.download_artifacts(run_id, "model/weights.bin", str(tmp_path / "down"))
    assert open(out, "rb").read() == payload
    text = client.download_artifacts(run_id, "notes/readme.txt", str(tmp_path / "down"))
    assert open(text, encoding="utf-8").read() == "hello ✓"
    png = client.download_artifacts(run_id, "samples/image.png", str(tmp_path / "down"))
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(png)), image)


def test_missing_things_are_the_clients_own_errors(server):
    client = MlflowClient()
    with pytest.raises(MlflowException) as missing_run:
        client.get_run("987654")
    assert missing_run.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as missing_experiment:
        client.get_experiment("424242")
    assert missing_experiment.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow.get_experiment_by_name("never made") is None
    with pytest.raises(MlflowException) as exists:
        client.create_experiment("Default")
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run = client.create_run("0")
    with pytest.raises(MlflowException) as bad:
        client.log_param(run.info.run_id, "k" * 300, "v")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
