"""The record page's path bar, stage history, related lists and activity section, its stage
badge and its fields card, written in Python instead of through Jinja loops and macros.

Those four parts were most of the record page's rendering time: a dozen translations,
URL builds and escapes per timeline entry, per related row and per stage, each through
Jinja's call machinery. The markup written here is the templates' to the byte
(pipeline/_path_bar.html, pipeline/_history.html, records/_related.html,
records/_activity.html stay as the reference; tests/web/test_record_html.py renders both
and holds them equal in English and Chinese, for readers who may and may not write).
A comment's body (attachments, the edit and delete forms) keeps its include.

The stage badge and the fields card are small, but importing their macros
(records/_macros.html, records/_sections.html) costs the page more than writing them:
Jinja builds an imported template module anew on every render whose context holds
globals the imported template does not know (Flask's context processors add some).
The macros stay the reference for them too, and the other pages keep using them.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .datetimes import when_html
from .display import record_url
from .helpers import cached_url_for, label, lang

_TEXTS: dict[tuple[str, str], str] = {}


def _t(text: str, code: str | None = None) -> str:
    """`text` in the reader's language as a Jinja template's `_()` gives it: the translation
    marked safe, so `% values` escapes only the values (kept per language: the compiled
    catalogs do not change while the app runs). `code`: the language, when the caller has
    it already (a page writes dozens of these; asking `lang()` each time shows)."""
    key = (code or lang(), text)
    found = _TEXTS.get(key)
    if found is None:
        found = _TEXTS[key] = gettext(text)
    return found


def _tf(text: str, code: str | None = None, **values: Any) -> str:
    return str(Markup(_t(text, code)) % values)


def _e(value: Any) -> str:
    return str(escape(value))


# -- the page head and the meta line (records/detail.html) -------------------------------------

def page_head_html(app, entity, record, stage, can_update: bool, appr: dict | None) -> Markup:
    """The record page's head: the crumbs, the title with its stage badge, and Edit for who may
    update a record no approval locks. Written here, not in detail.html: its three links and
    translation cost more through Jinja than the rest of the head."""
    code = lang()
    home = _e(cached_url_for("records.app_home", app_key=app.key))
    listed = _e(cached_url_for("records.list_view", app_key=app.key, entity_key=entity.key))
    out = [f'<div class="page-head">\n  <div>\n'
           f'    <p class="crumbs"><a href="{home}">{_e(label(app.label, code))}</a> /\n'
           f'      <a href="{listed}">{_e(label(entity.plural or entity.label, code))}</a></p>\n'
           f'    <h1>{_e(record.title or ("#" + str(record.id)))} {stage_badge_html(stage)}</h1>\n  </div>\n']
    if can_update and not (appr and appr["locked"]):
        edit = record_url("records.edit", record.id, app_key=app.key, entity_key=entity.key)
        out.append(f'  <a class="button primary" href="{_e(edit)}">{_t("Edit", code)}</a>\n')
    out.append("</div>")
    return Markup("".join(out))


def record_meta_html(owner: str | None, record, app) -> Markup:
    """The line under the record's fields: owner, created, updated (in the reader's zone), version."""
    code = lang()
    from .helpers import local_time
    by = f'{_tf("Owner: %(name)s", code, name=owner)} · ' if owner else ""
    return Markup(f'<p class="meta muted">\n'
                  f'{by}    {_tf("Created %(when)s", code, when=local_time(record.created_at, app))} ·\n'
                  f'    {_tf("Updated %(when)s", code, when=local_time(record.updated_at, app))} ·\n'
                  f'    {_tf("Version %(n)s", code, n=record.version)}\n  </p>')


# -- the page head's stage badge and the fields card (records/_macros.html, records/_sections.html) --

def stage_badge_html(stage) -> Markup:
    """The macro `stage_badge`: the stage's label in a badge, classed by its terminal kind."""
    if not stage:
        return Markup("")
    terminal = f" {_e(stage.terminal)}" if stage.terminal else ""
    return Markup(f'<span class="badge{terminal}">{_e(label(stage.label))}</span>')


