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
this server never grants. Bodies are limited to handlers.MAX_BODY bytes. Every setting is
checked (fastnn.playground.config): a bad one gets a 4xx with {"error", "field"}.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tornado.httpserver
import tornado.netutil
import tornado.web

from . import config as settings
from . import handlers
from .handlers import ApiError
from .sessions import IDLE_SECONDS, MAX_SESSIONS, SessionStore

STATIC = Path(__file__).resolve().parent / "static"
HARD_MAX_BODY = 1024 * 1024  # past this the connection is dropped unread
FRAME_SECONDS = 1 / 30
RECLAIM_EVERY_SECONDS = 30.0


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


def make_app(playground: Playground) -> tornado.web.Application:
    options = {"playground": playground}
    key = r"([0-9a-f]{16})"
    return tornado.web.Application(
        [
            (r"/", handlers.PageHandler, options),
            (r"/static/(.*)", handlers.StaticHandler, {"path": str(STATIC)}),
            (r"/api/sessions", handlers.SessionsHandler, options),
            (rf"/api/sessions/{key}", handlers.SessionHandler, options),
            (rf"/api/sessions/{key}/config", handlers.ConfigHandler, options),
            (rf"/api/sessions/{key}/(play|pause|step|reset)", handlers.ActionHandler, options),
            (rf"/api/sessions/{key}/code", handlers.CodeHandler, options),
            (rf"/api/sessions/{key}/model", handlers.ModelHandler, options),
            (rf"/api/sessions/{key}/stream", handlers.StreamHandler, options),
        ],
        default_handler_class=handlers.NotFoundHandler,
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
