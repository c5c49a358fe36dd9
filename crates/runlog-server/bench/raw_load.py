"""log-batch load with a light HTTP client, one process per client, so
that the Python mlflow client's own cost does not bound the server (on a
2-core machine the 32 client processes still share the cores with it).

    target/bench-venv/bin/python crates/runlog-server/bench/raw_load.py PORT [SECONDS]

Start the server first (runlog-server DIR --port PORT, or mlflow server).
Each call posts 100 points, pre-built, over one keep-alive connection.
"""

import http.client
import json
import multiprocessing
import sys
import time

HEADERS = {"Content-Type": "application/json"}


def worker(port: int, run_id: str, seconds: float, out) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies = []
    stop = time.monotonic() + seconds
    batch = 0
    while time.monotonic() < stop:
        metrics = [
            {
                "key": f"m{j % 10}",
                "value": float(j),
                "timestamp": 1_700_000_000_000 + batch,
                "step": batch * 10 + j // 10,
            }
            for j in range(100)
        ]
        body = json.dumps({"run_id": run_id, "metrics": metrics})
        started = time.perf_counter()
        conn.request("POST", "/api/2.0/mlflow/runs/log-batch", body, HEADERS)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        latencies.append(time.perf_counter() - started)
        batch += 1
    out.put(latencies)


def post(conn: http.client.HTTPConnection, path: str, body: dict) -> dict:
    conn.request("POST", f"/api/2.0/mlflow/{path}", json.dumps(body), HEADERS)
    return json.loads(conn.getresponse().read())


def run(port: int, clients: int, seconds: float) -> tuple[float, float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    experiment = post(conn, "experiments/create", {"name": f"raw-{time.time_ns()}"})
    runs = [
        post(conn, "runs/create", {"experiment_id": experiment["experiment_id"]})["run"]["info"][
            "run_id"
        ]
        for _ in range(clients)
    ]
    out = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=worker, args=(port, r, seconds, out)) for r in runs]
    started = time.monotonic()
    for w in workers:
        w.start()
    latencies = sorted(x for _ in workers for x in out.get())
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    return len(latencies) * 100 / elapsed, latencies[len(latencies) // 2], p99


if __name__ == "__main__":
    port = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    for clients in (1, 32):
        points, p50, p99 = run(port, clients, seconds)
        print(
            f"{clients} clients: {points:,.0f} points/s, p50 {p50 * 1e3:.2f} ms, "
            f"p99 {p99 * 1e3:.2f} ms"
        )
