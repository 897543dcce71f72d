"""The nightly schedule means 02:00 wall-clock time in its zone, across DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from deployments.apply import DEFAULT_CONFIG, ScheduleSpec, load_config
from lifecycle.errors import SpecError

BERLIN = ZoneInfo("Europe/Berlin")


def _nightly() -> ScheduleSpec:
    return load_config(DEFAULT_CONFIG).pipelines["wine"].training


class TestNightlySchedule:
    def test_shipped_schedule_is_two_in_berlin(self) -> None:
        assert _nightly() == ScheduleSpec(cron="0 2 * * *", timezone="Europe/Berlin")

    def test_spring_forward(self) -> None:
        # 2027-03-28: clocks jump from 02:00 to 03:00, so 02:00 does not exist and
        # that night's run is at 03:00 CEST, as the deployments file documents.
        runs = _nightly().next_runs(3, after=datetime(2027, 3, 26, 12, tzinfo=BERLIN))
        assert [(r.day, r.hour, r.minute) for r in runs] == [
            (27, 2, 0),
            (28, 3, 0),
            (29, 2, 0),
        ]
        assert [r.utcoffset().total_seconds() / 3600 for r in runs] == [1, 2, 2]

    def test_fall_back(self) -> None:
        # 2027-10-31: 02:00 happens twice; there is one run, at the first (CEST).
        runs = _nightly().next_runs(3, after=datetime(2027, 10, 29, 12, tzinfo=BERLIN))
        assert [(r.day, r.hour) for r in runs] == [(30, 2), (31, 2), (1, 2)]
        assert [r.utcoffset().total_seconds() / 3600 for r in runs] == [2, 2, 1]

    def test_unknown_time_zone_is_refused(self, tmp_path) -> None:
        config = tmp_path / "d.yaml"
        config.write_text(
            "pipelines:\n  wine:\n    spec: wine\n"
            "    training: {cron: '0 2 * * *', timezone: Europe/Berlinn}\n"
            "    scoring: {cron: '0 6 * * *', timezone: UTC, input: x.parquet}\n"
        )
        with pytest.raises(
            SpecError,
            match=r"pipelines\.wine\.training\.timezone: "
            r"unknown IANA time zone 'Europe/Berlinn'",
        ):
            load_config(config)


class TestDeploymentsFile:
    def test_invalid_cron_is_refused(self, tmp_path) -> None:
        config = tmp_path / "d.yaml"
        config.write_text(
            "pipelines:\n  wine:\n    spec: wine\n"
            "    training: {cron: '99 2 * * *', timezone: UTC}\n"
            "    scoring: {cron: '0 6 * * *', timezone: UTC, input: x.parquet}\n"
        )
        with pytest.raises(SpecError, match=r"invalid cron expression '99 2 \* \* \*'"):
            load_config(config)

    @pytest.mark.parametrize(
        "text, message",
        [("pipelines: [", r"cannot read it as YAML"), ("- a\n- b\n", r"got list")],
    )
    def test_unreadable_file(self, tmp_path, text: str, message: str) -> None:
        config = tmp_path / "d.yaml"
        config.write_text(text)
        with pytest.raises(SpecError, match=message):
            load_config(config)

    def test_missing_file(self, tmp_path) -> None:
        with pytest.raises(SpecError, match=r"cannot read it as YAML"):
            load_config(tmp_path / "absent.yaml")
