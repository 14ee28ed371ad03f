"""The web runtime: up before the engine, serving it once attached, 503 again once
detached; HTTPS through the in-process TLS front with a certificate made here."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests
from flask import jsonify, request

from ibtrader.web import security
from ibtrader.web.runtime import WebRuntime
from ibtrader.web.tls import TlsError
from tests.web.harness import running_engine, web_settings
from tests.web.sse import SseClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_loop(runner, fn):
    async def run():
        return fn()

    return runner.run(run())


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with running_engine(web_settings(tmp_path_factory.mktemp("runtime"))) as running:
        yield running


def health(url: str, **options) -> tuple[int, dict]:
    response = requests.get(f"{url}/api/v1/health", timeout=5, **options)
    return response.status_code, response.json()


def test_the_server_answers_before_the_engine_serves_it_while_attached_and_503_after(
        live, tmp_path):
    engine, _bridge, runner = live
    settings = web_settings(tmp_path, web_port=free_port())
    web = WebRuntime(settings).start()
    try:
        assert web.url == f"http://127.0.0.1:{settings.web_port}"
        status, body = health(web.url)
        assert (status, body["engine"]) == (503, "stopped")

        bridge = on_loop(runner, lambda: web.attach(engine))
        assert web.context.bridge is bridge
        status, body = health(web.url)
        assert (status, body["engine"], body["broker"]["state"]) == (200, "running",
                                                                     "connected")

        key = web.credentials.create_key("runtime-test").key
        client = SseClient("127.0.0.1", web.port, {"X-API-Key": key})
        try:
            client.until(lambda m: m.kind == "snapshot")
            on_loop(runner, web.detach)  # the engine goes: its streams end
            client.until(lambda m: m.kind == "connection"
                         and m.data["reason"] == "engine stopped")
            while not client.ended:
                client.read(5.0)
        finally:
            client.close()
        status, body = health(web.url)
        assert (status, body["engine"]) == (503, "stopped")
    finally:
        web.stop()
    with pytest.raises(requests.ConnectionError):
        health(web.url)


def test_a_taken_port_is_an_error_at_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        web = WebRuntime(web_settings(tmp_path, web_port=taken.getsockname()[1]))
        with pytest.raises(OSError):
            web.start()


# ----- HTTPS ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_settings(tmp_path: Path, cert: Path | str, key: Path | str):
    return web_settings(tmp_path, web_port=free_port(), web_tls_certfile=str(cert),
                        web_tls_keyfile=str(key))


def test_https_round_trip_and_the_app_knows_it_is_served_over_https(
        certificate, tmp_path):
    cert, key = certificate
    web = WebRuntime(tls_settings(tmp_path, cert, key))

    @web.app.get("/scheme-probe")
    @security.public
    def probe():
        return jsonify(scheme=request.scheme, secure=request.is_secure,
                       client=[request.remote_addr, int(request.environ["REMOTE_PORT"])])

    web.start()
    try:
        assert web.url.startswith("https://127.0.0.1:")
        status, body = health(web.url, verify=str(cert))
        assert (status, body["engine"]) == (503, "stopped")  # over TLS, no engine yet
        probe = requests.get(f"{web.url}/scheme-probe", verify=str(cert), timeout=5).json()
        assert (probe["scheme"], probe["secure"]) == ("https", True)
        with pytest.raises(requests.exceptions.SSLError):  # not trusted without the cert
            requests.get(f"{web.url}/api/v1/health", timeout=5)
        with pytest.raises(requests.ConnectionError):  # plain HTTP is not served there
            requests.get(f"http://127.0.0.1:{web.port}/api/v1/health", timeout=5)
        assert web.front.context.minimum_version is ssl.TLSVersion.TLSv1_2
        tls12 = ssl.create_default_context(cafile=str(cert))
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", web.port), timeout=5) as raw, \
                tls12.wrap_socket(raw, server_hostname="127.0.0.1") as secured:
            assert secured.version() == "TLSv1.2"
            secured.sendall(b"GET /scheme-probe HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n")
            answer = b""
            while chunk := secured.recv(65536):
                answer += chunk
            # the app sees this client's own address, not the TLS front's
            seen = json.loads(answer.split(b"\r\n\r\n", 1)[1])["client"]
            assert seen == ["127.0.0.1", secured.getsockname()[1]]
        deadline = time.monotonic() + 5
        while web.clients.peers and time.monotonic() < deadline:  # forgotten when closed
            time.sleep(0.02)
        assert web.clients.peers == {}
    finally:
        web.stop()


def test_many_https_requests_in_a_row_and_at_once(certificate, tmp_path):
    cert, key = certificate
    web = WebRuntime(tls_settings(tmp_path, cert, key)).start()
    try:
        with requests.Session() as session:  # keep-alive: one TLS connection, many requests
            statuses = [session.get(f"{web.url}/api/v1/health", verify=str(cert),
                                    timeout=5).status_code for _ in range(20)]
        assert statuses == [503] * 20

        async def many() -> list[int]:
            return list(await asyncio.gather(*(asyncio.to_thread(
                lambda: health(web.url, verify=str(cert))[0]) for _ in range(10))))

        assert asyncio.run(many()) == [503] * 10
    finally:
        web.stop()


def test_bad_tls_files_are_a_clear_error_naming_the_setting(certificate, tmp_path):
    cert, key = certificate
    with pytest.raises(TlsError, match=r"web_tls_certfile: no such file: .*missing\.pem"):
        WebRuntime(tls_settings(tmp_path, tmp_path / "missing.pem", key)).start()
    with pytest.raises(TlsError, match=r"web_tls_keyfile: no such file"):
        WebRuntime(tls_settings(tmp_path, cert, tmp_path / "nokey.pem")).start()
    with pytest.raises(TlsError, match=r"web_tls_certfile / web_tls_keyfile: cannot use"):
        WebRuntime(tls_settings(tmp_path, cert, cert)).start()  # a certificate is no key
    with pytest.raises(TlsError, match=r"web_tls_keyfile is not set"):
        WebRuntime(web_settings(tmp_path, web_tls_certfile=str(cert)))


def test_stop_is_quick_and_frees_the_port(certificate, tmp_path):
    cert, key = certificate
    web = WebRuntime(tls_settings(tmp_path, cert, key)).start()
    port = web.port
    started = time.monotonic()
    web.stop()
    assert time.monotonic() - started < 3.0
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_the_event_stream_flows_live_over_https(live, certificate, tmp_path):
    engine, _bridge, runner = live
    cert, key = certificate
    web = WebRuntime(tls_settings(tmp_path, cert, key)).start()
    on_loop(runner, lambda: web.attach(engine))
    try:
        api_key = web.credentials.create_key("tls-stream").key
        with requests.get(f"{web.url}/api/v1/events", headers={"X-API-Key": api_key},
                          verify=str(cert), stream=True, timeout=5) as response:
            assert response.status_code == 200
            received = b""
            kinds: list[bytes] = []
            for chunk in response.iter_content(chunk_size=None):  # as the bytes arrive
                received += chunk
                kinds = [line for line in received.split(b"\n") if line.startswith(b"event:")]
                if b"event: quotes" in kinds:
                    break
            assert kinds[0] == b"event: snapshot"
            stopping = time.monotonic()
            web.stop()  # the stream ends with the server (a hung one: ReadTimeout at 5 s)
            for _rest in response.iter_content(chunk_size=None):
                pass
            assert time.monotonic() - stopping < 5.0
    finally:
        web.stop()
        on_loop(runner, web.detach)
