"""The stale badge's note (web.records.stale_note) is kept per language, stage label, day and
limit: it reads as the translation composed afresh, in English and Chinese."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from flask_babel import gettext

from formloom.definitions.model import Label
from formloom.web.records import _duration_words, stale_note


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_kept_note_reads_as_the_note_composed_afresh(app, language):
    stages = [SimpleNamespace(label=Label({"en": "Proposal", "zh": "方案"}), rot_after=after)
              for after in ("P14D", "PT36H", "P1M")]
    moments = [datetime(2026, 11, 2, 20, 0, tzinfo=timezone.utc), datetime(2026, 11, 3, 1, 0, tzinfo=timezone.utc)]
    with app.test_request_context("/", headers={"Accept-Language": language}):
        for _round in range(2):           # the second round from what the first kept
            for stage in stages:
                for moment in moments:
                    record = SimpleNamespace(stage_entered_at=moment)
                    desk = SimpleNamespace(key="desk", timezone="Asia/Shanghai")
                    expected = gettext("In %(stage)s since %(date)s — stale after %(limit)s",
                                       stage=stage.label.get(language),
                                       date=moment.astimezone(_shanghai()).strftime("%Y-%m-%d"),
                                       limit=_duration_words(stage.rot_after))
                    assert stale_note(stage, record, desk) == expected
        assert stale_note(None, SimpleNamespace(stage_entered_at=moments[0]), None) == \
            gettext("No stage change for longer than this stage allows")
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        zh = stale_note(stages[0], SimpleNamespace(stage_entered_at=moments[0]), desk)
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        en = stale_note(stages[0], SimpleNamespace(stage_entered_at=moments[0]), desk)
    assert zh != en and "方案" in zh and "Proposal" in en


def _shanghai():
    from zoneinfo import ZoneInfo
    return ZoneInfo("Asia/Shanghai")
