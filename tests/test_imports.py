"""Import hygiene: the facade's names, a light top-level import, optional deps stay optional."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "aioweb"
OPTIONAL_THIRD_PARTY = ("jinja2", "mako", "cryptography", "redis")
# Batteries that may need extras; the core must never import them.
OPTIONAL_MODULES = {"jinja2", "mako", "session", "cors", "debugtoolbar", "asgi", "worker", "demo"}
# The sans-IO protocol layer: bytes in, messages out, nothing from the framework.
PROTOCOL_MODULES = ("_http_parser", "_http_writer", "_websocket", "streams", "_flow_control", "http_exceptions")

# aiohttp.web names that the seed chapter uses, or that every aiohttp.web 3.x app reaches for.
SEED_CORE_NAMES = (
    "Application",
    "BaseRequest",
    "Request",
    "Response",
    "StreamResponse",
    "View",
    "json_response",
    "middleware",
    "normalize_path_middleware",
    "run_app",
    "AppRunner",
    "ServerRunner",
    "TCPSite",
    "SockSite",
    "UnixSite",
    "Server",
    "UrlDispatcher",
    "Resource",
    "AbstractResource",
    "AbstractRoute",
    "PlainResource",
    "DynamicResource",
    "ResourceRoute",
    "UrlMappingMatchInfo",
    "FileField",
    "HTTPException",
    "HTTPSuccessful",
    "HTTPRedirection",
    "HTTPError",
    "HTTPClientError",
    "HTTPServerError",
    "HTTPOk",
    "HTTPFound",
    "HTTPMove",
    "HTTPNotFound",
    "HTTPForbidden",
    "HTTPMethodNotAllowed",
    "HTTPNotAcceptable",
    "HTTPExpectationFailed",
    "HTTPInternalServerError",
)


def run_python(code: str) -> Any:
    """Run ``code`` in a fresh interpreter; return what it printed, parsed as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_star_import_exposes_the_seed_core_names() -> None:
    namespace: dict[str, Any] = {}
    exec("from aioweb.web import *", namespace)
    missing = [name for name in SEED_CORE_NAMES if name not in namespace]
    assert missing == []


def test_seed_exception_chart_is_exported() -> None:
    from aioweb import web

    chart = (Path(__file__).parents[1] / "examples" / "seed" / "http-server-usage.txt").read_text()
    names = set(re.findall(r"\b(HTTP[A-Za-z]+)\b", chart.split("HTTP Exception hierarchy chart:")[1]))
    assert len(names) > 50
    assert sorted(names - set(web.__all__)) == []


def test_web_all_is_exact() -> None:
    from aioweb import web

    assert len(web.__all__) == len(set(web.__all__)), "duplicates in __all__"
    assert [name for name in web.__all__ if not hasattr(web, name)] == []


def test_import_aioweb_is_light() -> None:
    loaded = run_python(
        """
        import json, sys
        import aioweb
        print(json.dumps(sorted(sys.modules)))
        """
    )
    heavy = [m for m in loaded if m.startswith("aioweb.") or m in ("httptools", "asyncio", "aioweb.web")]
    assert heavy == []


def test_top_level_names() -> None:
    import aioweb

    assert aioweb.HttpVersion11 == (1, 1)
    assert aioweb.HttpVersion10 == (1, 0)
    assert aioweb.HttpVersion(1, 1) == aioweb.HttpVersion11
    assert isinstance(aioweb.__version__, str)
    from aioweb.multipart import MultipartWriter

    assert aioweb.MultipartWriter is MultipartWriter
    assert set(aioweb.__all__) <= set(dir(aioweb)) | {"MsgType", "WSMsgType", "WSCloseCode", "MultipartWriter"}


