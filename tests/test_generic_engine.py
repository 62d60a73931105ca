"""The engine knows no app: nothing in platform/ may name a CRM entity or field."""
import re
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "platform" / "formloom"
CRM_WORDS = re.compile(r"opportunit|customer|follow[_ -]?up|contract|payment|商机|客户|回款|跟进|合同", re.I)


def engine_files():
    return sorted(p for p in ENGINE.rglob("*") if p.suffix in {".py", ".html", ".json", ".js", ".po"})


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_engine_file_names_no_crm_entity(path):
    text = path.read_text(encoding="utf-8")
    assert not CRM_WORDS.findall(text), f"{path} mentions the CRM: {sorted(set(CRM_WORDS.findall(text)))}"
