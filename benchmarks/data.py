"""Bulk data for the benchmarks: the same opportunities (with customers, contacts and
follow-ups) written both into Formloom's `records` table, in the stored form Formloom's
field types use (money as "123.45" text, dates as ISO text, references as ids, the
formula results computed), and into the baseline's real columns.

Loading is an import: executemany on SQLite, COPY on PostgreSQL, in chunks (bounded
memory), with Formloom's expression indexes dropped during a large load and rebuilt
by Formloom's own `create_indexes` afterwards. Formloom's statistics are then refreshed by
the engine itself (`store.statistics.refresh_if_moved`, what the worker and imports call:
no manual ANALYZE of `records`); the baseline's own tables are analyzed. Customer names also get their rows in
`unique_values`, as Formloom's uniqueness needs. Never part of `make test`.

Data is deterministic: opportunity number i always gets the same values, so the
database can grow in tranches (10k -> 100k -> 1M) and each size holds the smaller one.

Special ranges of opportunity numbers (all inside the first 10,000):
  [0, HOT)              3 follow-ups each, an audit row and a stage-history row (detail pages)
  [MOVE_START, MOVE_END) initial_contact, gate of needs_confirmed satisfied (stage moves)
  [SWEEP_START, SWEEP_END) in "proposal" since 10 days (due "proposal_silence_48h" reminders)

    python -m benchmarks.data load --url URL --start 0 --end 10000 [--version-id N]
    python -m benchmarks.data import-rate --url URL --n 500
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterator

APP = "crm"
HOT = 2000
MOVE_START, MOVE_END = 2000, 6000
SWEEP_START, SWEEP_END = 6000, 8000
CUSTOMERS_PER = 20                  # one customer (and one contact) per 20 opportunities
CHUNK = 20_000
FIRST = 10_000                      # the first tranche (every special range is inside it)
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)

SOURCES = ["expo", "referral", "website", "cold_call", "partner", "ad"]
RISKS = ["low", "medium", "high", None]
INDUSTRIES = ["manufacturing", "retail", "it", "finance", "healthcare", "education", "logistics", "energy", "other"]
REGIONS = ["east", "north", "south", "central", "west", "northeast", "overseas"]
#: customers' addresses, in Chinese like a Chinese sales team's data (global search's CJK queries)
CITIES = ["上海市浦东新区", "北京市朝阳区", "深圳市南山区", "杭州市西湖区", "广州市天河区", "成都市高新区", "苏州工业园区"]
LOST = ["price", "competitor", "budget", "timing", "no_decision", "other"]
KINDS = ["call", "visit", "meeting", "email", "demo"]
STAGE_WEIGHTS = [("initial_contact", 30), ("needs_confirmed", 20), ("proposal", 15), ("quotation", 10),
                 ("negotiation", 8), ("won", 9), ("lost", 8)]
_STAGES = [k for k, w in STAGE_WEIGHTS for _ in range(w)]
WORDS = ["MES upgrade", "ERP rollout", "CRM renewal", "Data platform", "Warehouse robots", "Cloud migration",
         "Security audit", "POS terminals", "Training program", "IoT sensors", "Fleet tracking", "HR system"]


# -- ids ----------------------------------------------------------------------------------------------------

class Layout:
    """Record ids of one tranche [start, end): each tranche takes the ids above everything
    already stored (so records created through the web between loads never collide).
    Formloom's records share one id space; the baseline tables each have their own."""

    def __init__(self, start: int, end: int, rec_base: int = 1, bl_bases: dict | None = None):
        self.start, self.end = start, end
        self.c_start, self.c_end = start // CUSTOMERS_PER, (end + CUSTOMERS_PER - 1) // CUSTOMERS_PER
        self.j_start = follow_ups_first(start)
        nc, no = self.c_end - self.c_start, end - start
        self.rec_base, self.nc, self.no = rec_base, nc, no
        self.bl = bl_bases or {"customer": 1, "contact": 1, "opportunity": 1, "follow_up": 1}

    def f_customer(self, c: int) -> int: return self.rec_base + (c - self.c_start)
    def f_contact(self, c: int) -> int: return self.rec_base + self.nc + (c - self.c_start)
    def f_opp(self, i: int) -> int: return self.rec_base + 2 * self.nc + (i - self.start)
    def f_follow(self, j: int) -> int: return self.rec_base + 2 * self.nc + self.no + (j - self.j_start)
    def b_customer(self, c: int) -> int: return self.bl["customer"] + (c - self.c_start)
    def b_contact(self, c: int) -> int: return self.bl["contact"] + (c - self.c_start)
    def b_opp(self, i: int) -> int: return self.bl["opportunity"] + (i - self.start)
    def b_follow(self, j: int) -> int: return self.bl["follow_up"] + (j - self.j_start)


