"""The mixed-load harness of `api_mixed_16_clients` must keep working: a few clients
against a live `formloom run` and a live baseline, for a few seconds, get every kind of
request answered, and no answer is a server error. Not timed: it checks the harness and
that concurrent reads and writes on SQLite never fail ("database is locked", 500)."""
from __future__ import annotations

import os
import sys

import pytest

from benchmarks import api_mixed

pytestmark = pytest.mark.slow      # a 10,000-row load and four servers started: about half a minute


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("apimix")
    url, info = api_mixed.prepare("sqlite", workdir)
    return url, info["api_tokens"], workdir


@pytest.mark.parametrize("side", ["formloom", "baseline"])
def test_four_clients_for_a_few_seconds_get_no_server_error(database, side):
    url, tokens, workdir = database
    result = api_mixed.one_run(api_mixed.Setup.parse("run"), side, url, workdir, tokens[side], clients=4, seconds=3)
    assert result["errors"] == 0, (result["statuses"], result.get("server_stderr"))
    assert result["unexpected"] == 0, result["first_refusals"]
    assert "server_stderr" not in result, result["server_stderr"]
    assert result["reads"]["n"] > 0 and result["writes"]["n"] > 0
    answered = {int(status) for status in result["statuses"]}
    assert answered <= {200, 201, 409, 428}


def test_a_setup_names_its_server_processes_and_threads():
    assert api_mixed.Setup.parse("gunicorn:2x8") == api_mixed.Setup("gunicorn:2x8", "gunicorn", 2, 8)
    assert api_mixed.Setup.parse("waitress:16").threads == 16
    with pytest.raises(ValueError, match="gunicorn:PROCESSESxTHREADS"):
        api_mixed.Setup.parse("gunicorn:lots")


def test_conflicts_are_counted_apart_from_errors():
    samples = [("get", 200, 0.01), ("patch", 409, 0.02), ("patch", 428, 0.02), ("create", 500, 0.5),
               ("list", 0, 0.1), ("move", 422, 0.01)]
    summary = api_mixed.summarize(samples, 2.0)
    assert (summary["errors"], summary["conflicts"], summary["unexpected"]) == (2, 2, 1)
    assert summary["req_per_s"] == 3.0



def test_a_server_that_logs_more_than_a_pipe_holds_is_never_blocked_by_the_harness():
    """Read through a pipe only at the end, 64 KiB of warnings blocked `formloom run` in
    write() and every client timed out (the 60 s stall); the harness must take it all."""
    chatty = "import sys\nfor k in range(20000): sys.stderr.write(f'warning {k:05d}\\n')"
    procs, logs = api_mixed.start([[sys.executable, "-c", chatty]], dict(os.environ))
    assert procs[0].wait(timeout=60) == 0            # wrote its 280 KB with nobody reading, and ended
    (written,) = api_mixed.stop(procs, logs)
    assert written.count("\n") == 20000 and written.endswith("warning 19999\n")
