"""The workflow designer's edits below the web layer: stages are added, ordered,
relabelled and removed on the draft; a removed stage's records go where the draft
says, through the one stage guard, when it is published (with the reason in their
history); a draft gate is judged by the real gate code over live records; the
impact preview names removed stages and stricter gates; and any sequence of
designer operations yields a draft that validates or is refused with located
problems."""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from formloom.auth.users import create_user, load_actor
from formloom.definitions.compile import compile_app
from formloom.design import drafts, impact, workflow_edits as wfe
from formloom.design.edits import EditError
from formloom.design.gate_form import gate_sections, parse_gate
from formloom.design.gate_preview import blocked_by_gate
from formloom.design.stage_moves import records_per_stage
from formloom.errors import NotFoundError
from formloom.store.apps import AppCatalog, current_version
from formloom.store.install import install_documents
from formloom.store.records import create_record
from formloom.workflow import stage_history_rows

from ..web.desk import desk_app

FLOW = {
    "key": "case_flow", "entity": "case", "label": "Case flow",
    "stages": [
        {"key": "open", "label": {"en": "Open", "zh": "待处理"}},
        {"key": "working", "label": {"en": "Working", "zh": "处理中"}},
        {"key": "closed", "label": {"en": "Closed", "zh": "已关闭"}, "terminal": "won"},
    ],
}


def app_doc() -> dict:
    """The desk app with visits pointing at cases (for related-record gates)."""
    doc = desk_app()
    doc["entities"].append({"key": "visit", "label": {"en": "Visit", "zh": "拜访"}, "title": "note",
                            "fields": [{"key": "note", "type": "text", "label": "Note"},
                                       {"key": "case", "type": "reference", "entity": "case", "label": "Case"}]})
    return doc


@pytest.fixture
def desk(db):
    install_documents(db, app_doc(), {"case_flow": copy.deepcopy(FLOW)})
    with db.write() as conn:
        admin = create_user(conn, "admin@example.com", "pw-pw-pw-1", name="Ada", roles=[("desk", "admin")])
    return db, admin


def documents(db) -> dict:
    with db.read() as conn:
        live = current_version(conn, "desk")
    return {"app": copy.deepcopy(live.documents["app"]), "workflows": copy.deepcopy(live.documents["workflows"])}


def save(db, docs: dict, user_id: int) -> drafts.Draft:
    with db.write() as conn:
        draft = drafts.open_draft(conn, "desk", user_id)
        return drafts.save_draft(conn, "desk", docs, draft.revision, user_id)


def make_cases(db, admin: int, stage: str, n: int, **data) -> list[int]:
    app = AppCatalog(db).app("desk")
    entity = app.entity("case")
    with db.write() as conn:
        actor = load_actor(conn, admin)
        ids = [create_record(conn, app, entity, {"subject": f"Case {i}", **data}, actor_id=admin, stage=stage).id
               for i in range(n)]
    del actor
    return ids


def stages(docs: dict) -> list[str]:
    return [s["key"] for s in docs["workflows"]["case_flow"]["stages"]]


# -- edits ------------------------------------------------------------------------------------------------

def test_a_new_stage_goes_before_the_outcomes_and_keys_never_repeat(desk):
    docs = wfe.add_stage(documents(desk[0]), "case_flow", "review", {"en": "Review", "zh": "复核"})
    assert stages(docs) == ["open", "working", "review", "closed"]
    with pytest.raises(EditError):
        wfe.add_stage(docs, "case_flow", "review", "Again")
    assert drafts.check_draft(docs) == []


def test_stages_are_reordered_by_drag_order_and_by_arrows(desk):
    docs = wfe.order_stages(documents(desk[0]), "case_flow", ["working", "open"])
    assert stages(docs) == ["working", "open", "closed"]
    assert stages(wfe.move_stage(docs, "case_flow", "closed", -1)) == ["working", "closed", "open"]


def test_stage_settings_are_set_and_emptied(desk):
    docs = wfe.update_stage(documents(desk[0]), "case_flow", "working",
                            {"probability": 40, "rot_after": "P3D", "required": ["due"], "color": "#123456"})
    working = docs["workflows"]["case_flow"]["stages"][1]
    assert working["rot_after"] == "P3D" and working["required"] == ["due"] and working["probability"] == 40
    docs = wfe.update_stage(docs, "case_flow", "working", {"required": None, "probability": 0})
    working = docs["workflows"]["case_flow"]["stages"][1]
    assert "required" not in working and working["probability"] == 0
    with pytest.raises(EditError):
        wfe.update_stage(docs, "case_flow", "working", {"key": "x"})


