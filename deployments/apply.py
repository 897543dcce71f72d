"""Applies the deployments of ``deployments.yaml`` to a Prefect server.

For each pipeline: ``nightly-retraining-<pipeline>`` (the training flow on a cron
schedule in an explicit IANA time zone, one run at a time) and
``batch-scoring-<pipeline>`` (the scoring flow on its own schedule, also triggered
by the ``lifecycle.model.promoted`` event of that pipeline). Both run on a process
work pool; the work pool and the pipeline's promotion lock are created if missing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lifecycle.errors import LifecycleError, SpecError
from lifecycle.locks import promotion_lock_name
from lifecycle.spec import load_spec
from tasks.promote import PROMOTED_EVENT

logger = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = Path(__file__).resolve().with_name("deployments.yaml")
# Environment of every flow-run process the worker starts.
JOB_VARIABLES = {
    "env": {"TF_CPP_MIN_LOG_LEVEL": "2", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleSpec(_Strict):
    """A cron schedule in wall-clock time of an explicit IANA time zone.

    Attributes:
        cron: A five-field cron expression.
        timezone: An IANA zone such as "Europe/Berlin"; required, so that a
            schedule means local time and follows daylight saving.
    """

    cron: str = Field(pattern=r"^\S+ \S+ \S+ \S+ \S+$")
    timezone: str

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=value)
        except ValueError:
            raise ValueError(
                f"invalid cron expression {value!r}; expected five fields such as "
                "'0 2 * * *' (minute hour day month weekday)"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown IANA time zone {value!r}; use a name such as "
                "'Europe/Berlin' or 'UTC'"
            ) from None
        return value

    def next_runs(self, count: int, after: datetime) -> list[datetime]:
        """Returns the next run times, as Prefect's scheduler computes them."""
        from prefect.server.schemas.schedules import CronSchedule

        schedule = CronSchedule(cron=self.cron, timezone=self.timezone)
        dates = asyncio.run(schedule.get_dates(n=count, start=after))
        return [date.astimezone(ZoneInfo(self.timezone)) for date in dates]


class ScoringSpec(ScheduleSpec):
    """The batch-scoring schedule and the rows it scores.

    Attributes:
        input: The new rows (file, glob or folder), relative to the project.
    """

    input: str


class PipelineDeployments(_Strict):
    """One pipeline's two deployments.

    Attributes:
        spec: A spec file or a shipped spec's name.
        source: Training table instead of the spec's. Defaults to None.
        test_source: Held-out table instead of the spec's. Defaults to None.
        training: The nightly retraining schedule.
        scoring: The batch scoring schedule and input.
    """

    spec: str
    source: str | None = None
    test_source: str | None = None
    training: ScheduleSpec = Field(
        default_factory=lambda: ScheduleSpec(cron="0 2 * * *", timezone="UTC")
    )
    scoring: ScoringSpec


class DeploymentsConfig(_Strict):
    """The whole ``deployments.yaml``.

    Attributes:
        work_pool: A process work pool's name. Defaults to "lifecycle-process".
        data_dir: Output root of the deployed runs. Defaults to "data".
        pipelines: Deployments by pipeline.
    """

    work_pool: str = "lifecycle-process"
    data_dir: str = "data"
    pipelines: dict[str, PipelineDeployments] = Field(min_length=1)


