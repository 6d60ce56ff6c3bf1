"""`vindex serve` answers only the user's own browser tab: the Host check, cross-site requests and
CSRF, paths from requests, headers, embedded JSON, the token, uploads and names that hide what they
are (docs/security.md lists each defence with its test here)."""

import hmac
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from vindex.cli import cli
from vindex.display import visible_name
from vindex.serve import guard, pages, views
from vindex.serve.app import Uploading, create_app
from vindex.serve.library import Library

OWN = "http://127.0.0.1:8765"
HOSTILE_NAMES = [
    "<img src=x onerror=window.__pwned=1>.mp4",
    '"><svg onload=window.__pwned=2>.mp4',
    'x" autofocus onfocus="window.__pwned=3" y.mp4',
    "<!--<script>.mpeg",
    "evil\u202egnp.mp4",
]


@pytest.fixture(scope="module")
def hostile(corpus_template, tmp_path_factory):
    """The session corpus with five videos renamed to hostile names, indexed and clustered."""
    from vindex.embedding import ModelSpec
    from vindex.index import Index

    base = tmp_path_factory.mktemp("hostile")
    root = base / "channels"
    shutil.copytree(corpus_template, root)
    for channel, name in zip(sorted(root.iterdir()) * 2, HOSTILE_NAMES):
        first = sorted(path for path in channel.iterdir() if not path.name.startswith(("<", '"', "x", "evil")))[0]
        first.rename(channel / name)
    db = base / "index.vindex"
    Index(str(db)).add(root, model=ModelSpec("vindex-tiny"))
    result = CliRunner().invoke(cli, ["cluster", "--db", str(db), "--min-size", "3", "--no-report", "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(db=db, root=root)


@pytest.fixture(scope="module")
def library(hostile):
    return Library(str(hostile["db"]))


@pytest.fixture(scope="module")
def client(library):
    return TestClient(create_app(library), base_url=OWN)


def csrf(client) -> dict:
    answer = client.get("/api/csrf").json()
    return {answer["header"]: answer["csrf"]}


def some_video(client) -> dict:
    return client.get("/api/query", params={"q": "stripes", "limit": 1}).json()["hits"][0]


# -- 1. the Host check (DNS rebinding) --------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example:8765", "evil.example", "127.0.0.1:9999", "localhost.evil.example:8765",
                                  "", "127.0.0.1:8765@evil.example"])
def test_a_foreign_host_gets_421_and_no_data(client, host):
    answer = client.get("/api/info", headers={"host": host})
    assert answer.status_code == 421
    assert "videos" not in answer.text and "\n" not in answer.text.strip() and "--allow-host" in answer.text
    assert client.get("/media/thumb/" + some_video(client)["video_id"], headers={"host": host}).status_code == 421


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765"])
def test_own_names_are_served(client, host):
    assert client.get("/api/info", headers={"host": host}).status_code == 200


def test_allowlist_takes_the_listening_address_and_allow_host():
    proxied = guard.HostAllowlist("127.0.0.1", 8765, ("videos.example", "other.example:8443"))
    assert proxied.allows("videos.example") and proxied.allows("videos.example:443")
    assert proxied.allows("other.example:8443") and not proxied.allows("other.example:9000")
    assert not proxied.allows("evil.example:8765")
    lan = guard.HostAllowlist("192.168.1.4", 8000)
    assert lan.allows("192.168.1.4:8000") and not lan.allows("192.168.1.5:8000")
    everywhere = guard.HostAllowlist("0.0.0.0", 8000)  # any address of this machine; still no names
    assert everywhere.allows("10.1.2.3:8000") and everywhere.allows("[fe80::1]:8000")
    assert not everywhere.allows("rebound.example:8000") and not everywhere.allows("10.1.2.3:8001")
    assert guard.HostAllowlist("::1", 80).allows("[::1]")


