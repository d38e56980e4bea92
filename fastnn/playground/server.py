"""The playground's web server (tornado): the page, a JSON API, and a stream of frames.

Routes (every /api request carries the server's token, see below):

    GET  /                                  the page (static/index.html)
    GET  /static/<file>                     its script and style sheet
    POST /api/sessions                      new session from settings  -> 201 state
    GET  /api/sessions/<id>                 the state: settings, points, curve, frame
    DELETE /api/sessions/<id>               end it                     -> 204
    POST /api/sessions/<id>/config          change settings            -> state
    POST /api/sessions/<id>/<action>        play, pause, step (one epoch), reset
    GET  /api/sessions/<id>/code            {"code": the fastnn script}
    GET  /api/sessions/<id>/model           the trained model, a fastnn model file
    WS   /api/sessions/<id>/stream?token=   state, then a frame per training step

Training runs on one worker thread (fastnn's kernels release the GIL, so the event loop
stays responsive); while a session plays, each frame trains up to its speed setting's
epochs (at most FRAME_BUDGET seconds of them) and is sent to the session's streams,
about 30 times a second.

Safety. The server listens on 127.0.0.1 only. Requests must name this server in Host
(127.0.0.1:port or localhost:port: no DNS rebinding), an Origin header, when there is
one, must be this server's, and every /api request must carry the per-server token
(header X-Fastnn-Token; the stream takes it as ?token=, as browsers cannot set headers
on a WebSocket). The page learns the token from its own URL, which the command prints;
a page elsewhere can neither read it nor send the header without a CORS preflight that
this server never grants. Bodies are limited to MAX_BODY bytes. Every setting is
checked (fastnn.playground.config): a bad one gets a 4xx with {"error", "field"}.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

from . import config as settings
from .session import Session
from .sessions import IDLE_SECONDS, MAX_SESSIONS, SessionStore, StoreFull

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 16 * 1024  # a full set of settings is a few hundred bytes
HARD_MAX_BODY = 1024 * 1024  # past this the connection is dropped unread
FRAME_SECONDS = 1 / 30
MAX_STREAMS_PER_SESSION = 4
RECLAIM_EVERY_SECONDS = 30.0
TOKEN_HEADER = "X-Fastnn-Token"
PAGE_SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ApiError(tornado.web.HTTPError):
    """A refused request: its status, the field (or part of the request) at fault, and
    a message for the person who sent it."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(status, log_message=f"{field}: {message}")
        self.field = field
        self.message = message


class Playground:
    """The server's state: token, allowed hosts and origins, sessions, worker thread."""

    def __init__(self, max_sessions: int, idle_seconds: float) -> None:
        self.token = secrets.token_urlsafe(24)
        self.store = SessionStore(max_sessions, idle_seconds)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastnn-playground")
        self.port = 0
        self.hosts: frozenset[str] = frozenset()
        self.origins: frozenset[str] = frozenset()
        self.page = (STATIC / "index.html").read_bytes()

    def bound(self, port: int) -> None:
        self.port = port
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
        self.origins = frozenset(f"http://{host}" for host in self.hosts)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def default_config(self) -> settings.Config:
        from fastnn import backends

        return settings.Config(backend="native" if backends.native_available() else "numpy")

    async def run(self, function, *args):
        """function(*args) on the worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, function, *args)

    # ------------------------------------------------------------ requests

    def check_request(self, request, token: str | None) -> None:
        """Refuse requests that do not come from this server's page (see the module doc)."""
        if request.host not in self.hosts:
            raise ApiError(403, "host", f"this server answers to {sorted(self.hosts)} only")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            raise ApiError(403, "origin", "requests from other sites are refused")
        if token is None or not hmac.compare_digest(token.encode(), self.token.encode()):
            raise ApiError(
                403, "token", "missing or wrong token: open the URL `fastnn playground` printed"
            )

    def entry(self, key: str):
        entry = self.store.get(key)
        if entry is None:
            raise ApiError(404, "session", f"no session {key!r} (ended or reclaimed): reload")
        return entry

    # ------------------------------------------------------------ training and streaming

    def message(self, entry, payload: dict) -> str:
        return json.dumps({**payload, "playing": entry.playing}, allow_nan=False)

    async def state(self, entry) -> str:
        return self.message(entry, await self.run(entry.session.state))

    async def frame(self, entry) -> str:
        return self.message(entry, await self.run(entry.session.frame))

    def broadcast(self, entry, text: str) -> None:
        """Send text to every stream of the session, skipping one still busy with the
        previous message (a slow page gets fewer frames, never a growing queue)."""
        for stream in list(entry.streams):
            stream.send(text)

    def play(self, entry) -> None:
        entry.playing = True
        if entry.task is None:
            entry.task = asyncio.ensure_future(self._play(entry))

    async def _play(self, entry) -> None:
        loop = asyncio.get_running_loop()
        try:
            while entry.playing:
                started = loop.time()
                await self.run(entry.session.train_frame)
                if entry.session.diverged:
                    entry.playing = False
                self.broadcast(entry, await self.frame(entry))
                await asyncio.sleep(max(0.0, FRAME_SECONDS - (loop.time() - started)))
        except Exception:  # a fault of ours: stop this session's training, keep serving
            entry.playing = False
            tornado.web.app_log.exception("training session %s stopped", entry.key)
        finally:
            entry.task = None

    async def reclaim_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.store.reclaim_idle()

    def close(self) -> None:
        self.store.close()
        self.worker.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- handlers