def load_config(path: Path = DEFAULT_CONFIG, **overrides: Any) -> DeploymentsConfig:
    """Reads ``deployments.yaml``; keyword overrides replace top-level keys.

    Raises:
        SpecError: The file breaks the schema; names the key and the value.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read it as YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(
            f"{path}: expected a mapping at the top level; got {type(raw).__name__}"
        )
    raw.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return DeploymentsConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise SpecError(
            f"{path}: {key}: {message}; got {first.get('input')!r}"
            + (f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else "")
        ) from None


def _ensure_work_pool(name: str) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
            logger.info("created process work pool %r", name)


def _ensure_promotion_lock(pipeline: str) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    name = promotion_lock_name(pipeline)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=1)
            )
            logger.info("created global concurrency limit %r (1 slot)", name)


def training_deployment_name(pipeline: str) -> str:
    return f"nightly-retraining-{pipeline}"


def scoring_deployment_name(pipeline: str) -> str:
    return f"batch-scoring-{pipeline}"


def _deploy(
    flow: Any,
    entrypoint: str,
    name: str,
    config: DeploymentsConfig,
    project_dir: Path,
    **options: Any,
) -> UUID:
    """Deploys a flow from the project folder to the process work pool."""
    return flow.from_source(source=str(project_dir), entrypoint=entrypoint).deploy(
        name=name,
        work_pool_name=config.work_pool,
        # One run of a deployment at a time; the next waits for the slot.
        concurrency_limit=1,
        job_variables=JOB_VARIABLES,
        # Code runs from the project folder as it is: nothing to build or push.
        build=False,
        push=False,
        print_next_steps=False,
        ignore_warnings=True,
        **options,
    )


def apply(
    config: DeploymentsConfig, project_dir: Path = PROJECT_DIR
) -> dict[str, UUID]:
    """Creates or replaces every deployment of the config on the current server.

    Args:
        config: The deployments to apply.
        project_dir: The folder the worker runs the flows from. Defaults to this
            project's folder.

    Returns:
        Deployment name to id.

    Raises:
        SpecError: A pipeline's spec is invalid, or its key differs from the
            spec's name; checked for all of them before anything is applied.
        LifecycleError: No server is configured, or it cannot be reached.
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise LifecycleError(
            "PREFECT_API_URL is not set: deployments go to a running Prefect "
            "server; start one and export its API address (see the README)"
        )
    # Check every pipeline before touching the server, so nothing is half applied.
    for key, pipeline in config.pipelines.items():
        name = load_spec(pipeline.spec).name
        if name != key:
            raise SpecError(
                f"deployments: pipelines.{key} runs spec {pipeline.spec!r}, whose "
                f"name is {name!r}; use the spec's name as the key"
            )
    try:
        return _apply(config, project_dir)
    except httpx.ConnectError as exc:
        raise LifecycleError(
            f"cannot reach the Prefect server at {url}: {exc}; start it first"
        ) from exc


def _apply(config: DeploymentsConfig, project_dir: Path) -> dict[str, UUID]:
    from prefect.events import DeploymentEventTrigger
    from prefect.schedules import Cron

    from flows.scoring import scoring_flow
    from flows.training import training_flow

    _ensure_work_pool(config.work_pool)
    data_dir = str((project_dir / config.data_dir).resolve())
    applied: dict[str, UUID] = {}
    for name, pipeline in config.pipelines.items():
        _ensure_promotion_lock(name)
        applied[training_deployment_name(name)] = _deploy(
            training_flow,
            "flows/training.py:training_flow",
            training_deployment_name(name),
            config,
            project_dir,
            schedules=[
                Cron(pipeline.training.cron, timezone=pipeline.training.timezone)
            ],
            parameters={
                "spec": pipeline.spec,
                "source": pipeline.source,
                "test_source": pipeline.test_source,
                "data_dir": data_dir,
            },
            tags=["lifecycle", name, "training"],
            description=f"Nightly retraining of {name}, gated promotion.",
        )
        applied[scoring_deployment_name(name)] = _deploy(
            scoring_flow,
            "flows/scoring.py:scoring_flow",
            scoring_deployment_name(name),
            config,
            project_dir,
            schedules=[Cron(pipeline.scoring.cron, timezone=pipeline.scoring.timezone)],
            triggers=[
                DeploymentEventTrigger(
                    name=f"{name}-promoted",
                    expect={PROMOTED_EVENT},
                    match={"prefect.resource.id": f"lifecycle.model.{name}"},
                )
            ],
            parameters={
                "spec": pipeline.spec,
                "input": str((project_dir / pipeline.scoring.input).resolve()),
                "data_dir": data_dir,
            },
            tags=["lifecycle", name, "scoring"],
            description=f"Batch scoring of {name} with its champion.",
        )
        logger.info("applied the deployments of %s", name)
    return applied