def test_serve_takes_allow_host(hostile, monkeypatch):
    import uvicorn

    configs = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: configs.append(self.config))
    result = CliRunner().invoke(cli, ["serve", "--db", str(hostile["db"]), "--port", "0", "-q",
                                      "--allow-host", "videos.example"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # No access log (it would write ?token=), and no X-Forwarded-For to fake a session's client address.
    assert not configs[0].access_log and not configs[0].proxy_headers
    proxied = TestClient(configs[0].app, base_url="http://videos.example")
    assert proxied.get("/api/info").status_code == 200
    assert proxied.get("/api/info", headers={"host": "evil.example"}).status_code == 421


# -- 2. origin and CSRF --------------------------------------------------------------------------------
def test_a_write_without_the_csrf_token_is_403(client):
    answer = client.post("/api/similar", content=b"video bytes")
    assert answer.status_code == 403 and "X-Vindex-CSRF" in answer.json()["error"]
    wrong = client.post("/api/similar", content=b"video bytes", headers={"X-Vindex-CSRF": "guess"})
    assert wrong.status_code == 403


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"}, {"origin": "null"}, {"origin": "http://127.0.0.1:18999"},
    {"origin": "http://localhost:8765"},  # another origin than the page's own, even if it is this server
    {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
])
def test_a_write_from_another_origin_is_403_even_with_the_token(client, headers):
    answer = client.post("/api/similar", content=b"video bytes", headers={**csrf(client), **headers})
    assert answer.status_code == 403 and answer.json()["error"].startswith("refused")


def test_a_write_from_the_own_page_passes_the_guard(client):
    headers = {**csrf(client), "origin": OWN, "sec-fetch-site": "same-origin"}
    answer = client.post("/api/similar", content=b"", headers=headers)
    assert answer.status_code == 400 and "empty" in answer.json()["error"]  # reached the handler


def test_every_write_route_is_guarded(client):
    """A new POST/PUT/PATCH/DELETE route needs nothing to be protected: the guard goes by method."""
    writes = [(route.path, method) for route in client.app.routes for method in getattr(route, "methods", None) or ()
              if method not in guard.SAFE_METHODS]
    assert ("/api/similar", "POST") in writes
    for path, method in writes:
        assert client.request(method, path.replace("{video_id}", "x")).status_code == 403, (path, method)


def test_another_sites_page_cannot_read_the_api_or_media(client):
    video = some_video(client)["video_id"]
    for url in ("/api/info", f"/media/thumb/{video}", f"/media/video/{video}"):
        for site in ("cross-site", "same-site"):
            assert client.get(url, headers={"sec-fetch-site": site, "sec-fetch-mode": "no-cors"}).status_code == 403
        assert client.get(url, headers={"sec-fetch-site": "same-origin"}).status_code == 200
    link = client.get("/clusters", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"})
    assert link.status_code == 200  # following a link to the app still works


def test_pages_carry_the_csrf_token_for_the_script(client):
    page = client.get("/")
    token = re.search(r'<meta name="vindex-csrf" content="([^"]+)">', page.text).group(1)
    assert csrf(client) == {"X-Vindex-CSRF": token}
    script = client.get("/static/app.js").text
    assert 'querySelector("meta[name=vindex-csrf]")' in script and 'send("/api/similar' in script


# -- 3. paths from a request ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/etc/passwd", "/no/such/file.mp4", "/proc/1/cwd/x.mp4", "../../../etc/passwd",
                                  "/proc/self/environ"])
def test_a_path_outside_the_root_gets_one_refusal(client, path):
    for url in ("/api/similar", "/"):
        answer = client.get(url, params={"path": path})
        assert answer.status_code == 400
        text = answer.json()["error"] if url.startswith("/api") else answer.text
        assert views.PATH_REFUSED in text.replace("&#39;", "'")
        assert "Invalid data" not in text and "no such file" not in text


def test_a_symlink_out_of_the_root_is_refused_and_a_path_inside_works(client, hostile, tmp_path):
    outside = tmp_path / "secret.mp4"
    shutil.copy(client.get("/api/query", params={"q": "x", "limit": 1}).json()["hits"][0]["file"], outside)
    link = hostile["root"] / "link.mp4"
    link.symlink_to(outside)
    try:
        assert client.get("/api/similar", params={"path": str(link)}).json()["error"] == views.PATH_REFUSED
    finally:
        link.unlink()
    inside = some_video(client)
    relative = client.get("/api/similar", params={"path": inside["path"], "limit": 2})
    assert relative.status_code == 200 and len(relative.json()["hits"]) == 2
    assert client.get("/api/similar", params={"path": inside["file"], "limit": 2}).status_code == 200


