"""The public facade: everything users reach as ``web.X``.

``from aioweb import web`` gives the same names as ``from aiohttp import web``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NoReturn, Optional, Union, cast

from .abc import AbstractAccessLogger
from .web_app import AppKey, Application, CleanupError
from .web_exceptions import *  # noqa: F403
from .web_exceptions import __all__ as _exc_all
from .web_fileresponse import FileResponse, StaticResource
from .web_log import AccessLogger, access_logger
from .web_middlewares import middleware, normalize_path_middleware
from .web_request import BaseRequest, FileField, Request, RequestKey
from .web_response import ContentCoding, Response, ResponseKey, StreamResponse, json_response
from .web_routedef import (
    AbstractRouteDef,
    RouteDef,
    RouteTableDef,
    StaticDef,
    delete,
    get,
    head,
    options,
    patch,
    post,
    put,
    route,
    static,
    view,
)
from .web_runner import (
    DEFAULT_BACKLOG,
    AppRunner,
    BaseRunner,
    BaseSite,
    GracefulExit,
    ServerRunner,
    SockSite,
    TCPSite,
    UnixSite,
)
from .web_server import Server
from .web_urldispatcher import (
    AbstractResource,
    AbstractRoute,
    DynamicResource,
    MatchedSubAppResource,
    PlainResource,
    PrefixedSubAppResource,
    Resource,
    ResourceRoute,
    UrlDispatcher,
    UrlMappingMatchInfo,
)
from .web_view import View
from .web_ws import (
    MsgType,
    WebSocketReady,
    WebSocketResponse,
    WSCloseCode,
    WSMessage,
    WSMsgType,
)

__all__ = (
    "AbstractResource",
    "AbstractRoute",
    "AbstractRouteDef",
    "AccessLogger",
    "AppKey",
    "AppRunner",
    "Application",
    "BaseRequest",
    "BaseRunner",
    "BaseSite",
    "CleanupError",
    "ContentCoding",
    "DynamicResource",
    "FileField",
    "FileResponse",
    "GracefulExit",
    "MatchedSubAppResource",
    "PlainResource",
    "PrefixedSubAppResource",
    "Request",
    "RequestKey",
    "Resource",
    "ResourceRoute",
    "Response",
    "ResponseKey",
    "RouteDef",
    "RouteTableDef",
    "Server",
    "ServerRunner",
    "SockSite",
    "StaticDef",
    "StaticResource",
    "StreamResponse",
    "TCPSite",
    "UnixSite",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "View",
    "MsgType",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketReady",
    "WebSocketResponse",
    "delete",
    "get",
    "head",
    "json_response",
    "middleware",
    "normalize_path_middleware",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "run_app",
    "static",
    "view",
    *_exc_all,
)


# -- run_app and the command line --

_NO_UVLOOP_ENV = "AIOWEB_NO_UVLOOP"


def _new_event_loop(use_uvloop: Optional[bool]) -> asyncio.AbstractEventLoop:
    """A fresh loop: uvloop's when wanted and installed, asyncio's otherwise."""
    if use_uvloop is None:
        use_uvloop = os.environ.get(_NO_UVLOOP_ENV, "") in ("", "0")
        required = False
    else:
        required = use_uvloop
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            if required:
                raise RuntimeError("use_uvloop=True but uvloop is not installed") from None
        else:
            return cast(asyncio.AbstractEventLoop, uvloop.new_event_loop())
    return asyncio.new_event_loop()


def _make_sites(
    runner: AppRunner,
    host: Union[str, Iterable[str], None],
    port: Optional[int],
    path: Union[str, os.PathLike[str], Iterable[Union[str, os.PathLike[str]]], None],
    sock: Union[socket.socket, Iterable[socket.socket], None],
    ssl_context: Any,
    backlog: int,
    reuse_address: Optional[bool],
    reuse_port: Optional[bool],
) -> list[BaseSite]:
    sites: list[BaseSite] = []
    tcp = {
        "ssl_context": ssl_context,
        "backlog": backlog,
        "reuse_address": reuse_address,
        "reuse_port": reuse_port,
    }
    if host is not None:
        hosts = [host] if isinstance(host, str) else list(host)
        sites.extend(TCPSite(runner, h, port, **tcp) for h in hosts)
    elif (path is None and sock is None) or port is not None:
        sites.append(TCPSite(runner, None, port, **tcp))
    if path is not None:
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        sites.extend(
            UnixSite(runner, os.fspath(p), ssl_context=ssl_context, backlog=backlog)
            for p in paths
        )
    if sock is not None:
        socks = [sock] if isinstance(sock, socket.socket) else list(sock)
        sites.extend(SockSite(runner, s, ssl_context=ssl_context, backlog=backlog) for s in socks)
    return sites


async def _run_app(
    app: Union[Application, Awaitable[Application]],
    *,
    host: Any,
    port: Optional[int],
    path: Any,
    sock: Any,
    ssl_context: Any,
    print: Optional[Callable[..., None]],
    backlog: int,
    reuse_address: Optional[bool],
    reuse_port: Optional[bool],
    **kwargs: Any,
) -> None:
    if not isinstance(app, Application) and inspect.isawaitable(app):
        app = await app
    runner = AppRunner(app, **kwargs)
    await runner.setup()
    try:
        sites = _make_sites(
            runner, host, port, path, sock, ssl_context, backlog, reuse_address, reuse_port
        )
        for site in sites:
            await site.start()
        if print is not None:
            names = ", ".join(sorted(site.name for site in runner.sites))
            print(f"======== Running on {names} ========\n(Press CTRL+C to quit)")
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()


def _cancel_remaining_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during run_app() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )


def run_app(
    app: Union[Application, Awaitable[Application]],
    *,
    host: Union[str, Iterable[str], None] = None,
    port: Optional[int] = None,
    path: Union[str, os.PathLike[str], Iterable[Union[str, os.PathLike[str]]], None] = None,
    sock: Union[socket.socket, Iterable[socket.socket], None] = None,
    shutdown_timeout: float = 60.0,
    keepalive_timeout: float = 75.0,
    ssl_context: Any = None,
    print: Optional[Callable[..., None]] = print,
    backlog: int = DEFAULT_BACKLOG,
    access_log_class: type[AbstractAccessLogger] = AccessLogger,
    access_log_format: str = AccessLogger.LOG_FORMAT,
    access_log: Optional[logging.Logger] = access_logger,
    handle_signals: bool = True,
    reuse_address: Optional[bool] = None,
    reuse_port: Optional[bool] = None,
    handler_cancellation: bool = False,
    loop: Optional[asyncio.AbstractEventLoop] = None,
    use_uvloop: Optional[bool] = None,
    **kwargs: Any,
) -> None:
    """Serve ``app`` (or the application an awaitable returns) until interrupted.

    Without ``host``, ``path`` or ``sock`` it listens on every interface at
    port 8080 (8443 with ``ssl_context``). It prints one "Running on" line
    (``print=None`` silences it), serves until SIGINT or SIGTERM (with
    ``handle_signals``) or Ctrl+C, then shuts down gracefully: stop
    accepting, ``on_shutdown``, in-flight requests get ``shutdown_timeout``
    seconds, remaining connections close, ``on_cleanup``. The loop is closed
    at the end, even one passed in.

    Event loop: ``loop`` is used when given. Otherwise a new uvloop loop is
    made when uvloop is installed, and an asyncio loop when it is not. Opt
    out of uvloop with ``use_uvloop=False`` or the environment variable
    ``AIOWEB_NO_UVLOOP=1``; ``use_uvloop=True`` raises ``RuntimeError`` when
    uvloop is missing. Extra keyword arguments reach ``web.Server``.
    """
    if loop is None:
        loop = _new_event_loop(use_uvloop)
    if loop.get_debug() and access_log is access_logger:
        if access_log.level == logging.NOTSET:
            access_log.setLevel(logging.DEBUG)
        if not access_log.hasHandlers():
            access_log.addHandler(logging.StreamHandler())
    main_task = loop.create_task(
        _run_app(
            app,
            host=host,
            port=port,
            path=path,
            sock=sock,
            ssl_context=ssl_context,
            print=print,
            backlog=backlog,
            reuse_address=reuse_address,
            reuse_port=reuse_port,
            shutdown_timeout=shutdown_timeout,
            keepalive_timeout=keepalive_timeout,
            access_log_class=access_log_class,
            access_log_format=access_log_format,
            access_log=access_log,
            handle_signals=handle_signals,
            handler_cancellation=handler_cancellation,
            **kwargs,
        )
    )
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main_task)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main_task.done():
                # Cancelling the task runs its ``finally``: runner.cleanup().
                main_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main_task)
        finally:
            _cancel_remaining_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


class _EntryError(Exception):
    """The CLI's entry function could not give an application."""


