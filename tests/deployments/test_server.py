"""Deployments on a real Prefect server on 127.0.0.1, run by a real process worker.

The server and the worker are started by the fixtures on a free port and stopped
afterwards. Nightly retraining is triggered through the API; its promotion event
must trigger batch scoring, which must score with the new champion. A second,
deliberately worse run must be registered but not promoted.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from tasks.load import read_bundled

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORK_POOL = "lifecycle-test-pool"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on 127.0.0.1 with its own home folder; yields its env."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": url,
        "PREFECT_UI_API_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(BIN / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).json() is True:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (home / "server.log").read_text()[-2000:]
                pytest.fail(f"Prefect server did not start: {tail}")
            time.sleep(1)
        yield env
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="module")
def deployed(
    server: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Applies the wine deployments into a temporary data folder; starts a worker."""
    folder = tmp_path_factory.mktemp("deployed")
    incoming = folder / "incoming.parquet"
    read_bundled("wine").drop(columns=["cultivar"]).head(40).to_parquet(incoming)
    config = {
        "work_pool": WORK_POOL,
        "data_dir": str(folder / "data"),
        "pipelines": {
            "wine": {
                "spec": "wine",
                "training": {"cron": "0 2 * * *", "timezone": "Europe/Berlin"},
                "scoring": {
                    "cron": "0 6 * * *",
                    "timezone": "Europe/Berlin",
                    "input": str(incoming),
                },
            }
        },
    }
    config_path = folder / "deployments.yaml"
    config_path.write_text(yaml.safe_dump(config))
    subprocess.run(
        [str(BIN / "lifecycle"), "deploy", "--config", str(config_path)],
        env=server,
        cwd=PROJECT,
        check=True,
        timeout=300,
    )
    log = (folder / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", WORK_POOL],
        env=server,
        cwd=PROJECT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield {
            "env": server,
            "data": folder / "data",
            "incoming": incoming,
            "log": folder / "worker.log",
        }
    finally:
        _stop(worker)
        log.close()


def _api(deployed: dict[str, Any]) -> Any:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    return temporary_settings(
        updates={PREFECT_API_URL: deployed["env"]["PREFECT_API_URL"]}
    )


def _wait(flow_run_id: Any, deployed: dict[str, Any], timeout: float = 420) -> Any:
    from prefect import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(2)
    pytest.fail(
        f"flow run {flow_run_id} did not finish: {deployed['log'].read_text()[-3000:]}"
    )


def _scoring_runs(client: Any, deployment_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
    )


def _artifacts(client: Any, flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    found = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
        )
    )
    return {artifact.key: artifact for artifact in found}


def _promoted_versions(client: Any, timeout: float = 60) -> list[str]:
    """The versions named by promotion events, once the server has stored them."""
    query = {
        "filter": {
            "event": {"name": ["lifecycle.model.promoted"]},
            "any_resource": {"id": ["lifecycle.model.wine"]},
        }
    }
    deadline = time.monotonic() + timeout
    while True:
        events = client.request("POST", "/events/filter", json=query).json()["events"]
        # Events are stored asynchronously; wait for them rather than race them.
        if events or time.monotonic() > deadline:
            return [event["resource"]["lifecycle.version"] for event in events]
        time.sleep(2)


def _newest_predictions(data: Path) -> pd.DataFrame:
    files = sorted(
        (data / "wine" / "predictions").rglob("*.parquet"),
        key=lambda p: p.stat().st_mtime,
    )
    assert files, "no predictions were written"
    return pd.read_parquet(files[-1])