def follow_ups_first(start: int) -> int:
    return 3 * start if start < HOT else 3 * HOT + start


def follow_ups_of(i: int) -> list[int]:
    """Follow-up numbers of opportunity i."""
    if i < HOT:
        return [3 * i, 3 * i + 1, 3 * i + 2]
    return [3 * HOT + i] if i % 10 == 0 else []


def lead_score(need: int, budget_fit: int, authority: int, timing: int):
    """As Formloom's formula stores it (Decimal arithmetic; whole numbers as int)."""
    s = Decimal(need) * Decimal("0.3") + Decimal(budget_fit) * Decimal("0.3") + Decimal(authority) * Decimal("0.2") \
        + Decimal(timing) * Decimal("0.2")
    return (int(s) if s == s.to_integral_value() else float(s)), s


def tier(score: Decimal) -> str:
    return "A" if score >= 80 else ("B" if score >= 60 else "C")


# -- generation -----------------------------------------------------------------------------------------------

def opportunity(i: int, owners: list[int], now: datetime) -> dict:
    """Everything about opportunity i (deterministic)."""
    r = random.Random(i * 7919 + 17)
    c = i // CUSTOMERS_PER
    created = now - timedelta(days=r.uniform(11, 400))
    updated = created + timedelta(days=r.uniform(0, 10))
    stage = _STAGES[r.randrange(len(_STAGES))]
    need, budget_fit, authority, timing = (r.randint(0, 100) for _ in range(4))
    cents = r.randint(1_000_00, 2_000_000_00)
    d = {
        "name": f"{WORDS[i % len(WORDS)]} #{i}", "customer": c, "decision_maker": c if r.random() < 0.6 else None,
        "contacts": [c] if r.random() < 0.3 else None,
        "amount": f"{cents // 100}.{cents % 100:02d}", "source": SOURCES[r.randrange(6)],
        "expected_close": (now.date() + timedelta(days=r.randint(-60, 240))).isoformat(),
        "need": need, "budget_fit": budget_fit, "authority": authority, "timing": timing,
        "competitor_count": r.randint(0, 6), "risk": RISKS[r.randrange(4)],
        "budget_confirmed": r.random() < 0.5, "needs_summary": "Wants a phased rollout." if r.random() < 0.5 else None,
        "proposal_date": None, "proposal_link": None, "contract_signed_on": None,
        "lost_reason": None, "lost_note": None, "last_follow_up_at": None, "in_pool": False,
    }
    if MOVE_START <= i < MOVE_END:
        stage, d["decision_maker"], d["needs_summary"], d["budget_confirmed"] = \
            "initial_contact", c, "Needs confirmed on site.", True
    if SWEEP_START <= i < SWEEP_END:
        stage = "proposal"
    if stage in ("proposal", "quotation", "negotiation", "won"):
        d["proposal_date"] = (created + timedelta(days=3)).date().isoformat()
        d["proposal_link"] = f"https://docs.example.com/p/{i}"
    if stage == "won":
        d["contract_signed_on"] = updated.date().isoformat()
    if stage == "lost":
        d["lost_reason"] = LOST[r.randrange(len(LOST))]
    score, exact = lead_score(need, budget_fit, authority, timing)
    d["score"], d["tier"] = score, tier(exact)
    entered = now - timedelta(days=10) if SWEEP_START <= i < SWEEP_END else updated
    return {"i": i, "c": c, "data": d, "stage": stage, "owner": owners[r.randrange(len(owners))],
            "created": created, "updated": updated, "entered": min(entered, now)}