def test_a_bad_setting_is_a_located_problem(desk):
    docs = wfe.update_stage(documents(desk[0]), "case_flow", "working", {"required": ["nope"], "color": "red"})
    paths = {p.json_path for p in drafts.check_draft(docs)}
    assert "$.stages[1].required[0]" in paths and "$.stages[1].color" in paths


def test_removing_a_stage_records_where_its_records_go_and_chains_follow(desk):
    docs = wfe.remove_stage(documents(desk[0]), "case_flow", "working", "open")
    assert docs["stage_moves"] == {"case_flow": {"working": "open"}}
    with pytest.raises(EditError):           # the records of "working" would have nowhere to go
        wfe.remove_stage(docs, "case_flow", "open", None)
    docs = wfe.add_stage(docs, "case_flow", "triage", "Triage")
    docs = wfe.remove_stage(docs, "case_flow", "open", "triage")
    assert docs["stage_moves"]["case_flow"] == {"working": "triage", "open": "triage"}
    with pytest.raises(NotFoundError):
        wfe.remove_stage(docs, "case_flow", "closed", "gone")


def test_removing_a_stage_named_in_from_drops_it_there(desk):
    docs = wfe.update_stage(documents(desk[0]), "case_flow", "closed", {"from": ["working"]})
    docs = wfe.remove_stage(docs, "case_flow", "working", None)
    assert "from" not in docs["workflows"]["case_flow"]["stages"][-1]
    assert drafts.check_draft(docs) == []


# -- publishing a removal ------------------------------------------------------------------------------

def test_publishing_moves_the_records_of_a_removed_stage_through_the_guard(desk):
    db, admin = desk
    ids = make_cases(db, admin, "working", 3)
    docs = wfe.remove_stage(documents(db), "case_flow", "working", "open")
    draft = save(db, docs, admin)
    with db.read() as conn:
        preview = impact.preview(conn, current_version(conn, "desk").documents, draft.documents)
    removed = [c for c in preview.changes if c.kind == "stage_removed"]
    assert [(c.records, c.target.get("en")) for c in removed] == [(3, "Open")]
    assert not preview.blocked
    drafts.publish_draft(db, "desk", revision=draft.revision, user_id=admin, comment=None,
                         move_reason=lambda w, a, b: f"{a} went away; now {b}")
    with db.read() as conn:
        assert records_per_stage(conn, "desk", "case") == {"open": 3}
        history = stage_history_rows(conn, ids[0])
    assert [(h.from_stage, h.to_stage, h.override_reason) for h in history][-1] == (
        "working", "open", "working went away; now open")


def test_a_removed_stage_holding_records_with_nowhere_to_go_is_refused(desk):
    db, admin = desk
    make_cases(db, admin, "working", 1)
    docs = documents(db)
    docs["workflows"]["case_flow"]["stages"].pop(1)          # as an uploaded draft might
    draft = save(db, docs, admin)
    with db.read() as conn:
        assert impact.preview(conn, current_version(conn, "desk").documents, draft.documents).blocked
    with pytest.raises(drafts.PublishRefused):
        drafts.publish_draft(db, "desk", revision=draft.revision, user_id=admin, comment=None)


# -- gates ---------------------------------------------------------------------------------------------

GATE = {"require": ["due"], "related": [{"entity": "visit", "via": "case", "min": 1,
                                         "message": {"en": "Log a visit", "zh": "记录一次拜访"}}]}


def test_a_draft_gate_counts_the_records_in_earlier_stages_it_would_block(desk):
    db, admin = desk
    blocked_ids = make_cases(db, admin, "open", 2)
    make_cases(db, admin, "closed", 1)                        # a later stage: not counted
    docs = wfe.set_gate(documents(db), "case_flow", "working", GATE)
    app = compile_app(docs["app"], docs["workflows"])
    with db.read() as conn:
        found = blocked_by_gate(conn, app, "case_flow", "working")
    assert (found.blocked, found.scanned) == (2, 2)
    assert {rid for rid, _title in found.examples} == set(blocked_ids)


def test_the_impact_preview_names_a_stricter_gate_with_its_count(desk):
    db, admin = desk
    make_cases(db, admin, "open", 2, due="2026-01-01")
    draft = save(db, wfe.set_gate(documents(db), "case_flow", "working", GATE), admin)
    with db.read() as conn:
        preview = impact.preview(conn, current_version(conn, "desk").documents, draft.documents)
    stricter = [c for c in preview.changes if c.kind == "gate_stricter"]
    assert [(c.key, c.records, c.before_count) for c in stricter] == [("case_flow.working", 2, 0)]