@pytest.mark.parametrize("dest", ["/proc/1/cwd", "/proc/self", "/etc", "/"])
def test_an_organize_destination_far_from_the_root_gets_one_refusal(client, dest):
    answer = client.get("/api/organize", params={"dest": dest})
    assert answer.status_code == 400 and answer.json()["error"] == views.DEST_REFUSED
    page = client.get("/organize", params={"dest": dest})
    assert page.status_code == 400 and "/proc/" not in page.text.split("<main>")[1]


def test_a_path_that_cannot_be_resolved_is_400_not_500(client, monkeypatch):
    """For a user other than root, realpath("/proc/1/cwd/x.mp4") raises PermissionError (the cases
    above meet it as they are); root may read it, so here the error is raised for it."""
    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(views.os.path, "realpath", denied)
    assert client.get("/api/similar", params={"path": "/proc/1/cwd/x.mp4"}).status_code == 400
    assert client.get("/api/organize", params={"dest": "/proc/1/cwd"}).status_code == 400
    assert client.get("/organize", params={"dest": "/proc/1/cwd/x"}).status_code == 400


def test_a_file_that_cannot_be_read_is_400_not_500(client, library, monkeypatch):
    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(library.index), "similar", unreadable)
    answer = client.get("/api/similar", params={"path": some_video(client)["path"]})
    assert answer.status_code == 400 and "Permission denied" in answer.json()["error"]


# -- 4. headers -------------------------------------------------------------------------------------
def test_every_answer_has_the_security_headers(client):
    video = some_video(client)["video_id"]
    for url in ("/", "/clusters", "/api/info", f"/media/thumb/{video}", "/static/app.js", "/nowhere"):
        headers = client.get(url).headers
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert client.get("/api/info").headers["cache-control"] == "no-store"
    assert client.get("/api/info", headers={"host": "evil.example"}).headers["x-content-type-options"] == "nosniff"


def test_no_template_has_inline_script():
    folder = Path(pages.__file__).parent / "templates"
    for template in folder.glob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text) and "javascript:" not in text, template.name
        assert "style=" not in text, template.name


# -- 5. JSON in a page ------------------------------------------------------------------------------
def test_script_json_escapes_what_could_end_the_block():
    value = {"name": "<!--<script></script>&amp;.mpeg", "other": "a > b"}
    text = str(pages.script_json(value))
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\\u003c!--\\u003cscript\\u003e" in text and json.loads(text) == value


def test_the_map_data_block_holds_a_hostile_name_whole(client):
    page = client.get("/clusters").text
    block = page.split('<script type="application/json" id="map-data">')[1].split("</script>")[0]
    paths = [point["path"] for point in json.loads(block)["points"]]
    assert "<!--<script>.mpeg" in {Path(path).name for path in paths}
    assert page.rstrip().endswith("</html>") and '<script src="/static/map.js"></script>' in page


# -- 6. the token -----------------------------------------------------------------------------------
@pytest.fixture
def token_app(library):
    return create_app(library, token="s3cret", host="127.0.0.2", port=8765)


def test_the_token_is_traded_for_a_per_port_session_and_a_clean_address(token_app):
    client = TestClient(token_app, base_url="http://127.0.0.2:8765", follow_redirects=False)
    opened = client.get("/clusters", params={"token": "s3cret", "page": "1"})
    assert opened.status_code == 303 and opened.headers["location"] == "/clusters?page=1"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith("vindex_session_8765=") and "s3cret" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Domain" not in cookie
    assert client.get("/api/info").status_code == 200  # the session cookie it set
    # The same cookie sent to a server of the same token on another port opens nothing there.
    other = TestClient(create_app(token_app.state.library, token="s3cret", host="127.0.0.2", port=18999),
                       base_url="http://127.0.0.2:18999")
    session = cookie.split(";")[0].split("=", 1)[1]
    assert other.get("/api/info", cookies={"vindex_session_18999": session}).status_code == 401
    assert other.get("/api/info", cookies={"vindex_session_8765": session}).status_code == 401
    # Nor does it open this server from another client address (a server that was sent it, replaying it).
    elsewhere = TestClient(token_app, base_url="http://127.0.0.2:8765", client=("192.168.1.66", 40000))
    assert elsewhere.get("/api/info", cookies={"vindex_session_8765": session}).status_code == 401


