"""The request gate on real workers: token always, Host and Origin, bodies, slow clients, TLS."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from served import Served, serve

from core.service.auth import MAX_JSON_BYTES

CLIENT_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 6


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory, inputs: Path):
    """A worker started by hand with no --token and no RESTYLE_TOKEN."""
    tmp = tmp_path_factory.mktemp("bare")
    served = serve(tmp, "--allow-root", str(inputs), "--client-timeout-s", str(CLIENT_TIMEOUT_S),
                   "--max-connections", str(MAX_CONNECTIONS), token=None, log=tmp / "stderr.log")
    yield served
    served.stop()


def uploads(served: Served) -> list[Path]:
    folder = served.jobs_dir / "uploads"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_worker_without_token_makes_one_and_refuses_anonymous_uploads(bare: Served) -> None:
    assert len(bare.token) >= 24  # generated, announced in the ready line
    assert bare.token in bare.log.read_text()  # and told to the person who started it
    status, reply = bare.request("POST", "/uploads", b"payload", token=None,
                                 headers={"Content-Type": "application/octet-stream"})
    assert status == 401 and "token" in reply["detail"]
    assert uploads(bare) == []
    status, reply = bare.request("POST", "/uploads", b"payload")
    assert status == 201 and [p.name for p in uploads(bare)] == [reply["id"]]


def test_a_cross_site_text_plain_post_is_refused(bare: Served) -> None:
    before = uploads(bare)
    form = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
    assert bare.request("POST", "/uploads", b"x=1", headers=form, token=None)[0] in (401, 403)
    status, reply = bare.request("POST", "/uploads", b"x=1", headers=form)  # even with it
    assert status == 403 and "evil.example" in reply["detail"]
    assert uploads(bare) == before
    local = {"Content-Type": "text/plain", "Origin": f"http://localhost:{bare.port}"}
    assert bare.request("POST", "/uploads", b"x=1", headers=local)[0] == 201


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example"])
def test_a_foreign_host_header_is_refused(bare: Served, host: str) -> None:
    status, reply = bare.request("GET", "/styles", host=host)
    assert status == 400 and "Host" in reply["detail"]
    assert bare.request("GET", "/health", host=host, token=None)[0] == 400


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "10.1.2.3"])
def test_loopback_names_and_addresses_are_fine(bare: Served, host: str) -> None:
    assert bare.request("GET", "/styles", host=f"{host}:{bare.port}")[0] == 200


def test_health_is_minimal_without_the_token(bare: Served) -> None:
    assert bare.request("GET", "/health", token=None) == (200, {"status": "ok"})
    status, full = bare.request("GET", "/health")
    assert status == 200 and full["device"] == "cpu" and full["version"]
    assert "queue" in full and "max_upload_bytes" in full


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(bare: Served, scheme: str) -> None:
    assert bare.request("GET", "/styles",
                        headers={"Authorization": f"{scheme} {bare.token}"})[0] == 200


def test_other_schemes_and_near_tokens_are_refused(bare: Served) -> None:
    for value in (f"Basic {bare.token}", f"Bearer {bare.token}x", f"Bearer{bare.token}",
                  bare.token):
        assert bare.request("GET", "/styles", headers={"Authorization": value})[0] == 401


def test_an_overlong_file_name_is_shortened(bare: Served) -> None:
    name = "a" * 300 + ".png"
    status, reply = bare.request("POST", "/uploads", b"bytes", headers={"X-Filename": name})
    assert status == 201, reply
    (stored,) = (bare.jobs_dir / "uploads" / reply["id"]).iterdir()
    assert stored.name.endswith(".png") and len(stored.name) <= 120
    assert stored.read_bytes() == b"bytes"


def test_formats_the_stylizer_does_not_read_are_refused(bare: Served, inputs: Path) -> None:
    """An EPS would reach Ghostscript when decoded; it must not even pass the probe."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n"
    status, reply = bare.request("POST", "/uploads", eps, headers={"X-Filename": "art.png"})
    assert status == 201
    status, reply = bare.request(
        "POST", "/jobs", headers={"Content-Type": "application/json"},
        body=f'{{"kind": "stylize", "model": "x", "images": ["{reply["id"]}"]}}'.encode(),
    )
    assert status == 422 and "art.png" in reply["detail"] and "readable image" in reply["detail"]


