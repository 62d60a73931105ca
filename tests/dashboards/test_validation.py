"""Dashboard documents are checked like apps and workflows: the meta-schema, then what
each widget means against its app, every problem at its JSON path in a sentence; the
CLI validates an app folder's dashboards/ and install refuses a broken one."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from formloom.cli import main
from formloom.dashboards.checks import validate_dashboard
from formloom.definitions.problems import DocumentError
from formloom.definitions.validate import validate_paths
from formloom.store.install import install_path

from . import shop


def problems(widget=None, **doc):
    board = shop.board()
    if widget is not None:
        board["widgets"] = [{"key": "w", "type": "bar", "entity": "deal", **widget}]
    board.update(doc)
    return [(p.json_path, p.message) for p in validate_dashboard(board, shop.shop_app(), {"deal_flow": shop.deal_flow()},
                                                                 "board.json")]


def test_the_sample_dashboard_is_valid():
    assert problems() == []


def test_unknown_widget_type_is_a_schema_problem():
    found = problems({"type": "gauge", "measures": [{"agg": "count"}], "group": {"by": "$stage"}})
    assert found and found[0][0] == "$.widgets[0].type"


@pytest.mark.parametrize("widget, path, words", [
    ({"measures": [{"agg": "count"}], "group": {"by": "$stage"}, "filter": {"var": "amount"}},
     "$.widgets[0].filter", "uses 'var', which a dashboard filter cannot use"),
    ({"measures": [{"agg": "count", "filter": {"==": [{"var": "colour"}, "red"]}}], "group": {"by": "$stage"}},
     "$.widgets[0].measures[0].filter", "'colour', which is not a field"),
    ({"measures": [{"agg": "count"}], "group": {"by": "$stage"}, "filter": {"<": [{"var": "channel"}, 3]}},
     "$.widgets[0].filter", "only numbers and dates can be compared"),
    ({"measures": [{"agg": "count"}], "group": {"by": "$stage"}, "filter": {"<": [{"var": "due"}, "soon"]}},
     "$.widgets[0].filter", "with a date (YYYY-MM-DD)"),
    ({"measures": [{"agg": "sum", "field": "name"}], "group": {"by": "$stage"}},
     "$.widgets[0].measures[0].field", "'sum' needs a number, and 'name' is not one"),
    ({"measures": [{"agg": "sum", "field": "amout"}], "group": {"by": "$stage"}},
     "$.widgets[0].measures[0].field", "did you mean 'amount'?"),
    ({"measures": [{"agg": "avg"}], "group": {"by": "$stage"}}, "$.widgets[0].measures[0]", "needs a 'field'"),
    ({"measures": [{"agg": "ratio", "of": {"agg": "count"}}], "group": {"by": "$stage"}},
     "$.widgets[0].measures[0]", "A ratio needs 'per'"),
    ({"measures": [{"agg": "count"}], "group": {"by": "tags"}}, "$.widgets[0].group.by", "holds a list of values"),
    ({"measures": [{"agg": "count"}], "group": {"by": "closed_on"}}, "$.widgets[0].group", "needs a 'bucket'"),
    ({"measures": [{"agg": "count"}], "group": {"by": "channel", "bucket": "month"}},
     "$.widgets[0].group.bucket", "only dates are grouped in buckets"),
    ({"type": "line", "measures": [{"agg": "count"}], "group": {"by": "channel"}},
     "$.widgets[0].group", "A line widget runs over time"),
    ({"measures": [{"agg": "count"}]}, "$.widgets[0]", "needs a 'group'"),
    ({"type": "number", "measures": [{"agg": "count"}], "compare": True}, "$.widgets[0].compare", "needs 'date'"),
    ({"type": "number", "measures": [{"agg": "count"}], "date": "channel"}, "$.widgets[0].date", "is not a date"),
    ({"measures": [{"agg": "avg", "field": "$duration_days"}], "group": {"by": "$stage"}},
     "$.widgets[0].measures[0].field", "variable of this widget's source"),
    ({"entity": "dael", "measures": [{"agg": "count"}], "group": {"by": "$stage"}},
     "$.widgets[0].entity", "did you mean 'deal'?"),
    ({"entity": "account", "type": "funnel"}, "$.widgets[0].entity", "has no workflow"),
])
def test_meaning_problems_are_located_and_said(widget, path, words):
    found = problems({"type": "bar", **widget})
    assert any(p == path and words in m for p, m in found), found


def test_roles_must_be_the_apps():
    assert problems(roles=["lead", "boss"]) == [
        ("$.roles[1]", "The role 'boss' is not one of the app's roles (admin, lead, seller).")]


def test_widget_keys_are_unique():
    board = shop.board()
    board["widgets"].append(dict(board["widgets"][0]))
    found = validate_dashboard(board, shop.shop_app(), {"deal_flow": shop.deal_flow()}, "b.json")
    assert [p.json_path for p in found] == [f"$.widgets[{len(board['widgets']) - 1}].key"]


@pytest.fixture
def template(tmp_path) -> Path:
    folder = tmp_path / "shop"
    (folder / "workflows").mkdir(parents=True)
    (folder / "dashboards").mkdir()
    (folder / "app.json").write_text(json.dumps(shop.shop_app()))
    (folder / "workflows" / "deal_flow.json").write_text(json.dumps(shop.deal_flow()))
    (folder / "dashboards" / "board.json").write_text(json.dumps(shop.board()))
    return folder


def test_validate_paths_checks_the_dashboards_of_an_app_folder(template):
    assert validate_paths([template]) == []
    broken = shop.board()
    broken["widgets"][0]["measures"][0]["field"] = "amout"
    (template / "dashboards" / "board.json").write_text(json.dumps(broken))
    found = validate_paths([template])
    assert [(Path(p.source).name, p.json_path) for p in found] == [("board.json", "$.widgets[0].measures[0].field")]
    # the dashboard file alone is checked against the app it sits in
    assert [p.json_path for p in validate_paths([template / "dashboards" / "board.json"])] == [
        "$.widgets[0].measures[0].field"]


def test_a_dashboard_file_is_named_after_its_key(template):
    shutil.move(template / "dashboards" / "board.json", template / "dashboards" / "other.json")
    found = validate_paths([template])
    assert [(p.json_path, "named other.json" in p.message) for p in found] == [("$.key", True)]


def test_cli_validate_reports_dashboard_problems(template):
    (template / "dashboards" / "board.json").write_text('{"key": "board", "label": "B", "roles": [], "widgets": []}')
    result = CliRunner().invoke(main, ["validate", str(template)])
    assert result.exit_code != 0
    assert "$.widgets" in result.output


def test_install_refuses_a_broken_dashboard_and_keeps_dashboards_with_the_version(template, db):
    broken = shop.board()
    broken["widgets"][0]["filter"] = {"var": "x"}
    (template / "dashboards" / "board.json").write_text(json.dumps(broken))
    with pytest.raises(DocumentError) as refused:
        install_path(db, template)
    assert [p.json_path for p in refused.value.problems] == ["$.widgets[0].filter"]
    (template / "dashboards" / "board.json").write_text(json.dumps(shop.board()))
    first = install_path(db, template)
    assert first.version.documents["dashboards"]["board"]["key"] == "board"
    again = install_path(db, template)
    assert not again.changed
    changed = shop.board()
    changed["label"] = "Renamed"
    (template / "dashboards" / "board.json").write_text(json.dumps(changed))
    second = install_path(db, template)
    assert second.changed and second.version.number == first.version.number + 1


@pytest.mark.parametrize("widget, path, words", [
    ({"type": "pivot", "measures": [{"agg": "count"}], "group": {"by": "$stage"}},
     "$.widgets[0]", "needs 'across' (what its columns are)"),
    ({"type": "pivot", "measures": [{"agg": "count"}, {"agg": "sum", "field": "amount"}], "group": {"by": "$stage"},
      "across": {"by": "channel"}}, "$.widgets[0].measures", "shows one measure in its cells"),
    ({"type": "pivot", "measures": [{"agg": "median", "field": "amount"}], "group": {"by": "$stage"},
      "across": {"by": "channel"}}, "$.widgets[0].measures[0].agg", "cannot be medians"),
    ({"type": "pivot", "measures": [{"agg": "count"}], "group": {"by": "$stage"}, "across": {"by": "colour"}},
     "$.widgets[0].across.by", "'colour' is neither a field"),
    ({"type": "pivot", "measures": [{"agg": "count"}], "group": {"by": "$stage"}, "across": {"by": "due"}},
     "$.widgets[0].across", "needs a 'bucket'"),
    ({"measures": [{"agg": "count"}], "group": {"by": "$stage"}, "across": {"by": "channel"}},
     "$.widgets[0].across", "only for pivot widgets"),
])
def test_a_pivot_needs_columns_and_one_measure(widget, path, words):
    found = problems(widget)
    assert any(p == path and words in m for p, m in found), found


def test_a_pivot_with_rows_and_columns_is_valid():
    assert problems({"type": "pivot", "measures": [{"agg": "sum", "field": "amount"}], "group": {"by": "$owner"},
                     "across": {"by": "closed_on", "bucket": "quarter"}}) == []


def test_the_schema_names_every_registered_widget_kind():
    from formloom.dashboards.kinds import WIDGET_KINDS
    import formloom.definitions
    schema = json.loads((Path(formloom.definitions.__file__).parent / "schemas" / "dashboard.schema.json").read_text())
    assert schema["$defs"]["widget"]["properties"]["type"]["enum"] == list(WIDGET_KINDS)
