"""Lists: filters per type, sort, search, paging without counting, and scope in SQL."""
import pytest

from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.query import (Filter, ListQuery, QueryError, list_records, parse_list_args,
                                  record_and_related_lists, related_lists, related_records, search_titles)
from formloom.store.records import create_record, delete_record, find_record

from ..conftest import helpdesk_app


@pytest.fixture
def tickets(db, installed, make_user):
    app, _ = installed
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    with db.write() as conn:
        client = create_record(conn, app, app.entity("client"), {"name": "Acme"}, actor_id=None)
        for i in range(12):
            owner = alice if i % 2 == 0 else bob
            create_record(conn, app, app.entity("ticket"),
                          {"subject": f"Ticket {i:02d}", "client": client.id, "hours": i,
                           "priority": "high" if i % 3 == 0 else "low", "cost": f"{i * 10}.5",
                           "due": f"2026-12-{i + 1:02d}"}, actor_id=owner.id)
    return app, client, alice, bob


def titles(page):
    return [r.title for r in page.items]


def test_filters_on_two_fields_and_sorts_by_money(db, tickets):
    app, _, _, _ = tickets
    admin = None
    query = ListQuery(filters=(Filter("priority", "eq", "high"), Filter("hours", "gte", 3)), sort="-cost")
    with db.read() as conn:
        page = list_records(conn, app, app.entity("ticket"), _admin(app), query)
    assert titles(page) == ["Ticket 09", "Ticket 06", "Ticket 03"]


def _admin(app):
    from formloom.auth.users import Actor
    return Actor(id=0, email="root@example.com", name="root", is_superuser=True)


def test_money_sorts_numerically_not_as_text(db, tickets):
    app, *_ = tickets
    with db.read() as conn:
        page = list_records(conn, app, app.entity("ticket"), _admin(app), ListQuery(sort="cost", limit=3))
    assert titles(page) == ["Ticket 00", "Ticket 01", "Ticket 02"]


def test_pages_say_whether_there_is_more_without_counting(db, tickets):
    app, *_ = tickets
    with db.read() as conn:
        first = list_records(conn, app, app.entity("ticket"), _admin(app), ListQuery(sort="subject", limit=5))
        last = list_records(conn, app, app.entity("ticket"), _admin(app),
                            ListQuery(sort="subject", limit=5, offset=10))
    assert first.has_more and titles(first)[0] == "Ticket 00"
    assert not last.has_more and titles(last) == ["Ticket 10", "Ticket 11"]


def test_search_matches_the_title(db, tickets):
    app, *_ = tickets
    with db.read() as conn:
        page = list_records(conn, app, app.entity("ticket"), _admin(app), ListQuery(q="ticket 1"))
    assert sorted(titles(page)) == ["Ticket 10", "Ticket 11"]


def test_own_scope_lists_only_my_records(db, tickets):
    app, _, alice, _ = tickets
    with db.read() as conn:
        page = list_records(conn, app, app.entity("ticket"), alice, ListQuery(limit=50))
    assert len(page.items) == 6 and all(r.owner_id == alice.id for r in page.items)


def test_a_user_without_a_role_sees_nothing(db, tickets, make_user):
    app, *_ = tickets
    outsider = make_user("out@example.com", roles=())
    with db.read() as conn:
        assert list_records(conn, app, app.entity("ticket"), outsider, ListQuery()).items == []
        assert search_titles(conn, app, app.entity("client"), outsider, "") == []


def test_related_records_point_at_the_record(db, tickets):
    app, client, *_ = tickets
    via = app.entity("ticket").field("client")
    with db.read() as conn:
        related = related_records(conn, app, _admin(app), app.entity("ticket"), via, client.id, limit=100)
    assert len(related) == 12


@pytest.fixture
def referred(db, make_user):
    """Tickets pointing at two clients through three reference fields, one of them multiple:
    a client's page has three related lists."""
    doc = helpdesk_app()
    doc["entities"][1]["fields"] += [
        {"key": "referred_by", "type": "reference", "entity": "client", "label": "Referred by"},
        {"key": "also", "type": "reference", "entity": "client", "label": "Also", "multiple": True}]
    install_documents(db, doc, {})
    app, _ = AppCatalog(db).get("helpdesk")
    agent = make_user("agent@example.com")
    with db.write() as conn:
        acme, globex = (create_record(conn, app, app.entity("client"), {"name": name}, actor_id=None)
                        for name in ("Acme", "Globex"))
        for i in range(9):
            create_record(conn, app, app.entity("ticket"),
                          {"subject": f"Ticket {i}", "client": (acme, globex)[i % 2].id,
                           "referred_by": (acme, globex)[i % 3 == 0].id, "also": [acme.id] if i % 4 else []},
                          actor_id=agent.id if i % 2 else None)
    ticket = app.entity("ticket")
    lists = [(ticket, ticket.field(key)) for key in ("referred_by", "client", "also")]
    return app, lists, (acme, globex), agent


