"""Global search's index: the text a search may match, one row per (record, field), kept
in `search_entries` in the transaction of every record write and rebuildable from the
records' JSON (`formloom search rebuild`, `differences` checks one against the other).

Why rows per field and not one document per record: a reader who may not see a field
must never find a record by that field's text, so a search names the fields it may
match (`field_key IN (...)`), and the index answers for those only.

Why trigrams: people look for part of a name, in Chinese as in English ("浦东" inside
"上海浦东新区"), and words are not separated by spaces in CJK text, so a word index
would miss them. SQLite serves substrings of 3 or more characters with an FTS5 table
using the `trigram` tokenizer (external content: `search_entries` itself, kept in step
by triggers); PostgreSQL with a pg_trgm GIN index on `text`.

Why bigrams besides: the most common Chinese query is a two-character word (浦东, 北京),
which has no trigram. Each entry also keeps `grams`: its character bigrams and its
non-ASCII characters as space-separated tokens, written with the text. SQLite
indexes them with a second FTS5 table (`search_grams`, tokenizer unicode61, a query is
one token), PostgreSQL with a GIN index on `string_to_array(grams, ' ')` per entity. A
token is only ever a candidate: the search keeps the LIKE on the text, so the results are
exactly LIKE's. What no token serves (one ASCII character, which is in most entries
anyway, or a pair with a space or punctuation) is matched by LIKE alone, newest first.

What is indexed: the record's title (field key "$title") and the entity's
`search_fields` (by default every text-like field), each value's whitespace folded to
single spaces and casefolded, so one casefolded needle matches on both databases.
"""
from __future__ import annotations

import hashlib
import logging
import operator
import re
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text

from ..definitions.model import AppDef, EntityDef, FieldDef
from ..fields import field_type
from .tables import apps, definition_versions, records, search_entries

log = logging.getLogger(__name__)

TITLE = "$title"
TEXT_MAX = 4000          # characters of one value that are indexed (a textarea can be long)
CHUNK = 2000

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "text, content='search_entries', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_au AFTER UPDATE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
)
#: the bigram table: unicode61's default token characters (letters, numbers, private use) and
#: the code points its Unicode tables do not know yet (Cn), so every character `_WORDY`
#: takes for a letter or number stays inside its token on SQLite too; no diacritics folded
#: (that would only add candidates)
_GRAMS_TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* N* Co Cn'"
_SQLITE_GRAMS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_grams USING fts5("
    f"grams, content='search_entries', content_rowid='id', tokenize=\"{_GRAMS_TOKENIZER}\")",
    "CREATE TRIGGER IF NOT EXISTS search_entries_gai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_grams(rowid, grams) VALUES (new.id, new.grams); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_gad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_grams(search_grams, rowid, grams) VALUES ('delete', old.id, old.grams); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_gau AFTER UPDATE ON search_entries BEGIN "
    "INSERT INTO search_grams(search_grams, rowid, grams) VALUES ('delete', old.id, old.grams); "
    "INSERT INTO search_grams(rowid, grams) VALUES (new.id, new.grams); END",
)
_TRIGGERS = ("search_entries_ai", "search_entries_ad", "search_entries_au",
             "search_entries_gai", "search_entries_gad", "search_entries_gau")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: runs of letters and numbers (str.isalnum): the characters bigrams are made of
_WORDY = re.compile(r"[^\W_]+")


# -- what is indexed -------------------------------------------------------------------------------------------

def default_search_fields(entity: EntityDef) -> tuple[str, ...]:
    """Without `search_fields`: every text-like field the record's data sets."""
    return tuple(f.key for f in entity.fields
                 if not f.archived and not f.is_computed and field_type(f.type).searchable)


def indexed_fields(entity: EntityDef) -> tuple[FieldDef, ...]:
    """The fields whose text the index holds besides the title (the title field itself is
    covered by "$title")."""
    keys = entity.search_fields or default_search_fields(entity)
    out = []
    for key in keys:
        f = entity.field(key)
        if f is not None and key != entity.title and not f.archived and field_type(f.type).searchable:
            out.append(f)
    return tuple(out)