def sections_html(groups: list, tag: str = "div", cls: str = "") -> Markup:
    """The macro `sections` called with `written=true`: each group's items are (key, HTML)."""
    code = lang()
    out = []
    several = len(groups) > 1
    for g in groups:
        items = "".join(str(item[1]) for item in g.items)
        if g.section:
            section = g.section
            is_open = " open" if not section.collapsed else ""
            out.append(f'<details class="layout-section" data-section="{_e(g.key)}"{is_open}>\n'
                       f'  <summary><h2 class="section-title">{_e(label(section.title, code))}</h2></summary>\n')
            if section.description:
                out.append(f'<p class="help section-help">{_e(label(section.description, code))}</p>')
            out.append(f'  <{_e(tag)} class="{_e(cls)} section-grid cols-{_e(g.columns)}">{items}</{_e(tag)}>\n'
                       f'</details>\n')
        else:
            if several:
                out.append(f'<div class="layout-section layout-rest" data-section="{_e(g.key)}">'
                           f'<h2 class="section-title">{_t("Other fields", code)}</h2>')
            out.append(f'<{_e(tag)} class="{_e(cls)}">{items}</{_e(tag)}>\n')
            if several:
                out.append("</div>")
    return Markup("".join(out))


# -- the path bar and the stage history (pipeline/_path_bar.html, pipeline/_history.html) ------

def path_bar_html(pipe: dict | None, record, app, appr: dict | None) -> Markup:
    code = lang()
    if not pipe:
        return Markup("")
    from .records import stale_note
    pipeline = _t("Pipeline", code)
    out = [f'<script src="{_e(cached_url_for("static", filename="js/kanban.js"))}" defer></script>\n'
           f'<section class="card pipeline-panel" aria-label="{pipeline}">\n'
           f'  <ol class="path-bar" tabindex="0" aria-label="{pipeline}">\n']
    for step in pipe["steps"]:
        stage = step.stage
        terminal = f" terminal-{_e(stage.terminal)}" if stage.terminal else ""
        current = 'aria-current="step"' if step.state == "current" else ""
        spent = f'<span class="path-time">{_e(step.spent)}</span>' if step.spent else ""
        out.append(f'    <li class="path-step {_e(step.state)}{terminal}" data-stage="{_e(stage.key)}"\n'
                   f'{current}>\n'
                   f'      <span class="path-label">{_e(label(stage.label, code))}</span>\n'
                   f'{spent}    </li>\n')
    out.append('  </ol>\n  <div class="pipeline-actions">\n')
    if pipe["stale"]:
        why = _e(stale_note(pipe["current"], record, app))
        out.append(f'<span class="badge stale" title="{why}">{_t("Stale", code)}'
                   f'<span class="visually-hidden">: {why}</span></span>')
    if pipe["targets"] and not (appr and appr["pending"]):
        move = _e(pipe["move_url"])
        options = "".join(f'<option value="{_e(s.key)}">{_e(label(s.label, code))}</option>' for s in pipe["targets"])
        out.append(f'    <form class="move-form" method="post" action="{move}" hx-post="{move}"'
                   f' hx-target="#pipeline-dialog-slot" hx-swap="innerHTML">\n'
                   f'      <input type="hidden" name="csrf_token" value="{_e(generate_csrf())}">\n'
                   f'      <input type="hidden" name="version" value="{_e(record.version)}">\n'
                   f'      <input type="hidden" name="view" value="record">\n'
                   f'      <label for="move-to">{_t("Move to", code)}</label>\n'
                   f'      <select id="move-to" name="to">\n'
                   f'{options}      </select>\n'
                   f'      <button type="submit">{_t("Move", code)}</button>\n'
                   f'    </form>\n')
    out.append(f'    <a href="{_e(pipe["board_url"])}">{_t("Board", code)}</a>\n'
               f'  </div>\n  <div id="pipeline-dialog-slot"></div>\n</section>\n')
    return Markup("".join(out))


def history_html(pipe: dict | None) -> Markup:
    code = lang()
    if not pipe:
        return Markup("")
    out = [f'<section class="card stage-history">\n  <h2>{_t("Stage history", code)}</h2>\n']
    if pipe["history"]:
        out.append('  <ol class="timeline">\n')
        for h in pipe["history"]:
            came = f"{_e(h.from_label)} → " if h.from_label else ""
            spent = (f'<span class="muted small">· '
                     f'{_tf("after %(time)s in the previous stage", code, time=h.spent)}</span>' if h.spent else "")
            override = (f'<p class="override-note small">{_tf("Gate overridden: %(reason)s", code, reason=h.override_reason)}'
                        f'</p>' if h.override_reason else "")
            out.append(f'    <li>\n      <p>{came}<strong>{_e(h.to_label)}</strong>\n'
                       f'        <span class="muted">· {_e(h.user or _t("System", code))} · <time>{_e(h.at)}</time></span>\n'
                       f'{spent}</p>\n{override}    </li>\n')
        out.append("  </ol>\n")
    else:
        out.append(f'  <p class="empty">{_t("No stage changes yet.", code)}</p>\n')
    out.append("</section>\n")
    return Markup("".join(out))


