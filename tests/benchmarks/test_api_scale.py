"""The 100k/10k API keys of issue 16 come from the server's CPU per request at each size,
PostgreSQL's against SQLite's from the same set-up, and the backlog from the single client
writes (the bulk growth's backlog is reported beside it, not instead of it)."""
from benchmarks import api_scale, run


def sized(create: float, listing: float, update: float) -> dict:
    return {op: {"median_ms": 3 * v, "server_cpu_ms": v, "rounds_ms": [3 * v] * 3, "n": 40}
            for op, v in zip(api_scale.OPS, (create, listing, update))}


def kind_result(small: dict, large: dict, backlog: int, drain: float | None) -> dict:
    return {"small": small, "large": large,
            "ratios": {op: large[op]["server_cpu_ms"] / small[op]["server_cpu_ms"] for op in api_scale.OPS},
            "growth": {"records": 90_000, "seconds": 500.0, "backlog_at_end": 88_000, "drain_s": None},
            "client_writes": {"writes": 2000, "seconds": 40.0, "backlog_at_end": backlog, "drain_s": drain},
            "load_average_start": [1.0, 1.0, 1.0], "load_average_end": [2.0, 2.0, 2.0]}


def test_the_keys_are_ratios_of_server_cpu_and_the_backlog_is_the_client_writes_one():
    found = {"sqlite": kind_result(sized(6, 5, 6), sized(6, 6, 5), 10, 1.5),
             "postgres": kind_result(sized(15, 10, 15), sized(15, 11, 12), 30, 4.0)}
    keys = api_scale.summary(found)
    assert keys["api_list_100k_vs_10k"] == 6 / 5
    assert keys["api_update_100k_vs_10k_pg"] == 12 / 15 and keys["api_create_100k_vs_10k_pg"] == 1.0
    backlog = keys["event_backlog_after_100k_writes"]
    assert (backlog["events"], backlog["drain_s"], backlog["db"]) == (30, 4.0, "postgres")
    assert backlog["by_db"]["sqlite"]["bulk_growth_events"] == 88_000
    assert keys["pg_vs_sqlite_server_cpu"]["api_update_small"] == 15 / 6


def test_the_report_shows_each_size_and_a_backlog_that_never_drained():
    found = {"sqlite": kind_result(sized(6, 5, 6), sized(6, 6, 5), 10, None)}
    lines = "\n".join(run.api_scale_lines({"keys": api_scale.summary(found), "details": found}))
    assert "| sqlite | api_list_filtered | 15.00 ms | 18.00 ms | 5.00 ms | 6.00 ms | 1.20 | 1.20 |" in lines
    assert "not within 15 min" in lines
