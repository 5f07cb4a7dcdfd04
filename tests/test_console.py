"""The web console (``blazer ui``) in a real browser: Debian's Chromium driven by Playwright,
against the real ``blazer ui`` server process on PostgreSQL with a recorded campaign, while
``blazer campaign run`` works; hostile episode text; bad input; the token; the embedded
default after ``blazer demo``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from models.db import get_engine, session_scope, upgrade
from models.orm import Campaign, Episode, ModelVersion
from tests.cluster import free_port
from tests.conftest import REPO, _reset_caches, fresh_pg_database, run_cli

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# this closed network refuses Chromium's own connections (updates, sync, QUIC probes)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "s3cret-console-token"
HOSTILE = (
    "<script>alert(1)</script>\n[/bold] \x1b[31mred\x1b[0m \x07\n"
    + "</pre><img src=x onerror=alert(2)>"
    + "x" * 64_000
)
RECORD_SPEC = """name: {name}
tasks: [PickCube-v1]
robots: [panda]
teacher: {{kind: {teacher}}}
successes: 1
attempt_cap: 2
block_size: 1
record: {{image_size: 64, fps: 10}}
"""
LIVE_SPEC = """name: live
tasks: [PushCube-v1, PullCube-v1]
robots: [panda]
teacher: {kind: expert}
successes: 4
block_size: 1
"""


@contextlib.contextmanager
def console_server(env: dict[str, str], *args: str):
    """``blazer ui`` as its own process on a free port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "blazer.cli", "ui", "--port", str(port), *args],
        env={**os.environ, **env},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/static/console.css", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "blazer ui did not start"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """PostgreSQL with a recorded expert episode (video), recorded noop failures, a snapshot, a
    registered model version with its evaluation, and an episode with a hostile completion;
    ``blazer ui`` serving it with an action token."""
    tmp = tmp_path_factory.mktemp("console")
    with fresh_pg_database("blazer_console") as url:
        env = {
            "BLAZER_DATABASE_URL": url,
            "BLAZER_DATA_DIR": str(tmp / "data"),
            "BLAZER_UI_TOKEN": TOKEN,
        }
        mp = pytest.MonkeyPatch()
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("BLAZER_BROKER_URL", raising=False)
        _reset_caches()
        upgrade(url)
        for name, teacher in (("rec", "expert"), ("recfail", "noop")):
            spec = tmp / f"{name}.yaml"
            spec.write_text(RECORD_SPEC.format(name=name, teacher=teacher))
            ran = run_cli("campaign", "run", str(spec), env=env)
            assert ran.returncode == 0, ran.stderr[-3000:]
        built = run_cli("dataset", "build", "--name", "recset", "--from", "rec", env=env)
        assert built.returncode == 0, built.stdout + built.stderr[-2000:]
        with session_scope() as s:
            campaign = s.query(Campaign).filter_by(name="recfail").one()
            hostile = Episode(
                campaign_id=campaign.id,
                task="PickCube-v1",
                robot="panda",
                seed=123,
                attempt=0,
                teacher="<b>evil</b>\x1b[2J",
                success=False,
                failure_reason="parse_error",
                failure_detail="<script>alert(3)</script>",
                completion=HOSTILE,
                prompt_version="v1",
            )
            s.add(hostile)
            s.add(
                ModelVersion(
                    name="student-v1",
                    base_model="smollm2-135m",
                    lineage="student",
                    promoted=True,
                    metrics={"eval": {"PickCube-v1": 0.8, "average": 0.8}},
                )
            )
            s.flush()
            hostile_id = hostile.id
        with console_server(env) as base:
            yield {"base": base, "env": env, "hostile": hostile_id, "tmp": tmp, "url": url}
        get_engine(url).dispose()
        mp.undo()
        _reset_caches()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def watched_page(browser):
    """A fresh page that collects console errors, page errors and dialogs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen: dict[str, list[str]] = {"errors": [], "dialogs": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))

    def dialog(d):
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    try:
        yield page, seen
    finally:
        context.close()


