"""The playground server's request handlers (tornado): the page, its static files, the
JSON API and the WebSocket stream; fastnn.playground.server wires them to their routes
and documents them.

Every refusal is an ApiError: a 4xx whose JSON body {"error", "field"} names the setting
or the part of the request at fault.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import tornado.web
import tornado.websocket

from . import config as settings
from .session import Session
from .sessions import StoreFull

if TYPE_CHECKING:
    from .server import Playground

MAX_BODY = 16 * 1024  # a full set of settings is a few hundred bytes
MAX_STREAMS_PER_SESSION = 4
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
