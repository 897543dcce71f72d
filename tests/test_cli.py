"""The command line: fast help, one-line errors."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from lifecycle.cli import app


def test_help_imports_no_heavy_package() -> None:
    code = (
        "import sys\n"
        "from lifecycle.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'prefect', 'great_expectations')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for command in ("train", "score", "run", "specs", "check"):
        assert command in done.stdout


def test_specs_lists_the_shipped_ones() -> None:
    result = CliRunner().invoke(app, ["specs"])
    assert result.exit_code == 0
    assert "wine" in result.output and "census_income" in result.output


def test_check_reports_a_bad_spec_in_one_line(tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("name: Bad Name\n")
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 2
    assert result.output.startswith("error: spec ")
