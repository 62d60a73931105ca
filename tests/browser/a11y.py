"""axe-core in every browser test: each document the browser loads is checked, and
a serious or critical violation fails the test that produced it.

Why in-page: a test reaches pages by ``goto`` but also by clicks, redirects and
htmx swaps (board columns load lazily, the gate dialog is swapped in). So axe
(tests/browser/vendor/axe.min.js, used by the tests only, never served) is added
to every document as an init script, and a small runner checks the page after
``load`` and again whenever htmx has settled new content; it reports to Python
through an exposed binding. ``goto`` is wrapped to check the new page before it
returns, so a violation fails at the line that visited the page; what the
automatic runs found on pages reached otherwise fails the test at its end.
Init scripts and bindings run outside the page's CSP, so the app's CSP stays
exactly as strict as in production.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
#: Set to a file name to log every violation of every impact there (one JSON object a line),
#: e.g. to count them by rule before and after a change.
LOG = os.environ.get("FORMLOOM_A11Y_LOG")

#: Impacts that fail a test (axe's scale: minor, moderate, serious, critical).
FAILING_IMPACTS = frozenset({"serious", "critical"})
#: Rules that fail whatever their impact: problems a person once reported on these pages.
ALWAYS_FAILING = frozenset({"empty-table-header"})
#: axe keeps some rules "experimental" (off by default); these caught real problems here.
EXTRA_RULES = ("label-content-name-mismatch",)

#: The page side. Checks are serialised (axe refuses overlapping runs) and remember the
#: DOM generation it checked, so the automatic run skips a page an explicit run just checked.
RUNNER_JS = """
(() => {
  // only the app's pages: not frames, and not JSON or text a test opens directly
  if (window.top !== window || window.__formloomA11y || document.contentType !== 'text/html') return;
  const options = {resultTypes: ['violations'],
                   rules: Object.fromEntries(%(extra)s.map(id => [id, {enabled: true}]))};
  let chain = Promise.resolve(), reports = Promise.resolve(), generation = 0, checked = -1, timer = null;
  const summarise = results => results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary || '', impact: n.impact}))}));
  // htmx requests still in flight (lazy board columns) would swap content mid-run: wait (at most 5 s)
  const quiet = () => new Promise(done => {
    const until = Date.now() + 5000;
    const poll = () => document.querySelector('.htmx-request') && Date.now() < until ? setTimeout(poll, 50) : done();
    poll();
  });
  // One check at a time (axe refuses overlapping runs); an automatic one skips a state already checked.
  const check = force => {
    const job = chain.then(quiet).then(() => {
      if (!force && checked === generation) return null;
      checked = generation;
      // a drag's ghost and fallback copies are feedback while the pointer moves, not content
      return window.axe.run({include: [document], exclude: [['.kanban-ghost'], ['.sortable-fallback'], ['.sortable-drag']]},
                            options).then(summarise);
    });
    chain = job.catch(() => null);
    return job;
  };
  const auto = () => {
    const report = check(false).then(found => found && window.__formloomA11yReport(location.href, found), () => null);
    reports = Promise.all([reports, report]);
    return reports;
  };
  const later = delay => {
    generation += 1;
    clearTimeout(timer);
    timer = setTimeout(auto, delay);
  };
  window.__formloomA11y = {run: () => check(true), idle: () => { clearTimeout(timer); return auto().then(() => null); }};
  window.addEventListener('load', () => later(50));
  document.addEventListener('htmx:afterSettle', () => later(150));
})();
"""


@dataclass
class Finding:
    url: str
    rule: str
    impact: str
    help: str
    nodes: list[dict] = field(default_factory=list)
    context: str = ""

    def lines(self) -> list[str]:
        where = f"[{self.context}] " if self.context else ""
        out = [f"{where}{self.rule} ({self.impact}) on {self.url}: {self.help}"]
        for node in self.nodes:
            summary = " ".join(node["summary"].split())
            out.append(f"    {node['target']}: {summary}")
        return out


def failing(url: str, violations: list[dict]) -> list[Finding]:
    """The violations that fail a test, as findings (a rule's failing nodes only)."""
    found = []
    for v in violations:
        nodes = [n for n in v["nodes"] if v["id"] in ALWAYS_FAILING or (n.get("impact") or v["impact"]) in FAILING_IMPACTS]
        if nodes:
            found.append(Finding(url, v["id"], v["impact"] or "", v["help"], nodes))
    return found


def report(findings: list[Finding]) -> str:
    nodes = sum(len(f.nodes) for f in findings)
    return "\n".join([f"accessibility violations (axe-core), {nodes} node(s):"] + [line for f in findings for line in f.lines()])


class Checker:
    """What the automatic runs found on one page (tab), kept until a test step asks."""

    def __init__(self) -> None:
        self.pending: list[Finding] = []
        self.context = ""               # what a test says it is doing (language, width), for reports
        self.gather = False             # True: keep findings for the test to read at its end, don't raise
        self._seen: set[tuple[str, str, str, str]] = set()

    def record(self, url: str, violations: list[dict]) -> None:
        if LOG:
            with open(LOG, "a", encoding="utf-8") as out:
                for v in violations:
                    for n in v["nodes"]:
                        out.write(json.dumps({"context": self.context, "url": url, "rule": v["id"],
                                              "impact": n.get("impact") or v["impact"], "target": n["target"]}) + "\n")
        for finding in failing(url, violations):
            keys = {n["target"]: (self.context, url, finding.rule, n["target"]) for n in finding.nodes}
            fresh = [n for n in finding.nodes if keys[n["target"]] not in self._seen]
            self._seen.update(keys[n["target"]] for n in fresh)
            if fresh:
                finding.nodes, finding.context = fresh, self.context
                self.pending.append(finding)

    def take(self) -> list[Finding]:
        found, self.pending = self.pending, []
        return found


def attach(context, tab) -> Checker:
    """Put axe and the runner into every document of ``context``; check ``tab`` on every visit."""
    checker = Checker()
    context.add_init_script(path=str(AXE_JS))
    context.add_init_script(script=RUNNER_JS % {"extra": list(EXTRA_RULES)})
    context.expose_binding("__formloomA11yReport", lambda source, url, found: checker.record(url, found))
    tab.a11y = checker
    goto = tab.goto

    def checked_goto(url, **kwargs):
        flush(tab)
        response = goto(url, **kwargs)
        assert_accessible(tab)
        return response

    tab.goto = checked_goto
    return checker


def violations(tab) -> list[dict]:
    """Run axe on the page as it is now; every violation, whatever its impact (none for non-HTML)."""
    return tab.evaluate("window.__formloomA11y ? window.__formloomA11y.run() : []")


def assert_accessible(tab) -> None:
    """Check the page now; fail on what this run or an earlier automatic run found."""
    tab.a11y.record(tab.url, violations(tab))
    flush(tab, wait=False)


def flush(tab, wait: bool = True) -> None:
    """Let a running automatic check finish, then fail on anything found so far."""
    if wait:
        try:
            tab.evaluate("window.__formloomA11y && window.__formloomA11y.idle()")
        except Exception:           # noqa: BLE001 — the page is navigating or gone; its last report stands
            pass
    if tab.a11y.gather:
        return
    found = tab.a11y.take()
    if found:
        raise AssertionError(report(found))