@pytest.mark.parametrize("reader", ["admin", "agent"])
@pytest.mark.parametrize("limit", [3, 20])
def test_related_lists_read_together_are_the_lists_read_one_by_one(db, referred, reader, limit):
    app, lists, clients, agent = referred
    actor = _admin(app) if reader == "admin" else agent
    with db.read() as conn:
        for client in clients:
            together = related_lists(conn, app, actor, lists, client.id, limit=limit)
            alone = [related_records(conn, app, actor, entity, via, client.id, limit=limit) for entity, via in lists]
            assert [[r.id for r in items] for items in together] == [[r.id for r in items] for items in alone]
            assert together == alone
    assert any(together)


def test_parse_list_args_understands_operators(installed):
    app, _ = installed
    entity = app.entity("ticket")
    query = parse_list_args(entity, {"hours__gte": "2", "priority": "high", "sort": "-due", "limit": "10"},
                            entity.fields)
    assert query.filters == (Filter("hours", "gte", 2.0), Filter("priority", "eq", "high"))
    assert query.sort == "-due" and query.limit == 10


@pytest.mark.parametrize("args", [
    {"nope": "1"}, {"hours__like": "1"}, {"hours": "abc"}, {"limit": "100000"}, {"limit": "-1"},
    {"sort": "password"}, {"sort": "hours; DROP TABLE records"}, {"due": "2024-02-30"}, {"offset": "x"},
])
def test_parse_list_args_refuses_bad_parameters_clearly(installed, args):
    app, _ = installed
    entity = app.entity("ticket")
    with pytest.raises(QueryError):
        parse_list_args(entity, args, entity.fields)


def test_hidden_fields_cannot_be_filtered_or_sorted(installed):
    app, _ = installed
    entity = app.entity("ticket")
    visible = [f for f in entity.fields if f.key != "cost"]
    with pytest.raises(QueryError):
        parse_list_args(entity, {"cost__gt": "0"}, visible)
    with pytest.raises(QueryError):
        parse_list_args(entity, {"sort": "cost"}, visible)


# -- totals: exact when cheap, estimated from statistics otherwise; blanks sort last ----------

from formloom.store.query import count_total, Total, where_clauses  # noqa: E402


def test_a_list_that_fits_the_bound_has_an_exact_total(db, tickets):
    app, _, alice, _ = tickets
    with db.read() as conn:
        first = list_records(conn, app, app.entity("ticket"), _admin(app), ListQuery(limit=5), with_total=True)
        mine = list_records(conn, app, app.entity("ticket"), alice, ListQuery(limit=5), with_total=True)
        high = list_records(conn, app, app.entity("ticket"), _admin(app),
                            ListQuery(filters=(Filter("priority", "eq", "high"),), limit=2, offset=2),
                            with_total=True)
    assert first.total == Total(12, "exact")
    assert mine.total == Total(6, "exact")
    assert high.total == Total(4, "exact")


def test_above_the_bound_the_total_is_an_estimate_never_a_full_count(db, tickets):
    """With the bound at 5, 12 tickets are "about N" (PostgreSQL: the planner's estimate;
    SQLite: the entity's size from ANALYZE) or "more than 5" where no statistics can say."""
    app, _, alice, _ = tickets
    db.analyze("records")
    entity = app.entity("ticket")
    with db.read() as conn:
        from formloom.store.query import where_clauses, _narrowed
        everything = count_total(conn, app, entity, where_clauses(conn, app, entity, _admin(app), ListQuery()),
                                 narrowed=False, exact_up_to=5)
        q = ListQuery(filters=(Filter("hours", "gte", 1),))
        filtered = count_total(conn, app, entity, where_clauses(conn, app, entity, alice, q),
                               narrowed=_narrowed(app, entity, alice, q), exact_up_to=3)
    assert everything.kind == "about" and everything.count >= 6
    if db.is_postgres:
        assert filtered.kind == "about" and filtered.count >= 4
    else:
        assert filtered == Total(3, "more")
        assert everything.count == 12