class JsonErrors:
    """write_error as JSON {"error", "field"} for every refused request; refusals are
    answers, not server faults, so only unexpected exceptions are logged."""

    def log_exception(self, kind, value, traceback) -> None:
        if not isinstance(value, tornado.web.HTTPError):
            super().log_exception(kind, value, traceback)

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ApiError):
            body = {"error": error.message, "field": error.field}
        elif status_code == 405:
            body = {"error": f"{self.request.method} is not allowed here", "field": "method"}
        elif status_code == 404:
            body = {"error": f"nothing at {self.request.path}", "field": "path"}
        else:
            body = {"error": self._reason, "field": "request"}
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(body))


@tornado.web.stream_request_body
class ApiHandler(JsonErrors, tornado.web.RequestHandler):
    def initialize(self, playground: Playground) -> None:
        self.pg = playground
        self._chunks: list[bytes] = []
        self._size = 0

    def set_default_headers(self) -> None:
        for name, value in PAGE_SECURITY.items():
            self.set_header(name, value)

    def prepare(self) -> None:
        self.pg.check_request(self.request, self.request.headers.get(TOKEN_HEADER))
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise ApiError(413, "body", f"at most {MAX_BODY} bytes; got {length}")

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= MAX_BODY:  # past it, read and drop (answered with a 413)
            self._chunks.append(chunk)

    def body(self) -> object:
        """The request's JSON body ({} when empty)."""
        if self._size > MAX_BODY:
            raise ApiError(413, "body", f"at most {MAX_BODY} bytes; got {self._size}")
        raw = b"".join(self._chunks)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise ApiError(400, "body", "expected UTF-8 JSON text") from None
        except (ValueError, RecursionError) as error:
            raise ApiError(400, "body", f"not valid JSON ({error})") from None

    def no_body(self) -> None:
        body = self.body()
        if body != {}:
            raise ApiError(400, "body", "this request takes no settings; send {} or nothing")

    def send_json(self, text: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(text)


class SessionsHandler(ApiHandler):
    async def post(self) -> None:
        config = _parse(self.body(), self.pg.default_config())
        session = await self.pg.run(_new_session, config)
        try:
            entry = self.pg.store.add(session)
        except StoreFull as error:
            raise ApiError(429, "session", str(error)) from None
        state = {**await self.pg.run(session.state), "playing": False}
        payload = {"id": entry.key, "limits": settings.limits(), "state": state}
        self.send_json(json.dumps(payload, allow_nan=False), 201)


class SessionHandler(ApiHandler):
    async def get(self, key: str) -> None:
        self.send_json(await self.pg.state(self.pg.entry(key)))

    def delete(self, key: str) -> None:
        self.pg.entry(key)
        self.pg.store.remove(key)
        self.set_status(204)
        self.finish()


class ConfigHandler(ApiHandler):
    async def post(self, key: str) -> None:
        entry = self.pg.entry(key)
        config = _parse(self.body(), entry.session.config)
        changed = settings.changed_fields(entry.session.config, config)
        if changed - settings.LIVE_FIELDS:
            entry.playing = False  # a new network or new data: start again, paused
        await self.pg.run(_apply, entry.session, config)
        state = await self.pg.state(entry)
        self.pg.broadcast(entry, state)
        self.send_json(state)


class ActionHandler(ApiHandler):
    async def post(self, key: str, action: str) -> None:
        entry = self.pg.entry(key)
        self.no_body()
        if action == "play":
            if entry.session.diverged:
                raise ApiError(409, "action", "training diverged: reset or change settings")
            self.pg.play(entry)
            text = self.pg.message(entry, {"type": "status"})
        else:
            entry.playing = False
            if action == "step":
                await self.pg.run(entry.session.train, 1)
                text = await self.pg.frame(entry)
            elif action == "reset":
                await self.pg.run(entry.session.reset)
                text = await self.pg.state(entry)
            else:  # pause
                text = self.pg.message(entry, {"type": "status"})
        self.pg.broadcast(entry, text)  # every page of the session shows the change
        self.send_json(text)


class CodeHandler(ApiHandler):
    async def get(self, key: str) -> None:
        code = await self.pg.run(self.pg.entry(key).session.code)
        self.send_json(json.dumps({"code": code}))


class ModelHandler(ApiHandler):
    async def get(self, key: str) -> None:
        data = await self.pg.run(self.pg.entry(key).session.model_file)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", 'attachment; filename="playground.fnn"')
        self.finish(data)


class NotFoundHandler(ApiHandler):
    def prepare(self) -> None:
        raise ApiError(404, "path", f"nothing at {self.request.path}")


class StreamHandler(JsonErrors, tornado.websocket.WebSocketHandler):
    """The session's state on opening, then every frame; messages from the page are
    not expected and are ignored."""

    def initialize(self, playground: Playground) -> None:
        self.pg = playground
        self.entry = None
        self._pending = None

    def prepare(self) -> None:
        self.pg.check_request(self.request, self.get_query_argument("token", None))
        entry = self.pg.entry(self.path_args[0])
        if len(entry.streams) >= MAX_STREAMS_PER_SESSION:
            raise ApiError(429, "stream", f"at most {MAX_STREAMS_PER_SESSION} pages per session")

    def check_origin(self, origin: str) -> bool:
        return origin in self.pg.origins

    async def open(self, key: str) -> None:
        self.entry = self.pg.entry(key)
        self.entry.streams.add(self)
        self.send(await self.pg.state(self.entry))

    def on_message(self, message) -> None:
        pass

    def send(self, text: str) -> None:
        if self._pending is not None and not self._pending.done():
            return
        try:
            self._pending = self.write_message(text)
        except tornado.websocket.WebSocketClosedError:
            self._pending = None

    def on_close(self) -> None:
        entry = self.entry
        if entry is not None:
            entry.streams.discard(self)
            if not entry.streams:
                entry.playing = False  # nobody is watching: stop training
            entry.last_active = self.pg.store.clock()


class PageHandler(JsonErrors, tornado.web.RequestHandler):
    def initialize(self, playground: Playground) -> None:
        self.pg = playground

    def get(self) -> None:
        if self.request.host not in self.pg.hosts:
            raise ApiError(403, "host", f"this server answers to {sorted(self.pg.hosts)} only")
        streams = " ".join(f"ws://{host}" for host in sorted(self.pg.hosts))
        self.set_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {streams}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'",
        )
        for name, value in PAGE_SECURITY.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.pg.page)