# -- the related lists (records/_related.html) --------------------------------------------------

def related_html(related: list) -> Markup:
    code = lang()
    out = []
    for rel in related:
        out.append(f'<section class="card related">\n  <div class="section-head">\n'
                   f'    <h2>{_e(label(rel.entity.plural or rel.entity.label, code))} '
                   f'<span class="muted small">({_e(label(rel.via.label, code))})</span></h2>\n')
        if rel.new_url:
            out.append(f'<a class="button" href="{_e(rel.new_url)}">'
                       f'{_tf("New %(entity)s", code, entity=label(rel.entity.label, code))}</a>')
        out.append("  </div>\n")
        if rel.rows:
            heads = [_e(label(f.label, code)) for f in rel.columns]
            out.append('  <table class="records">\n    <thead><tr>'
                       + "".join(f'<th scope="col">{h}</th>' for h in heads)
                       + "</tr></thead>\n    <tbody>\n")
            for row in rel.rows:
                out.append("      <tr>\n")
                record, cells = row["record"], row["cells"]
                for i, head in enumerate(heads):
                    if i == 0:
                        cell = (f'<a class="title-link" href="{_e(row["url"])}">'
                                f'{_e(record.title or ("#" + str(record.id)))}</a>\n')
                    else:
                        cell = _e(cells[i])
                    out.append(f'        <td data-label="{head}">\n{cell}        </td>\n')
                out.append("      </tr>\n")
            out.append("    </tbody>\n  </table>\n")
        else:
            out.append(f'  <p class="empty">{_t("None yet.", code)}</p>\n')
        out.append("</section>\n")
    return Markup("".join(out))


# -- the activity section (records/_activity.html) ---------------------------------------------

_PLAIN_ACTIONS = {"create": "created this record", "delete": "deleted this record", "restore": "restored this record",
                  "claim": "claimed it from the pool", "return": "returned it to the pool"}


def activity_html(activity: dict, app) -> Markup:
    code = lang()
    base = _e(activity["base"])
    chosen = activity["chosen"]
    hx = 'hx-target="#activity" hx-swap="outerHTML"'
    out = ['<section class="card history activity" id="activity" aria-labelledby="activity-title">\n'
           f'  <h2 id="activity-title">{_t("Activity", code)}</h2>\n'
           f'  <nav class="activity-kinds" aria-label="{_t("Show activity of kind", code)}">\n'
           '    <ul class="chips">\n'
           f'      <li><a class="chip{"" if chosen else " chosen"}" href="{base}"\n'
           f'             hx-get="{base}" {hx}\n'
           f'{"" if chosen else "aria-current=" + chr(34) + "true" + chr(34)}>{_t("All", code)}</a></li>\n']
    for key, text in activity["kinds"].items():
        on = key in chosen and len(chosen) == 1
        href = f"{base}?kind={_e(key)}"
        out.append(f'      <li><a class="chip{" chosen" if on else ""}" href="{href}"\n'
                   f'             hx-get="{href}" {hx}\n'
                   f'{"aria-current=" + chr(34) + "true" + chr(34) if on else ""}>{_e(text)}</a></li>\n')
    out.append("    </ul>\n  </nav>\n")
    if activity["can_comment"]:
        post, error = _e(activity["post_url"]), activity["comment_error"]
        out.append(
            f'  <form class="comment-form" method="post" action="{post}" enctype="multipart/form-data"\n'
            f'        hx-post="{post}" hx-encoding="multipart/form-data" {hx}>\n'
            f'    <input type="hidden" name="csrf_token" value="{_e(generate_csrf())}">\n'
            f'    <label for="comment-body">{_t("Add a comment", code)}</label>\n'
            f'    <p class="hint small muted" id="comment-hint">'
            f'{_t("Plain text. Type @ and a name to mention someone who can read this record.", code)}</p>\n'
            '    <div class="mention-box">\n'
            '      <textarea id="comment-body" name="body" rows="3" maxlength="4000" required\n'
            f'                aria-describedby="comment-hint{" comment-error" if error else ""}"\n'
            f'{"aria-invalid=" + chr(34) + "true" + chr(34) if error else ""}'
            f'                data-mention-url="{_e(activity["mention_url"])}" aria-autocomplete="list"\n'
            f'                aria-controls="mention-options">{_e(activity["comment_draft"])}</textarea>\n'
            '      <ul id="mention-options" class="mention-options" role="listbox" '
            f'aria-label="{_t("People who can read this record", code)}" hidden></ul>\n'
            '    </div>\n'
            f'    <label class="comment-files-label" for="comment-files">{_t("Attach files", code)}</label>\n'
            '    <input id="comment-files" name="files" type="file" multiple aria-describedby="comment-files-hint"\n'
            f'           accept="{_e(activity["attach_accept"])}">\n'
            '    <p class="hint small muted" id="comment-files-hint">'
            + _tf("Up to %(n)s files of %(mb)s MB each; only the people who can read this record can open them.", code,
                  n=activity["attach_max_files"], mb=activity["attach_max_mb"]) + "</p>\n"
            + (f'<p class="error-text" id="comment-error" role="alert">{_e(error)}</p>' if error else "")
            + f'    <button class="button primary" type="submit">{_t("Post comment", code)}</button>\n'
            '  </form>\n')
    if activity["entries"]:
        out.append('  <ol class="timeline">\n')
        for entry in activity["entries"]:
            out.append(_entry_html(entry, app, code))
        out.append("  </ol>\n")
    else:
        out.append(f'  <p class="empty">{_t("No activity yet.", code)}</p>\n')
    newer, older = activity["newer"], activity["older"]
    if newer or older:
        out.append(f'  <nav class="pager" aria-label="{_t("Activity pages", code)}">\n')
        if newer:
            out.append(f'<a class="button" href="{_e(newer)}" hx-get="{_e(newer)}" {hx}>{_t("Newer", code)}</a>')
        if older:
            out.append(f'<a class="button" href="{_e(older)}" hx-get="{_e(older)}" {hx}>{_t("Older", code)}</a>')
        out.append("  </nav>\n")
    out.append("</section>")
    return Markup("".join(out))


