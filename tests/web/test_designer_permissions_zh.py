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