class StaticHandler(JsonErrors, tornado.web.StaticFileHandler):
    """tornado's static files, also refusing any path whose real location (symbolic
    links resolved) is outside the folder."""

    def validate_absolute_path(self, root: str, absolute_path: str):
        real = os.path.realpath(absolute_path)
        if os.path.commonpath([real, os.path.realpath(root)]) != os.path.realpath(root):
            raise ApiError(403, "path", "outside the page's folder")
        return super().validate_absolute_path(root, absolute_path)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")


# --------------------------------------------------------------------------- helpers


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _parse(values: object, base: settings.Config) -> settings.Config:
    try:
        return settings.parse(values, base)
    except settings.FieldError as error:
        raise ApiError(400, error.field, error.message) from None


def _new_session(config: settings.Config) -> Session:
    try:
        return Session(config)
    except settings.FieldError as error:
        raise ApiError(400, error.field, error.message) from None


def _apply(session: Session, config: settings.Config) -> None:
    try:
        session.apply(config)
    except settings.FieldError as error:
        raise ApiError(400, error.field, error.message) from None


def make_app(playground: Playground) -> tornado.web.Application:
    options = {"playground": playground}
    key = r"([0-9a-f]{16})"
    return tornado.web.Application(
        [
            (r"/", PageHandler, options),
            (r"/static/(.*)", StaticHandler, {"path": str(STATIC)}),
            (r"/api/sessions", SessionsHandler, options),
            (rf"/api/sessions/{key}", SessionHandler, options),
            (rf"/api/sessions/{key}/config", ConfigHandler, options),
            (rf"/api/sessions/{key}/(play|pause|step|reset)", ActionHandler, options),
            (rf"/api/sessions/{key}/code", CodeHandler, options),
            (rf"/api/sessions/{key}/model", ModelHandler, options),
            (rf"/api/sessions/{key}/stream", StreamHandler, options),
        ],
        default_handler_class=NotFoundHandler,
        default_handler_args=options,
        websocket_ping_interval=20,
        websocket_max_message_size=1024,
        log_function=_log_errors_only,
    )


