"""A reference to a record the viewer may not read shows its id and no link: the link
answered 404 (the demo's finance user met "#437" on a contract, pointing at a deal they
may not open). Found by the exploratory walk of the demo."""
from __future__ import annotations

import re

from .test_scoped_references import Lab, lab, sams  # noqa: F401  (the same small app and people)


def test_an_unreadable_reference_is_shown_as_its_id_without_a_link(lab: Lab, sams):
    client, project = sams
    own_client = lab.create("client", lab.rita, name="Rita's client")
    memo = lab.create("memo", lab.rita, text="Rita's memo", project=project.id, client=own_client.id)
    rita = lab.browser("rita@example.com")
    detail = rita.get(f"/apps/lab/memo/{memo.id}").get_data(as_text=True)
    assert f"#{project.id}" in detail
    assert f"/apps/lab/project/{project.id}\"" not in detail           # no link to a page that answers 404
    assert rita.get(f"/apps/lab/project/{project.id}").status_code == 404
    assert re.search(rf'href="/apps/lab/client/{own_client.id}"', detail)   # a readable one stays a link
    listing = rita.get("/apps/lab/memo/?cols=text,project,client").get_data(as_text=True)
    assert f"/apps/lab/project/{project.id}\"" not in listing and f"#{project.id}" in listing