def _load_entry(spec: str) -> Callable[..., Any]:
    """Import ``package.module:func`` (or the seed's ``package.module.func``)."""
    if ":" in spec:
        mod_name, _, func_name = spec.partition(":")
    else:
        mod_name, _, func_name = spec.rpartition(".")
    if not mod_name or not func_name:
        raise _EntryError(f"'{spec}' is not in 'module:function' or 'module.function' form")
    if mod_name.startswith("."):
        raise _EntryError("relative module names are not supported")
    try:
        module = importlib.import_module(mod_name)
    except Exception as exc:
        raise _EntryError(f"unable to import {mod_name}: {type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name, None)
    if func is None:
        raise _EntryError(f"module {mod_name!r} has no attribute {func_name!r}")
    if not callable(func):
        raise _EntryError(f"{spec} is not callable")
    return cast(Callable[..., Any], func)


def _checked_app(spec: str, result: Any) -> Union[Application, Awaitable[Application]]:
    """The entry function's result, checked (after awaiting, if awaitable)."""
    if isinstance(result, Application):
        return result
    if inspect.isawaitable(result):
        awaitable = result

        async def checked() -> Application:
            app = await awaitable
            if not isinstance(app, Application):
                raise _EntryError(f"{spec} returned {type(app).__name__}, not an Application")
            return app

        return checked()
    raise _EntryError(f"{spec} returned {type(result).__name__}, not an Application")


def main(argv: Optional[list[str]] = None) -> None:
    """``python -m aioweb.web [-H HOST] [-P PORT] [-U PATH] package.module:init_func``.

    Also the seed's form: ``-n HOST -p PORT package.module.init_func``. The
    function gets the arguments the CLI did not parse (a list of str) and
    returns an ``Application`` or an awaitable of one. A bad entry point, or
    a function that gives no application, is reported in one line on stderr
    with exit status 2. ``--no-uvloop`` serves on asyncio's own loop.
    """
    parser = argparse.ArgumentParser(
        prog="python -m aioweb.web", description="aioweb.web Application server"
    )
    parser.add_argument(
        "entry_func",
        metavar="entry-func",
        help="callable returning the Application: 'package.module:func' or 'package.module.func'",
    )
    parser.add_argument(
        "-H", "-n", "--hostname", default=None, help="TCP/IP host to serve on (default: localhost)"
    )
    parser.add_argument(
        "-P", "-p", "--port", type=int, default=8080, help="TCP/IP port (default: %(default)r)"
    )
    parser.add_argument("-U", "--path", help="Unix socket path to serve on (with -H: both)")
    parser.add_argument(
        "--no-uvloop", action="store_true", help="use asyncio's event loop even if uvloop is installed"
    )
    args, extra_argv = parser.parse_known_args(argv)

    def fail(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    if args.path is not None and not hasattr(socket, "AF_UNIX"):
        fail("Unix socket paths are not supported on this platform")
    try:
        func = _load_entry(args.entry_func)
        app = _checked_app(args.entry_func, func(extra_argv))
    except _EntryError as exc:
        fail(str(exc))
    if args.path and args.hostname is None:
        host, port = None, None
    else:
        host, port = args.hostname or "localhost", args.port
    logging.basicConfig(level=logging.INFO)
    try:
        run_app(
            app,
            host=host,
            port=port,
            path=args.path,
            use_uvloop=False if args.no_uvloop else None,
        )
    except _EntryError as exc:
        fail(str(exc))
    except OSError as exc:
        parser.exit(1, f"{parser.prog}: error: cannot serve: {exc}\n")
    parser.exit(message="Stopped\n")


if __name__ == "__main__":
    main()