def customer(c: int, owners: list[int], now: datetime) -> dict:
    r = random.Random(c * 104729 + 3)
    return {"c": c, "created": now - timedelta(days=r.uniform(400, 800)), "owner": owners[r.randrange(len(owners))],
            "data": {"name": f"Customer {c} Co., Ltd.", "industry": INDUSTRIES[r.randrange(9)], "size": None,
                     "region": REGIONS[r.randrange(7)], "grade": None, "tags": None, "source": None, "phone": None,
                     "website": None, "address": f"{CITIES[r.randrange(7)]}科技路{c}号", "last_follow_up_at": None, "in_pool": False},
            "contact": {"customer": c, "name": f"Contact {c}", "job_title": "CTO", "decision_role": "decision_maker",
                        "phone": None, "email": None, "wechat": None, "is_primary": True, "notes": None}}


def follow_up(j: int, i: int, c: int, owner: int, created: datetime) -> dict:
    r = random.Random(j * 31 + 5)
    at = created + timedelta(days=r.uniform(0, 9))
    return {"j": j, "i": i, "c": c, "owner": owner, "at": at,
            "data": {"subject": f"Follow-up {j}", "customer": c, "opportunity": i, "kind": KINDS[r.randrange(5)],
                     "date": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "summary": "Discussed the next steps.",
                     "next_step": None, "next_date": None}}


# -- writing --------------------------------------------------------------------------------------------------

def _ts(value: datetime | None, sqlite: bool):
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if sqlite else value.isoformat()


def _with_ids(d: dict, kind: str, lay: Layout) -> dict:
    """Formloom stored form: references as record ids."""
    d = dict(d)
    if kind == "opportunity":
        d["customer"] = lay.f_customer(d["customer"])
        d["decision_maker"] = lay.f_contact(d["decision_maker"]) if d["decision_maker"] is not None else None
        d["contacts"] = [lay.f_contact(x) for x in d["contacts"]] if d["contacts"] else None
    elif kind == "contact":
        d["customer"] = lay.f_customer(d["customer"])
    elif kind == "follow_up":
        d["customer"], d["opportunity"] = lay.f_customer(d["customer"]), lay.f_opp(d["opportunity"])
    return d


def current_layout(engine, start: int, end: int) -> Layout:
    from sqlalchemy import text
    with engine.connect() as conn:
        rec = conn.execute(text("SELECT coalesce(max(id), 0) FROM records")).scalar() + 1
        bl = {k: conn.execute(text(f"SELECT coalesce(max(id), 0) FROM bl_{k}")).scalar() + 1
              for k in ("customer", "contact", "opportunity", "follow_up")}
    return Layout(start, end, rec, bl)


class Writer:
    """Rows into tables: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.raw = engine.raw_connection()
        self.rows = 0
        self._begin()

    def _begin(self) -> None:
        if self.sqlite:      # Formloom's engine puts sqlite3 in autocommit mode: open the transaction ourselves
            self.raw.cursor().execute("BEGIN")

    def put(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        cur = self.raw.cursor()
        if self.sqlite:
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
        else:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        self.rows += len(rows)

    def commit(self) -> None:
        if self.sqlite:
            self.raw.cursor().execute("COMMIT")
            self._begin()
        else:
            self.raw.commit()

    def execute(self, sql: str) -> None:
        cur = self.raw.cursor()
        cur.execute(sql)

    def close(self) -> None:
        if self.sqlite:
            self.raw.cursor().execute("COMMIT")
        else:
            self.raw.commit()
        self.raw.close()


def _slot_columns() -> tuple[str, ...]:
    from formloom.store.slots import ALL_SLOTS
    return ALL_SLOTS


REC_COLS = ["id", "app_key", "entity_key", "data", "title", "stage", "stage_entered_at", "owner_id", "created_by",
            "updated_by", "created_at", "updated_at", "version", "definition_version_id", *_slot_columns()]


def _rec(w: Writer, rid, entity, data, title, stage, entered, owner, created, updated, vid) -> tuple:
    """One records row, with its typed slots (store.slots) computed from the document as
    the engine's write path does, in the same row."""
    from formloom.store.slots import slot_values
    s = w.sqlite
    entity_def, slots = w.slots[entity]
    held = slot_values("sqlite" if s else "postgresql", entity_def, slots, data) if slots else {}
    return (rid, APP, entity, json.dumps(data, ensure_ascii=False, separators=(",", ":")), title[:500], stage,
            _ts(entered, s), owner, owner, owner, _ts(created, s), _ts(updated, s), 1, vid,
            *[held.get(c) for c in _slot_columns()])


