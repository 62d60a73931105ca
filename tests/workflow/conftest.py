"""A recruiting app (not the CRM) with a hiring pipeline, users in each role, and
helpers to create candidates and interviews, so the stage engine is tested on
documents alone."""
from __future__ import annotations

import copy

import pytest

from formloom.auth.users import create_user, load_actor
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import create_record, get_record
from formloom.workflow import move_to_stage

RECRUITING_APP = {
    "key": "recruiting",
    "label": {"en": "Recruiting", "zh": "招聘"},
    "version": 1,
    "timezone": "Asia/Shanghai",
    "roles": ["admin", "manager", "recruiter", "viewer"],
    "entities": [
        {
            "key": "candidate",
            "label": {"en": "Candidate", "zh": "候选人"},
            "title": "name",
            "workflow": "hiring",
            "permissions": {"recruiter": {"create": True, "read": "own", "update": "own"},
                            "manager": {"create": True, "read": "all", "update": "all"},
                            "viewer": {"read": "all"}},
            "fields": [
                {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True},
                {"key": "cv_link", "type": "url", "label": {"en": "CV link", "zh": "简历链接"}},
                {"key": "score", "type": "number", "label": {"en": "Score", "zh": "评分"}, "min": 0, "max": 100},
                {"key": "salary", "type": "money", "label": {"en": "Salary", "zh": "薪资"}, "min": 0},
                {"key": "reason", "type": "text", "label": {"en": "Rejection reason", "zh": "拒绝原因"}},
                {"key": "source", "type": "select", "label": "Source", "options": ["referral", "job_board"]},
            ],
        },
        {
            "key": "interview",
            "label": {"en": "Interview", "zh": "面试"},
            "title": "notes",
            "permissions": {"recruiter": {"create": True, "read": "all", "update": "own"},
                            "manager": {"create": True, "read": "all", "update": "all"}},
            "fields": [
                {"key": "candidate", "type": "reference", "entity": "candidate", "label": "Candidate",
                 "required": True},
                {"key": "kind", "type": "select", "label": "Kind", "options": ["phone", "onsite"]},
                {"key": "rating", "type": "number", "label": "Rating", "min": 0, "max": 10},
                {"key": "notes", "type": "text", "label": "Notes"},
            ],
        },
    ],
}

HIRING = {
    "key": "hiring",
    "entity": "candidate",
    "label": {"en": "Hiring", "zh": "招聘流程"},
    "reopen_roles": ["manager"],
    "kanban": {"sum": "salary", "card_fields": ["score", "salary"]},
    "stages": [
        {"key": "applied", "label": {"en": "Applied", "zh": "已申请"}, "probability": 10, "rot_after": "P3D"},
        {"key": "screened", "label": {"en": "Screened", "zh": "已筛选"}, "probability": 20,
         "gate": {"require": ["cv_link"]}},
        {"key": "interviewed", "label": {"en": "Interviewed", "zh": "已面试"}, "probability": 50,
         "gate": {"related": [{"entity": "interview", "via": "candidate", "min": 2, "since": "stage_entered",
                               "message": {"en": "Hold at least 2 interviews in this stage",
                                           "zh": "本阶段至少需要两次面试"}}]}},
        {"key": "offer", "label": {"en": "Offer", "zh": "发出录用"}, "probability": 80, "required": ["salary"],
         "gate": {"conditions": [{"rule": {">=": [{"var": "score"}, 70]},
                                  "message": {"en": "Score must be at least 70", "zh": "评分需达到70分"}}],
                  "roles": ["manager"]}},
        {"key": "hired", "label": {"en": "Hired", "zh": "已录用"}, "terminal": "won", "probability": 100,
         "readonly": ["salary"]},
        {"key": "rejected", "label": {"en": "Rejected", "zh": "已拒绝"}, "terminal": "lost", "probability": 0,
         "from": ["*"], "gate": {"require": ["reason"]}},
    ],
}


def recruiting_app() -> dict:
    return copy.deepcopy(RECRUITING_APP)


def hiring_workflow() -> dict:
    return copy.deepcopy(HIRING)


@pytest.fixture
def install(db):
    """Install the recruiting app, optionally with a changed workflow; returns the AppDef."""
    def do(workflow: dict | None = None, app_doc: dict | None = None, validate_workflows: bool = True):
        install_documents(db, app_doc or recruiting_app(), {"hiring": workflow or hiring_workflow()},
                          validate_workflows=validate_workflows)
        return AppCatalog(db).get("recruiting")[0]
    return do


@pytest.fixture
def app(install):
    return install()


@pytest.fixture
def make_user(db, app):   # memberships need the app installed first
    def make(email: str, *roles: str):
        with db.write() as conn:
            user_id = create_user(conn, email, "password123", roles=[("recruiting", r) for r in roles])
            return load_actor(conn, user_id)
    return make


@pytest.fixture
def admin(make_user):
    return make_user("admin@example.com", "admin")


@pytest.fixture
def manager(make_user):
    return make_user("manager@example.com", "manager")


@pytest.fixture
def recruiter(make_user):
    return make_user("recruiter@example.com", "recruiter")


class Pipeline:
    """Small helpers over one installed app, so tests read like specifications."""

    def __init__(self, db, app):
        self.db, self.app = db, app
        self.candidates = app.entity("candidate")
        self.interviews = app.entity("interview")

    def candidate(self, actor=None, stage=None, **data):
        values = {"name": "Ada Lovelace", **data}
        with self.db.write() as conn:
            return create_record(conn, self.app, self.candidates, values, actor_id=actor.id if actor else None,
                                 stage=stage)

    def interview(self, candidate_id, actor=None, **data):
        with self.db.write() as conn:
            return create_record(conn, self.app, self.interviews, {"candidate": candidate_id, **data},
                                 actor_id=actor.id if actor else None)

    def move(self, record_id, stage, actor, **kw):
        with self.db.write() as conn:
            return move_to_stage(conn, self.app, self.candidates, record_id, stage, actor, **kw)

    def get(self, record_id):
        with self.db.read() as conn:
            return get_record(conn, self.app, self.candidates, record_id)


@pytest.fixture
def pipeline(db, app):
    return Pipeline(db, app)


@pytest.fixture
def make_pipeline(db, install):
    def make(workflow: dict, validate_workflows: bool = True):
        """`validate_workflows=False`: a workflow the validator refuses, to see what moves do with it."""
        return Pipeline(db, install(workflow, validate_workflows=validate_workflows))
    return make