def _log_errors_only(handler) -> None:
    if handler.get_status() >= 500:
        tornado.web.app_log.error("%d %s", handler.get_status(), handler._request_summary())


class Server:
    """A running playground: ``server = await Server.start(port)``, ``server.url``, then
    ``await server.stop()``; ``background()`` runs one on a thread of its own."""

    def __init__(
        self, playground: Playground, http: tornado.httpserver.HTTPServer, reclaim_every: float
    ) -> None:
        self.playground = playground
        self.http = http
        self._reclaimer = asyncio.ensure_future(playground.reclaim_forever(reclaim_every))

    @classmethod
    async def start(
        cls,
        port: int = 0,
        max_sessions: int = MAX_SESSIONS,
        idle_seconds: float = IDLE_SECONDS,
        reclaim_every: float = RECLAIM_EVERY_SECONDS,
    ) -> Server:
        """Listen on 127.0.0.1:port (0: a free port); raises OSError if it is taken."""
        playground = Playground(max_sessions, idle_seconds)
        sockets = tornado.netutil.bind_sockets(port, address="127.0.0.1")
        playground.bound(sockets[0].getsockname()[1])
        http = tornado.httpserver.HTTPServer(
            make_app(playground), max_body_size=HARD_MAX_BODY, max_buffer_size=HARD_MAX_BODY
        )
        http.add_sockets(sockets)
        return cls(playground, http, reclaim_every)

    @property
    def url(self) -> str:
        return self.playground.url

    async def stop(self) -> None:
        """Stop listening, end every session (training stops, pages are told), wait for
        the worker thread to finish its step."""
        self._reclaimer.cancel()
        self.http.stop()
        self.playground.close()
        await self.http.close_all_connections()


@contextlib.contextmanager
def background(**options) -> Iterator[Server]:
    """A playground served from a thread of its own while the block runs (for tests and
    notebooks): ``with background() as server: ... server.url ...``. ``options`` go to
    Server.start."""
    ready = threading.Event()
    box: dict = {}

    async def main() -> None:
        try:
            box["server"] = await Server.start(**options)
        except BaseException as error:
            box["error"] = error
            ready.set()
            return
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await box["stop"].wait()
        await box["server"].stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="fastnn-playground-loop")
    thread.start()
    ready.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    try:
        yield box["server"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join()