def load(engine, start: int, end: int, owners: list[int], version_id: int, now: datetime) -> dict:
    """Opportunities [start, end) with their customers, contacts and follow-ups, into both schemas."""
    lay = current_layout(engine, start, end)
    w = Writer(engine)
    from formloom.store.apps import compile_version
    from formloom.store.slots import mapping
    from sqlalchemy import text
    with engine.connect() as conn:
        documents = conn.execute(text("SELECT documents FROM definition_versions WHERE id = :v"),
                                 {"v": version_id}).scalar_one()
        held = mapping(conn, APP)
    if isinstance(documents, str):
        documents = json.loads(documents)
    app = compile_version(documents)
    w.slots = {e.key: (e, held.get(e.key, {})) for e in app.entities}
    s = w.sqlite
    counts = {"opportunity": 0, "customer": 0, "contact": 0, "follow_up": 0, "jobs": 0}
    t0 = time.perf_counter()
    if not s:
        w.execute("SET synchronous_commit = off")
    c_start, c_end = lay.c_start, lay.c_end
    for lo in range(c_start, c_end, CHUNK):
        recs, uniq, bl_c, bl_k = [], [], [], []
        for c in range(lo, min(lo + CHUNK, c_end)):
            cu = customer(c, owners, now)
            recs.append(_rec(w, lay.f_customer(c), "customer", cu["data"], cu["data"]["name"], "owned", cu["created"],
                             cu["owner"], cu["created"], cu["created"], version_id))
            recs.append(_rec(w, lay.f_contact(c), "contact", _with_ids(cu["contact"], "contact", lay), cu["contact"]["name"],
                             None, None, cu["owner"], cu["created"], cu["created"], version_id))
            uniq.append((APP, "customer", "name", cu["data"]["name"].strip().casefold()[:500], lay.f_customer(c)))
            bl_c.append((lay.b_customer(c), cu["data"]["name"], cu["data"]["industry"], cu["data"]["region"], cu["owner"],
                         _ts(cu["created"], s)))
            bl_k.append((lay.b_contact(c), lay.b_customer(c), cu["contact"]["name"]))
        w.put("records", REC_COLS, recs)
        w.put("unique_values", ["app_key", "entity_key", "field_key", "value", "record_id"], uniq)
        w.put("bl_customer", ["id", "name", "industry", "region", "owner_id", "created_at"], bl_c)
        w.put("bl_contact", ["id", "customer_id", "name"], bl_k)
        w.commit()
        counts["customer"] += len(bl_c)
        counts["contact"] += len(bl_k)
    bool_ = (lambda v: 1 if v else 0) if s else (lambda v: bool(v))
    for lo in range(start, end, CHUNK):
        recs, fus, bl_o, bl_oc, bl_f, jobs, audit, hist, bl_h = [], [], [], [], [], [], [], [], []
        for i in range(lo, min(lo + CHUNK, end)):
            o = opportunity(i, owners, now)
            d = o["data"]
            recs.append(_rec(w, lay.f_opp(i), "opportunity", _with_ids(d, "opportunity", lay), d["name"], o["stage"],
                             o["entered"], o["owner"], o["created"], o["updated"], version_id))
            bl_o.append((lay.b_opp(i), d["name"], lay.b_customer(o["c"]), lay.b_contact(d["decision_maker"]) if d["decision_maker"] is not None
                         else None, d["amount"], d["source"], d["expected_close"], d["need"], d["budget_fit"],
                         d["authority"], d["timing"], str(d["score"]), d["tier"], d["competitor_count"], d["risk"],
                         bool_(d["budget_confirmed"]), d["needs_summary"], d["proposal_date"], d["proposal_link"],
                         d["contract_signed_on"], d["lost_reason"], bool_(False), o["stage"], _ts(o["entered"], s),
                         o["owner"], o["owner"], o["owner"], _ts(o["created"], s), _ts(o["updated"], s), 1))
            if d["contacts"]:
                bl_oc.append((lay.b_opp(i), lay.b_contact(o["c"])))
            for j in follow_ups_of(i):
                f = follow_up(j, i, o["c"], o["owner"], o["created"])
                fus.append(_rec(w, lay.f_follow(j), "follow_up", _with_ids(f["data"], "follow_up", lay), f["data"]["subject"],
                                None, None, f["owner"], f["at"], f["at"], version_id))
                bl_f.append((lay.b_follow(j), f["data"]["subject"], lay.b_customer(o["c"]), lay.b_opp(i), f["data"]["kind"], _ts(f["at"], s),
                             f["data"]["summary"], f["owner"], _ts(f["at"], s), _ts(f["at"], s)))
            if i % 10 == 5 and o["stage"] not in ("won", "lost"):     # a future reminder row, like a live system has
                due = now + timedelta(days=30 + i % 300)
                jobs.append(("reminder", f"rem:crm:opportunity_pipeline:close_date_near:{lay.f_opp(i)}:bench{i}", APP,
                             "close_date_near", lay.f_opp(i), json.dumps({"workflow": "opportunity_pipeline",
                              "rule": "close_date_near", "occurrence": f"bench{i}", "repeat": 0}),
                             _ts(due, s), "pending", 0, _ts(now, s)))
            if i < HOT:
                audit.append((lay.f_opp(i), APP, "opportunity", "create",
                              json.dumps({k: [None, v] for k, v in _with_ids(d, "opportunity", lay).items()
                                          if v not in (None, "", [])}), o["owner"], _ts(o["created"], s), 1))
                hist.append((lay.f_opp(i), None, o["stage"], o["owner"], _ts(o["entered"], s)))
                bl_h.append((lay.b_opp(i), None, o["stage"], o["owner"], _ts(o["entered"], s)))
        w.put("records", REC_COLS, recs + fus)
        w.put("bl_opportunity", ["id", "name", "customer_id", "decision_maker_id", "amount", "source", "expected_close",
                                 "need", "budget_fit", "authority", "timing", "score", "tier", "competitor_count",
                                 "risk", "budget_confirmed", "needs_summary", "proposal_date", "proposal_link",
                                 "contract_signed_on", "lost_reason", "in_pool", "stage", "stage_entered_at",
                                 "owner_id", "created_by", "updated_by", "created_at", "updated_at", "version"], bl_o)
        w.put("bl_opportunity_contact", ["opportunity_id", "contact_id"], bl_oc)
        w.put("bl_follow_up", ["id", "subject", "customer_id", "opportunity_id", "kind", "date", "summary", "owner_id",
                               "created_at", "updated_at"], bl_f)
        w.put("jobs", ["kind", "idempotency_key", "app_key", "rule_key", "record_id", "payload", "due_at", "status",
                       "attempts", "created_at"], jobs)
        w.put("audit", ["record_id", "app_key", "entity_key", "action", "changes", "user_id", "at", "record_version"],
              audit)
        w.put("stage_history", ["record_id", "from_stage", "to_stage", "user_id", "at"], hist)
        w.put("bl_stage_history", ["opportunity_id", "from_stage", "to_stage", "user_id", "at"], bl_h)
        w.commit()
        counts["opportunity"] += len(bl_o)
        counts["follow_up"] += len(bl_f)
        counts["jobs"] += len(jobs)
    if not s:   # explicit ids: move the baseline sequences past them
        for table in ("records", "bl_customer", "bl_contact", "bl_opportunity", "bl_follow_up"):
            w.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    w.close()
    seconds = time.perf_counter() - t0
    records = counts["opportunity"] + counts["customer"] + counts["contact"] + counts["follow_up"]
    return {"counts": counts, "records": records, "rows_written": w.rows, "seconds": seconds,
            "records_per_s": records / seconds if seconds else None}


