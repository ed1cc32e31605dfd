"""``flask wechat-sandbox``: serve the fake WeChat API for local development.

It reads the API's own WECHAT_APPID / WECHAT_SECRET so that pointing
WECHAT_API_BASE at the sandbox is the only change a developer makes.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from app.wechat.sandbox import RedactingRequestHandler, create_sandbox_app


@click.command("wechat-sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5001, show_default=True, type=int, help="Port to listen on.")
@with_appcontext
def wechat_sandbox(host: str, port: int) -> None:
    """Serve a fake WeChat server API (login, token, subscribe messages, phone)."""
    config = current_app.config
    sandbox = create_sandbox_app(config["WECHAT_APPID"], config["WECHAT_SECRET"])
    url = f"http://{host}:{port}"
    click.echo(f"WeChat sandbox on {url} (appid {config['WECHAT_APPID']}); run the API with WECHAT_API_BASE={url}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo("warning: the sandbox is not loopback-only; it accepts the configured secret", err=True)
    run_simple(host, port, sandbox, threaded=True, use_reloader=False, request_handler=RedactingRequestHandler)


commands = [wechat_sandbox]