def test_without_statistics_a_big_list_says_more_than_the_bound(db, tickets):
    app, *_ = tickets
    entity = app.entity("ticket")
    with db.read() as conn:
        from formloom.store.query import where_clauses
        total = count_total(conn, app, entity, where_clauses(conn, app, entity, _admin(app), ListQuery()),
                            narrowed=False, exact_up_to=5)
    # PostgreSQL's planner always estimates (from defaults before ANALYZE)
    assert total == (Total(total.count, "about") if db.is_postgres else Total(5, "more"))


@pytest.mark.parametrize("sort", ["cost", "-cost", "due", "-due", "priority", "-priority"])
def test_blanks_sort_last_in_both_directions(db, tickets, sort):
    app, client, alice, _ = tickets
    with db.write() as conn:
        create_record(conn, app, app.entity("ticket"), {"subject": "Blank", "client": client.id}, actor_id=alice.id)
    with db.read() as conn:
        page = list_records(conn, app, app.entity("ticket"), _admin(app), ListQuery(sort=sort, limit=50))
    assert titles(page)[-1] == "Blank"
    assert len(page.items) == 13


def test_the_total_never_takes_unbounded_work(db, tickets, monkeypatch):
    """SQLite: a count that runs out of its step budget gives up ("more than" what the page
    showed) and the connection goes on working; PostgreSQL: when the planner expects far
    more rows than the bound, no count runs at all."""
    import formloom.store.query as query_module
    app, *_ = tickets
    entity = app.entity("ticket")
    monkeypatch.setattr(query_module, "COUNT_STEP_BUDGET", 1)
    db.analyze("records")
    with db.read() as conn:
        where = where_clauses(conn, app, entity, _admin(app), ListQuery())
        total = count_total(conn, app, entity, where, narrowed=True, exact_up_to=1, at_least=2)
        assert titles(list_records(conn, app, entity, _admin(app), ListQuery(sort="subject", limit=1))) == ["Ticket 00"]
    if db.is_postgres:
        assert total.kind == "about" and total.count >= 10
    else:
        assert total == Total(2, "more")


def test_user_fields_and_owners_are_filtered_by_name_or_email(db, make_user):
    from formloom.store.apps import AppCatalog
    from formloom.store.install import install_documents
    doc = {"key": "visits", "label": "Visits", "version": 1, "timezone": "UTC", "roles": ["admin", "rep"],
           "entities": [{"key": "visit", "label": "Visit", "title": "place",
                         "permissions": {"rep": {"create": True, "read": "all", "update": "own"}},
                         "fields": [{"key": "place", "type": "text", "label": "Place"},
                                    {"key": "host", "type": "user", "label": "Host"}]}]}
    install_documents(db, doc, {})
    app, _ = AppCatalog(db).get("visits")
    entity = app.entity("visit")
    ann = make_user("ann@example.com", roles=(("visits", "rep"),), name="Ann Lee")
    bo = make_user("bo@example.com", roles=(("visits", "rep"),), name="Bo Chen")
    with db.write() as conn:
        create_record(conn, app, entity, {"place": "Plant", "host": ann.id}, actor_id=bo.id)
        create_record(conn, app, entity, {"place": "Office", "host": bo.id}, actor_id=ann.id)
    with db.read() as conn:
        def find(**args):
            query = parse_list_args(entity, args, entity.fields)
            return titles(list_records(conn, app, entity, ann, query))
        assert find(host="Ann Lee") == find(host="ANN@example.com") == find(host=str(ann.id)) == ["Plant"]
        assert find(host__ne="ann lee") == ["Office"]
        assert find(host="me") == ["Plant"]                 # "me" is the person asking (Ann)
        assert find(owner="Bo Chen") == find(owner="bo@example.com") == ["Plant"]
        assert find(owner="me") == ["Office"]
        assert find(host="Nobody") == []