def wait_until(page, expression: str, timeout_s: float = 30) -> None:
    """Poll a JavaScript expression from the test side: the console's Content-Security-Policy
    forbids the in-page eval that Playwright's wait_for_function uses."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.2)


def test_every_page_loads_without_a_console_error(platform, browser):
    base = platform["base"]
    with watched_page(browser) as (page, seen):
        for path, expect in (
            ("/", "rec"),
            ("/campaigns/rec", "PickCube-v1"),
            ("/workers", "Jobs per campaign"),
            ("/failures", "recfail"),
            ("/episodes", "PickCube-v1"),
            ("/episodes?campaign=recfail&outcome=failure", "recfail"),
            ("/datasets", "recset"),
            ("/models", "student-v1"),
        ):
            response = page.goto(base + path)
            assert response.status == 200, path
            assert expect in page.inner_text("main"), path
        assert not seen["errors"], seen["errors"]


def test_failure_chart_links_a_reason_to_its_episodes(platform, browser):
    with watched_page(browser) as (page, seen):
        page.goto(platform["base"] + "/failures?campaign=recfail")
        wait_until(page, "document.getElementById('failure-chart').chart !== undefined")
        # the chart's bars: click the first one drawn, through Chart.js's own hit test
        point = page.evaluate(
            """() => { const c = document.getElementById('failure-chart').chart;
                       const bar = c.getDatasetMeta(0).data[0];
                       const r = c.canvas.getBoundingClientRect();
                       return [r.left + bar.x, r.top + (bar.y + bar.base) / 2]; }"""
        )
        page.mouse.click(*point)
        page.wait_for_url("**/episodes?**")
        assert "reason=" in page.url and "campaign=recfail" in page.url
        rows = page.locator("#episode-list tbody tr")
        assert rows.count() >= 1 and "recfail" in rows.first.inner_text()
        assert not seen["errors"], seen["errors"]


def test_an_episode_video_plays_from_its_shard(platform, browser):
    base = platform["base"]
    with session_scope() as s:
        ep_id = (
            s.query(Episode.id)
            .join(Campaign, Campaign.id == Episode.campaign_id)
            .filter(Campaign.name == "rec", Episode.success.is_(True))
            .scalar()
        )
    with watched_page(browser) as (page, seen):
        page.goto(f"{base}/episodes/{ep_id}")
        assert "success" in page.inner_text("#verdict")
        assert page.locator("#plan li").count() >= 3  # the parsed plan's steps
        for camera in ("base", "wrist"):
            video = f"document.getElementById('video-{camera}')"
            page.evaluate(f"{video}.play()")
            wait_until(page, f"{video}.readyState >= 2 && {video}.currentTime > 0.05")
        page.screenshot(path=str(platform["tmp"] / "episode.png"), full_page=True)
        assert not seen["errors"], seen["errors"]
    # the bytes served are the shard's, checked against the row's checksum before they go out
    got = httpx.get(f"{base}/episodes/{ep_id}/video/base.mp4")
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    assert got.content[4:8] == b"ftyp"


def test_a_corrupt_shard_is_refused_not_served(platform):
    with session_scope() as s:
        ep = (
            s.query(Episode)
            .join(Campaign, Campaign.id == Episode.campaign_id)
            .filter(Campaign.name == "recfail", Episode.traj_uri.is_not(None))
            .first()
        )
        ep_id, saved = ep.id, ep.traj_sha256
        ep.traj_sha256 = "0" * 64
    try:
        got = httpx.get(f"{platform['base']}/episodes/{ep_id}/video/base.mp4")
        assert got.status_code == 502 and "does not match its checksum" in got.text
    finally:
        with session_scope() as s:
            s.get(Episode, ep_id).traj_sha256 = saved


def test_hostile_completion_renders_as_inert_text(platform, browser):
    with watched_page(browser) as (page, seen):
        page.goto(f"{platform['base']}/episodes/{platform['hostile']}")
        completion = page.inner_text("#completion")
        assert completion.startswith("<script>alert(1)</script>")
        assert "\ufffd[31mred" in completion and "\x1b" not in completion
        assert "<img src=x onerror=alert(2)>" in completion and len(completion) > 64_000
        # the page is whole: what follows the completion is still there, and nothing ran
        assert page.locator("h2", has_text="Timings and tokens").count() == 1
        assert page.locator("img").count() == 0 and page.locator("script").count() == 2
        page.wait_for_timeout(300)
        assert not seen["dialogs"], seen["dialogs"]
        assert "<b>evil</b>" in page.inner_text("main")
    with watched_page(browser) as (page, seen):
        page.goto(f"{platform['base']}/episodes?campaign=recfail&reason=parse_error")
        assert "<b>evil</b>" in page.inner_text("#episode-list")
        assert not seen["dialogs"]


@pytest.mark.parametrize(
    "path, status",
    [
        ("/episodes/abc", 400),
        ("/episodes/99999999", 404),
        ("/episodes?seed_min=ten", 400),
        ("/episodes?seed_min=-1", 400),
        ("/episodes?before=1e9", 400),
        ("/episodes?reason=%3Cscript%3E", 400),
        ("/episodes?outcome=maybe", 400),
        ("/campaigns/no-such-campaign", 404),
        ("/episodes/1/video/top.mp4", 404),
        ("/models/lineage/..%2F..%2Fetc.png", 404),
        ("/tables/99.png", 404),
    ],
)
def test_bad_input_gives_a_4xx_page_never_a_traceback(platform, path, status):
    got = httpx.get(platform["base"] + path)
    assert got.status_code == status, (path, got.status_code, got.text[:300])
    assert "Traceback" not in got.text and "<h1>" in got.text


def test_actions_need_the_token_and_work_with_it(platform):
    base = platform["base"]
    bad = httpx.post(f"{base}/campaigns/rec/pause", data={"token": "wrong"})
    assert bad.status_code == 403 and "wrong token" in bad.text
    ok = httpx.post(f"{base}/campaigns/rec/cancel", data={"token": TOKEN})
    assert ok.status_code == 303
    with session_scope() as s:
        assert s.query(Campaign).filter_by(name="rec").one().state == "cancelled"


def test_read_only_without_a_token_and_no_open_bind(platform):
    env = {**platform["env"], "BLAZER_UI_TOKEN": ""}
    with console_server(env) as base:
        got = httpx.post(f"{base}/campaigns/recfail/pause", data={"token": ""})
        assert got.status_code == 403 and "read-only" in got.text
        assert "pause" not in httpx.get(f"{base}/campaigns/recfail").text.split("<main>")[1]
    refused = run_cli("ui", "--host", "0.0.0.0", env=env, timeout=60)
    assert refused.returncode != 0
    assert "refusing to serve the console on 0.0.0.0 without a token" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_progress_updates_without_a_reload_while_a_campaign_runs(platform, browser):
    """``blazer campaign run`` works in its own process; the open page's counts change by
    themselves (the page is never reloaded: a marker set in it survives)."""
    env, tmp = platform["env"], platform["tmp"]
    spec = tmp / "live.yaml"
    spec.write_text(LIVE_SPEC)
    created = run_cli("campaign", "create", str(spec), env=env)
    assert created.returncode == 0, created.stderr[-2000:]
    with watched_page(browser) as (page, seen):
        page.goto(platform["base"] + "/campaigns/live")
        first = page.inner_text("#total")
        assert first.startswith("0 / 8")
        page.evaluate("window.__marker = 'same page'")
        run = subprocess.Popen(
            [sys.executable, "-m", "blazer.cli", "campaign", "run", str(spec)],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(
                page, "document.getElementById('total').innerText.split(' ')[0] !== '0'", 240
            )
            seen_counts = {page.inner_text("#total")}
            wait_until(page, "document.getElementById('state').innerText === 'done'", 400)
            seen_counts.add(page.inner_text("#total"))
            assert run.wait(60) == 0, run.stderr.read()[-2000:]
        finally:
            if run.poll() is None:
                run.kill()
        assert page.evaluate("window.__marker") == "same page"
        assert page.inner_text("#total").startswith("8 / 8")
        assert len(seen_counts) >= 1 and first not in seen_counts
        page.screenshot(path=str(tmp / "campaign.png"), full_page=True)
        assert not seen["errors"], seen["errors"]
    if os.environ.get("BLAZER_UPDATE_SCREENSHOTS"):
        shutil.copy(tmp / "campaign.png", REPO / "docs" / "console_campaign.png")
        shutil.copy(tmp / "episode.png", REPO / "docs" / "console_episode.png")


def test_the_console_on_the_embedded_default_after_demo(tmp_path):
    """A fresh data dir, ``blazer demo``, ``blazer ui``: every page answers from SQLite."""
    env = {"BLAZER_DATA_DIR": str(tmp_path / "data"), "BLAZER_DATABASE_URL": ""}
    demo = run_cli("demo", "-n", "1", "--name", "demo1", env=env)
    assert demo.returncode == 0, demo.stderr[-2000:]
    with console_server(env) as base:
        for path in ("/", "/campaigns/demo1", "/workers", "/failures", "/episodes", "/datasets"):
            got = httpx.get(base + path)
            assert got.status_code == 200, (path, got.text[:500])
        assert "demo1" in httpx.get(base + "/").text
        listed = httpx.get(base + "/episodes?campaign=demo1&outcome=success").text
        assert listed.count('href="/episodes/') >= 3  # one success per task at least


def test_episode_pages_are_keyset_pages(platform):
    """Older pages follow the cursor (pages of one here): disjoint, newest first, together
    every episode of the filter."""
    from blazer.console import reads
    from models.queries import EpisodeFilter

    flt, seen_ids = EpisodeFilter(campaign="recfail"), []
    with session_scope() as s:
        total = s.query(Episode).join(Campaign).filter(Campaign.name == "recfail").count()
        page = reads.episode_page(s, flt, None, size=1)
        while True:
            seen_ids += [r["id"] for r in page.rows]
            if page.next_before is None:
                break
            page = reads.episode_page(s, flt, page.next_before, size=1)
    assert seen_ids == sorted(seen_ids, reverse=True) and len(seen_ids) == total > 1


@pytest.mark.cluster
def test_workers_page_during_a_celery_campaign(pg_url, tmp_path, monkeypatch, browser):
    """A real Celery worker and scheduler on PostgreSQL + Redis: while they work, the workers
    page shows the worker holding a job and the scheduler's recent tick; then the campaign
    page reaches done, and no page logs an error."""
    from scheduler import campaigns
    from scheduler.spec import CampaignSpec
    from tests.cluster import Cluster

    monkeypatch.setenv("BLAZER_DATABASE_URL", pg_url)
    _reset_caches()
    upgrade(pg_url)
    c = Cluster(pg_url, tmp_path)
    c.start_redis()
    spec = {
        "name": "celery-live",
        "tasks": ["PickCube-v1", "PushCube-v1"],
        "robots": ["panda"],
        "successes": 3,
        "block_size": 1,
    }
    try:
        with session_scope() as s:
            campaigns.create_campaign(s, CampaignSpec.from_dict(spec))
        c.start_worker()
        c.start_scheduler()
        env = {"BLAZER_DATABASE_URL": pg_url, "BLAZER_DATA_DIR": str(tmp_path / "data")}
        with console_server(env) as base, watched_page(browser) as (page, seen):
            page.goto(base + "/workers")
            # the page refreshes itself: wait for a live worker row and the scheduler's tick
            wait_until(page, "document.getElementById('queue').innerText.includes('alive')", 180)
            text = page.inner_text("#queue")
            assert "alive" in text and "celery-live" in text, text
            assert "last tick" in page.inner_text("#scheduler")
            page.goto(base + "/campaigns/celery-live")
            wait_until(page, "document.getElementById('state').innerText === 'done'", 400)
            assert page.inner_text("#total").startswith("6 / 6")
            assert not seen["errors"], seen["errors"]
    finally:
        c.stop()
        _reset_caches()


def test_a_stalled_campaign_is_visibly_stalled(platform):
    """Active, open jobs, no episode for 10 minutes: the campaign and workers pages say so."""
    from datetime import timedelta

    from models.orm import CampaignTask, Job, utcnow
    from scheduler import campaigns
    from scheduler.spec import CampaignSpec

    with session_scope() as s:
        c = campaigns.create_campaign(
            s, CampaignSpec.from_dict({"name": "stuck", "tasks": ["PickCube-v1"]})
        )
        c.created_at = utcnow() - timedelta(minutes=10)
        line = s.query(CampaignTask).filter_by(campaign_id=c.id).one()
        s.add(Job(campaign_id=c.id, campaign_task_id=line.id, seed_start=0, seed_count=4,
                  state="queued"))  # fmt: skip
    base = platform["base"]
    page = httpx.get(f"{base}/campaigns/stuck").text
    assert "stalled: no episode for 10 min with 1 open job(s)" in page
    assert "stalled: no episode" in httpx.get(f"{base}/workers").text
    with session_scope() as s:
        s.query(Campaign).filter_by(name="stuck").one().state = "cancelled"
    assert "stalled" not in httpx.get(f"{base}/campaigns/stuck").text.split("<main>")[1]
