"""The playground's server over real HTTP and WebSocket: its API, the checks on every
request (token, Origin, Host, bodies, settings, static paths), streaming while training,
reclaiming idle sessions, and a clean stop on Ctrl-C.

One server on a free port serves the module; each test makes its own session.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS, IN_CI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnn as fn
from fastnn.playground import config as playground_config

try:
    import tornado.httpclient
    import tornado.websocket

    from fastnn.playground import server as playground_server
except ImportError as missing:  # the web library is an extra
    if IN_CI:
        raise  # the test extra installs tornado: CI must run these tests
    pytest.skip(f"the playground needs tornado ({missing})", allow_module_level=True)

BACKEND = BACKENDS[-1]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server():
    with playground_server.background(max_sessions=6) as running:
        yield running


class Client:
    """Plain http.client requests to the server, the token sent unless told otherwise."""

    def __init__(self, server) -> None:
        self.port = server.playground.port
        self.token = server.playground.token

    def request(self, method, path, body=None, headers=None, token=True, raw=False):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if token:
            sent["X-Fastnn-Token"] = self.token
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        if raw:
            return response.status, dict(response.getheaders()), data
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(data) if "json" in kind and data else data

    def new_session(self, **values) -> str:
        status, answer = self.request("POST", "/api/sessions", {"backend": BACKEND, **values})
        assert status == 201, answer
        return answer["id"]


@pytest.fixture
def client(server) -> Client:
    return Client(server)


def _refused(answer, status, field, got_status):
    assert got_status == status, answer
    assert answer["field"] == field, answer
    assert answer["error"]


# --------------------------------------------------------------------------- the API


def test_a_session_trains_steps_resets_and_ends(client):
    status, created = client.request("POST", "/api/sessions", {"dataset": "xor", "hidden": [4, 4]})
    assert status == 201
    key, state = created["id"], created["state"]
    assert state["config"]["dataset"] == "xor" and state["config"]["hidden"] == [4, 4]
    assert len(state["train"]) + len(state["test"]) == 500
    assert created["limits"]["max_layers"] == 6 and created["limits"]["max_neurons"] == 8
    status, frame = client.request("POST", f"/api/sessions/{key}/step")
    assert status == 200 and frame["type"] == "frame" and frame["epoch"] == 1
    status, state = client.request("POST", f"/api/sessions/{key}/config", {"learning_rate": 0.1})
    assert status == 200 and state["frame"]["epoch"] == 1  # a live change: training goes on
    assert state["config"]["learning_rate"] == 0.1
    status, state = client.request("POST", f"/api/sessions/{key}/config", {"hidden": [3]})
    assert status == 200 and state["frame"]["epoch"] == 0
    assert [np.shape(w) for w in state["frame"]["weights"]] == [(2, 3), (3, 1)]
    client.request("POST", f"/api/sessions/{key}/step")
    status, state = client.request("POST", f"/api/sessions/{key}/reset", {})
    assert status == 200 and state["frame"]["epoch"] == 0
    status, _ = client.request("DELETE", f"/api/sessions/{key}")
    assert status == 204
    status, answer = client.request("GET", f"/api/sessions/{key}")
    _refused(answer, 404, "session", status)


def test_code_and_model_give_the_pages_network(client, tmp_path, monkeypatch):
    key = client.new_session(dataset="spiral", hidden=[6, 6])
    for _ in range(3):
        client.request("POST", f"/api/sessions/{key}/step")
    status, answer = client.request("GET", f"/api/sessions/{key}/code")
    assert status == 200 and "epochs=3" in answer["code"]
    status, headers, data = client.request("GET", f"/api/sessions/{key}/model", raw=True)
    assert status == 200 and 'filename="playground.fnn"' in headers["Content-Disposition"]
    path = tmp_path / "playground.fnn"
    path.write_bytes(data)
    model = fn.load_model(path)
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)
    exec(compile(answer["code"], "playground.py", "exec"), namespace)
    for saved, scripted in zip(model.get_weights(), namespace["model"].get_weights()):
        np.testing.assert_array_equal(saved, scripted)


def test_the_page_and_its_files_are_served_with_a_strict_policy(client):
    status, headers, page = client.request("GET", "/", token=False, raw=True)
    assert status == 200 and b"playground.js" in page
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "http:" not in policy and "https:" not in policy  # nothing from the network
    for name in ("playground.js", "playground.css"):
        status, _, data = client.request("GET", f"/static/{name}", token=False, raw=True)
        assert status == 200 and data == (ROOT / "fastnn/playground/static" / name).read_bytes()
    assert b"http://" not in page and b"https://" not in page  # no CDN: everything is local


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2fserver.py",
        "/static/%2e%2e%2f%2e%2e%2fcli.py",
        "/static/../../../../etc/passwd",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/.",
        "/static/",
    ],
)
def test_static_files_cannot_escape_their_folder(client, path):
    status, _, data = client.request("GET", path, token=False, raw=True)
    assert status in (403, 404), (status, data[:200])
    assert b"import" not in data and b"root:" not in data


def test_a_symbolic_link_out_of_the_static_folder_is_not_followed(tmp_path, monkeypatch):
    static = tmp_path / "static"
    shutil.copytree(playground_server.STATIC, static)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page")
    (static / "leak.txt").symlink_to(secret)
    monkeypatch.setattr(playground_server, "STATIC", static)
    with playground_server.background() as other:
        status, _, data = Client(other).request("GET", "/static/leak.txt", token=False, raw=True)
    assert status == 403 and b"not for the page" not in data


# --------------------------------------------------------------------------- who may ask


def test_requests_without_the_token_are_refused(client):
    for token in (False, "wrong"):
        headers = {"X-Fastnn-Token": token} if token else {}
        status, answer = client.request("POST", "/api/sessions", {}, headers, token=False)
        _refused(answer, 403, "token", status)
    key = client.new_session()
    status, answer = client.request("POST", f"/api/sessions/{key}/play", token=False)
    _refused(answer, 403, "token", status)


def test_other_origins_are_refused_even_with_the_token(client):
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{client.port + 1}"):
        status, answer = client.request("POST", "/api/sessions", {}, {"Origin": origin})
        _refused(answer, 403, "origin", status)
    status, _ = client.request(
        "POST", "/api/sessions", {}, {"Origin": f"http://localhost:{client.port}"}
    )
    assert status == 201


def test_other_host_names_are_refused_against_dns_rebinding(client):
    status, answer = client.request("POST", "/api/sessions", {}, {"Host": "evil.example"})
    _refused(answer, 403, "host", status)
    status, _, _ = client.request("GET", "/", headers={"Host": "evil.example"}, raw=True)
    assert status == 403


def test_no_cors_preflight_is_granted(client):
    status, headers, _ = client.request(
        "OPTIONS",
        "/api/sessions",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        token=False,
        raw=True,
    )
    assert status >= 400
    assert not any(name.lower().startswith("access-control") for name in headers)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "values, field",
    [
        ({"hidden": [4, 4, 4, 4, 4, 4, 4]}, "hidden"),
        ({"hidden": [9]}, "hidden[0]"),
        ({"learning_rate": -1}, "learning_rate"),
        (b'{"learning_rate": 1e400}', "learning_rate"),  # parsed as inf
        ({"regularization_rate": -0.5}, "regularization_rate"),
        ({"activation": "swish"}, "activation"),
        ({"dataset": "moons"}, "dataset"),
        ({"features": ["x9"]}, "features[0]"),
        ({"batch_size": 0}, "batch_size"),
        ({"wat": 1}, "wat"),
    ],
)
def test_bad_settings_get_a_400_naming_the_field(client, values, field):
    status, answer = client.request("POST", "/api/sessions", values)
    _refused(answer, 400, field, status)
    key = client.new_session()
    status, answer = client.request("POST", f"/api/sessions/{key}/config", values)
    _refused(answer, 400, field, status)
    status, state = client.request("GET", f"/api/sessions/{key}")
    assert status == 200 and state["config"]["hidden"] == [4, 2]  # nothing changed


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{", 400),
        (b'{"learning_rate": NaN}', 400),
        (b'{"learning_rate": Infinity}', 400),
        (b"\xff\xfe", 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (b'{"seed": ' + b"9" * 5000 + b"}", 400),
        (b"[1, 2]", 400),
        (b'"text"', 400),
        (b" " * 20_000, 413),
    ],
    ids=["cut", "nan", "infinity", "not-utf8", "deep", "long-int", "list", "string", "20kB"],
)
def test_malformed_and_oversized_bodies_get_a_4xx_in_json(client, body, status):
    got, answer = client.request("POST", "/api/sessions", body)
    _refused(answer, status, "body", got)


@pytest.mark.parametrize("length", ["2000000", "99999999999", "-1", "x"])
def test_a_declared_oversized_body_is_refused_before_it_is_read(client, length):
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    connection.putrequest("POST", "/api/sessions")
    connection.putheader("X-Fastnn-Token", client.token)
    connection.putheader("Content-Length", length)
    connection.endheaders()
    response = connection.getresponse()
    status, data = response.status, response.read()
    connection.close()
    assert 400 <= status < 500
    if status == 413:  # tornado itself answers a malformed length with a bare 400
        assert json.loads(data)["field"] == "body"


def test_a_chunked_body_past_the_limit_is_refused(client):
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    connection.putrequest("POST", "/api/sessions")
    connection.putheader("X-Fastnn-Token", client.token)
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    for _ in range(40):
        connection.send(b"400\r\n" + b" " * 1024 + b"\r\n")
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    _refused(answer, 413, "body", response.status)


def test_unknown_paths_sessions_actions_and_methods_get_json_4xx(client):
    key = client.new_session()
    for method, path, status, field in [
        ("GET", "/api/nothing", 404, "path"),
        ("GET", "/api/sessions/0123456789abcdef", 404, "session"),
        ("POST", f"/api/sessions/{key}/jump", 404, "path"),
        ("PUT", f"/api/sessions/{key}/config", 405, "method"),
        ("GET", f"/api/sessions/{key}/play", 405, "method"),
    ]:
        got, answer = client.request(method, path)
        _refused(answer, status, field, got)
    got, answer = client.request("POST", f"/api/sessions/{key}/play", {"fast": True})
    _refused(answer, 400, "body", got)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.dictionaries(st.sampled_from([*playground_config.FIELDS, "x"]), _json, max_size=3))
def test_any_json_settings_get_an_answer_never_a_500(client, values):
    status, answer = client.request("POST", "/api/sessions", values)
    assert status in (201, 400), (status, answer)
    if status == 400:
        assert answer["field"].split("[")[0] in (*playground_config.FIELDS, "x", "dataset")
    else:
        client.request("DELETE", f"/api/sessions/{answer['id']}")


# --------------------------------------------------------------------------- streaming


async def _watch(client, key, seconds, origin=None):
    url = f"ws://127.0.0.1:{client.port}/api/sessions/{key}/stream?token={client.token}"
    request = tornado.httpclient.HTTPRequest(
        url, headers={"Origin": origin or f"http://127.0.0.1:{client.port}"}
    )
    stream = await tornado.websocket.websocket_connect(request)
    messages = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            text = await asyncio.wait_for(stream.read_message(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            break
        if text is None:
            break
        messages.append(json.loads(text))
    stream.close()
    return messages


def test_the_stream_sends_the_state_then_at_least_ten_frames_a_second(client):
    key = client.new_session(dataset="xor", hidden=[4, 4])

    async def watch_while_playing():
        watcher = asyncio.ensure_future(_watch(client, key, 2.0))
        await asyncio.sleep(0.3)
        status, answer = await asyncio.get_running_loop().run_in_executor(
            None, client.request, "POST", f"/api/sessions/{key}/play"
        )
        assert status == 200 and answer == {"type": "status", "playing": True}
        started = time.monotonic()
        messages = await watcher
        return messages, time.monotonic() - started

    messages, seconds = asyncio.run(watch_while_playing())
    assert messages[0]["type"] == "state"
    frames = [m for m in messages if m["type"] == "frame" and m["playing"]]
    assert len(frames) >= 10 * seconds, (len(frames), seconds)
    epochs = [frame["epoch"] for frame in frames]
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0]
    # the page closed: nobody watches, so training pauses
    time.sleep(0.3)
    state = client.request("GET", f"/api/sessions/{key}")[1]
    assert state["playing"] is False
    epoch = state["frame"]["epoch"]
    time.sleep(0.3)
    assert client.request("GET", f"/api/sessions/{key}")[1]["frame"]["epoch"] == epoch


def test_the_stream_refuses_other_origins_and_missing_tokens(client):
    key = client.new_session()
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        asyncio.run(_watch(client, key, 0.5, origin="http://evil.example"))
    assert refused.value.code == 403
    url = f"ws://127.0.0.1:{client.port}/api/sessions/{key}/stream"

    async def connect_without_token():
        await tornado.websocket.websocket_connect(url)

    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        asyncio.run(connect_without_token())
    assert refused.value.code == 403


def test_divergence_pauses_and_play_is_refused_until_reset(client):
    key = client.new_session(
        problem="regression", activation="relu", hidden=[8, 8, 8], learning_rate=10.0
    )
    client.request("POST", f"/api/sessions/{key}/config", {"epochs_per_frame": 100})
    client.request("POST", f"/api/sessions/{key}/play")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = client.request("GET", f"/api/sessions/{key}")[1]
        if state["frame"]["diverged"]:
            break
        time.sleep(0.05)
    assert "diverged" in state["frame"]["diverged"] and state["playing"] is False
    status, answer = client.request("POST", f"/api/sessions/{key}/play")
    _refused(answer, 409, "action", status)
    client.request("POST", f"/api/sessions/{key}/reset")
    assert client.request("POST", f"/api/sessions/{key}/play")[0] == 200
    client.request("POST", f"/api/sessions/{key}/pause")


# --------------------------------------------------------------------------- bounds


def test_sessions_are_bounded_and_idle_ones_reclaimed():
    with playground_server.background(max_sessions=2, idle_seconds=0.3, reclaim_every=0.1) as small:
        client = Client(small)
        first = client.new_session()
        client.new_session()
        client.request("POST", f"/api/sessions/{first}/play")  # in use: kept when full
        third = client.new_session()  # takes the idle one's place
        assert client.request("GET", f"/api/sessions/{first}")[0] == 200
        client.request("POST", f"/api/sessions/{third}/play")
        status, answer = client.request("POST", "/api/sessions", {})
        _refused(answer, 429, "session", status)
        assert len(small.playground.store) == 2
        time.sleep(1.0)  # no page, no request: both are reclaimed
        for key in (first, third):
            status, answer = client.request("GET", f"/api/sessions/{key}")
            _refused(answer, 404, "session", status)


# --------------------------------------------------------------------------- the command


def test_the_command_prints_the_url_serves_and_stops_cleanly_on_ctrl_c():
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "fastnn", "playground", "--port", "0", "--no-browser"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
        assert match, line + process.stderr.read()
        port, token = int(match.group(1)), match.group(2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/api/sessions", body=b"{}", headers={"X-Fastnn-Token": token})
        key = json.loads(connection.getresponse().read())["id"]
        connection.request("POST", f"/api/sessions/{key}/play", headers={"X-Fastnn-Token": token})
        assert json.loads(connection.getresponse().read())["playing"] is True
        connection.close()
        time.sleep(0.3)  # training when the signal comes
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "fastnn playground: stopped" in out
    assert "Traceback" not in err


def test_a_port_in_use_gets_a_clear_error(server):
    port = server.playground.port
    result = subprocess.run(
        [sys.executable, "-m", "fastnn", "playground", "--port", str(port), "--no-browser"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