@pytest.mark.parametrize("offered", ["junk; Domain=example.com; Max-Age=99999", "s3cret\r\nSet-Cookie: x=1",
                                     "s3cret; Domain=example.com", "", "s3cre", "s3crets"])
def test_a_wrong_token_sets_nothing(token_app, offered):
    client = TestClient(token_app, base_url="http://127.0.0.2:8765", follow_redirects=False)
    answer = client.get("/", params={"token": offered})
    assert answer.status_code == 401 and "set-cookie" not in answer.headers
    assert client.get("/api/info").status_code == 401
    # Logged in, a wrong ?token= is still checked, not copied into a cookie on the strength of the session.
    assert client.get("/", params={"token": "s3cret"}).status_code == 303
    again = client.get("/", params={"token": offered})
    assert again.status_code == 401 and "set-cookie" not in again.headers
    assert client.get("/api/info").status_code == 200


def test_the_token_is_compared_in_constant_time(token_app, monkeypatch):
    compared, original = [], hmac.compare_digest
    monkeypatch.setattr(guard.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or original(a, b))
    client = TestClient(token_app, base_url="http://127.0.0.2:8765")
    assert client.get("/api/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/", params={"token": "nope"}).status_code == 401
    assert (b"s3cret", b"s3cret") in compared and (b"nope", b"s3cret") in compared


def test_a_page_on_another_port_cannot_write_with_the_session(token_app):
    client = TestClient(token_app, base_url="http://127.0.0.2:8765")
    client.get("/", params={"token": "s3cret"})
    token = {guard.CSRF_HEADER: token_app.state.csrf_token}
    from_other_port = client.post("/api/similar", content=b"x", headers={**token, "origin": "http://127.0.0.2:18999",
                                                                          "sec-fetch-site": "same-site"})
    assert from_other_port.status_code == 403
    own = client.post("/api/similar", content=b"", headers={**token, "origin": "http://127.0.0.2:8765"})
    assert own.status_code == 400  # through the guard, to the handler


# -- 7. uploads, and names that hide what they are --------------------------------------------------
def test_uploads_are_bounded_in_size_and_number(library):
    limit = Uploading(at_once=1, max_bytes=1000)
    client = TestClient(create_app(library, upload_limit=limit), base_url=OWN)
    headers = csrf(client)
    too_big = client.post("/api/similar", content=b"x" * 2000, headers=headers)
    assert too_big.status_code == 413 and "larger than" in too_big.json()["error"]
    streamed = client.post("/api/similar", content=iter([b"x" * 600, b"x" * 600]), headers=headers)
    assert streamed.status_code == 413
    limit.running = 1  # one upload under way
    busy = client.post("/api/similar", content=b"x" * 10, headers=headers)
    assert busy.status_code == 429
    limit.running = 0
    assert client.post("/api/similar", content=b"", headers=headers).status_code == 400
    assert limit.running == 0


def test_visible_name_escapes_controls_and_bidi():
    assert visible_name("evil\u202egnp.mp4") == "evil\\u202egnp.mp4"
    assert visible_name("a\x1b[31mb\x7f\x9b\n") == "a\\x1b[31mb\\x7f\\x9b\\x0a"
    for hidden in "\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u061c\u200b\ufeff\u2028":
        assert visible_name(f"x{hidden}y") == f"x\\u{ord(hidden):04x}y"
    assert visible_name("\U000e0041") == "\\U000e0041" and visible_name("bad\udcff") == "bad\\udcff"
    plain = "Vidéo 日本 (1) \\ ok.mp4"
    assert visible_name(plain) is plain


def test_pages_and_tables_show_a_bidi_override_as_an_escape(client, hostile):
    page = client.get("/", params={"q": "anything", "limit": 100}).text
    assert "evil\\u202egnp.mp4" in page and "\u202e" not in page
    clusters = client.get("/clusters").text
    assert "\u202e" not in clusters and "evil\\\\u202egnp.mp4" in clusters  # in the map's JSON: \\u202e
    table = CliRunner().invoke(cli, ["query", "anything", "--limit", "100", "--db", str(hostile["db"])])
    assert table.exit_code == 0 and "evil\\u202egnp.mp4" in table.stdout and "\u202e" not in table.stdout
    listed = CliRunner().invoke(cli, ["query", "anything", "--limit", "100", "--paths", "--db", str(hostile["db"])])
    assert "\u202e" in listed.stdout  # --paths gives the real path, for scripts