def folded(value: Any) -> str | None:
    """The text as the index holds it: whitespace runs as one space, casefolded, capped."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split()).casefold()[:TEXT_MAX]
    return text or None


def grams(text: str) -> str:
    """The tokens that let a 1-2 character search find `text` (folded): every pair of
    adjacent letters or numbers, and every non-ASCII letter or number alone (a Chinese
    character is a word; a single ASCII letter is in nearly every entry, so LIKE finds
    it as fast), each once, space-separated."""
    out: dict[str, None] = {}
    runs = _WORDY.findall(text)
    for run in runs:
        out.update(dict.fromkeys(map(operator.add, run, run[1:])))
    if not text.isascii():
        out.update(dict.fromkeys(ch for run in runs for ch in run if ch > "\x7f"))
    return " ".join(out)


def gram(needle: str) -> str | None:
    """The token that finds the entries containing a 1-2 character `needle` (folded), or
    None when no token serves it (LIKE alone then)."""
    if len(needle) == 2 and _WORDY.fullmatch(needle):
        return needle
    if len(needle) == 1 and needle > "\x7f" and _WORDY.fullmatch(needle):
        return needle
    return None


def entries_for(entity: EntityDef, data: Mapping[str, Any], title: str) -> list[tuple[str, str]]:
    """(field key, text) the index holds for one live record, in a stable order."""
    out = []
    if (text := folded(title)) is not None:
        out.append((TITLE, text))
    for f in indexed_fields(entity):
        if (text := folded(data.get(f.key))) is not None:
            out.append((f.key, text))
    return out


# -- entry ids on SQLite ---------------------------------------------------------------------------------------
#
# FTS5 walks a phrase's matches in rowid order and seeks to a rowid range cheaply, so on
# SQLite each entity's entries take their ids from a range of their own (`id_range`), from
# its top downwards: a search of one entity reads only that entity's matches, newest first,
# and stops as soon as it has enough, however common the words are elsewhere. Ranges come from a hash of
# the entity's name (no table to keep); two entities sharing one would only be slower,
# never wrong, since a search still checks the entry's entity.

RANGE_BITS = 37                  # 137 billion entry ids per entity
_RANGES = (1 << 25) - 1          # (1 << 25) << 37 stays below 2**63


def id_range(app_key: str, entity_key: str) -> tuple[int, int]:
    """The first and last entry id of the entity's range (SQLite)."""
    digest = hashlib.blake2b(f"{app_key}.{entity_key}".encode(), digest_size=8).digest()
    low = (int.from_bytes(digest, "big") % _RANGES + 1) << RANGE_BITS
    return low, low + (1 << RANGE_BITS) - 1


#: Built once, as every record created asks them: building a statement costs more than SQLite's answer.
_INSERT_ENTRIES = insert(search_entries)
#: SQLite: each entry takes the id just below the lowest of its entity's range, which the INSERT
#: finds itself, row by row: the look-up and the insert in one statement (a record's write pays
#: per statement more in SQLAlchemy and the driver than SQLite takes to run it).
_INSERT_ENTRIES_BELOW = insert(search_entries).values(
    id=select(func.coalesce(func.min(search_entries.c.id), bindparam("high", type_=search_entries.c.id.type) + 1))
    .where(search_entries.c.id.between(bindparam("low"), bindparam("high"))).scalar_subquery() - 1)


