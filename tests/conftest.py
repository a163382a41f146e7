"""Shared test helpers: raw-socket access to a running server, TLS contexts,
which implementation an import selects."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import subprocess
import sys

import pytest

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] [1-5]\d\d( |$)")


def origin_module(module: str, name: str, env: dict[str, str], first_import: str = "") -> str:
    """The ``__module__`` of ``module.name`` in a fresh interpreter.

    ``env`` is added to this environment minus ``AIOWEB_NO_EXTENSIONS``;
    ``first_import`` runs before ``module`` is imported. Shows which of a
    compiled twin and its pure class an import selects; "None" where the
    name is bound to None (an optional piece left out).
    """
    full_env = {k: v for k, v in os.environ.items() if k != "AIOWEB_NO_EXTENSIONS"} | env
    code = f"{first_import}import {module} as m; print(getattr(m.{name}, '__module__', None))"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


class RawConnection:
    """A raw TCP connection for protocol edge cases."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_response(self, timeout: float = 5.0) -> tuple[bytes, dict[str, str], bytes]:
        """Read one response: status line, headers (lower-cased), body (by length/chunked)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].encode()
        # Every raw-socket test checks the server never speaks another version
        # (or echoes the client's) and always sends a three-digit status.
        assert _STATUS_LINE.match(status), f"malformed status line {status!r}"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = b""
        if "content-length" in headers:
            body = await asyncio.wait_for(
                self.reader.readexactly(int(headers["content-length"])), timeout
            )
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size_line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), timeout)
                size = int(size_line.split(b";")[0], 16)
                chunk = await asyncio.wait_for(self.reader.readexactly(size + 2), timeout)
                if size == 0:
                    break
                body += chunk[:-2]
        return status, headers, body

    async def read_until_closed(self, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.reader.read(), timeout)

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def raw_connect():
    """Factory: ``conn = await raw_connect(port)``; closed at teardown.

    An async fixture, so teardown runs while the test's loop is still open.
    """
    conns: list[RawConnection] = []

    async def connect(port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = RawConnection(reader, writer)
        conns.append(conn)
        return conn

    yield connect
    for conn in conns:
        conn.close()
        try:
            await asyncio.wait_for(conn.writer.wait_closed(), 5)
        except (OSError, asyncio.TimeoutError):
            pass


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate made with the openssl CLI: (server, client) contexts."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not installed")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True, timeout=30,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    client.check_hostname = False
    return server, client