def test_a_huge_json_body_is_refused_before_it_is_read(bare: Served) -> None:
    head = (f"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {bare.token}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n")
    declared = f"{head}Content-Length: {30 * 2**20}\r\n\r\n".encode() + b'{"kind": "'
    assert raw_reply(bare, declared).startswith("HTTP/1.1 413")
    body = b'{"kind": "stylize", "model": "' + b"x" * MAX_JSON_BYTES + b'"}'
    streamed = (f"{head}Transfer-Encoding: chunked\r\n\r\n{len(body):x}\r\n".encode() + body
                + b"\r\n0\r\n\r\n")  # no Content-Length: refused while it is read
    reply = raw_reply(bare, streamed)
    assert reply.startswith("HTTP/1.1 413") and "kB" in reply
    assert bare.request("GET", "/health")[0] == 200


def raw_reply(served: Served, data: bytes) -> str:
    """Send bytes as they are on a fresh connection; the reply, read until the worker closes."""
    reply = b""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(data)
        while chunk := conn.recv(65536):
            reply += chunk
    return reply.decode()


def test_a_client_that_never_finishes_its_headers_is_dropped(bare: Served) -> None:
    with socket.create_connection(("127.0.0.1", bare.port), timeout=10) as silent, \
            socket.create_connection(("127.0.0.1", bare.port), timeout=10) as trickle:
        trickle.sendall(b"GET /health HTTP/1.1\r\n")
        dropped = False
        deadline = time.monotonic() + 10
        while not dropped and time.monotonic() < deadline:
            try:
                trickle.sendall(b"X-Slow: 1\r\n")  # a byte now and then must not keep it
            except OSError:
                dropped = True
            time.sleep(0.2)
        assert dropped
        assert silent.recv(100) == b""  # closed by the worker, not by our own timeout


def test_a_stalled_upload_body_is_408(bare: Served) -> None:
    before = uploads(bare)
    reply = raw_reply(bare, f"POST /uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                            f"Bearer {bare.token}\r\nContent-Length: 1000\r\n\r\n".encode()
                      + b"x" * 100)
    assert reply.startswith("HTTP/1.1 408") and "stalled" in reply
    assert uploads(bare) == before
    assert not list((bare.jobs_dir / "uploads").glob(".*.partial"))


def test_connections_beyond_the_limit_get_503(bare: Served) -> None:
    idle = [socket.create_connection(("127.0.0.1", bare.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        assert bare.request("GET", "/health", token=None)[0] == 503
    finally:
        for conn in idle:
            conn.close()
    deadline = time.monotonic() + 10
    while bare.request("GET", "/health", token=None)[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, inputs: Path):
    """A worker as a studio runs it behind a same-host proxy: TLS and --no-local-paths."""
    tmp = tmp_path_factory.mktemp("remote")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    trust = ssl.create_default_context(cafile=str(cert))
    served = serve(tmp, "--allow-root", str(inputs), "--no-local-paths", "--tls-cert", str(cert),
                   "--tls-key", str(key), tls=trust)
    yield served
    served.stop()


def test_tls_serves_https_only(remote: Served) -> None:
    assert remote.request("GET", "/health")[0] == 200
    plain = Served(remote.proc, remote.port, remote.token, remote.jobs_dir, remote.ready)
    with pytest.raises((OSError, ValueError)):  # http.client cannot parse a TLS alert
        plain.request("GET", "/health")


def test_no_local_paths_refuses_paths_even_from_loopback(remote: Served, inputs: Path) -> None:
    body = f'{{"kind": "stylize", "model": "x", "images": ["{inputs / "content.png"}"]}}'
    status, reply = remote.request("POST", "/jobs", body.encode(),
                                   headers={"Content-Type": "application/json"})
    assert status == 403 and "--no-local-paths" in reply["detail"]
    status, upload = remote.request("POST", "/uploads", (inputs / "content.png").read_bytes(),
                                    headers={"X-Filename": "content.png"})
    assert status == 201
    body = f'{{"kind": "stylize", "model": "x", "images": ["{upload["id"]}"]}}'
    status, reply = remote.request("POST", "/jobs", body.encode(),
                                   headers={"Content-Type": "application/json"})
    assert status == 422 and "Unknown model 'x'" in reply["detail"]
