"""The web console: a FastAPI application over the episode database and the artifact store.

Server-rendered Jinja2 pages (autoescaped: a completion is text, never markup), a little plain
JavaScript for live progress and Chart.js (vendored, no build step) for charts. Read-only
unless ``BLAZER_UI_TOKEN`` is set; then pause, resume and cancel take that token.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException

from blazer.commands.text import printable
from blazer.console import reads
from models.artifacts import ArtifactError, EpisodeData, read_episode_bytes
from models.db import session_scope
from models.errors import BlazerError, ConfigError, NotFound
from models.queries import EpisodeFilter
from models.settings import get_settings
from models.types import CAMERAS, CampaignState, FailureReason

HERE = Path(__file__).parent
MAX_SEED = 2**63 - 1
ACTIONS = {
    "pause": CampaignState.PAUSED,
    "resume": CampaignState.ACTIVE,
    "cancel": CampaignState.CANCELLED,
}


def _printable(value: Any) -> str:
    """Model text on a page: control characters shown as U+FFFD (blazer.commands.text)."""
    return printable("" if value is None else str(value))


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else "–"


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default=True),
    )
    env.filters.update(
        printable=_printable, duration=_duration, when=_when, tojson_safe=_json_for_script
    )
    return env


def _json_for_script(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` block: ``<`` escaped, so no text in it
    can close the element."""
    from markupsafe import Markup

    text = json.dumps(value, default=str).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))


