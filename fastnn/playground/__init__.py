"""``fastnn playground``: a Neural Network Playground in the browser, training on fastnn.

The command starts a web server on 127.0.0.1 (fastnn.playground.server) whose page lets
a learner pick a 2-D data set, features, layers, activation, learning rate and
regularization, and watch the network train live on fastnn's kernels; "show code" gives
the same model as a fastnn script and "save" the trained model file.

Only the server needs the web library (tornado, extra ``fastnn[playground]``); the
settings, the session and the code generator (config, session, code) are plain fastnn
and import without it.
"""

from __future__ import annotations

MIN_TORNADO = (6, 3)


def require_web_library() -> None:
    """Raise ImportError, naming the extra to install, when tornado is missing or old."""
    try:
        import tornado
    except ImportError as error:
        raise ImportError(
            "fastnn playground needs the web library tornado: pip install 'fastnn[playground]'"
        ) from error
    if tuple(tornado.version_info[:2]) < MIN_TORNADO:
        raise ImportError(
            f"fastnn playground needs tornado >= {'.'.join(map(str, MIN_TORNADO))}; "
            f"this is {tornado.version}: pip install -U 'fastnn[playground]'"
        )


def main(port: int | None = None, open_browser: bool = True) -> int:
    """Serve the playground until Ctrl-C (see fastnn.playground.launch)."""
    require_web_library()
    from .launch import serve

    return serve(port, open_browser)