class Form(dict):
    def getlist(self, key):
        value = self.get(key)
        return value if isinstance(value, list) else ([] if value is None else [value])


def test_the_gate_form_has_a_section_per_registered_kind_and_parses_back(desk):
    sections = gate_sections(GATE, "en", fields=(("due", "Due"),), roles=(("agent", "agent"),))
    from formloom.workflow.gates import GATE_REQUIREMENTS
    assert [s.name for s in sections] == list(GATE_REQUIREMENTS)
    by = {s.name: s for s in sections}
    assert by["require"].widget == "keys" and by["require"].value == ["due"]
    assert by["related"].widget == "rows" and len(by["related"].rows) == 2       # one item and a spare row
    gate, errors = parse_gate(Form({
        "g-require": ["due"], "g-related-rows": "2", "g-related-0-entity": "visit", "g-related-0-via": "case",
        "g-related-0-min": "1", "g-related-0-message-en": "Log a visit", "g-related-0-message-zh": "记录一次拜访",
        "g-conditions-rows": "1", "g-conditions-0-rule": "{not json"}), "en")
    assert gate["require"] == ["due"] and gate["related"] == GATE["related"]
    assert "conditions-0-rule" in errors


def test_a_new_gate_kind_gets_its_section_without_designer_changes(desk):
    from formloom.workflow.gates import RequirementKind, register_requirement, unregister_requirement
    register_requirement(RequirementKind("checklist", lambda c: (), schema={"type": "object"},
                                         label={"en": "Checklist", "zh": "清单"}))
    try:
        sections = gate_sections({"checklist": {"a": 1}}, "zh", fields=(), roles=())
        checklist = next(s for s in sections if s.name == "checklist")
        assert checklist.label == "清单" and checklist.widget == "json" and '"a": 1' in checklist.value
        gate, errors = parse_gate(Form({"g-checklist": '{"b": 2}'}), "en")
        assert gate["checklist"] == {"b": 2} and not errors
    finally:
        unregister_requirement("checklist")


# -- any sequence of operations ------------------------------------------------------------------------

KEYS = st.sampled_from(["open", "working", "closed", "review", "x1"])
OPS = st.one_of(
    st.tuples(st.just("add"), KEYS),
    st.tuples(st.just("remove"), KEYS, st.one_of(st.none(), KEYS)),
    st.tuples(st.just("move"), KEYS, st.sampled_from([-1, 1])),
    st.tuples(st.just("order"), st.lists(KEYS, max_size=5)),
    st.tuples(st.just("set"), KEYS, st.sampled_from(["probability", "rot_after", "terminal", "from", "required",
                                                     "color"]),
              st.sampled_from([0, 150, "P3D", "soon", "won", ["*"], ["open"], ["due"], ["ghost"], "#fff", None])),
    st.tuples(st.just("gate"), KEYS, st.sampled_from([GATE, {"require": ["ghost"]}, {"roles": ["nobody"]},
                                                      {"related": [{"entity": "visit", "via": "note"}]}, {}])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, max_size=8))
def test_any_sequence_of_designer_operations_validates_or_is_refused_with_located_problems(desk, ops):
    docs = documents(desk[0])
    for op in ops:
        try:
            if op[0] == "add":
                docs = wfe.add_stage(docs, "case_flow", op[1], {"en": op[1]})
            elif op[0] == "remove":
                docs = wfe.remove_stage(docs, "case_flow", op[1], op[2])
            elif op[0] == "move":
                docs = wfe.move_stage(docs, "case_flow", op[1], op[2])
            elif op[0] == "order":
                docs = wfe.order_stages(docs, "case_flow", op[1])
            elif op[0] == "set":
                docs = wfe.update_stage(docs, "case_flow", op[1], {op[2]: op[3]})
            else:
                docs = wfe.set_gate(docs, "case_flow", op[1], op[2])
        except (EditError, NotFoundError):
            continue                           # refused with a sentence: the draft is unchanged
    problems = drafts.check_draft(docs)
    for p in problems:
        assert p.json_path.startswith("$") and p.message
    if not problems:
        app = compile_app(docs["app"], docs["workflows"])
        moves = docs.get("stage_moves", {}).get("case_flow", {})
        assert all(app.workflows["case_flow"].stage(t) is not None for t in moves.values())
