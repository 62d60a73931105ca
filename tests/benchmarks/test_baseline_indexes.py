"""The baseline's opportunity table carries the indexes Formloom gives the CRM's opportunity,
no more and no fewer (issue 16: the same indexes on both sides), so a ratio compares engines,
not index choices."""
from __future__ import annotations

from benchmarks.baseline_app import Opportunity
from formloom.definitions.compile import compile_app
from formloom.resources import template_dir
from formloom.store.index_policy import wanted_indexes
from formloom.store.install import read_template

#: what `records` indexes per entity on its own columns, outside the field policy
RECORD_COLUMNS = {"name", "stage", "owner_id", "updated_at"}


def test_the_baseline_indexes_the_columns_formloom_indexes():
    app_doc, workflows, _source = read_template(template_dir("crm"))
    crm = compile_app(app_doc, workflows)
    wanted = {w.field.key + ("_id" if w.field.type == "reference" else "")
              for w in wanted_indexes(crm) if w.entity.key == "opportunity"}
    indexed = {c.name for c in Opportunity.__table__.columns if c.index}
    assert indexed - RECORD_COLUMNS == wanted
