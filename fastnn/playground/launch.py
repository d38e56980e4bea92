"""Run the playground server from the command line: print the URL, open a browser where
there is one, and stop cleanly on Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import webbrowser

from .server import Server

DEFAULT_PORT = 8765


def serve(port: int | None = None, open_browser: bool = True) -> int:
    try:
        return asyncio.run(_serve(port, open_browser))
    except KeyboardInterrupt:  # where signal handlers cannot be installed (Windows)
        print("fastnn playground: stopped", flush=True)
        return 0


async def _serve(port: int | None, open_browser: bool) -> int:
    server = await _start(port)
    print(f"fastnn playground: {server.url}", flush=True)
    print("(the token in the URL lets only this page drive the server; Ctrl-C stops it)")
    if open_browser:
        if _has_display():
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, webbrowser.open, server.url)
        else:
            print("no display found: open the URL above in a browser", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # no loop signal handlers here
            pass
    try:
        await stop.wait()
    finally:
        await server.stop()
        print("fastnn playground: stopped", flush=True)
    return 0


async def _start(port: int | None) -> Server:
    try:
        return await Server.start(DEFAULT_PORT if port is None else port)
    except OSError as error:
        if port is None and error.errno == errno.EADDRINUSE:
            return await Server.start(0)  # the default port is taken: any free one
        raise ValueError(
            f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}; "
            "choose another --port (0 picks a free one)"
        ) from None


def _has_display() -> bool:
    """Whether webbrowser would open a graphical browser (not a text one in this
    terminal): macOS, Windows, an X or Wayland display, or the user's own $BROWSER."""
    if sys.platform in ("darwin", "win32") or os.environ.get("BROWSER"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