def _entry_html(entry: dict, app, code: str) -> str:
    kind, d = entry["kind"], entry["detail"]
    anchor = f' id="comment-{_e(d.get("id"))}"' if kind == "comment" else ""
    user = entry["user"] or _t("System", code)
    if kind == "stage":
        what = (_tf("moved it from %(from)s to %(to)s", code, **{"from": entry["from_label"], "to": entry["to_label"]})
                if entry["from_label"] else _tf("started it in %(to)s", code, to=entry["to_label"]))
    elif kind == "related":
        what = (f'          {_tf("added a %(entity)s:", code, entity=entry["entity_label"])} <a href="{_e(entry["url"])}">'
                f'{_e(d.get("title") or ("#" + str(d.get("id"))))}</a>\n')
    elif kind == "approval":
        decision = current_app.jinja_env.globals["approval_decision_text"](d.get("decision") or "")
        what = f'          {_e(decision)}' + (f": {_e(d['comment'])}" if d.get("comment") else "")
    elif kind == "comment":
        what = f'          {_t("commented", code)}\n'
    elif d.get("action") in _PLAIN_ACTIONS:
        what = f"{_t(_PLAIN_ACTIONS[d['action']], code)}\n"
    else:
        what = str(_t("changed", code))
    out = [f'    <li class="activity-{_e(kind)}" data-kind="{_e(kind)}"{anchor}>\n'
           f'      <p><strong>{_e(user)}</strong>\n{what}'
           f'        <span class="muted">{when_html(entry["at"], app)}</span>\n']
    if entry.get("spent"):
        out.append(f'<span class="muted small">· {_tf("after %(time)s in the previous stage", code, time=entry["spent"])}</span>')
    out.append("      </p>\n")
    if kind == "stage" and d.get("override_reason"):
        out.append(f'<p class="override-note small">{_tf("Gate overridden: %(reason)s", code, reason=d["override_reason"])}</p>')
    if d.get("reason"):
        out.append(f'<p class="pool-reason small">{_tf("Reason: %(reason)s", code, reason=d["reason"])}</p>')
    if kind == "comment":
        out.append(current_app.jinja_env.get_template("records/_comment_body.html").render(entry=entry, app=app))
    if entry.get("changes"):
        out.append(f'      <ul class="changes">\n{entry["changes_html"]}      </ul>\n')
    out.append("    </li>\n")
    return "".join(out)