def _insert(conn: Connection, app_key: str, entity_key: str, rows: list[dict]) -> None:
    """Write `rows`. On SQLite their ids come from the entity's range (`id_range`), counting
    *down* from its top (the write transaction holds the only write lock, so those below the
    lowest are free): the newest entries have the lowest ids, so FTS5 walks them first in
    ascending rowid order. (Not descending: SQLite 3.40's FTS5 drops matches of some phrases
    when walking rowids downwards.) The rows go in last first, each just below the one before,
    so `rows` keep ascending ids in their order. PostgreSQL keeps its sequence."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(_INSERT_ENTRIES, rows)
        return
    low, high = id_range(app_key, entity_key)
    conn.execute(_INSERT_ENTRIES_BELOW, [{**row, "low": low, "high": high} for row in reversed(rows)])


# -- keeping it in step with writes ----------------------------------------------------------------------------

def _rows(app_key: str, entity: EntityDef, record_id: int, data: Mapping[str, Any], title: str) -> list[dict]:
    return [{"record_id": record_id, "app_key": app_key, "entity_key": entity.key, "field_key": key, "text": text,
             "grams": grams(text)} for key, text in entries_for(entity, data, title)]


def index_new(conn: Connection, app_key: str, entity: EntityDef,
              written: Iterable[tuple[int, Mapping[str, Any], str]]) -> None:
    """Entries of records just created: (id, data, title) each, in one statement."""
    rows = [row for record_id, data, title in written for row in _rows(app_key, entity, record_id, data, title)]
    _insert(conn, app_key, entity.key, rows)


def reindex(conn: Connection, app_key: str, entity: EntityDef, record_id: int,
            data: Mapping[str, Any], title: str, before: tuple[Mapping[str, Any], str] | None = None) -> None:
    """Replace a record's entries with those of `data` and `title`; nothing is written when
    `before` (the previous data and title) gives the same entries."""
    if before is not None and entries_for(entity, before[0], before[1]) == entries_for(entity, data, title):
        return
    conn.execute(delete(search_entries).where(search_entries.c.record_id == record_id))
    index_new(conn, app_key, entity, [(record_id, data, title)])


def unindex(conn: Connection, record_id: int) -> None:
    """A deleted record is found by nobody: its entries go (restoring writes them again)."""
    conn.execute(delete(search_entries).where(search_entries.c.record_id == record_id))


# -- the text index itself -------------------------------------------------------------------------------------

def entity_clause(app_key: str, entity_key: str):
    """The entity's entries, with the keys as literals so PostgreSQL's partial index applies."""
    if not (_KEY.match(app_key) and _KEY.match(entity_key)):
        raise ValueError(f"not valid keys: {app_key!r}, {entity_key!r}")
    return text(f"search_entries.app_key = '{app_key}' AND search_entries.entity_key = '{entity_key}'")


def pg_index_name(app_key: str, entity_key: str, prefix: str = "ixs") -> str:
    name = f"{prefix}_{app_key}_{entity_key}"
    return name if len(name) <= 60 else f"{prefix}_" + hashlib.sha1(name.encode()).hexdigest()[:24]


#: PostgreSQL: the bigram tokens as an array, the expression the bigram indexes are made on
#: and every short search names (word for word, so the planner matches them)
PG_GRAMS = "string_to_array(search_entries.grams, ' ')"


def create_entity_indexes(conn: Connection, app: AppDef) -> None:
    """PostgreSQL: per entity, one partial trigram GIN index (when pg_trgm is there) and one
    partial GIN index of the bigram tokens, so a search of one entity reads only that
    entity's matches (one index over all would hand every entity's matches to each, to be
    filtered out row by row). Made at install, like the field indexes."""
    if conn.dialect.name != "postgresql":
        return
    schema = _trgm_schema(conn)
    for entity in app.entities:
        where = entity_clause(app.key, entity.key).text.replace("search_entries.", "")
        if schema is not None:
            conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS {pg_index_name(app.key, entity.key)} ON search_entries '
                                 f'USING gin (text "{schema}".gin_trgm_ops) WHERE {where}')
        conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS {pg_index_name(app.key, entity.key, "ixg")} '
                             f'ON search_entries USING gin ((string_to_array(grams, \' \'))) WHERE {where}')


#: in `public`, whatever the search_path: the indexes name its operator class with its schema, and a
#: backup restored into an empty database (store/backup.py) must find it in the same place
CREATE_TRGM = "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"


def create_text_index(conn: Connection) -> str | None:
    """Create what serves substring matching; None when it is in place, else why it is not
    (PostgreSQL without pg_trgm and without the right to create it: search stays correct,
    by LIKE over `search_entries`, only unindexed). PostgreSQL's indexes are per entity
    (`create_entity_indexes`); this makes sure pg_trgm is there."""
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE_DDL + _SQLITE_GRAMS_DDL:
            conn.exec_driver_sql(ddl)
        return None
    schema = _trgm_schema(conn)
    if schema is None:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(CREATE_TRGM)
        except Exception as exc:        # the role may not create extensions: say why and go on
            reason = f"pg_trgm is not installed and could not be created ({str(exc).splitlines()[0]})"
            log.warning("global search runs without a trigram index: %s; ask an administrator to run "
                        "CREATE EXTENSION pg_trgm, then `formloom search rebuild`", reason)
            return reason
    return None


def _trgm_schema(conn: Connection) -> str | None:
    return conn.exec_driver_sql("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                "WHERE extname = 'pg_trgm'").scalar()


# -- rebuilding and checking -----------------------------------------------------------------------------------

def _live_rows(conn: Connection, app_key: str, entity_key: str, after_id: int = 0) -> Iterator[Any]:
    last = after_id
    while True:
        rows = conn.execute(select(records.c.id, records.c.data, records.c.title).where(
            records.c.app_key == app_key, records.c.entity_key == entity_key, records.c.deleted_at.is_(None),
            records.c.id > last).order_by(records.c.id).limit(CHUNK)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def rebuild(conn: Connection, app: AppDef, entity_keys: Iterable[str] | None = None) -> int:
    """Throw away the app's entries (or those of `entity_keys`) and write them again from
    the records; returns how many entries were written. On SQLite the FTS tables are rebuilt
    from the entries in one pass, not row by row through its triggers."""
    wanted = [e for e in app.entities if entity_keys is None or e.key in set(entity_keys)]
    with _fts_rebuilt_after(conn):
        create_entity_indexes(conn, app)
        written = 0
        for entity in wanted:
            conn.execute(delete(search_entries).where(search_entries.c.app_key == app.key,
                                                      search_entries.c.entity_key == entity.key))
            written += _index_live(conn, app.key, entity)
    return written


@contextmanager
def _fts_rebuilt_after(conn: Connection) -> Iterator[None]:
    """Many entries at once: on SQLite, without the triggers, then the FTS tables rebuilt from
    the entries in one pass (row by row through the triggers is several times slower)."""
    sqlite = conn.dialect.name == "sqlite"
    create_text_index(conn)
    if sqlite:
        for name in _TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    if sqlite:
        conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
        conn.exec_driver_sql("INSERT INTO search_grams(search_grams) VALUES ('rebuild')")
        create_text_index(conn)         # the triggers again


def _index_live(conn: Connection, app_key: str, entity: EntityDef, after_id: int = 0) -> int:
    written = 0
    batch: list[tuple[int, Any, str]] = []
    for row in _live_rows(conn, app_key, entity.key, after_id):
        batch.append((row.id, row.data or {}, row.title))
        if len(batch) >= CHUNK:
            written += _write(conn, app_key, entity, batch)
            batch = []
    return written + _write(conn, app_key, entity, batch)


def _write(conn: Connection, app_key: str, entity: EntityDef, batch: list) -> int:
    rows = [row for record_id, data, title in batch for row in _rows(app_key, entity, record_id, data, title)]
    _insert(conn, app_key, entity.key, rows)
    return len(rows)


def index_since(conn: Connection, app: AppDef, after_id: int) -> int:
    """Entries for the live records above `after_id`, which must have none yet: for a bulk
    loader that wrote records straight into the table (the benchmarks' data loader)."""
    with _fts_rebuilt_after(conn):
        return sum(_index_live(conn, app.key, entity, after_id) for entity in app.entities)


def installed_apps(conn: Connection) -> list[AppDef]:
    from .apps import compile_version           # (apps imports the definitions compiler)
    rows = conn.execute(select(definition_versions.c.documents)
                        .join(apps, apps.c.current_version_id == definition_versions.c.id)
                        .order_by(apps.c.key)).scalars().all()
    return [compile_version(documents) for documents in rows]


def rebuild_all(conn: Connection) -> int:
    return sum(rebuild(conn, app) for app in installed_apps(conn))


def differences(conn: Connection, app: AppDef) -> list[str]:
    """Where the stored entries differ from what the records' JSON says they should be, one
    sentence per record (empty: the index is exact)."""
    out = []
    for entity in app.entities:
        stored: dict[int, list[tuple[str, str, str | None]]] = {}
        for row in conn.execute(select(search_entries.c.record_id, search_entries.c.field_key,
                                       search_entries.c.text, search_entries.c.grams)
                                .where(search_entries.c.app_key == app.key,
                                       search_entries.c.entity_key == entity.key)):
            stored.setdefault(row.record_id, []).append((row.field_key, row.text, row.grams))
        for row in _live_rows(conn, app.key, entity.key):
            expected = sorted((key, text, grams(text)) for key, text in entries_for(entity, row.data or {}, row.title))
            have = sorted(stored.pop(row.id, []))
            if have != expected:
                out.append(f"{entity.key} {row.id}: index has {have!r}, the record says {expected!r}")
        out += [f"{entity.key} {record_id}: index has entries for a record that is deleted or gone"
                for record_id in sorted(stored)]
    return out


def entity_signature(entity: EntityDef) -> tuple:
    """What decides an entity's entries besides the data: an install that changes it rebuilds them."""
    return (entity.title, tuple(f.key for f in indexed_fields(entity)))


def stale_entities(old: AppDef | None, new: AppDef) -> list[str]:
    """Entities whose entries an install from `old` to `new` makes stale."""
    if old is None:
        return []
    return [e.key for e in new.entities
            if (before := old.entity(e.key)) is not None and entity_signature(before) != entity_signature(e)]


__all__ = ["TITLE", "create_text_index", "differences", "entries_for", "gram", "grams", "index_new", "index_since",
           "indexed_fields", "rebuild", "rebuild_all", "reindex", "stale_entities", "unindex"]