class TestNightlyRetraining:
    def test_promotion_triggers_scoring_with_the_new_champion(
        self, deployed: dict[str, Any]
    ) -> None:
        from prefect import get_client
        from prefect.deployments import run_deployment

        from lifecycle.layout import PipelineLayout
        from lifecycle.registry import ModelRegistry

        with _api(deployed), get_client(sync_client=True) as client:
            scoring = client.read_deployment_by_name("scoring/batch-scoring-wine")
            before = len(_scoring_runs(client, scoring.id))
            started = run_deployment("training/nightly-retraining-wine", timeout=0)
            run = _wait(started.id, deployed)
            assert run.state.is_completed(), run.state
            assert run.name.startswith("train-wine-")

            registry = ModelRegistry(PipelineLayout.of(deployed["data"], "wine"))
            champion = registry.require_champion()
            assert registry.decision(champion)["promote"] is True

            found = _artifacts(client, run.id)
            assert {
                "wine-validation",
                "wine-training-progress",
                "wine-training-curves",
                "wine-evaluation",
                "wine-promotion",
                "wine-saved-model",
            } <= set(found)
            assert found["wine-training-progress"].data == 100.0
            assert "promoted to champion" in found["wine-promotion"].data
            assert champion in found["wine-evaluation"].data

            deadline = time.monotonic() + 300
            triggered: list[Any] = []
            while time.monotonic() < deadline:
                runs = _scoring_runs(client, scoring.id)
                triggered = [r for r in runs if r.state and r.state.is_final()]
                if len(runs) > before and triggered:
                    break
                time.sleep(3)
            assert triggered and triggered[0].state.is_completed(), triggered
            assert set(_newest_predictions(deployed["data"])["model_version"]) == {
                champion
            }
            assert _promoted_versions(client) == [champion]

    def test_worse_model_is_registered_not_promoted(
        self, deployed: dict[str, Any]
    ) -> None:
        from prefect import get_client
        from prefect.deployments import run_deployment

        from lifecycle.layout import PipelineLayout
        from lifecycle.registry import ModelRegistry

        registry = ModelRegistry(PipelineLayout.of(deployed["data"], "wine"))
        champion = registry.require_champion()
        with _api(deployed), get_client(sync_client=True) as client:
            started = run_deployment(
                "training/nightly-retraining-wine", parameters={"epochs": 1}, timeout=0
            )
            run = _wait(started.id, deployed)
            assert run.state.is_completed(), run.state

            newest = registry.versions()[-1]
            assert newest != champion
            assert registry.decision(newest)["promote"] is False
            assert registry.champion() == champion
            summary = _artifacts(client, run.id)["wine-promotion"].data
            assert "registered, not promoted" in summary
            assert "beyond the tolerance" in summary

            scored = run_deployment("scoring/batch-scoring-wine", timeout=0)
            assert _wait(scored.id, deployed).state.is_completed()
            assert set(_newest_predictions(deployed["data"])["model_version"]) == {
                champion
            }

    def test_scoring_waits_while_a_promotion_is_in_flight(
        self, deployed: dict[str, Any], tmp_path: Path
    ) -> None:
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        from prefect.deployments import run_deployment

        from lifecycle.locks import promotion_lock_name

        def resolve_states(client: Any, run_id: Any) -> list[str]:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            return [
                r.state.type.value for r in runs if r.name.startswith("resolve-model")
            ]

        # Another process holds the slot a promotion holds, as a training run would.
        hold, ready = tmp_path / "hold", tmp_path / "ready"
        hold.touch()
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _HOLD_SLOT,
                promotion_lock_name("wine"),
                str(hold),
                str(ready),
            ],
            env=deployed["env"],
        )
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                assert holder.poll() is None and time.monotonic() < deadline
                time.sleep(0.5)
            with _api(deployed), get_client(sync_client=True) as client:
                scored = run_deployment("scoring/batch-scoring-wine", timeout=0)
                deadline = time.monotonic() + 180
                while not resolve_states(client, scored.id):
                    assert time.monotonic() < deadline, deployed["log"].read_text()[
                        -3000:
                    ]
                    time.sleep(1)
                time.sleep(5)
                assert resolve_states(client, scored.id) == ["RUNNING"]
                assert not client.read_flow_run(scored.id).state.is_final()
                hold.unlink()
                assert _wait(scored.id, deployed).state.is_completed()
                assert resolve_states(client, scored.id) == ["COMPLETED"]
        finally:
            hold.unlink(missing_ok=True)
            holder.wait(timeout=60)


_HOLD_SLOT = """
import sys, time
from pathlib import Path
from prefect.concurrency.sync import concurrency
name, hold, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
with concurrency(name, occupy=1):
    ready.touch()
    while hold.exists():
        time.sleep(0.2)
"""
