"""`vindex serve`: every route through Starlette's test client, against the session's indexed corpus."""

import json
import shutil
import socket
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from vindex.cli import cli
from vindex.demo import make_corpus
from vindex.errors import VindexError
from vindex.serve import library as library_module
from vindex.serve import media, views
from vindex.serve.app import create_app
from vindex.serve.library import Library
from vindex.serve.server import is_loopback, run as run_server


def local_client(app) -> TestClient:
    """A client that asks for the server's own address (the app refuses other Host names)."""
    return TestClient(app, base_url="http://127.0.0.1:8765")


def csrf(client) -> dict:
    """The header that the pages' script sends with every change."""
    answer = client.get("/api/csrf").json()
    return {answer["header"]: answer["csrf"]}


def cli_json(*args):
    result = CliRunner().invoke(cli, [*map(str, args), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def clustered(indexed_template, tmp_path_factory):
    """A clustered copy of the session index, and what /api/clusters said before the run.

    The app is made before `vindex cluster` runs, so the test of the later answer shows the server
    picks up another process's clustering without a restart."""
    db = tmp_path_factory.mktemp("served") / "index.vindex"
    shutil.copytree(indexed_template, db)
    library_module.REFRESH_SECONDS, saved = 0.0, library_module.REFRESH_SECONDS
    client = local_client(create_app(Library(str(db))))
    before = client.get("/api/clusters")
    result = CliRunner().invoke(cli, ["cluster", "--db", str(db), "--min-size", "3", "--no-report", "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    yield dict(db=db, client=client, before=before)
    library_module.REFRESH_SECONDS = saved


@pytest.fixture
def client(clustered):
    return clustered["client"]


@pytest.fixture
def db(clustered):
    return clustered["db"]


def first_hit(client) -> dict:
    return client.get("/api/query", params={"q": "colourful stripes", "limit": 3}).json()["hits"][0]


# -- the JSON API speaks the CLI's --json ------------------------------------------------------------
def test_query_api_matches_cli_json(client, db):
    answer = client.get("/api/query", params={"q": "colourful stripes", "limit": 5})
    assert answer.status_code == 200
    assert answer.json() == cli_json("query", "colourful stripes", "--limit", 5, "--db", db)
    assert len(answer.json()["hits"]) == 5


def test_query_api_filters_by_channel_and_folder(client):
    channel = first_hit(client)["channel"]
    by_channel = client.get("/api/query", params={"q": "stripes", "limit": 50, "channel": channel}).json()["hits"]
    assert by_channel and {hit["channel"] for hit in by_channel} == {channel}
    in_folder = client.get("/api/query", params={"q": "stripes", "limit": 3, "folder": channel}).json()
    assert [hit["rank"] for hit in in_folder["hits"]] == [1, 2, 3]
    assert all(hit["path"].startswith(channel + "/") for hit in in_folder["hits"])


def test_similar_by_id_matches_cli_and_leaves_the_video_out(client, db):
    hit = first_hit(client)
    answer = client.get(f"/api/similar/{hit['video_id']}", params={"limit": 4}).json()
    expected = cli_json("similar", hit["file"], "--limit", 4, "--db", db)
    assert answer["hits"] == expected["hits"]
    assert answer["video"]["id"] == hit["video_id"]
    assert hit["video_id"] not in [other["video_id"] for other in answer["hits"]]


def test_similar_to_an_uploaded_file(client):
    hit = first_hit(client)
    with open(hit["file"], "rb") as video:
        answer = client.post("/api/similar", params={"name": "clip.mp4", "limit": 3}, content=video.read(),
                             headers=csrf(client))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert len(found["hits"]) == 3 and found["query"] == "clip.mp4"
    assert hit["video_id"] not in [other["video_id"] for other in found["hits"]]  # its identical copy
    page = client.get("/", params={"upload": found["upload"]})
    assert page.status_code == 200 and page.text.count('class="tile"') == 3
    assert client.post("/api/similar", content=b"", headers=csrf(client)).status_code == 400
    assert client.get("/", params={"upload": "gone"}).status_code == 404


def test_clusters_appear_after_a_cluster_run_without_restart(clustered, db):
    assert clustered["before"].status_code == 400
    assert "no clusters" in clustered["before"].json()["error"]
    answer = clustered["client"].get("/api/clusters")
    assert answer.status_code == 200
    assert answer.json() == cli_json("show", "--db", db)


def test_cluster_api_pages_members_most_typical_first(client, db):
    cluster = client.get("/api/clusters").json()[0]
    shown = cli_json("show", cluster["id"], "--limit", 0, "--db", db)
    page = client.get(f"/api/clusters/{cluster['id']}").json()
    assert page["videos"] == shown["videos"] and (page["page"], page["pages"], page["per_page"]) == (1, 1, 60)
    library = Library(str(db))
    second = views.cluster_page(library, cluster["id"], 2, per_page=2)
    assert second["videos"] == shown["videos"][2:4]
    assert second["pages"] == -(-cluster["size"] // 2)
    assert client.get(f"/api/clusters/{cluster['id']}", params={"page": 9}).status_code == 400
    assert client.get("/api/clusters/noise").json()["id"] == -1
    for unknown in ("999", "abc", "1.5"):
        assert client.get(f"/api/clusters/{unknown}").status_code == 404


def test_dupes_info_and_organize_match_the_cli(client, db):
    assert client.get("/api/dupes", params={"threshold": 0.9}).json() == cli_json("dupes", "--threshold", 0.9,
                                                                                   "--db", db)
    similar = client.get("/api/dupes", params={"mode": "similar", "threshold": 0.9}).json()
    assert similar == cli_json("dupes", "--mode", "similar", "--threshold", 0.9, "--db", db) and similar["groups"]
    info = client.get("/api/info").json()
    assert info == cli_json("info", "--db", db)
    dest = Path(info["root"]).parent / "sorted"  # beside the root: the only place a preview looks at
    plan = client.get("/api/organize", params={"dest": str(dest), "mode": "copy"}).json()
    command = plan.pop("command")
    assert plan == cli_json("organize", "--dest", dest, "--copy", "--db", db)
    assert command.endswith(f"--dest {dest} --copy --apply") and not dest.exists()
    points = client.get("/api/map").json()
    members = {video["id"]: cluster["id"] for cluster in client.get("/api/clusters").json()
               for video in client.get(f"/api/clusters/{cluster['id']}").json()["videos"]}
    assert {point["id"]: point["cluster"] for point in points} == members and len(points) == 24


@pytest.mark.parametrize("url", [
    "/api/query?q=x&limit=abc", "/api/query?q=x&limit=0", "/api/query?q=x&limit=100000", "/api/query?q=x&by=colour",
    "/api/query?q=x&min_score=2", "/api/query?q=x&min_score=nan", "/api/query", "/api/query?q=x&channel=nowhere",
    "/api/dupes?threshold=abc", "/api/dupes?threshold=0", "/api/dupes?mode=fuzzy", "/api/organize?mode=shred", "/api/organize?keep_channel=maybe",
    "/api/clusters/0?page=0", "/api/similar?path=/no/such/file.mp4", "/?q=x&limit=-3", "/dupes?threshold=7",
])
def test_bad_parameters_are_400_with_a_message(client, url):
    answer = client.get(url)
    assert answer.status_code == 400
    message = answer.json()["error"] if url.startswith("/api/") else answer.text
    assert message and "Traceback" not in message


# -- media --------------------------------------------------------------------------------------------
def test_video_supports_range_requests(client):
    hit = first_hit(client)
    with open(hit["file"], "rb") as video:
        content = video.read()
    whole = client.get(f"/media/video/{hit['video_id']}")
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    part = client.get(f"/media/video/{hit['video_id']}", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{len(content)}"
    assert part.content == content[10:100]
    tail = client.get(f"/media/video/{hit['video_id']}", headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == content[-50:]


@pytest.mark.parametrize("path", [
    "/media/video/0123456789abcdef", "/media/thumb/0123456789abcdef", "/media/video/..", "/media/video/%2e%2e",
    "/media/video/..%2f..%2fsetup.cfg", "/media/video/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/media/video/%2Fetc%2Fpasswd",
    "/media/video//etc/passwd", "/media/thumb/..%5c..%5cwindows", "/media/video/' OR '1'='1",
    "/static/../setup.cfg", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/similar/..%2f..%2fetc",
])
def test_unknown_ids_and_paths_are_404(client, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert b"root:" not in answer.content and b"[metadata]" not in answer.content


def test_thumbnail_is_decoded_once_and_cached_beside_the_index(client, db, monkeypatch):
    hit = first_hit(client)
    url = f"/media/thumb/{hit['video_id']}?t={hit['timestamp']}&w=100"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert first.content[:2] == b"\xff\xd8" and "max-age" in first.headers["cache-control"]
    assert list((db.parent / "index.vindex-thumbnails").glob("*.jpg"))
    monkeypatch.setattr(media, "render_thumbnail", lambda *args: pytest.fail("decoded again"))
    again = client.get(url)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def test_thumbnail_cache_stays_within_its_bound(tmp_path):
    cache = media.ThumbnailCache(tmp_path / "thumbs", limit_bytes=10_000)
    for key in range(12):
        assert cache.get(f"k{key}", lambda: b"x" * 3000) == b"x" * 3000
    sizes = [path.stat().st_size for path in (tmp_path / "thumbs").glob("*.jpg")]
    assert sum(sizes) <= 10_000 and (tmp_path / "thumbs" / "k11.jpg").exists()


def test_missing_file_gives_a_placeholder_not_a_500(indexed, tmp_path):
    library = Library(None)  # the test's VINDEX_DB, where `indexed` put the private corpus
    client = local_client(create_app(library))
    hit = first_hit(client)
    (indexed / hit["path"]).unlink()
    thumbnail = client.get(f"/media/thumb/{hit['video_id']}")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/svg+xml"
    assert b"missing" in thumbnail.content
    video = client.get(f"/media/video/{hit['video_id']}")
    assert video.status_code == 404 and "missing" in video.json()["error"]
    assert client.get("/", params={"q": "colourful stripes"}).status_code == 200
    assert client.get(f"/api/similar/{hit['video_id']}").status_code == 400


def test_sees_videos_that_add_writes_while_it_serves(indexed, run, monkeypatch):
    monkeypatch.setattr(library_module, "REFRESH_SECONDS", 0.0)
    client = local_client(create_app(Library(None)))
    before = client.get("/api/info").json()["videos"]
    make_corpus(indexed / "late", channels=1, videos_per_channel=3, seed=5, size=(96, 72), seconds=(1.0, 1.5), fps=10)
    run("add", indexed, "-q")
    after = client.get("/api/info").json()
    assert after["videos"] == before + 3 and after["channels"]["late"] == 3
    hits = client.get("/api/query", params={"q": "anything", "limit": 100}).json()["hits"]
    assert sum(hit["channel"] == "late" for hit in hits) == 3


# -- pages ------------------------------------------------------------------------------------------
def test_pages_render(client, db):
    hit = first_hit(client)
    search = client.get("/", params={"q": "colourful stripes", "limit": 7})
    assert search.status_code == 200 and search.text.count('class="tile"') == 7
    assert f'data-video="{hit["video_id"]}"' in search.text and f'data-t="{hit["timestamp"]}"' in search.text
    assert f"/media/thumb/{hit['video_id']}?t=" in search.text
    similar = client.get(f"/similar/{hit['video_id']}", params={"limit": 4})
    assert similar.status_code == 200 and similar.text.count('class="tile"') == 5  # the video, then 4 like it
    clusters = client.get("/clusters")
    points = json.loads(clusters.text.split('id="map-data">')[1].split("</script>")[0])["points"]
    assert '<canvas id="map"' in clusters.text and len(points) == 24
    cluster = client.get("/api/clusters").json()[0]
    page = client.get(f"/clusters/{cluster['id']}")
    assert page.status_code == 200 and page.text.count('class="tile"') == cluster["size"]
    assert cluster["name"] in page.text
    assert client.get("/clusters/noise").status_code == 200
    dupes = client.get("/dupes", params={"mode": "similar", "threshold": 0.9}).text
    assert 'class="reason">similar scene<' in dupes and 'class="badge">keep<' in dupes
    organize = client.get("/organize")
    assert "vindex organize --db" in organize.text and "--apply" in organize.text
    info = client.get("/info")
    assert '<td id="videos">24</td>' in info.text
    policy = client.get("/api/info").json()["frame_policy"]  # what `vindex info` says, not a bare count
    assert policy and f"<td>{escape(policy)}</td>" in info.text
    assert client.get("/clusters/777").status_code == 404
    assert client.get("/static/app.js").status_code == 200


# -- the token and the address ---------------------------------------------------------------------
def test_token_guards_every_route(db):
    client = local_client(create_app(Library(str(db)), token="s3cret"))
    for url in ("/", "/api/info", "/clusters", "/static/app.css", "/media/video/0123456789abcdef"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    opened = client.get("/info", params={"token": "s3cret"})
    assert opened.status_code == 200 and opened.url.path == "/info" and "token" not in str(opened.url)
    assert client.get("/api/info").status_code == 200  # the session cookie it set


def test_other_hosts_need_a_token(run, db):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    with pytest.raises(VindexError, match="token"):
        run_server(str(db), host="0.0.0.0", port=0)
    result = run("serve", "--db", db, "--host", "0.0.0.0", expect=1)
    assert "--token" in result.stderr and "Traceback" not in result.stderr


def test_taken_port_is_one_line_error(run, db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run("serve", "--db", db, "--port", taken.getsockname()[1], expect=1)
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr


def test_another_host_with_a_token_warns_and_serves(db, monkeypatch, capsys):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: served.append(sockets[0].getsockname()))
    run_server(str(db), host="0.0.0.0", port=0, token="s3cret")
    captured = capsys.readouterr()
    assert "warning: listening on 0.0.0.0" in captured.err and "anyone on the network" in captured.err
    assert "?token=s3cret" in captured.out and served and served[0][0] == "0.0.0.0"


def test_no_asset_comes_from_another_host():
    from pathlib import Path

    import vindex.serve

    folder = Path(vindex.serve.__file__).parent
    for file in [*folder.glob("templates/*.html"), *folder.glob("static/*")]:
        text = file.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text and 'src="//' not in text, file