# -- 9. in a real browser ---------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => window.__violations.push(event.violatedDirective));
"""


def start_server(db: Path, *options: str):
    """`vindex serve --port 0 OPTIONS` as a subprocess: (process, its address, every line it wrote)."""
    import queue
    import subprocess
    import sys
    import threading

    process = subprocess.Popen([sys.executable, "-m", "vindex", "serve", "--db", str(db), "--port", "0", "-q",
                                *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    written: list[str] = []
    threading.Thread(target=lambda: [(written.append(line), lines.put(line)) for line in process.stdout],
                     daemon=True).start()
    while True:
        line = lines.get(timeout=120)
        if line.startswith("vindex serve: http://"):
            return process, line.split()[2].rstrip("/"), written
        assert process.poll() is None, line


@pytest.fixture
def served(hostile):
    """`vindex serve --port 0` on the hostile index, as a user starts it; yields its address."""
    process, address, _ = start_server(hostile["db"])
    try:
        yield address.rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_a_served_token_is_never_logged_and_leaves_the_address(hostile):
    import http.client
    from urllib.parse import urlsplit

    token = "T0ken-for-the-log-test"
    process, address, written = start_server(hostile["db"], "--host", "127.0.0.2", "--token", token)
    try:
        where = urlsplit(address)
        for offered, status in ((token, 303), ("junk%0d%0aX:%20y", 401), ("junk;%20Domain=example.com", 401)):
            connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
            connection.request("GET", f"/clusters?token={offered}")
            answer = connection.getresponse()
            assert answer.status == status
            if status == 303:
                assert answer.getheader("location") == "/clusters"
                assert answer.getheader("set-cookie").startswith(f"vindex_session_{where.port}=")
            else:
                assert answer.getheader("set-cookie") is None
            connection.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    log = "".join(line for line in written if not line.startswith("vindex serve: "))
    assert token not in log and "Traceback" not in log


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_hostile_names_run_nothing_in_the_browser(served, hostile):
    from playwright.sync_api import sync_playwright

    client = TestClient(create_app(Library(str(hostile["db"]))), base_url=OWN)
    hits = client.get("/api/query", params={"q": "anything", "limit": 100}).json()["hits"]
    hostile_ids = [hit["video_id"] for hit in hits if Path(hit["path"]).name in HOSTILE_NAMES]
    clusters = [row["id"] for row in client.get("/api/clusters").json()]
    urls = ["/?q=anything&limit=100", "/clusters", *[f"/clusters/{'noise' if id == -1 else id}" for id in clusters],
            "/dupes?mode=similar&threshold=0.5", "/organize", "/info", "/clusters/777",
            *[f"/similar/{video}?limit=30" for video in hostile_ids]]
    assert len(hostile_ids) == len(HOSTILE_NAMES)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.add_init_script(WATCH)
        for url in urls:
            page.goto(served + url)
            page.wait_for_load_state("load")
            page.keyboard.press("Tab")  # would fire an injected onfocus
            found = page.evaluate("[window.__pwned, window.__violations, typeof clusterColour]")
            assert found == [None, [], "function"], url  # nothing ran, nothing was blocked, app.js loaded
        page.goto(served + "/?q=anything&limit=100")
        shown = page.evaluate("[...document.querySelectorAll('#hits .tile .path')].map((e) => e.textContent)")
        assert {Path(path).name for path in shown} >= {visible_name(name) for name in HOSTILE_NAMES}
        page.locator("#hits .tile .play").first.click()
        assert page.locator("#player .player-title").text_content()
        page.keyboard.press("Escape")
        page.goto(served + "/clusters")  # a name `<!--<script>.mpeg` must not swallow map.js
        assert page.evaluate("document.getElementById('map').style.height") != ""
        # A dropped (here: chosen) file goes through the guard with the page's CSRF token.
        page.goto(served + "/")
        page.set_input_files("#drop input[type=file]", hits[0]["file"])
        page.wait_for_url("**/?upload=*")
        assert page.locator("#hits .tile").count() == 10
        assert page.evaluate("[window.__pwned, window.__violations]") == [None, []] and not errors, errors
        browser.close()
