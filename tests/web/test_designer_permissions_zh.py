"""The permission grid names each dropdown for a screen reader in the reader's language:
"<role>: 查看", not "<role>: read" (the action's key). Found by the exploratory walk."""
from __future__ import annotations

import re

from .test_designer import CASE


def test_the_permission_dropdowns_are_named_in_chinese(as_admin):
    as_admin.post("/language", {"lang": "zh"})
    page = as_admin.get(CASE).get_data(as_text=True)
    labels = re.findall(r'<select name="[a-z_]+-(?:read|update|delete)" aria-label="([^"]+)"', page)
    assert labels and not [label for label in labels if re.search(r": (read|update|delete)$", label)]
    assert "agent: 查看" in labels and "viewer: 删除" in labels


def test_on_a_phone_every_cell_of_the_grid_and_the_versions_says_what_it_is(as_admin):
    """Phones show these tables as stacked cells (formloom.css `.compare td::before`, which
    prints the cell's data-label): without labels a role's four controls were four unnamed
    boxes, and a version's cells bare values."""
    as_admin.post("/language", {"lang": "zh"})
    grid = as_admin.get(CASE).get_data(as_text=True).split('class="compare permission-grid"')[1].split("</table>")[0]
    cells = re.findall(r"<td([^>]*)>", grid)
    assert cells and all("data-label=" in c for c in cells)
    assert re.findall(r'data-label="([^"]+)"', grid)[:4] == ["新建", "查看", "修改", "删除"]
    versions = as_admin.get("/apps/desk/design/versions").get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0]
    assert all(re.search(r'data-label="[^"]+"', c) for c in re.findall(r"<td[^>]*>", versions)[:5])
