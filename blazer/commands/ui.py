"""``blazer ui``: the web console on the episode database and the artifact store."""

from __future__ import annotations

import ipaddress

import typer

from models.errors import ConfigError
from models.settings import get_settings

DEFAULT_PORT = 8321


def is_local(host: str) -> bool:
    """True for a loopback address or ``localhost``; a name is taken at its word."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ui(
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback unless told)."),
    port: int = typer.Option(DEFAULT_PORT, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the web console: campaigns, workers, failures, episodes with videos, datasets and
    models. Read-only; pause, resume and cancel need BLAZER_UI_TOKEN."""
    if not is_local(host) and not get_settings().ui_token:
        raise ConfigError(
            f"refusing to serve the console on {host} without a token: set BLAZER_UI_TOKEN "
            "(actions then need it) or bind 127.0.0.1"
        )
    import uvicorn

    from blazer.console.app import create_app
    from models.db import ensure_writable_schema

    ensure_writable_schema()  # the embedded default builds its schema; a server's is upgraded by hand
    typer.echo(f"blazer console on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)
