"""The compiled model's questions: which reference fields point at an entity (its related lists)."""
from __future__ import annotations

from formloom.definitions.compile import compile_app


def test_the_related_lists_of_an_entity_are_the_reference_fields_pointing_at_it_in_document_order(
        make_app, make_workflow):
    workflow = make_workflow()
    app = compile_app(make_app({"key": "previous", "type": "reference", "entity": "deal", "label": "Previous"}),
                      {workflow["key"]: workflow})
    deal, visit = app.entity("deal"), app.entity("visit")
    assert app.referencing("deal") == ((deal, deal.field("previous")), (visit, visit.field("deal")))
    assert app.referencing("visit") == ()
    assert app.referencing("deal") is app.referencing("deal")       # worked out once per definition
