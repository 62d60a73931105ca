"""docs/extending.md's examples are the code of the extension tests, word for word."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_TESTS = ["tests/fields/test_extension_type.py", "tests/automation/test_extension_action.py",
                 "tests/automation/test_extension_recipient.py", "tests/workflow/test_extension_gate.py",
                 "tests/web/test_extension_gate_dialog.py", "tests/web/test_field_widgets.py"]


def test_every_example_is_code_from_an_extension_test():
    doc = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    sources = [(ROOT / path).read_text(encoding="utf-8") for path in EXAMPLE_TESTS]
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) >= 5
    for block in blocks:
        lines = [line for line in block.splitlines() if line.strip()]
        assert any(all(line in source for line in lines) and _dedented(block) in _dedented(source)
                   for source in sources), f"this example is not in the tests:\n{block}"


def _dedented(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