# -- indexes around a large load --------------------------------------------------------------------------------

def drop_expression_indexes(engine) -> int:
    from sqlalchemy import text
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type='index' AND name LIKE 'ixf_%'")).scalars().all()
        else:
            names = conn.execute(text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                      "AND indexname LIKE 'ixf_%'")).scalars().all()
        for name in names:
            conn.execute(text(f"DROP INDEX {name}"))
    return len(names)


# -- the generated data is what Formloom itself would store ------------------------------------------------------

SAMPLE = 25


def check_sample(db, app, lay: Layout, n: int = SAMPLE) -> dict:
    """Up to `n` records of each generated entity of the tranche, read back and put through
    Formloom's own `clean_record_data` (settable values in, formulas computed, every rule and
    the stage's requirements judged, as `create_record` does): the cleaned data must equal the
    stored data, with no problem. Returns {entity: {"checked", "mismatches"}}; raises when any
    record differs, since every figure of the run would then be about other data."""
    from sqlalchemy import select
    from formloom.store.records import _special_vars, _stage_required, clean_context, record_from_row
    from formloom.record_data import clean_record_data
    from formloom.store.tables import records
    step = max(1, (lay.end - lay.start) // n)
    opps = list(range(lay.start, lay.end, step))[:n]
    cs = list(range(lay.c_start, lay.c_end, max(1, (lay.c_end - lay.c_start) // n)))[:n]
    fus = [j for i in opps for j in follow_ups_of(i)][:n]
    ids = {"opportunity": [lay.f_opp(i) for i in opps], "customer": [lay.f_customer(c) for c in cs],
           "contact": [lay.f_contact(c) for c in cs], "follow_up": [lay.f_follow(j) for j in fus]}
    out, bad = {}, []
    with db.read() as conn:
        ctx = clean_context(conn, app, "en")
        for kind, wanted in ids.items():
            entity = app.entity(kind)
            rows = conn.execute(select(records).where(records.c.id.in_(wanted), records.c.entity_key == kind)).all()
            mismatches = []
            for row in rows:
                rec = record_from_row(row)
                incoming = {k: v for k, v in rec.data.items() if (f := entity.field(k)) is not None and not f.is_computed}
                cleaned, problems = clean_record_data(
                    entity, incoming, ctx, existing=None, stage_required=_stage_required(app, entity, rec.stage),
                    extra_vars=_special_vars(rec.stage, app, entity, rec.owner_id))
                differs = sorted(k for k in set(cleaned) | set(rec.data)
                                 if cleaned.get(k) not in (None, "", []) or rec.data.get(k) not in (None, "", [])
                                 if cleaned.get(k) != rec.data.get(k))
                if problems or differs:
                    mismatches.append({"id": rec.id, "fields": differs[:5],
                                       "problems": [f"{p.field}: {p.code}" for p in problems][:5]})
            out[kind] = {"checked": len(rows), "mismatches": len(mismatches)}
            bad += [{"entity": kind, **m} for m in mismatches[:3]]
    if bad:
        raise RuntimeError(f"generated data differs from what clean_record_data stores: {bad}")
    return out


# -- the command line (a child process, so its peak RSS is its own) ---------------------------------------------

def _cmd_load(args) -> dict:
    from formloom.store.db import Database
    from formloom.store.install import create_indexes
    from formloom.store.apps import AppCatalog
    from formloom.store.statistics import refresh_if_moved
    from formloom.store import search_index
    from sqlalchemy import text
    db = Database(args.url)
    app, version_id = AppCatalog(db).get(APP)
    owners = json.loads(args.owners)
    now = datetime.fromisoformat(args.now)
    rebuild = args.end - args.start >= 50_000
    t0 = time.perf_counter()
    if rebuild:
        drop_expression_indexes(db.engine)
    lay = current_layout(db.engine, args.start, args.end)
    with db.read() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM records")).scalar()
    result = load(db.engine, args.start, args.end, owners, version_id, now)
    t1 = time.perf_counter()
    if rebuild:
        create_indexes(db, app)
    # the rows went straight into `records`: global search's entries are written as the
    # engine's own bulk paths would have (store/search_index.py)
    t2 = time.perf_counter()
    with db.write() as conn:
        result["search_entries"] = search_index.index_since(conn, app, before)
    result["search_index_seconds"] = time.perf_counter() - t2
    # Formloom's statistics are the engine's own business (what every bulk load calls); the
    # baseline's tables are analyzed as their hand-written app would after a bulk load.
    refresh_if_moved(db)
    from .baseline_app import Base
    for table in Base.metadata.sorted_tables:
        db.analyze(table.name)
    result.update(index_seconds=time.perf_counter() - t1, total_seconds=time.perf_counter() - t0,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rebuilt_indexes=rebuild)
    result["data_check"] = check_sample(db, app, lay)       # untimed
    db.dispose()
    return result


def _cmd_import_rate(args) -> dict:
    """Formloom's write path on opportunities like the generated ones (validation, formulas,
    audit, outbox, stage history; 100 records per transaction), two ways in alternating
    blocks so load drifts hit both: `create_record` per record (a form, the API) and
    `create_records` for the block (import, bulk). Reports both rates and their ratio."""
    from formloom.store.apps import AppCatalog
    from formloom.store.db import Database
    from formloom.store.records import NewRecord, create_record, create_records
    db = Database(args.url)
    app, version_id = AppCatalog(db).get(APP)
    entity = app.entity("opportunity")
    owners = json.loads(args.owners)
    now = datetime.now(timezone.utc)
    base = 5_000_000
    lay = Layout(0, FIRST)       # the first tranche: its customers and contacts exist

    def values(k: int) -> tuple[dict, int]:
        o = opportunity(base + k, owners, now)
        d = _with_ids(o["data"], "opportunity", lay)
        d["customer"] = lay.f_customer(k % 50)
        d["decision_maker"] = lay.f_contact(k % 50) if d["decision_maker"] else None
        d["contacts"] = [lay.f_contact(k % 50)] if d["contacts"] else None
        for key in ("score", "tier", "proposal_date", "proposal_link", "contract_signed_on", "lost_reason"):
            d.pop(key)
        return d, o["owner"]

    seconds = {"single": 0.0, "batched": 0.0}
    counts = {"single": 0, "batched": 0}
    done = 0
    created: list[int] = []
    while done < 2 * args.n:
        way = "single" if (done // 100) % 2 == 0 else "batched"
        block = [values(k) for k in range(done, done + 100)]
        t0 = time.perf_counter()
        with db.write() as conn:
            if way == "single":
                created += [create_record(conn, app, entity, d, actor_id=owner, version_id=version_id).id
                            for d, owner in block]
            else:
                out = create_records(conn, app, entity, [NewRecord(d, owner_id=owner) for d, owner in block],
                                     actor_id=block[0][1], version_id=version_id)
                assert all(not isinstance(r, Exception) for r in out), out
                created += [r.id for r in out]
        seconds[way] += time.perf_counter() - t0
        counts[way] += len(block)
        done += 100
    # these opportunities exist only on Formloom's side: retire them (untimed), so both apps
    # keep the same live data and the dashboard's counts can be compared with the baseline's
    from sqlalchemy import update
    from formloom.store.tables import records
    with db.write() as conn:
        for i in range(0, len(created), 500):
            conn.execute(update(records).where(records.c.id.in_(created[i:i + 500])).values(deleted_at=now))
    db.dispose()
    single, batched = counts["single"] / seconds["single"], counts["batched"] / seconds["batched"]
    return {"records": counts["single"], "seconds": seconds["single"], "records_per_s": single,
            "batched_records_per_s": batched, "batched_vs_single": batched / single}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--url", required=True)
    p.add_argument("--start", type=int, required=True)
    p.add_argument("--end", type=int, required=True)
    p.add_argument("--owners", required=True, help="JSON list of user ids")
    p.add_argument("--now", required=True)
    q = sub.add_parser("import-rate")
    q.add_argument("--url", required=True)
    q.add_argument("--n", type=int, default=500)
    q.add_argument("--owners", required=True)
    args = parser.parse_args(argv)
    result = _cmd_load(args) if args.cmd == "load" else _cmd_import_rate(args)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
