"""A recipient kind added by touching only its own module: syntax, check and resolution."""
import copy

import pytest
from sqlalchemy import select

from formloom.auth.users import members_of
from formloom.automation.recipients import RecipientKind, register_recipient, unregister_recipient
from formloom.definitions.validate import validate_workflow
from formloom.store.tables import users

from .conftest import SUPPORT_APP, WORKFLOW, rule

CREATED = {"type": "record_created"}


def everyone_but(ctx, name):
    """Every member of the app's agent role except the user whose name is given."""
    excluded = ctx.conn.execute(select(users.c.id).where(users.c.name == name.title())).scalar()
    return [uid for uid, _ in members_of(ctx.conn, ctx.app.key, "agent") if uid != excluded]


def check_everyone_but(s, name, path, what, env):
    if name == "me":
        yield s.problem(*path, message="Write whom to leave out by name.")


@pytest.fixture
def everyone_but_kind():
    register_recipient(RecipientKind("agents_except", everyone_but, "NAME",
                                     label={"en": "Agents except", "zh": "除某人外的客服"},
                                     help={"en": "Every agent but one.", "zh": "除某人外的所有客服。"},
                                     check=check_everyone_but))
    yield
    unregister_recipient("agents_except")


def problems_of(to):
    workflow = copy.deepcopy(WORKFLOW) | {"rules": [rule("tell", CREATED, {"type": "notify", "to": to})]}
    return [(p.json_path, p.message) for p in validate_workflow(workflow, copy.deepcopy(SUPPORT_APP), "flow.json")]


def test_the_new_recipient_is_written_checked_and_resolved(desk_factory, everyone_but_kind):
    assert problems_of(["agents_except:ann"]) == []
    assert problems_of(["agents_except:me"]) == [("$.rules[0].actions[0].to[0]", "Write whom to leave out by name.")]
    desk = desk_factory([rule("tell", CREATED, {"type": "notify", "to": ["agents_except:ann"], "subject": "Hi"})])
    desk.create()
    desk.process()
    assert [len(desk.notes_for(n)) for n in ("ann", "bob", "cy", "boss")] == [0, 1, 1, 0]


def test_without_registration_the_recipient_is_refused():
    [(path, message)] = problems_of(["agents_except:ann"])
    assert path == "$.rules[0].actions[0].to[0]" and "is not a recipient: use owner, creator" in message