def create_app() -> FastAPI:
    """The console's routes; the database and artifact root come from the settings."""
    app = FastAPI(title="blazer console", docs_url=None, redoc_url=None, openapi_url=None)
    env = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.update(
            request=request, path=request.url.path, actions=bool(get_settings().ui_token)
        )
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    @app.middleware("http")
    async def server_timing(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - start):.1f}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'"
        )
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        )
        return page(request, "error.html", 400, title="Bad request", message=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return page(request, "error.html", exc.status_code, title="Error", message=exc.detail)

    @app.exception_handler(BlazerError)
    async def blazer_error(request: Request, exc: BlazerError):
        status = 404 if isinstance(exc, NotFound) else 400
        return page(request, "error.html", status, title="Error", message=str(exc))

    # pages ------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def campaigns(request: Request):
        with session_scope() as s:
            views = reads.campaign_views(s)
        return page(request, "campaigns.html", campaigns=views)

    @app.get("/campaigns/{name}", response_class=HTMLResponse)
    def campaign(request: Request, name: str):
        with session_scope() as s:
            view = reads.campaign_view(s, name)
        return page(request, "campaign.html", c=view)

    @app.get("/campaigns/{name}/progress", response_class=HTMLResponse)
    def campaign_progress(request: Request, name: str):
        """The progress block alone: what the campaign page polls while it runs."""
        with session_scope() as s:
            view = reads.campaign_view(s, name)
        return page(request, "_progress.html", c=view)

    @app.post("/campaigns/{name}/{action}")
    def campaign_action(name: str, action: str, token: str = Form("")):
        from scheduler.campaigns import set_state

        expected = get_settings().ui_token
        if not expected:
            raise HTTPException(403, "the console is read-only: start it with BLAZER_UI_TOKEN set")
        if not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(403, "wrong token")
        if action not in ACTIONS:
            raise HTTPException(404, f"no action {action!r}; known: {', '.join(ACTIONS)}")
        with session_scope() as s:
            set_state(s, name, ACTIONS[action])
        return RedirectResponse(f"/campaigns/{name}", status_code=303)

    @app.get("/workers", response_class=HTMLResponse)
    def workers(request: Request):
        with session_scope() as s:
            view = reads.queue_view(s)
        return page(request, "workers.html", q=view, now=reads.utcnow())

    @app.get("/failures", response_class=HTMLResponse)
    def failures(request: Request, campaign: str | None = Query(None, max_length=200)):
        with session_scope() as s:
            rows = reads.failure_counts(s, campaign or None)
            names = reads.campaign_names(s)
        labels, counts = reads.failures_by_line(rows)
        chart = {
            "labels": labels,
            "reasons": [
                {"reason": r, "counts": [by_label.get(label, 0) for label in labels]}
                for r, by_label in counts.items()
            ],
            "campaign": campaign or "",
        }
        return page(
            request,
            "failures.html",
            rows=rows,
            chart=chart,
            campaign=campaign or "",
            campaigns=names,
        )

    @app.get("/episodes", response_class=HTMLResponse)
    def episodes(
        request: Request,
        campaign: str | None = Query(None, max_length=200),
        task: str | None = Query(None, max_length=64),
        robot: str | None = Query(None, max_length=64),
        teacher: str | None = Query(None, max_length=200),
        outcome: str | None = Query(None, pattern="^(|success|failure)$"),
        reason: str | None = Query(None, max_length=32),
        seed_min: int | None = Query(None, ge=0, le=MAX_SEED),
        seed_max: int | None = Query(None, ge=0, le=MAX_SEED),
        before: int | None = Query(None, ge=0, le=MAX_SEED),
    ):
        if reason and reason not in {r.value for r in FailureReason}:
            known = ", ".join(r.value for r in FailureReason)
            raise ConfigError(f"reason {reason!r} is not a failure reason; known: {known}")
        success = {"success": True, "failure": False}.get(outcome or "")
        if reason:
            success = False
        flt = EpisodeFilter(
            campaign or None,
            task or None,
            robot or None,
            teacher or None,
            success,
            reason or None,
            seed_min,
            seed_max,
        )
        with session_scope() as s:
            result = reads.episode_page(s, flt, before)
            names = reads.campaign_ids(s)
        filters = {
            "campaign": campaign or "",
            "task": task or "",
            "robot": robot or "",
            "teacher": teacher or "",
            "outcome": outcome or "",
            "reason": reason or "",
            "seed_min": "" if seed_min is None else seed_min,
            "seed_max": "" if seed_max is None else seed_max,
        }
        return page(
            request,
            "episodes.html",
            result=result,
            names=names,
            filters=filters,
            query={k: v for k, v in filters.items() if v != ""},
            reasons=[r.value for r in FailureReason],
        )

    @app.get("/episodes/{episode_id}", response_class=HTMLResponse)
    def episode(request: Request, episode_id: int):
        with session_scope() as s:
            ep = reads.episode(s, episode_id)
        if ep is None:
            raise HTTPException(404, f"no episode {episode_id}")
        messages, prompt_error = reads.prompt_messages(ep)
        return page(
            request,
            "episode.html",
            ep=ep,
            messages=messages,
            prompt_error=prompt_error,
            cameras=list(CAMERAS) if ep["traj_uri"] else [],
        )

    @app.get("/episodes/{episode_id}/video/{camera}.mp4")
    def episode_video(episode_id: int, camera: str):
        """One camera's mp4 from the episode's shard, its checksum verified first."""
        if camera not in CAMERAS:
            raise HTTPException(404, f"no camera {camera!r}; known: {', '.join(CAMERAS)}")
        with session_scope() as s:
            ep = reads.episode(s, episode_id)
        if ep is None or not ep["traj_uri"]:
            raise HTTPException(404, f"episode {episode_id} has no recording")
        try:
            data = EpisodeData(
                read_episode_bytes(ep["traj_uri"], ep["traj_key"], ep["traj_sha256"])
            )
        except ArtifactError as exc:
            raise HTTPException(502, str(exc)) from None
        video = data.arrays.get(f"video/{camera}")
        if video is None:
            raise HTTPException(404, f"episode {episode_id} recorded no {camera} camera")
        return Response(
            video.tobytes(), media_type="video/mp4", headers={"Cache-Control": "max-age=3600"}
        )

    @app.get("/datasets", response_class=HTMLResponse)
    def datasets(request: Request):
        with session_scope() as s:
            rows = reads.datasets(s)
        return page(request, "datasets.html", datasets=rows)

    @app.get("/models", response_class=HTMLResponse)
    def models(request: Request):
        with session_scope() as s:
            versions = reads.model_versions(s)
            lineages = reads.bootstrap_lineages(s)
        return page(
            request,
            "models.html",
            versions=versions,
            lineages=lineages,
            tables=_table_pngs(),
        )

    @app.get("/models/lineage/{name}.png")
    def lineage_png(name: str):
        from models.names import check_name
        from training.lineage import lineage_rounds, save_lineage

        check_name(name, "lineage")
        with session_scope() as s:
            rounds = lineage_rounds(s, name)
        _, png = save_lineage(rounds, get_settings().data_dir / "lineages" / name)
        return FileResponse(png, media_type="image/png")

    @app.get("/tables/{index}.png")
    def table_png(index: int):
        pngs = _table_pngs()
        if not 0 <= index < len(pngs):
            raise HTTPException(404, f"no evaluation table {index}")
        return FileResponse(pngs[index][1], media_type="image/png")

    return app


def _table_pngs() -> list[tuple[str, Path]]:
    """Evaluation tables (``blazer eval``, ``blazer experiment``) saved under the data dir,
    newest first: (their folder, relative to the data dir; the PNG)."""
    root = get_settings().data_dir
    found = [
        p for pattern in ("eval/*/table.png", "experiments/*/table.png") for p in root.glob(pattern)
    ]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [(str(p.parent.relative_to(root)), p) for p in found[:TABLES_SHOWN]]


TABLES_SHOWN = 12
