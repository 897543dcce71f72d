"""Pre-flight step: reject a spec whose Keras names do not exist, before any I/O."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle.spec import PipelineSpec
from tasks.compile import check_compile_spec
from tasks.define import check_model_spec


def check_spec_names(spec: PipelineSpec) -> None:
    """Checks layer classes, the builder, the optimizer and the metrics.

    Raises:
        SpecError: The first name that Keras does not know, with the spec key.
    """
    check_model_spec(spec)
    check_compile_spec(spec)


@task(name="check-spec", task_run_name="check-spec-{spec.name}", cache_policy=NO_CACHE)
def check_spec(spec: PipelineSpec) -> None:
    """Prefect step around ``check_spec_names``; never retried."""
    check_spec_names(spec)
