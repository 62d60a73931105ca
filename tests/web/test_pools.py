"""Claimable pools: the pool's roles list the records nobody owns and claim one (the
claimer becomes the owner, the record moves to the pool's claim stage); two claims at
once give one winner and a clear message to the other; a per-person limit is counted
in SQL; owners return a record with a required reason that the timeline shows.
Roles outside the pool cannot list, open or claim it (web and API)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from formloom.auth.users import load_actor
from formloom.collab.pools import AlreadyClaimed, claim
from formloom.store.records import get_record, utcnow
from formloom.store.tables import audit, events, stage_history

from .api_client import Api
from .conftest import Browser
from .leads import add_prospect, install_leads


@pytest.fixture
def reps(app):
    return install_leads(app.extensions["formloom.db"])


@pytest.fixture
def new(app, reps):
    db, catalog = app.extensions["formloom.db"], app.extensions["formloom.catalog"]
    return lambda data, owner=None: add_prospect(db, catalog, data, owner)


def as_(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(email).status_code == 302
    return browser


def api(app, user_id: int, lang: str | None = None) -> Api:
    from formloom.auth.tokens import create_token
    with app.extensions["formloom.db"].write() as conn:
        return Api(app.test_client(), create_token(conn, user_id, "t")[1], lang)


def record(app, record_id: int):
    catalog = app.extensions["formloom.catalog"]
    leads, _v = catalog.get("leads")
    with app.extensions["formloom.db"].read() as conn:
        return get_record(conn, leads, leads.entity("prospect"), record_id)


POOL = "/apps/leads/prospect/pool"


def test_a_rep_sees_the_pool_and_claims_a_record_which_becomes_theirs(app, reps, new):
    free = new({"name": "Free Inc"})
    new({"name": "Taken Ltd"}, owner=reps.bob)
    ann = as_(app, "ann@example.com")
    page = ann.get(POOL).get_data(as_text=True)
    assert "Free Inc" in page and "Taken Ltd" not in page and "You hold 0 of at most 2." in page
    assert 'href="/apps/leads/prospect/pool"' in ann.get("/apps/leads/prospect/").get_data(as_text=True)
    response = ann.post(f"/apps/leads/prospect/{free.id}/claim", token_from=POOL)
    assert response.status_code == 302 and response.location.endswith(f"/apps/leads/prospect/{free.id}")
    claimed = record(app, free.id)
    assert (claimed.owner_id, claimed.stage, claimed.version) == (reps.ann, "mine", 2)
    with app.extensions["formloom.db"].read() as conn:
        trail = conn.execute(select(audit.c.action, audit.c.changes).where(audit.c.record_id == free.id)
                             .order_by(audit.c.id)).all()
        moves = conn.execute(select(stage_history.c.from_stage, stage_history.c.to_stage)
                             .where(stage_history.c.record_id == free.id).order_by(stage_history.c.id)).all()
        kinds = conn.execute(select(events.c.type).where(events.c.record_id == free.id)).scalars().all()
    assert ("claim", {"$owner": [None, reps.ann]}) in [tuple(t) for t in trail]
    assert moves[-1] == ("open", "mine") and "stage_entered" in kinds
    assert "Free Inc" not in ann.get(POOL).get_data(as_text=True)
    detail = ann.get(f"/apps/leads/prospect/{free.id}").get_data(as_text=True)
    assert "claimed it from the pool" in detail and "Return to pool" in detail


def test_the_loser_of_a_claim_is_told_who_was_first_in_their_language(app, reps, new):
    free = new({"name": "Contested"})
    ann, bob = as_(app, "ann@example.com"), as_(app, "bob@example.com")
    bob_token = bob.csrf_token(POOL)                      # both had the pool open
    assert ann.post(f"/apps/leads/prospect/{free.id}/claim", token_from=POOL).status_code == 302
    response = bob.client.post(f"/apps/leads/prospect/{free.id}/claim", data={"csrf_token": bob_token})
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "Ann Rep" in page and "pool-refusal" in page
    assert "抢先领取" in page                               # Bob reads Chinese
    assert record(app, free.id).owner_id == reps.ann


def test_the_limit_per_person_is_counted_and_refused_with_the_count(app, reps, new):
    new({"name": "Mine 1"}, owner=reps.ann)
    new({"name": "Mine 2"}, owner=reps.ann)
    free = new({"name": "One too many"})
    answer = api(app, reps.ann).post(f"/api/v1/leads/prospect/{free.id}/claim")
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "pool_limit_reached"
    assert "2 of 2" in answer.get_json()["error"]["message"]
    assert record(app, free.id).owner_id is None
    assert api(app, reps.bob).post(f"/api/v1/leads/prospect/{free.id}/claim").status_code == 200


def test_returning_needs_a_reason_which_the_timeline_shows(app, reps, new):
    mine = new({"name": "Cold lead"}, owner=reps.ann)
    ann = as_(app, "ann@example.com")
    page_url = f"/apps/leads/prospect/{mine.id}"
    refused = ann.post(page_url + "/return", {"reason": "   "}, token_from=page_url)
    assert refused.status_code == 422 and "Say why you are returning this record" in refused.get_data(as_text=True)
    assert record(app, mine.id).owner_id == reps.ann
    done = ann.post(page_url + "/return", {"reason": "No budget this year"}, token_from=page_url)
    assert done.status_code == 302 and done.location.endswith(POOL)
    back = record(app, mine.id)
    assert (back.owner_id, back.stage) == (None, "open")
    detail = ann.get(page_url).get_data(as_text=True)
    assert "returned it to the pool" in detail and "Reason: No budget this year" in detail
    feed = api(app, reps.ann).get(f"/api/v1/leads/prospect/{mine.id}/activity?kind=change").get_json()["items"]
    assert feed[0]["action"] == "return" and feed[0]["reason"] == "No budget this year"


def test_api_return_without_reason_is_a_located_422_and_twice_is_409(app, reps, new):
    mine = new({"name": "Twice"}, owner=reps.ann)
    client = api(app, reps.ann, lang="zh")
    missing = client.post(f"/api/v1/leads/prospect/{mine.id}/return", json={"reason": ""})
    assert missing.status_code == 422 and missing.get_json()["errors"][0]["path"] == "/reason"
    assert client.post(f"/api/v1/leads/prospect/{mine.id}/return", json={"reason": "done"}).status_code == 200
    again = client.post(f"/api/v1/leads/prospect/{mine.id}/return", json={"reason": "done"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_claimed"


def test_a_role_outside_the_pool_cannot_list_open_or_claim_it(app, reps, new):
    free = new({"name": "Not for clerks"})
    clerk = as_(app, "clerk@example.com")
    assert clerk.get(POOL).status_code == 404
    assert clerk.get(f"/apps/leads/prospect/{free.id}").status_code == 404
    assert clerk.post(f"/apps/leads/prospect/{free.id}/claim", token_from="/").status_code == 404
    assert "Not for clerks" not in clerk.get("/apps/leads/prospect/").get_data(as_text=True)
    client = api(app, reps.clerk)
    assert client.get("/api/v1/leads/prospect/pool").status_code == 404
    assert client.post(f"/api/v1/leads/prospect/{free.id}/claim").status_code == 404
    assert record(app, free.id).owner_id is None


def test_claiming_or_returning_someone_elses_record_by_id_is_refused(app, reps, new):
    bobs = new({"name": "Bob's own"}, owner=reps.bob)
    client = api(app, reps.ann)
    assert client.post(f"/api/v1/leads/prospect/{bobs.id}/claim").status_code == 404     # not readable to Ann
    assert client.post(f"/api/v1/leads/prospect/{bobs.id}/return", json={"reason": "mine now"}).status_code == 404
    assert client.post("/api/v1/leads/prospect/999999/claim").status_code == 404
    assert record(app, bobs.id).owner_id == reps.bob


def test_the_api_pool_lists_unowned_records_without_hidden_fields(app, reps, new):
    new({"name": "Visible", "secret": "psst"})
    body = api(app, reps.ann).get("/api/v1/leads/prospect/pool?q=vis").get_json()
    assert [r["data"]["name"] for r in body["items"]] == ["Visible"]
    assert "secret" not in body["items"][0]["data"] and (body["held"], body["max_held"]) == (0, 2)
    assert api(app, reps.ann).get("/api/v1/leads/prospect/pool?bogus=1").status_code == 400
    assert api(app, reps.ann).get("/api/v1/leads/prospect/pool?q=" + "x" * 201).status_code == 400


def test_an_overlong_or_non_text_reason_is_a_400(app, reps, new):
    mine = new({"name": "Long story"}, owner=reps.ann)
    client = api(app, reps.ann)
    assert client.post(f"/api/v1/leads/prospect/{mine.id}/return", json={"reason": "x" * 1001}).status_code == 400
    assert client.post(f"/api/v1/leads/prospect/{mine.id}/return", json={"reason": 7}).status_code == 400
    assert client.post(f"/api/v1/leads/prospect/{mine.id}/return", json={"why": "x"}).status_code == 400
    assert record(app, mine.id).owner_id == reps.ann


def test_two_reps_racing_for_one_record_get_exactly_one_winner(app, reps, new):
    """Both claims run at once, each on its own connection; on PostgreSQL the second waits
    for the first's row lock and then finds the record owned (the guarded UPDATE)."""
    free = new({"name": "Race"})
    db, catalog = app.extensions["formloom.db"], app.extensions["formloom.catalog"]
    leads, _v = catalog.get("leads")
    with db.read() as conn:
        people = [load_actor(conn, reps.ann), load_actor(conn, reps.bob)]
    start, results = threading.Barrier(2), {}

    def attempt(actor):
        start.wait(timeout=30)
        try:
            with db.write() as conn:
                results[actor.id] = claim(conn, leads, leads.entity("prospect"), free.id, actor, now=utcnow()).owner_id
        except AlreadyClaimed as lost:
            results[actor.id] = lost

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [who for who, r in results.items() if not isinstance(r, Exception)]
    losers = [r for r in results.values() if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1 and len(losers) == 1
    assert record(app, free.id).owner_id == winners[0]
    assert "claimed this record first" in losers[0].message


def test_the_guarded_update_refuses_a_claim_that_read_the_record_before_the_winner_committed(app, reps, new,
                                                                                             database_url):
    """The loser's check ran before the winner committed: its UPDATE ... WHERE owner_id IS
    NULL waits on the row and then matches nothing. PostgreSQL only (SQLite serialises
    whole write transactions, so a second writer never reads before the first commits)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: set FORMLOOM_TEST_DATABASE_URL")
    free = new({"name": "Locked"})
    db, catalog = app.extensions["formloom.db"], app.extensions["formloom.catalog"]
    leads, _v = catalog.get("leads")
    entity = leads.entity("prospect")
    with db.read() as conn:
        ann, bob = load_actor(conn, reps.ann), load_actor(conn, reps.bob)
    ann_claimed, outcome = threading.Event(), {}

    def bob_claims():
        ann_claimed.wait(timeout=30)
        try:
            with db.write() as conn:
                claim(conn, leads, entity, free.id, bob, now=utcnow())
            outcome["bob"] = "won"
        except AlreadyClaimed as lost:
            outcome["bob"] = lost.message

    thread = threading.Thread(target=bob_claims)
    thread.start()
    with db.write() as conn:
        claim(conn, leads, entity, free.id, ann, now=utcnow())
        ann_claimed.set()
        with db.engine.connect() as watcher:     # hold the commit until Bob's UPDATE waits on the row lock
            for _ in range(3000):
                waiting = watcher.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                               "'Lock' AND query ILIKE 'UPDATE records%'")).scalar()
                if waiting:
                    break
                watcher.rollback()
    thread.join(timeout=60)
    assert waiting == 1
    assert outcome["bob"] == "Ann Rep claimed this record first."
    assert record(app, free.id).owner_id == reps.ann
