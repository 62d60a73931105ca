"""`formloom import`: the --json contract and the exit status, run as a real subprocess
would see it (click's runner, the real database)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from formloom.cli import main

from .conftest import write_csv, write_xlsx


@pytest.fixture
def cli(database_url, shop, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr
    return invoke


def test_json_object_and_exit_status(cli, people, tmp_path):
    path = write_csv(tmp_path / "p.csv", [["Reference", "Amount", "Priority"], ["J-1", "1,000", "High"],
                                          ["J-2", "lots", "High"], ["J-3", "3", "Mega"]])
    code, out, _err = cli("import", "shop", "purchase", path, "--dry-run", "--json", "--mode", "skip-bad-rows")
    assert code == 1
    assert json.loads(out) == {"created": 1, "updated": 0, "skipped": 0, "failed": 2, "errors": [
        {"row": 3, "column": "Amount", "value": "lots", "message": "'lots' is not an amount of money."},
        {"row": 4, "column": "Priority", "value": "Mega", "message": "'Mega' is not one of the options: Low, High."}]}
    good = write_xlsx(tmp_path / "good.xlsx", [["单号", "金额"], ["J-1", 1000], ["J-2", 2.5]])
    code, out, _err = cli("import", "shop", "purchase", good, "--json", "--upsert-by", "ref")
    assert code == 0 and json.loads(out) == {"created": 2, "updated": 0, "skipped": 0, "failed": 0, "errors": []}
    code, out, _err = cli("import", "shop", "purchase", good, "--json", "--upsert-by", "ref")
    assert code == 0 and json.loads(out)["skipped"] == 2


def test_as_a_user_and_in_chinese(cli, people, add, tmp_path):
    add("supplier", {"name": "Theirs"}, people["other"])
    path = write_csv(tmp_path / "p.csv", [["Reference", "Supplier"], ["K-1", "Theirs"]])
    code, out, _err = cli("import", "shop", "purchase", path, "--json", "--as", "clerk@example.com", "--lang", "zh")
    assert code == 1 and json.loads(out)["errors"][0]["message"] == "没有你可查看的名为 'Theirs' 的供应商。"
    code, _out, err = cli("import", "shop", "purchase", path, "--as", "ghost@example.com")
    assert code == 1 and "no active user" in err and "Traceback" not in err


def test_refusals_are_one_line(cli, people, tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("a,b\n1,2\n")
    code, _out, err = cli("import", "shop", "purchase", path)
    assert code == 1 and err.startswith("Error: Import an .xlsx or .csv file")
    csv_path = write_csv(tmp_path / "p.csv", [["Reference"], ["X"]])
    code, _out, err = cli("import", "shop", "purchase", csv_path, "--upsert-by", "note")
    assert code == 1 and "not a unique field" in err
    code, _out, err = cli("import", "shop", "nope", csv_path)
    assert code == 1 and "There is no nope here." in err