def test_titles_take_their_ids_as_one_value_however_many_there_are(db, tickets):
    """The statement's text is the same for 1 id and for 12 (no placeholder per id), and it
    answers exactly the readable records of each asked entity."""
    from sqlalchemy import event

    from formloom.store.query import titles_by_entity, titles_for

    app, client, alice, _ = tickets
    statements = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with db.read() as conn:
            ids = [r.id for r in list_records(conn, app, app.entity("ticket"), _admin(app),
                                              ListQuery(sort="subject")).items]
            statements.clear()
            one = titles_by_entity(conn, app, _admin(app), {"ticket": ids[:1]})
            many = titles_by_entity(conn, app, _admin(app), {"ticket": ids, "client": [client.id, ids[0], 10**12]})
            texts = list(statements)
            mine = titles_for(conn, app, app.entity("ticket"), alice, ids)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert one == {("ticket", ids[0]): "Ticket 00"}
    assert many == {("client", client.id): "Acme"} | {("ticket", i): f"Ticket {n:02d}" for n, i in enumerate(ids)}
    assert len(texts) == 2 and texts[0] == texts[1]
    assert sorted(mine.values()) == [f"Ticket {n:02d}" for n in range(0, 12, 2)]


@pytest.mark.parametrize("reader", ["admin", "agent"])
def test_the_record_read_with_its_related_lists_is_the_record_and_the_lists_read_apart(db, referred, reader):
    """For a reader who sees some list whole (the admin), one statement reads the record and
    those lists; the record is the live record of that entity or None, whoever reads it (the
    policy is the caller's)."""
    from sqlalchemy import event

    app, lists, clients, agent = referred
    actor = _admin(app) if reader == "admin" else agent
    client, ticket = app.entity("client"), app.entity("ticket")
    statements = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)
    with db.read() as conn:
        some_ticket = list_records(conn, app, ticket, _admin(app), ListQuery(limit=1)).items[0]
        for record_id in (clients[0].id, clients[1].id, some_ticket.id, 10**9):
            statements.clear()
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                record, together = record_and_related_lists(conn, app, client, actor, lists, record_id, limit=3)
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            assert record == find_record(conn, app, client, record_id)
            assert (record is not None) == (record_id in (clients[0].id, clients[1].id))     # a ticket's id: no client
            assert together == related_lists(conn, app, actor, lists, record_id, limit=3)
            if reader == "admin":       # two lists whole (one is multiple): the record rides with them
                assert len(statements) == 2
    with db.write() as conn:
        delete_record(conn, app, client, clients[1].id, actor_id=None)
    with db.read() as conn:
        record, together = record_and_related_lists(conn, app, client, actor, lists, clients[1].id, limit=3)
        assert record is None and together == related_lists(conn, app, actor, lists, clients[1].id, limit=3)


def test_titles_and_the_names_of_users_are_read_in_one_statement_for_a_reader_who_sees_every_record(
        db, tickets, make_user):
    """The same titles as `titles_by_entity` and the same names as `user_names` (name, else
    email; an unknown id has none), in one statement; a reader whose titles the policy judges
    row by row gets the titles alone (names None: the caller reads them)."""
    from sqlalchemy import event

    from formloom.auth.users import user_names
    from formloom.store.query import titles_and_names, titles_by_entity

    app, client, alice, bob = tickets
    named = make_user("named@example.com", name="Nora <Named>")
    statements = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)
    with db.read() as conn:
        ids = [r.id for r in list_records(conn, app, app.entity("ticket"), _admin(app), ListQuery(limit=5)).items]
        wanted = {"ticket": ids, "client": [client.id, 10**12]}
        people = [alice.id, named.id, 10**9, None]
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            titles, names = titles_and_names(conn, app, _admin(app), wanted, people)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert len(statements) == 1
        assert titles == titles_by_entity(conn, app, _admin(app), wanted) and len(titles) == 6
        assert names == user_names(conn, people) and set(names) == {alice.id, named.id}
        assert names[named.id] == "Nora <Named>"
        assert titles_and_names(conn, app, _admin(app), wanted) == (titles, None)      # no users asked
        assert titles_and_names(conn, app, _admin(app), {}, people) == ({}, None)       # no titles asked
        scoped, none = titles_and_names(conn, app, alice, wanted, people)
        assert none is None and scoped == titles_by_entity(conn, app, alice, wanted) != titles


def test_on_sqlite_titles_are_read_by_rowid_per_id(db):
    from formloom.store.query import _titles_query

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    with db.read() as conn:
        for every in (True, False):
            stmt, params = _titles_query("sqlite", every, [1, 2, 3])
            sql = str(stmt.compile(dialect=conn.dialect))
            plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (params["ids"],))]
            assert "SEARCH records USING INTEGER PRIMARY KEY (rowid=?)" in plan
