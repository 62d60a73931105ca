"""The platform tables (SQLAlchemy Core). Alembic migrations create and upgrade
them; user data never changes the schema: every entity's records share the
`records` table and keep their fields in one JSON document (JSONB on PostgreSQL).
"""
from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData,
    Float, Numeric, String, Table, Text, UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

JsonDoc = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")   # SQLite needs INTEGER for rowid aliasing
UtcDateTime = DateTime(timezone=True)

#: Slot columns per family on `records` (num_1.., txt_1..): fixed, so assigning one is no DDL.
SLOTS_PER_FAMILY = 8
#: A number slot holds what `CAST(value AS NUMERIC)` (PostgreSQL) / `AS REAL` (SQLite) gives.
SlotNumber = Float().with_variant(Numeric(), "postgresql")

users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("password_hash", String(300), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("is_superuser", Boolean, nullable=False, default=False),
    Column("language", String(8), nullable=False, default="en"),
    Column("timezone", String(64), nullable=True),
    Column("manager_id", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("session_epoch", Integer, nullable=False, default=0),   # bump to end all sessions
    Column("created_at", UtcDateTime, nullable=False),
)

apps = Table(
    "apps", metadata,
    Column("key", String(63), primary_key=True),
    Column("current_version_id", Id, nullable=True),
    Column("installed_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

definition_versions = Table(
    "definition_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("apps.key", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),              # 1, 2, 3 ... per app
    Column("content_hash", String(64), nullable=False),
    Column("documents", JsonDoc, nullable=False),           # {"app": {...}, "workflows": {key: {...}}}
    Column("source", String(500), nullable=True),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("comment", Text, nullable=True),                 # why it was published (the designer asks)
    UniqueConstraint("app_key", "number", name="uq_definition_versions_app_number"),
)

#: The designer's working copy of an app's documents: edits land here, never on the live app,
#: until "Publish" installs them as the next version. `revision` catches two admins' stale saves.
app_drafts = Table(
    "app_drafts", metadata,
    Column("app_key", String(63), ForeignKey("apps.key", ondelete="CASCADE"), primary_key=True),
    Column("documents", JsonDoc, nullable=False),           # {"app": {...}, "workflows": {key: {...}}}
    Column("revision", Integer, nullable=False),
    Column("base_version_id", Id, nullable=True),           # the live version the draft started from
    Column("updated_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

memberships = Table(
    "memberships", metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("app_key", String(63), ForeignKey("apps.key", ondelete="CASCADE"), primary_key=True),
    Column("role", String(63), primary_key=True),
)

records = Table(
    "records", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("data", JsonDoc, nullable=False),
    Column("title", String(500), nullable=False, default=""),   # denormalized for search and pickers
    Column("stage", String(63), nullable=True),
    Column("stage_entered_at", UtcDateTime, nullable=True),
    Column("owner_id", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("updated_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("definition_version_id", Id, nullable=True),
    Column("deleted_at", UtcDateTime, nullable=True),
    # typed copies of the few fields dashboards aggregate (store.slots; the JSON stays the truth)
    *[Column(f"num_{i}", SlotNumber, nullable=True) for i in range(1, SLOTS_PER_FAMILY + 1)],
    *[Column(f"txt_{i}", Text, nullable=True) for i in range(1, SLOTS_PER_FAMILY + 1)],
    Index("ix_records_entity_updated", "app_key", "entity_key", "updated_at"),
    Index("ix_records_entity_stage", "app_key", "entity_key", "stage"),
    Index("ix_records_entity_owner", "app_key", "entity_key", "owner_id"),
    Index("ix_records_entity_title", "app_key", "entity_key", "title"),
)

#: Values of `unique` fields, so uniqueness holds under concurrent writes on any database.
unique_values = Table(
    "unique_values", metadata,
    Column("app_key", String(63), primary_key=True),
    Column("entity_key", String(63), primary_key=True),
    Column("field_key", String(63), primary_key=True),
    Column("value", String(500), primary_key=True),
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
)

#: Counters for auto_number fields; incremented with an atomic UPDATE ... RETURNING-style step.
sequences = Table(
    "sequences", metadata,
    Column("app_key", String(63), primary_key=True),
    Column("entity_key", String(63), primary_key=True),
    Column("field_key", String(63), primary_key=True),
    Column("period", String(16), primary_key=True),        # e.g. "2026" when the format resets yearly
    Column("value", BigInteger, nullable=False, default=0),
)

audit = Table(
    "audit", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("action", String(16), nullable=False),           # create | update | delete | restore | stage
    Column("changes", JsonDoc, nullable=False),             # {field: [old, new]}
    Column("user_id", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("record_version", Integer, nullable=False),
    Column("via", String(200), nullable=True),              # who wrote without a person: "rule: <label>"
)

stage_history = Table(
    "stage_history", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("from_stage", String(63), nullable=True),
    Column("to_stage", String(63), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("seconds_in_previous", BigInteger, nullable=True),
    Column("override_reason", Text, nullable=True),
    # dashboards read the rows they aggregate in these indexes (migration 0016_dash1m)
    Index("ix_stage_history_left", "from_stage", "at", "seconds_in_previous", "record_id"),
    Index("ix_stage_history_entered", "to_stage", "at", "record_id"),
)

#: Events written in the transaction of the change that caused them (the outbox).
events = Table(
    "events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("record_id", Id, nullable=True),
    Column("type", String(32), nullable=False),             # record_created | record_updated | stage_entered ...
    Column("payload", JsonDoc, nullable=False),
    Column("depth", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime, nullable=True),
    Index("ix_events_unprocessed", "processed_at", "id"),
)

#: Durable work: reminders and deliveries, claimed by workers with a lease.
jobs = Table(
    "jobs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),             # reminder | email | webhook | notify ...
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("app_key", String(63), nullable=True),
    Column("rule_key", String(63), nullable=True),
    Column("record_id", Id, nullable=True),
    Column("payload", JsonDoc, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),  # pending|running|done|failed|dead|cancelled|skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("locked_by", String(100), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Index("ix_jobs_due", "status", "due_at"),
    # a record's pending reminders: with the status in it, SQLite picks this index over
    # ix_jobs_due (status alone) even before the jobs table was ever analyzed
    Index("ix_jobs_record", "record_id", "status"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)

notifications = Table(
    "notifications", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("app_key", String(63), nullable=True),
    Column("record_id", Id, nullable=True),
    Column("subject", String(500), nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("idempotency_key", String(300), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("read_at", UtcDateTime, nullable=True),
)

outbox_mail = Table(
    "outbox_mail", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(300), nullable=False, unique=True),
    Column("to_addr", String(254), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

#: Forms an app admin publishes for people without an account (web/public_forms.py).
#: `token` is the unguessable part of the form's URL; rotating it retires the old URL.
public_forms = Table(
    "public_forms", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("apps.key", ondelete="CASCADE"), nullable=False),
    Column("key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("settings", JsonDoc, nullable=False),   # fields, title, thank_you, defaults, owner_id, frame_origins
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("app_key", "key", name="uq_public_forms_app_key"),
)

#: Approval requests (workflow/approvals.py): a move waiting for sign-off. `steps` is the
#: approval as it was when the request started (in-flight requests finish under it);
#: `waiting_on` the people the current step waits on; `version` makes decisions conditional.
approval_requests = Table(
    "approval_requests", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("from_stage", String(63), nullable=True),
    Column("to_stage", String(63), nullable=False),
    Column("requested_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),            # pending | approved | rejected | withdrawn | cancelled
    Column("spec", JsonDoc, nullable=False),                  # {"steps": [...], "allow_self_approval", "notify"}
    Column("step_index", Integer, nullable=False, default=0),
    Column("step_started_at", UtcDateTime, nullable=False),
    Column("waiting_on", JsonDoc, nullable=False),            # [user id, ...]
    Column("definition_version_id", Id, nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("reason", Text, nullable=True),                    # the rejection's comment
    Column("version", Integer, nullable=False, default=1),
    Index("ix_approval_requests_status", "status", "app_key"),
)

#: Every decision on a request: approve | reject | withdraw | escalate | timeout.
approval_decisions = Table(
    "approval_decisions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, ForeignKey("approval_requests.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("step_index", Integer, nullable=False),
    Column("step_key", String(63), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("decision", String(16), nullable=False),
    Column("comment", Text, nullable=True),
    Column("at", UtcDateTime, nullable=False),
)

#: Comments on a record (collab/comments.py). Plain text; `mentions` the user ids the
#: text names and who may read the record. Edits and deletions keep a trace in `audit`.
comments = Table(
    "comments", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("body", Text, nullable=False),
    Column("mentions", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("edited_at", UtcDateTime, nullable=True),
    Column("deleted_at", UtcDateTime, nullable=True),
)

#: A list's filters, sort and columns saved under a name (collab/views.py): private to
#: `owner_id`, or, when `role` is set, shared by an app admin with everyone of that role.
saved_views = Table(
    "saved_views", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("name", String(80), nullable=False),
    Column("query", Text, nullable=False),                   # the list's query string, as the list reads it
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(63), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_saved_views_entity", "app_key", "entity_key"),
)

#: What the planner's statistics last saw, per entity (store/statistics.py): the live rows
#: counted right after the engine's own ANALYZE and the highest record id then. Rows written
#: since are those above `max_id`, so deciding whether to analyze again reads only them.
statistics_marks = Table(
    "statistics_marks", metadata,
    Column("app_key", String(63), primary_key=True),
    Column("entity_key", String(63), primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("max_id", BigInteger, nullable=False),
    Column("analyzed_at", UtcDateTime, nullable=False),
)

#: A person's target for a number card of a dashboard in one month (dashboards/targets.py),
#: entered by whoever may see that person's numbers; a period's target is the sum of its months'.
dashboard_targets = Table(
    "dashboard_targets", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("dashboard_key", String(63), nullable=False),
    Column("widget_key", String(63), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("month", String(7), nullable=False),                # YYYY-MM, in the app's timezone
    Column("value", Float, nullable=False),
    Column("updated_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("app_key", "dashboard_key", "widget_key", "user_id", "month",
                     name="uq_dashboard_targets_cell"),
)

#: A team's target for a number card of a dashboard in one month (dashboards/targets.py): the
#: team is its manager's (the manager and everyone reporting to them); where it is set it stands
#: for the sum of its members' own targets on a card that counts the whole team.
dashboard_team_targets = Table(
    "dashboard_team_targets", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("dashboard_key", String(63), nullable=False),
    Column("widget_key", String(63), nullable=False),
    Column("manager_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("month", String(7), nullable=False),                # YYYY-MM, in the app's timezone
    Column("value", Float, nullable=False),
    Column("updated_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("app_key", "dashboard_key", "widget_key", "manager_id", "month",
                     name="uq_dashboard_team_targets_cell"),
)

#: Attachments (store/files.py): the bytes are in files/storage.py under `id`; a row
#: says what the file is, who uploaded it, and the record holding it (none until the
#: record is saved). `deleted_at` is set while the record is deleted.
files = Table(
    "files", metadata,
    Column("id", String(32), primary_key=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("field_key", String(63), nullable=False),
    Column("record_id", Id, nullable=True, index=True),
    Column("name", String(255), nullable=False),
    Column("size", Id, nullable=False),
    Column("content_type", String(120), nullable=False),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    # a free attachment of a comment (field_key "$comment"): hidden when the comment is deleted
    Column("comment_id", Id, nullable=True, index=True),
    # the storage id of a bounded-size thumbnail, for images a library could decode
    Column("thumb_id", String(32), nullable=True),
)

#: Which typed slot column of `records` holds which field of an entity (store.slots): assigned
#: at install to the fields dashboards aggregate, backfilled then, written with the JSON after.
record_slots = Table(
    "record_slots", metadata,
    Column("app_key", String(63), primary_key=True),
    Column("entity_key", String(63), primary_key=True),
    Column("field_key", String(63), primary_key=True),
    Column("slot", String(16), nullable=False),             # num_3, txt_1 ...
    Column("field_type", String(63), nullable=False),       # a type change re-fills the slot
    UniqueConstraint("app_key", "entity_key", "slot", name="uq_record_slots_slot"),
)


#: Global search's index (store/search_index.py): one row per live record and indexed text
#: (`field_key` "$title" for its title, else the field's key), the text casefolded. It is
#: derived from `records` in the same transaction as each write and rebuildable from it.
#: Served by an FTS5 trigram table (`search_fts`, SQLite) or a pg_trgm GIN index on `text`
#: (PostgreSQL), both made by migration 0011; matching by field lets a search skip the
#: fields a reader may not see. `grams` (migration 0015) holds the text's bigram tokens for
#: 1-2 character searches (store/search_index.py `grams`), indexed by FTS5 (`search_grams`)
#: or a GIN index on `string_to_array(grams, ' ')`.
search_entries = Table(
    "search_entries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("app_key", String(63), nullable=False),
    Column("entity_key", String(63), nullable=False),
    Column("field_key", String(63), nullable=False),
    Column("text", Text, nullable=False),
    Column("grams", Text),
)
