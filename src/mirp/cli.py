"""The `mirp` command: serve, check health, and administer.

Only typer and the settings are imported at start: the app (about 3 s of imports) is imported by
`serve` after its flags are checked, so a wrong flag is answered at once.
"""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Annotated, Any

import typer

from mirp.config import LOOPBACK_HOSTS, Settings

app = typer.Typer(help="MIRP: multilingual interactive remote participation.", no_args_is_help=True)
admin = typer.Typer(help="Administer accounts.", no_args_is_help=True)
app.add_typer(admin, name="admin")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [MIRP_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [MIRP_PORT]")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory [MIRP_DATA_DIR]")] = None,
    database_url: Annotated[str | None, typer.Option(help="[MIRP_DATABASE_URL]")] = None,
    redis_url: Annotated[str | None, typer.Option(help="[MIRP_REDIS_URL]")] = None,
    tls_certfile: Annotated[Path | None, typer.Option(
        help="TLS certificate (PEM): serve https, which remote browsers need for the "
             "microphone [MIRP_TLS_CERTFILE]")] = None,
    tls_keyfile: Annotated[Path | None, typer.Option(
        help="TLS private key (PEM) [MIRP_TLS_KEYFILE]")] = None,
    workers: Annotated[int, typer.Option(
        min=1, envvar="MIRP_WORKERS",
        help="Server processes on this machine sharing the port, each a node of the cluster "
             "(more than one needs Redis: --redis-url) [MIRP_WORKERS]")] = 1,
    fd: Annotated[int | None, typer.Option(
        hidden=True, help="A worker of `--workers`: the listening socket it inherited")] = None,
) -> None:
    """Run the server (REST API, signaling, media, browser client)."""
    overrides: dict[str, Any] = {
        k: v for k, v in {"host": host, "port": port, "data_dir": data_dir,
                          "database_url": database_url, "redis_url": redis_url,
                          "tls_certfile": tls_certfile, "tls_keyfile": tls_keyfile}.items()
        if v is not None}
    settings = Settings(**overrides)
    _check_tls(settings)
    settings.private_data_dir()
    if fd is not None:  # a worker: its supervisor said everything already
        _serve(settings, fd)
        return
    if workers > 1 and not settings.redis_url:
        raise typer.BadParameter(
            f"--workers {workers} runs {workers} nodes of a cluster, which share their "
            "meetings through Redis: give --redis-url or MIRP_REDIS_URL", param_hint="--workers")
    typer.echo(f"MIRP: open {settings.resolved_base_url()}/ in a browser")
    if not settings.tls_certfile and not settings.public_base_url and settings.host not in (
            LOOPBACK_HOSTS):
        typer.echo("MIRP: browsers on other machines open the microphone only over https: "
                   "give --tls-certfile/--tls-keyfile, or put an https proxy in front and set "
                   "MIRP_PUBLIC_BASE_URL")
    if not settings.signup_open():
        typer.echo("MIRP: public signup is closed (MIRP_SIGNUP=open opens it); create accounts "
                   "with `mirp admin create`")
    if workers > 1:
        _supervise(settings, workers, overrides)
        return
    _serve(settings, None)


def _serve(settings: Settings, fd: int | None) -> None:
    import socket

    import uvicorn

    from mirp.app import create_app
    from mirp.serving import uvicorn_options

    if fd is None:
        uvicorn.run(create_app(settings), **uvicorn_options(settings))
        return
    config = uvicorn.Config(create_app(settings), **uvicorn_options(settings))
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


def _supervise(settings: Settings, workers: int, overrides: dict[str, Any]) -> None:
    """`--workers N`: the port bound here once, N workers started on it (serving.Supervisor)."""
    import os

    from mirp.serving import Supervisor, listening_socket

    try:
        sock = listening_socket(settings.host, settings.port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {settings.host}:{settings.port}: {exc}", err=True)
        raise typer.Exit(1) from exc
    env = {**os.environ, **{f"MIRP_{k.upper()}": str(v) for k, v in overrides.items()}}
    # one signing key for every worker (a token signed by one is checked by another): its file
    # made here, once, rather than raced for by N workers starting at once
    settings.resolved_secret_key()
    base = settings.resolved_node_id()
    typer.echo(f"MIRP: {workers} workers on {settings.host}:{settings.port}, nodes "
               f"{base}-0..{workers - 1} of the cluster on {settings.redis_url}")
    raise typer.Exit(Supervisor(workers, base, env).run(sock))


def _check_tls(settings: Settings) -> None:
    if bool(settings.tls_certfile) != bool(settings.tls_keyfile):
        raise typer.BadParameter("--tls-certfile and --tls-keyfile go together")
    for flag, path in (("--tls-certfile", settings.tls_certfile),
                       ("--tls-keyfile", settings.tls_keyfile)):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"{flag}: no file at {path}")


@app.command()
def health(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer")] = 3.0,
) -> None:
    """Ask this machine's server for /healthz, on the port and scheme of its settings
    (MIRP_HOST, MIRP_PORT, MIRP_TLS_CERTFILE): exit 0 if it answers 200, else 1 (Docker's
    HEALTHCHECK uses it)."""
    import ssl
    import urllib.error
    import urllib.request

    url = f"{Settings().local_url()}/healthz"
    # the certificate names the public host, not the loopback address asked here: liveness only
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        typer.echo(f"unhealthy: {url}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if status != 200:
        typer.echo(f"unhealthy: {url}: HTTP {status}", err=True)
        raise typer.Exit(1)
    typer.echo(f"healthy: {url}")


@admin.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The admin's e-mail (login)")],
    name: Annotated[str, typer.Option(help="Display name")] = "Administrator",
    password: Annotated[str | None, typer.Option(
        help="Password (asked for when not given) [MIRP_ADMIN_PASSWORD]",
        envvar="MIRP_ADMIN_PASSWORD")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory [MIRP_DATA_DIR]")] = None,
    database_url: Annotated[str | None, typer.Option(help="[MIRP_DATABASE_URL]")] = None,
) -> None:
    """Create an administrator account (an organizer who sees every meeting)."""
    from mirp.store.accounts import create_account_cli

    overrides: dict[str, Any] = {k: v for k, v in {"data_dir": data_dir,
                                                   "database_url": database_url}.items()
                                 if v is not None}
    settings = Settings(**overrides)
    if password is None:
        password = getpass.getpass("Password: ")
    from mirp.errors import MirpError
    from mirp.store.schemas import check_password

    try:
        check_password(password)
    except ValueError as exc:
        typer.echo(f"error: password: {exc}", err=True)
        raise typer.Exit(1) from exc

    try:
        asyncio.run(create_account_cli(settings, email=email, name=name, password=password,
                                       admin=True))
    except MirpError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"admin {email} created")


def main() -> None:
    app()
