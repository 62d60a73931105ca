"""The baseline: what a competent developer would hand-write instead of Formloom for
the CRM opportunity entity alone.

Plain Flask + SQLAlchemy ORM + Flask-WTF (WTForms): a static model with real columns
and indexes, a static form with the same fields and the same validation rules as the
CRM document, Flask-Login sessions and CSRF on every post, plain Jinja templates.
Pages: login, the opportunity list (filter, sort, page of 50), the new form and its
post, the record page (fields, customer, decision maker, owner, related follow-ups,
stage history) and a stage move with the gate of "needs_confirmed" checked by hand
plus a history row. No caching tricks, no shortcuts Formloom could not also take.

Tables are prefixed `bl_` so they can share a database with Formloom's tables.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, create_engine, event,
    func, select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from werkzeug.security import check_password_hash
from wtforms import (
    BooleanField, DateField, DateTimeLocalField, DecimalField, IntegerField, PasswordField, SelectField, StringField,
    TextAreaField,
)
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, ValidationError

try:                                       # WTForms >= 3.2 wants SelectChoice objects
    from wtforms.fields.choices import SelectChoice
except ImportError:                        # pragma: no cover - older WTForms
    SelectChoice = None

Id = BigInteger().with_variant(Integer(), "sqlite")


def choices(pairs):
    pairs = [("", "")] + list(pairs)
    return [SelectChoice(v, label) for v, label in pairs] if SelectChoice else pairs

PAGE = 50

SOURCES = [("expo", "Trade show"), ("referral", "Referral"), ("website", "Website"), ("cold_call", "Cold call"),
           ("partner", "Partner"), ("ad", "Advertising")]
RISKS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]
LOST_REASONS = [("price", "Price"), ("competitor", "Lost to competitor"), ("budget", "No budget"),
                ("timing", "Timing"), ("no_decision", "No decision"), ("other", "Other")]
STAGES = [("initial_contact", "Initial contact", 10), ("needs_confirmed", "Needs confirmed", 30),
          ("proposal", "Proposal", 50), ("quotation", "Quotation", 70), ("negotiation", "Negotiation", 85),
          ("won", "Won", 100), ("lost", "Lost", 0)]
STAGE_LABELS = {k: label for k, label, _p in STAGES}
FOLLOW_UP_KINDS = {"call": "Phone call", "visit": "Visit", "meeting": "Meeting", "email": "Email", "demo": "Demo"}


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "bl_users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiToken(Base):
    """A bearer token for the JSON API, stored as its SHA-256 (as Formloom stores its own)."""
    __tablename__ = "bl_api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("bl_users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Customer(Base):
    __tablename__ = "bl_customer"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    industry: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("bl_users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Contact(Base):
    __tablename__ = "bl_contact"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("bl_customer.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))


class Opportunity(Base):
    """Indexed like Formloom indexes the CRM's opportunity (issue 16: the same indexes on
    both sides): every column whose field `formloom install` indexes (those the app queries
    by: `store.index_policy.wanted_indexes`, checked by tests/benchmarks), plus the title
    (name), stage, owner and updated_at, as `records` has them per entity."""
    __tablename__ = "bl_opportunity"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("bl_customer.id"), index=True)
    decision_maker_id: Mapped[int | None] = mapped_column(ForeignKey("bl_contact.id"), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2), index=True)
    source: Mapped[str | None] = mapped_column(String(16), index=True)
    expected_close: Mapped[date | None] = mapped_column(Date, index=True)
    need: Mapped[int | None] = mapped_column(Integer)
    budget_fit: Mapped[int | None] = mapped_column(Integer)
    authority: Mapped[int | None] = mapped_column(Integer)
    timing: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    tier: Mapped[str | None] = mapped_column(String(1))
    competitor_count: Mapped[int | None] = mapped_column(Integer)
    risk: Mapped[str | None] = mapped_column(String(8))
    budget_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_summary: Mapped[str | None] = mapped_column(Text)
    proposal_date: Mapped[date | None] = mapped_column(Date)
    proposal_link: Mapped[str | None] = mapped_column(String(2000))
    contract_signed_on: Mapped[date | None] = mapped_column(Date)
    lost_reason: Mapped[str | None] = mapped_column(String(16))
    lost_note: Mapped[str | None] = mapped_column(Text)
    last_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    in_pool: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    stage_entered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("bl_users.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("bl_users.id"))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("bl_users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class OpportunityContact(Base):
    __tablename__ = "bl_opportunity_contact"
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("bl_opportunity.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("bl_contact.id"), primary_key=True)


class FollowUp(Base):
    __tablename__ = "bl_follow_up"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subject: Mapped[str] = mapped_column(String(120))
    customer_id: Mapped[int] = mapped_column(ForeignKey("bl_customer.id"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("bl_opportunity.id"))
    kind: Mapped[str] = mapped_column(String(16))
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("bl_users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_bl_follow_up_opportunity_updated", "opportunity_id", "updated_at"),)


class StageHistory(Base):
    __tablename__ = "bl_stage_history"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("bl_opportunity.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("bl_users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seconds_in_previous: Mapped[int | None] = mapped_column(BigInteger)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def make_engine(url: str):
    """The same connection settings Formloom uses (WAL, busy timeout, foreign keys, page cache size on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-8000")      # formloom.store.db.SQLITE_CACHE_KIB
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True)


