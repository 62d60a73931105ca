"""The command line: every command has help, fails with one line, never a traceback."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from formloom.cli import main
from formloom.resources import template_dir

from .conftest import helpdesk_app


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    return invoke


@pytest.mark.parametrize("command", [[], ["init"], ["install"], ["validate"], ["run"], ["demo"], ["user", "add"],
                                     ["analyze"]])
def test_every_command_has_help(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_validate_accepts_the_shipped_crm_template(cli):
    result = cli("validate", template_dir("crm"))
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output


def test_validate_lists_every_problem_with_its_path(cli, tmp_path):
    doc = helpdesk_app()
    doc["entities"][0]["title"] = "nmae"
    doc["entities"][1]["fields"][1]["type"] = "texxt"
    path = tmp_path / "app.json"
    path.write_text(json.dumps(doc))
    result = cli("validate", path)
    assert result.exit_code == 1
    assert "$.entities[0].title" in result.output and "$.entities[1].fields[1]" in result.output
    assert "Traceback" not in result.output


def test_validate_reports_malformed_json_with_line_and_column(cli, tmp_path):
    path = tmp_path / "app.json"
    path.write_text('{\n  "key": "x",\n  "label": \n}')
    result = cli("validate", path)
    assert result.exit_code == 1 and "line 4" in result.output


def test_validate_missing_file_is_one_line(cli, tmp_path):
    result = cli("validate", tmp_path / "nope.json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2


def test_init_then_install_then_reinstall(cli, tmp_path):
    assert cli("init").exit_code == 0
    (tmp_path / "helpdesk").mkdir()
    (tmp_path / "helpdesk" / "app.json").write_text(json.dumps(helpdesk_app()))
    first = cli("install", tmp_path / "helpdesk")
    assert first.exit_code == 0 and "version 1" in first.output
    again = cli("install", tmp_path / "helpdesk")
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_install_refuses_a_bad_document_in_one_line_per_problem(cli, tmp_path):
    doc = helpdesk_app()
    doc["timezone"] = "Mars/Olympus"
    (tmp_path / "app.json").write_text(json.dumps(doc))
    result = cli("install", tmp_path / "app.json")
    assert result.exit_code == 1 and "Mars/Olympus" in result.output and "Traceback" not in result.output


def test_install_refuses_a_broken_workflow_with_located_problems(cli, tmp_path):
    """Workflows are checked on install like the app: each problem names its file and place."""
    import shutil
    folder = tmp_path / "helpdesk"
    shutil.copytree(Path(__file__).parent / "apps" / "helpdesk", folder)
    flow_path = folder / "workflows" / "ticket_flow.json"
    flow = json.loads(flow_path.read_text())
    flow["stages"][1]["gate"]["require"] = ["queue", "sevrity"]
    flow_path.write_text(json.dumps(flow))
    assert cli("init").exit_code == 0
    result = cli("install", folder)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "ticket_flow.json" in result.output and "$.stages[1].gate.require" in result.output
    assert "sevrity" in result.output


def test_user_add_refuses_a_bad_role_spec(cli):
    result = cli("user", "add", "a@example.com", "--password", "password123", "--role", "crm")
    assert result.exit_code == 1 and "APP:ROLE" in result.output


def test_user_add_refuses_a_role_the_app_does_not_declare(cli):
    cli("demo", "--no-serve")
    result = cli("user", "add", "a@example.com", "--password", "password123", "--role", "crm:pilot")
    assert result.exit_code == 1 and "no role 'pilot'" in result.output


def test_user_add_then_duplicate_is_refused(cli):
    cli("demo", "--no-serve")
    assert cli("user", "add", "a@example.com", "--password", "password123", "--role", "crm:sales").exit_code == 0
    again = cli("user", "add", "A@example.com", "--password", "password123")
    assert again.exit_code == 1 and "already exists" in again.output


def test_demo_without_serving_seeds_the_crm(cli):
    result = cli("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5000/" in result.output and "password" in result.output


def _taken_port():
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


@pytest.mark.parametrize("command", [["demo"], ["run"]])
def test_a_taken_port_is_one_line_with_the_fix(cli, command):
    sock, port = _taken_port()
    try:
        result = cli(*command, "--port", port)
    finally:
        sock.close()
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert f"--port {port + 1}" in lines[0] and f"make demo PORT={port + 1}" in lines[0]
    assert "Traceback" not in result.output


def test_make_demo_passes_port_and_host(tmp_path):
    import shutil
    import subprocess
    if shutil.which("make") is None:
        pytest.fail("make is needed to check the Makefile")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(["make", "-n", "-C", str(root), "demo", "PORT=5101", "HOST=0.0.0.0"],
                         capture_output=True, text=True, check=True).stdout
    assert "formloom demo --host 0.0.0.0 --port 5101" in out
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "make demo PORT=5101" in readme


def test_analyze_refreshes_the_statistics(cli):
    assert cli("init").exit_code == 0
    result = cli("analyze")
    assert result.exit_code == 0 and "Statistics refreshed." in result.output
