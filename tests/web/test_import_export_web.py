"""The import wizard and the list export over HTTP: upload, proposed mapping, dry-run
report, import job with progress, bad rows download, permissions; CSV/XLSX exports
of exactly the list."""
from __future__ import annotations

import csv
import io
import re
import threading

from openpyxl import load_workbook

from formloom.store.tables import records
from sqlalchemy import select


def join_imports():
    for thread in threading.enumerate():
        if thread.name.startswith("formloom-import-"):
            thread.join(60)


def upload(browser, entity, name, content: bytes):
    token = browser.csrf_token(f"/apps/desk/{entity}/import")
    return browser.client.post(f"/apps/desk/{entity}/import",
                               data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                               content_type="multipart/form-data")


def cases(app):
    with app.extensions["formloom.db"].read() as conn:
        return {r.data["subject"]: r for r in conn.execute(select(records).where(records.c.entity_key == "case"))}


CSV = ("主题,Company,Priority,Budget,Stage,Internal notes,Unknown\r\n"
       "Printer jam,Acme,高,\"¥1,200.00\",Open,n1,x\r\n"
       "Broken,Nobody,Low,5,Open,,\r\n"
       "Login fails,Acme,low,,已关闭,,\r\n").encode("gb18030")


def test_wizard_from_upload_through_dry_run_to_import(as_agent, app, make_record):
    make_record("company", {"name": "Acme"})
    response = upload(as_agent, "case", "cases.csv", CSV)
    assert response.status_code == 303
    mapping_url = response.headers["Location"]
    page = as_agent.get(mapping_url).get_data(as_text=True)
    assert re.search(r'name="col_0"[^>]*>.*?<option value="subject" selected', page, re.S)
    assert re.search(r'name="col_4"[^>]*>.*?<option value="\$stage" selected', page, re.S)
    assert "Not imported: Unknown" in page
    form = {"col_0": "subject", "col_1": "company", "col_2": "priority", "col_3": "budget", "col_4": "$stage",
            "col_5": "notes", "mode": "skip-bad-rows", "action": "check", "save_mapping": "1"}
    response = as_agent.post(mapping_url, form, token_from=mapping_url)
    assert response.status_code == 303 and "/apps/desk/imports/" in response.headers["Location"]
    job_url = response.headers["Location"]
    join_imports()
    report = as_agent.get(job_url).get_data(as_text=True)
    assert "Check finished: nothing was written." in report
    assert "There is no Company called &#39;Nobody&#39; that you may read." in report
    assert 'data-count="created">2 to create' in report and 'data-count="failed">1 with problems' in report
    assert cases(app) == {}
    response = as_agent.post(mapping_url, {**form, "action": "run"}, token_from=mapping_url)
    job_url = response.headers["Location"]
    join_imports()
    done = as_agent.get(job_url).get_data(as_text=True)
    assert "Import finished." in done and 'data-count="created">2 created' in done
    stored = cases(app)
    assert sorted(stored) == ["Login fails", "Printer jam"]
    assert stored["Printer jam"].data["budget"] == "1200.00" and stored["Login fails"].stage == "closed"
    bad = as_agent.get(job_url + "/bad-rows.csv")
    assert bad.status_code == 200
    rows = list(csv.reader(io.StringIO(bad.get_data().decode("utf-8-sig"))))
    bad.close()
    assert rows[0][-1] == "error" and rows[1][0] == "Broken" and "Nobody" in rows[1][-1]
    fragment = as_agent.get(job_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.startswith("\n<section") or fragment.lstrip().startswith("<section")
    again = as_agent.get(mapping_url).get_data(as_text=True)       # the saved mapping is proposed next time
    assert re.search(r'name="col_5"[^>]*>.*?<option value="notes" selected', again, re.S)


def test_an_unreadable_file_is_explained_on_the_upload_page(as_agent):
    response = upload(as_agent, "case", "cases.xlsx", b"not a zip")
    assert response.status_code == 422 and "This is not a valid .xlsx file." in response.get_data(as_text=True)
    response = upload(as_agent, "case", "cases.pdf", b"%PDF")
    assert response.status_code == 422 and "Import an .xlsx or .csv file" in response.get_data(as_text=True)


def test_mapping_problems_are_shown_not_run(as_agent, app):
    mapping_url = upload(as_agent, "case", "c.csv", b"Subject,Subject again\r\nA,B\r\n").headers["Location"]
    response = as_agent.post(mapping_url, {"col_0": "subject", "col_1": "subject", "action": "check"},
                             token_from=mapping_url)
    assert response.status_code == 422 and "Two columns are mapped to the same field." in response.get_data(as_text=True)


def test_who_may_import_and_see_a_job(browser, as_agent, app, people):
    mapping_url = upload(as_agent, "case", "c.csv", b"Subject\r\nA\r\n").headers["Location"]
    job_url = as_agent.post(mapping_url, {"col_0": "subject", "action": "check"},
                            token_from=mapping_url).headers["Location"]
    join_imports()
    as_agent.logout()
    browser.login("other@example.com")
    assert browser.get(mapping_url).status_code == 404            # someone else's upload
    assert browser.get(job_url).status_code == 404                # someone else's job
    browser.logout()
    browser.login("viewer@example.com")
    assert browser.get("/apps/desk/case/import").status_code == 403   # may not create


def test_wizard_speaks_chinese(browser, app, people):
    browser.login("viewer@example.com")
    browser.logout()
    from formloom.auth.users import set_language
    with app.extensions["formloom.db"].write() as conn:
        set_language(conn, people.agent, "zh")
    browser.login("agent@example.com")
    mapping_url = upload(browser, "case", "c.csv", "主题,优先级\r\nA,超高\r\n".encode()).headers["Location"]
    job_url = browser.post(mapping_url, {"col_0": "subject", "col_1": "priority", "action": "check"},
                           token_from=mapping_url).headers["Location"]
    join_imports()
    page = browser.get(job_url).get_data(as_text=True)
    assert "&#39;超高&#39; 不是可选项之一：低, 高。" in page


def test_export_is_exactly_the_list(as_agent, app, make_record, people):
    acme = make_record("company", {"name": "Acme"})
    make_record("case", {"subject": "=cmd", "company": acme.id, "priority": "high", "budget": "10", "notes": "n"})
    make_record("case", {"subject": "Other", "priority": "low"})
    make_record("case", {"subject": "Not mine", "priority": "high"}, actor=people.other_agent)
    response = as_agent.get("/apps/desk/case/export.csv?priority=High&sort=subject&cols=subject,company,notes,budget")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows == [["Subject", "Company", "Internal notes", "Budget", "Stage"], ["'=cmd", "Acme", "n", "10.00", "Open"]]
    response = as_agent.get("/apps/desk/case/export.xlsx?sort=-subject")
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    got = [r for r in book.active.iter_rows(values_only=True)]
    book.close()
    assert [r[0] for r in got[1:]] == ["Other", "'=cmd"]
    list_page = as_agent.get("/apps/desk/case/?priority=high").get_data(as_text=True)
    assert "/apps/desk/case/export.csv?priority=high" in list_page.replace("&amp;", "&")


def test_hidden_fields_are_never_exported(browser, app, make_record, people):
    make_record("case", {"subject": "S", "notes": "secret"})
    browser.login("viewer@example.com")
    response = browser.get("/apps/desk/case/export.csv?cols=subject,notes")
    text = response.get_data().decode("utf-8-sig")
    assert "secret" not in text and "notes" not in text.lower().split("\r\n")[0]
    assert browser.get("/apps/desk/case/export.csv?nope=1").status_code == 400
    assert browser.get("/apps/desk/case/export.pdf").status_code == 404


def test_an_upload_may_be_larger_than_other_requests(as_agent, app):
    assert app.config["MAX_CONTENT_LENGTH"] == 64_000
    body = ("Subject\r\n" + "".join(f"Case number {i:06d}\r\n" for i in range(12_000))).encode()
    assert len(body) > 200_000
    response = upload(as_agent, "case", "big.csv", body)
    assert response.status_code == 303
    too_big = as_agent.client.post("/apps/desk/case/", data={"x": "y" * 100_000})
    assert too_big.status_code in (405, 413)
