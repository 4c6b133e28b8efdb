"""Every page's JSON equals what `stats --json` says (SQLite and MariaDB); bad input is one line;
names from Spotify are escaped; security headers; no secret on any page; the command prints its
URL first and warns when it listens beyond loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from tests.conftest import ROOT

from spotify_pipeline.dashboard.views import PAGES

from .conftest import START, XSS, ZONE, Dash
from .helpers import stats_json

FIRST, LAST = START.date().isoformat(), "2026-11-04"
CASES = [
    ("period=all&top=5", ["--period", "all", "--top", "5"]),
    (f"from={FIRST}&to={LAST}&top=3", ["--from", FIRST, "--to", LAST, "--top", "3"]),
    ("period=all&user=bob", ["--period", "all", "--user", "bob"]),
    ("period=all&user=*", ["--period", "all", "--user", "*"]),
    ("period=month", ["--period", "month"]),
]


@pytest.mark.parametrize(("qs", "args"), CASES)
def test_every_page_json_equals_stats_json(dash: Dash, monkeypatch: pytest.MonkeyPatch, qs: str,
                                           args: list[str]) -> None:  # fmt: skip
    expected = stats_json(dash, monkeypatch, *args)
    with httpx.Client(base_url=dash.url) as client:
        assert client.get(f"/api/summary?{qs}").json() == expected
        shown = set()
        for page in PAGES:
            if page.name in ("health", "recommendations"):  # not part of `stats`: tested below
                continue
            data = client.get(f"/api/{page.name}?{qs}").json()
            assert data.pop("user") == expected["user"] and data.pop("period") == expected["period"]
            assert data and all(data[k] == expected[k] for k in data), page.name
            shown |= set(data)
    assert shown == set(expected) - {"user", "period", "top_tracks", "top_albums"} | {
        "top_tracks",
        "top_albums",
    }
    if "bob" in args:
        assert expected["totals"]["plays"] == 7


def test_recommendations_are_the_lists_recommend_gives_with_their_reasons(dash: Dash) -> None:
    from spotify_pipeline.insights.recommend.lists import lists_for

    with httpx.Client(base_url=dash.url) as client:
        got = client.get("/api/recommendations?user=alice&top=10").json()
        everyone = client.get("/api/recommendations?user=*")
        page = client.get("/recommendations?user=alice&top=10").text
    # the lists as of the moment the server computed them for (it says when)
    assert "recommendations_as_of" in got, got
    as_of = datetime.fromisoformat(got["recommendations_as_of"])
    want = lists_for(dash.src.engine, "alice", now=as_of, limit=10)
    assert got["recommendations"] == {k: [i.to_dict() for i in items] for k, items in want.items()}
    assert set(got["recommendations"]) == {"rediscover", "similar", "releases"}
    # the simulated days are weeks before the real clock: loved tracks left since then
    rediscover = got["recommendations"]["rediscover"]
    assert rediscover and all(i["reason"] for i in rediscover)
    assert everyone.status_code == 400 and "per listener" in everyone.json()["error"]
    first = rediscover[0]["reason"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert first.replace("'", "&#39;").replace('"', "&#34;") in page


def test_health_json(dash: Dash) -> None:
    with httpx.Client(base_url=dash.url) as client:
        d = client.get("/api/health?period=all").json()
        assert {f["kind"] for f in d["last_fetches"]} == {"recently_played", "following_artists"}
        assert d["token"]["logged_in"] and d["token"]["days_left"] > 0
        assert sum(day["api_plays"] for day in d["coverage"]) == client.get("/api/overview?period=all").json()[
            "totals"]["plays"]  # fmt: skip
        page = client.get("/health?period=all").text
    assert "Open gaps" in page and "days until the refresh token" in page


def test_bad_input_is_one_line(dash: Dash) -> None:
    with httpx.Client(base_url=dash.url) as client:
        for qs, message in [("period=decade", "unknown period 'decade'"), ("from=2026-13-01", "is not a date"),
                            ("user=mallory", "unknown user 'mallory': the warehouse holds alice, bob"),
                            ("top=0", "top 0 is out of range"), ("from=2026-12-02&to=2026-12-01", "is after")]:  # fmt: skip
            api = client.get(f"/api/top?{qs}")
            assert api.status_code == 400 and message in api.json()["error"], api.text
            html = client.get(f"/top?{qs}")
            assert html.status_code == 400 and message.replace("'", "&#39;") in html.text
        assert client.get("/no-such-page").status_code == 404


def test_names_are_escaped_headers_are_set_no_secret_is_shown(dash: Dash) -> None:
    tokens = json.loads(Path(dash.world.settings.token_file).read_text())
    secrets = [v for k, v in tokens.items() if "token" in k and isinstance(v, str) and len(v) > 8]
    assert secrets
    with httpx.Client(base_url=dash.url) as client:
        for page in PAGES:
            r = client.get(f"{page.path}?period=all")
            assert r.status_code == 200, page.path
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
            assert XSS not in r.text and "<script>alert" not in r.text
            assert "<script" not in r.text.replace('<script src="/static/app.js" defer></script>', "")
            for secret in secrets:
                assert secret not in r.text and secret not in client.get(f"/api{page.path}").text
        top = client.get("/top?period=all").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in top and "&lt;script&gt;alert(2)&lt;/script&gt;" in top


def _cli(tmp_path: Path, dash: Dash, *args: str) -> subprocess.Popen[str]:
    s = dash.world.settings
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "SPOTIFY_PIPELINE_USER": "alice", "SPOTIFY_PIPELINE_TIMEZONE": ZONE,
           "SPOTIFY_PIPELINE_TOKEN_FILE": str(s.token_file), "COLUMNS": "200"}  # fmt: skip
    code = "from spotify_pipeline.cli.main import app; app()"
    return subprocess.Popen([sys.executable, "-c", code, "dashboard", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_command_prints_its_url_first(dash: Dash, tmp_path: Path, host: str) -> None:
    url = dash.world.settings.warehouse_url.get_secret_value()
    proc = _cli(tmp_path, dash, "--host", host, "--port", "0", "--period", "all", "--warehouse-url", url)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline().strip()
        assert first.startswith(f"http://{host}:") and first.endswith("/"), first
        local = first.replace("0.0.0.0", "127.0.0.1")
        overview = httpx.get(f"{local}api/overview", timeout=10).json()  # --period all: the default
        assert overview["period"]["name"] == "all" and overview["totals"]["plays"] > 0
        if host != "127.0.0.1":
            assert "anyone who can reach it sees your listening history (no login)" in proc.stderr.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reaps it and closes the pipes


def test_a_missing_warehouse_is_one_line_and_not_created(dash: Dash, tmp_path: Path) -> None:
    proc = _cli(tmp_path, dash, "--port", "0", "--warehouse-url", f"sqlite:///{tmp_path / 'none.db'}")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and out == ""
    assert "no warehouse at" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "none.db").exists()


def test_a_failed_read_is_one_line(dash: Dash, monkeypatch: pytest.MonkeyPatch) -> None:
    from spotify_pipeline.dashboard import views

    def down(*args: object, **kwargs: object) -> None:
        raise OSError("Can't connect to MySQL server on '127.0.0.1'\nsecond line")

    monkeypatch.setattr(views, "users", down)
    with httpx.Client(base_url=dash.url) as client:
        api = client.get("/api/overview")
        page = client.get("/")
        monkeypatch.undo()
        again = client.get("/api/overview?period=all")
    assert api.status_code == 503 and api.json() == {
        "error": "cannot read the warehouse: OSError: Can't connect to MySQL server on '127.0.0.1'"
    }
    assert (
        page.status_code == 503 and "cannot read the warehouse" in page.text and "Traceback" not in page.text
    )
    assert again.status_code == 200  # the server kept serving


def test_templates_and_static_files_ship_as_package_data() -> None:
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "spotify_pipeline"
    ]  # fmt: skip
    package = ROOT / "src" / "spotify_pipeline"
    files = [p.relative_to(package).as_posix() for d in ("templates", "static")
             for p in (package / "dashboard" / d).iterdir()]  # fmt: skip
    assert len(files) >= 10
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), files