def create_tables(engine) -> None:
    Base.metadata.create_all(engine)


# -- forms ---------------------------------------------------------------------------------------------------

def _money(form, field):
    if field.data is None:
        return
    if field.data < 0:
        raise ValidationError("Enter an amount of at least 0.")
    if field.data >= Decimal(10) ** 13:
        raise ValidationError("Enter a smaller amount.")
    if field.data.as_tuple().exponent < -2:
        raise ValidationError("Use at most 2 decimal places.")


def _select(label: str, pairs) -> SelectField:
    """Optional select: empty, or one of the options."""
    allowed = {v for v, _l in pairs}

    def one_of(form, field):
        if field.data not in (None, "") and field.data not in allowed:
            raise ValidationError("Not a valid choice.")
    return SelectField(label, choices=choices(pairs), validate_choice=False, validators=[one_of])


def _score(label: str) -> IntegerField:
    return IntegerField(label, validators=[Optional(), NumberRange(0, 100, "Enter a number between 0 and 100.")])


class OpportunityForm(FlaskForm):
    name = StringField("Opportunity name", validators=[DataRequired("This field is required."), Length(max=120)])
    customer = IntegerField("Customer", validators=[DataRequired("This field is required.")])
    decision_maker = IntegerField("Decision maker", validators=[Optional()])
    contacts = StringField("Key contacts", validators=[Optional()])          # ids, comma separated (picker)
    amount = DecimalField("Amount", places=None, validators=[Optional(), _money])
    source = _select("Source channel", SOURCES)
    expected_close = DateField("Expected close", validators=[Optional()])
    need = _score("Need")
    budget_fit = _score("Budget fit")
    authority = _score("Authority")
    timing = _score("Timing")
    competitor_count = IntegerField("Competitors", validators=[Optional(), NumberRange(0, 50)])
    risk = _select("Risk", RISKS)
    budget_confirmed = BooleanField("Budget confirmed")
    needs_summary = TextAreaField("Needs summary", validators=[Optional(), Length(max=5000)])
    proposal_date = DateField("Proposal date", validators=[Optional()])
    proposal_link = StringField("Proposal link", validators=[Optional(), URL(), Length(max=2000)])
    contract_signed_on = DateField("Contract signed on", validators=[Optional()])
    lost_reason = _select("Lost reason", LOST_REASONS)
    lost_note = TextAreaField("Lost note", validators=[Optional(), Length(max=2000)])
    last_follow_up_at = DateTimeLocalField("Last follow-up", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    in_pool = BooleanField("In public pool")

    def validate_customer(self, field):
        if field.data is not None and g.db.get(Customer, field.data) is None:
            raise ValidationError("There is no such customer.")

    def validate_decision_maker(self, field):
        if field.data is not None and g.db.get(Contact, field.data) is None:
            raise ValidationError("There is no such contact.")

    def validate_contacts(self, field):
        ids = contact_ids(field.data)
        if ids is None:
            raise ValidationError("Pick contacts from the list.")
        if ids and g.db.scalar(select(func.count()).select_from(Contact).where(Contact.id.in_(ids))) != len(ids):
            raise ValidationError("There is no such contact.")


def contact_ids(text: str | None) -> list[int] | None:
    parts = [p for p in (text or "").replace(",", " ").split() if p]
    if not all(p.isdigit() for p in parts):
        return None
    return sorted({int(p) for p in parts})


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def lead_score(o: Opportunity) -> tuple[Decimal | None, str | None]:
    """need 30%, budget 30%, authority 20%, timing 20% (empty counts as 0, like the formula)."""
    parts = [(o.need, "0.3"), (o.budget_fit, "0.3"), (o.authority, "0.2"), (o.timing, "0.2")]
    score = sum((Decimal(v or 0) * Decimal(w) for v, w in parts), Decimal(0))
    return score, "A" if score >= 80 else ("B" if score >= 60 else "C")


# -- the app -----------------------------------------------------------------------------------------------------

class SessionUser(UserMixin):
    def __init__(self, user: User):
        self.user = user
        self.id = user.id


def create_baseline_app(database_url: str, secret_key: str = "baseline-secret", *, csrf: bool = True) -> Flask:
    app = Flask("baseline", template_folder=str(Path(__file__).parent / "baseline_templates"), static_folder=None)
    app.config.update(SECRET_KEY=secret_key, WTF_CSRF_ENABLED=csrf, WTF_CSRF_TIME_LIMIT=None,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", MAX_CONTENT_LENGTH=1_000_000)
    engine = make_engine(database_url)
    Session = sessionmaker(engine, expire_on_commit=False)
    app.extensions["baseline.engine"] = engine
    CSRFProtect(app)
    login = LoginManager(app)
    login.login_view = "login"

    @app.before_request
    def _open_session():
        g.db = Session()

    @app.teardown_request
    def _close_session(_exc):
        db = g.pop("db", None)
        if db is not None:
            db.close()

    @login.user_loader
    def _load_user(user_id: str):
        user = g.db.get(User, int(user_id)) if user_id.isdigit() else None
        return SessionUser(user) if user is not None and user.active else None

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.route("/login", methods=["GET", "POST"], endpoint="login")
    def login_page():
        form = LoginForm()
        error = None
        if form.validate_on_submit():
            user = g.db.scalar(select(User).where(User.email == form.email.data.strip().lower()))
            if user is not None and user.active and check_password_hash(user.password_hash, form.password.data):
                login_user(SessionUser(user))
                return redirect(url_for("list_view"))
            error = "The email or the password is not right."
        return render_template("login.html", form=form, error=error), 422 if error else 200

    @app.get("/opportunities/")
    @login_required
    def list_view():
        stmt, offset = list_statement(request.args, engine.dialect.name)
        rows = g.db.execute(stmt).all()
        return render_template("list.html", rows=rows[:PAGE], has_more=len(rows) > PAGE, offset=offset,
                               args=request.args, sources=SOURCES, stages=STAGE_LABELS)

    @app.route("/opportunities/new", methods=["GET", "POST"])
    @login_required
    def new():
        form = OpportunityForm()
        if form.validate_on_submit():
            now = utcnow()
            o = Opportunity(stage="initial_contact", stage_entered_at=now, owner_id=current_user.id,
                            created_by=current_user.id, updated_by=current_user.id, created_at=now, updated_at=now,
                            version=1)
            fill(o, form)
            g.db.add(o)
            g.db.flush()
            for cid in contact_ids(form.contacts.data) or []:
                g.db.add(OpportunityContact(opportunity_id=o.id, contact_id=cid))
            g.db.add(StageHistory(opportunity_id=o.id, from_stage=None, to_stage=o.stage, user_id=current_user.id,
                                  at=now))
            g.db.commit()
            return redirect(url_for("detail", opportunity_id=o.id), 303)
        status = 422 if request.method == "POST" else 200
        return render_template("form.html", form=form), status

    @app.get("/opportunities/<int:opportunity_id>")
    @login_required
    def detail(opportunity_id: int):
        o = g.db.get(Opportunity, opportunity_id)
        if o is None:
            abort(404)
        customer = g.db.get(Customer, o.customer_id)
        decision_maker = g.db.get(Contact, o.decision_maker_id) if o.decision_maker_id else None
        contacts = g.db.scalars(select(Contact).join(OpportunityContact, OpportunityContact.contact_id == Contact.id)
                                .where(OpportunityContact.opportunity_id == o.id)).all()
        owner = g.db.get(User, o.owner_id) if o.owner_id else None
        follow_ups = g.db.scalars(select(FollowUp).where(FollowUp.opportunity_id == o.id)
                                  .order_by(FollowUp.updated_at.desc(), FollowUp.id.desc()).limit(20)).all()
        history = g.db.execute(select(StageHistory, User.name).outerjoin(User, User.id == StageHistory.user_id)
                               .where(StageHistory.opportunity_id == o.id)
                               .order_by(StageHistory.at.desc(), StageHistory.id.desc())).all()
        return render_template("detail.html", o=o, customer=customer, decision_maker=decision_maker,
                               contacts=contacts, owner=owner, follow_ups=follow_ups, history=history,
                               stages=STAGES, stage_labels=STAGE_LABELS, kinds=FOLLOW_UP_KINDS,
                               sources=dict(SOURCES), risks=dict(RISKS), aware=aware)

    @app.post("/opportunities/<int:opportunity_id>/stage")
    @login_required
    def move(opportunity_id: int):
        """Move to another stage. Written for the gate the benchmark exercises (needs_confirmed)
        plus the generic rules a hand-written pipeline needs: known stage, no skipping forward,
        optimistic version check, a history row."""
        target = request.form.get("stage", "")
        order = [k for k, _l, _p in STAGES]
        if target not in order:
            abort(400)
        query = select(Opportunity).where(Opportunity.id == opportunity_id)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update()
        o = g.db.scalar(query)
        if o is None:
            abort(404)
        expected = request.form.get("version", "")
        if expected.isdigit() and int(expected) != o.version:
            return render_template("detail_error.html", o=o, problems=["Someone else changed this record."]), 409
        problems = move_problems(g.db, o, target)
        if problems:
            return render_template("detail_error.html", o=o, problems=problems), 422
        apply_move(g.db, o, target, current_user.id)
        g.db.commit()
        return redirect(url_for("detail", opportunity_id=o.id), 303)

    @app.template_filter("money")
    def _money_filter(value):
        return "" if value is None else f"¥{value:,.2f}"

    from .baseline_api import register_api
    register_api(app, engine)
    return app


def fill(o: Opportunity, form: OpportunityForm) -> None:
    """The form's values into the columns, and the lead score computed (page and API)."""
    for name in ("name", "amount", "expected_close", "need", "budget_fit", "authority", "timing",
                 "competitor_count", "needs_summary", "proposal_date", "proposal_link",
                 "contract_signed_on", "lost_note", "budget_confirmed", "in_pool"):
        setattr(o, name, getattr(form, name).data)
    o.name = o.name.strip()
    o.customer_id, o.decision_maker_id = form.customer.data, form.decision_maker.data
    o.source, o.risk = form.source.data or None, form.risk.data or None
    o.lost_reason = form.lost_reason.data or None
    o.last_follow_up_at = form.last_follow_up_at.data.replace(tzinfo=timezone.utc) \
        if form.last_follow_up_at.data else None
    o.score, o.tier = lead_score(o)


def list_statement(args, dialect: str):
    """One page (plus one row to tell whether more follow) of the filtered, sorted list;
    aborts with 400 on a bad parameter. The page and the JSON API share it."""
    stmt = select(Opportunity, Customer.name.label("customer_name")).join(
        Customer, Customer.id == Opportunity.customer_id)
    if args.get("source"):
        if args["source"] not in dict(SOURCES):
            abort(400)
        stmt = stmt.where(Opportunity.source == args["source"])
    if args.get("stage"):
        stmt = stmt.where(Opportunity.stage == args["stage"])
    try:
        if args.get("amount_min"):
            stmt = stmt.where(Opportunity.amount >= Decimal(args["amount_min"]))
        if args.get("amount_max"):
            stmt = stmt.where(Opportunity.amount <= Decimal(args["amount_max"]))
        offset = int(args.get("offset") or 0)
    except ArithmeticError:
        abort(400)
    except ValueError:
        abort(400)
    if args.get("q"):
        stmt = stmt.where(func.lower(Opportunity.name).contains(args["q"].lower(), autoescape=True))
    sort = args.get("sort") or "-updated_at"
    column = {"amount": Opportunity.amount, "expected_close": Opportunity.expected_close,
              "name": Opportunity.name, "updated_at": Opportunity.updated_at}.get(sort.lstrip("-"))
    if column is None:
        abort(400)
    # the query shape Formloom uses (store/query.py `_order`): missing values last, except
    # where a filter already rules them out, so PostgreSQL can walk the index backwards
    never_null = sort.lstrip("-") == "amount" and bool(args.get("amount_min") or args.get("amount_max"))
    if sort.startswith("-"):
        order = [column.desc().nulls_last() if dialect == "postgresql" and not never_null
                 else column.desc(), Opportunity.id.desc()]
    else:
        order = [column.asc(), Opportunity.id.asc()]
    return stmt.order_by(*order).limit(PAGE + 1).offset(max(0, offset)), offset


def move_problems(db, o: Opportunity, target: str) -> list[str]:
    """The gate of each stage, checked by hand (the page and the JSON API share it)."""
    order = [k for k, _l, _p in STAGES]
    problems = []
    if target not in ("lost",) and order.index(target) > order.index(o.stage) + 1:
        problems.append("Move one stage at a time.")
    if target == "needs_confirmed":
        if o.decision_maker_id is None:
            problems.append("Decision maker is required.")
        if not (o.needs_summary or "").strip():
            problems.append("Needs summary is required.")
        if not o.budget_confirmed:
            problems.append("Budget must be confirmed")
    elif target == "proposal" and (o.proposal_date is None or not o.proposal_link):
        problems.append("Proposal date and link are required.")
    elif target == "quotation" and not (o.amount and o.amount > 0):
        problems.append("Enter the quoted amount before quoting")
    elif target == "negotiation":
        n = db.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.opportunity_id == o.id))
        if n < 3:
            problems.append("Log at least 3 follow-ups before negotiating")
    elif target == "won" and o.contract_signed_on is None:
        problems.append("Contract signed on is required.")
    elif target == "lost" and not o.lost_reason:
        problems.append("Lost reason is required.")
    return problems


def apply_move(db, o: Opportunity, target: str, user_id: int) -> None:
    """The move itself: a history row, the stage, the version."""
    now = utcnow()
    entered = aware(o.stage_entered_at)
    db.add(StageHistory(opportunity_id=o.id, from_stage=o.stage, to_stage=target, user_id=user_id,
                        at=now, seconds_in_previous=int((now - entered).total_seconds()) if entered else None))
    o.stage, o.stage_entered_at, o.updated_at, o.updated_by = target, now, now, user_id
    o.version += 1


def app_from_env() -> Flask:
    """For `flask --app benchmarks.baseline_app:app_from_env run`."""
    return create_baseline_app(os.environ["BASELINE_DATABASE_URL"], os.environ.get("SECRET_KEY", "baseline-secret"))
