from __future__ import annotations

from typer.testing import CliRunner

from trendcast.cli import app
from trendcast.settings import Settings

runner = CliRunner()


def test_help_lists_every_pipeline_step() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("generate", "ingest", "build", "demo", "tables", "clean"):
        assert command in result.output


def test_clean_removes_the_state_dir(settings: Settings) -> None:
    (settings.state_path / "logs").mkdir(parents=True)
    (settings.state_path / "logs" / "x.log").write_text("x")
    result = runner.invoke(app, ["clean", "--yes"])
    assert result.exit_code == 0, result.output
    assert not settings.state_path.exists()


def test_errors_are_one_line_without_traceback(tmp_path) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "empty.csv" in result.output