def test_web_imports_without_optional_dependencies() -> None:
    result = run_python(
        f"""
        import importlib.abc, json, sys

        BLOCKED = {OPTIONAL_THIRD_PARTY!r}

        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is blocked for this test")
                return None

        sys.meta_path.insert(0, Blocker())
        for name in BLOCKED:
            sys.modules.pop(name, None)

        from aioweb import web
        from aioweb.web import *
        app = web.Application()
        app.router.add_route("GET", "/", lambda request: web.Response(text="ok"))
        print(json.dumps(sorted(sys.modules)))
        """
    )
    blocked = [m for m in result if m.split(".")[0] in OPTIONAL_THIRD_PARTY]
    batteries = [m for m in result if m.startswith("aioweb.") and m.split(".")[1] in OPTIONAL_MODULES]
    assert (blocked, batteries) == ([], [])


def test_web_does_not_import_test_tooling() -> None:
    loaded = run_python(
        """
        import json, sys
        import aioweb.web
        print(json.dumps(sorted(sys.modules)))
        """
    )
    assert [m for m in loaded if m.split(".")[0] in ("httpx", "pytest", "_pytest", "aiohttp")] == []
    assert "aioweb.test_utils" not in loaded
    assert "aioweb.pytest_plugin" not in loaded


def test_deep_imports() -> None:
    from aioweb.abc import (
        AbstractAccessLogger,
        AbstractMatchInfo,
        AbstractRouter,
        AbstractStreamWriter,
        AbstractView,
    )
    from aioweb.hdrs import CONTENT_TYPE, METH_ALL, METH_GET
    from aioweb.typedefs import Handler, LooseHeaders, Middleware, PathLike, StrOrURL
    from aioweb.web_urldispatcher import UrlDispatcher

    assert issubclass(UrlDispatcher, AbstractRouter)
    for cls in (AbstractAccessLogger, AbstractMatchInfo, AbstractRouter, AbstractStreamWriter, AbstractView):
        assert getattr(cls, "__abstractmethods__", None), cls
    assert CONTENT_TYPE == "Content-Type"
    assert METH_GET == "GET" and METH_GET in METH_ALL
    assert all(alias is not None for alias in (Handler, LooseHeaders, Middleware, PathLike, StrOrURL))


@pytest.mark.parametrize(
    "module",
    sorted(
        p.stem
        for p in PACKAGE_DIR.glob("*.py")
        if p.stem not in OPTIONAL_MODULES and p.stem not in ("__init__", "__main__", "pytest_plugin")
    ),
)
def test_every_core_module_imports(module: str) -> None:
    importlib.import_module(f"aioweb.{module}")


def _runtime_imports(path: Path) -> list[str]:
    """Modules imported by ``path`` outside ``if TYPE_CHECKING:`` blocks (relative ones as ``.name``)."""
    tree = ast.parse(path.read_text())
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = "." * child.level + (child.module or "")
                found.append(base)
                if child.level and not child.module:
                    found.extend("." + alias.name for alias in child.names)
            visit(child)

    visit(tree)
    return found


def test_no_module_imports_aiohttp() -> None:
    offenders = {
        path.name: [m for m in _runtime_imports(path) if m.split(".")[0] == "aiohttp"]
        for path in PACKAGE_DIR.rglob("*.py")
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_protocol_layer_imports_nothing_from_the_framework() -> None:
    offenders = {}
    for name in PROTOCOL_MODULES:
        path = PACKAGE_DIR / f"{name}.py"
        if path.exists():
            bad = [m for m in _runtime_imports(path) if m.lstrip(".").startswith("web")]
            if bad:
                offenders[name] = bad
    assert offenders == {}


def test_core_never_imports_batteries() -> None:
    offenders = {}
    for path in PACKAGE_DIR.glob("*.py"):
        if path.stem in OPTIONAL_MODULES:
            continue
        bad = [
            m
            for m in _runtime_imports(path)
            if m.split(".")[0] in OPTIONAL_THIRD_PARTY
            or (m.startswith(".") and m.lstrip(".").split(".")[0] in OPTIONAL_MODULES)
        ]
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_py_typed_ships() -> None:
    assert resources.files("aioweb").joinpath("py.typed").is_file()
    pyproject = (PACKAGE_DIR.parent / "pyproject.toml").read_text()
    assert 'aioweb = ["py.typed"]' in pyproject


def test_pytest_plugin_entry_point() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("aioweb") == "aioweb.pytest_plugin"
