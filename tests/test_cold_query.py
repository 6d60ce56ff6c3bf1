"""`vindex query` asks the running `vindex serve` of its index (found through INDEX/serve.json),
and answers by itself whenever that file cannot be trusted."""

import http.server
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from vindex.serve import handoff

from tests.conftest import served


def query_json(run, *args: str) -> dict:
    return json.loads(run("query", "a red square", "--json", *args).stdout)


def read_status(address: str, path: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(address + path, headers=headers or {}), timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_served_index_answers_query_through_its_file_with_the_local_hits(indexed_copy, run, monkeypatch):
    with served() as address:
        facts = json.loads((indexed_copy / handoff.FILE_NAME).read_text())
        assert stat.S_IMODE(os.stat(indexed_copy / handoff.FILE_NAME).st_mode) == 0o600
        assert address == f"http://127.0.0.1:{facts['port']}" and facts["uri"] == str(indexed_copy)
        for options in ([], ["--by", "video", "-n", "3"], ["--moments", "--channel", "01_checker"], ["--min-score", "-1"]):
            answered = query_json(run, *options)
            assert answered.pop("served_by") == f"127.0.0.1:{facts['port']}"
            monkeypatch.setenv("VINDEX_NO_SERVER", "1")
            local = query_json(run, *options)
            monkeypatch.delenv("VINDEX_NO_SERVER")
            assert "served_by" not in local and answered == local and answered["hits"]
        table, paths = run("query", "a red square").stdout, run("query", "a red square", "-0").stdout
        monkeypatch.setenv("VINDEX_NO_SERVER", "1")
        assert (table, paths) == (run("query", "a red square").stdout, run("query", "a red square", "-0").stdout)
        # Filters the server does not take (--under, --name) are answered locally.
        assert "served_by" not in query_json(run, "--name", "*.mp4")
    assert not (indexed_copy / handoff.FILE_NAME).exists()  # removed when the server stopped (SIGTERM)


def test_similar_to_a_file_under_the_root_is_answered_by_the_server_with_the_local_hits(indexed_copy, run, monkeypatch,
                                                                                         tmp_path):
    outside = tmp_path / "outside.mp4"
    with served() as address:
        file = query_json(run)["hits"][0]["file"]
        outside.write_bytes(open(file, "rb").read())
        for options in ([], ["--moments", "-n", "3"], ["--by", "video"]):
            answered = json.loads(run("similar", file, "--json", *options).stdout)
            assert answered.pop("served_by") == address.removeprefix("http://")
            monkeypatch.setenv("VINDEX_NO_SERVER", "1")
            local = json.loads(run("similar", file, "--json", *options).stdout)
            monkeypatch.delenv("VINDEX_NO_SERVER")
            assert answered == local and answered["hits"] and answered["query"] == file
        # A file outside the index root is not the server's to read: the CLI answers by itself.
        assert "served_by" not in json.loads(run("similar", outside, "--json").stdout)
        assert "served_by" not in json.loads(run("similar", file, "--include-self", "--json").stdout)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OtherIndex(http.server.BaseHTTPRequestHandler):
    """A server that answers /api/query in the right shape, for another index."""

    def do_GET(self):
        body = json.dumps({"query": "x", "by": "frame", "hits": [], "source": "text", "warnings": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Vindex-Index", "/somewhere/else")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("stale", ["dead pid", "refused", "other uri", "other index answers", "not json", "pid 0"])
def test_a_stale_file_is_ignored_and_the_query_answered_locally(indexed_copy, run, stale):
    other = http.server.HTTPServer(("127.0.0.1", 0), OtherIndex)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        facts = {"host": "127.0.0.1", "port": free_port(), "pid": os.getpid(), "uri": str(indexed_copy),
                 "secret": "s"}
        facts |= {"dead pid": {"pid": dead_pid(), "port": other.server_port}, "refused": {},
                  "other uri": {"uri": "/somewhere/else", "port": other.server_port},
                  "other index answers": {"port": other.server_port}, "not json": {},
                  "pid 0": {"pid": 0, "port": other.server_port}}[stale]
        text = "{not json" if stale == "not json" else json.dumps(facts)
        (indexed_copy / handoff.FILE_NAME).write_text(text)
        answered = query_json(run)
        assert "served_by" not in answered and answered["hits"]  # the local answer, not the other server's
    finally:
        other.shutdown()


def test_in_token_mode_the_file_secret_opens_the_read_api_only(indexed_copy, run):
    with served("--token", "the-token") as address:
        base = address.split("?")[0].rstrip("/")
        secret = json.loads((indexed_copy / handoff.FILE_NAME).read_text())["secret"]
        assert "the-token" not in (indexed_copy / handoff.FILE_NAME).read_text()
        assert "served_by" in query_json(run)
        bearer = {"Authorization": f"Bearer {secret}"}
        assert read_status(base, "/api/query?q=x", bearer) == 200
        assert read_status(base, "/api/query?q=x") == 401
        assert read_status(base, "/api/query?q=x", {"Authorization": "Bearer wrong"}) == 401
        assert read_status(base, "/", bearer) == 401  # pages and media are not the read API
        upload = urllib.request.Request(base + "/api/similar?name=x.mp4", data=b"x", method="POST", headers=bearer)
        try:
            urllib.request.urlopen(upload, timeout=30)
            raise AssertionError("a write with the file's secret was accepted")
        except urllib.error.HTTPError as error:
            assert error.code in (401, 403)
    assert not (indexed_copy / handoff.FILE_NAME).exists()


def test_without_a_token_the_read_api_stays_open_to_local_clients_as_before(indexed_copy):
    with served() as address:
        assert read_status(address, "/api/query?q=x") == 200
        assert read_status(address, "/api/query?q=x", {"Authorization": "Bearer wrong"}) == 200


def test_the_file_is_written_private_and_read_only_when_well_formed(tmp_path):
    os.umask(0o022)
    path = handoff.write(tmp_path, "0.0.0.0", 8765, str(tmp_path), "secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert handoff.read(tmp_path) == {"host": "127.0.0.1", "port": 8765, "pid": os.getpid(), "uri": str(tmp_path),
                                      "secret": "secret"}
    path.write_text(json.dumps({"host": "127.0.0.1", "port": "8765", "pid": os.getpid(), "uri": "x", "secret": "s"}))
    assert handoff.read(tmp_path) is None  # a port that is not a number
    handoff.remove(path, "another run's secret")
    assert path.exists()  # only the run that wrote it removes it
