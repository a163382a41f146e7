"""Server memory per idle keep-alive connection.

Opens N connections to a running server on 127.0.0.1, sends one request on
each, keeps them all open and idle, and reports the growth of the server's
resident memory (VmRSS from /proc) divided by N::

    python bench/app.py --framework aioweb --port 8080 &
    python bench/idle_memory.py --port 8080 --pid $! -n 3000

Bounded: N connections (default 3,000, at most the open-file limit), one
request each, then every socket is closed.
"""

from __future__ import annotations

import argparse
import asyncio


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def measure(port: int, pid: int, n: int) -> float:
    """Open ``n`` idle keep-alive connections; return server bytes per connection."""
    before = rss_kib(pid)
    conns = []
    try:
        for _ in range(n):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            conns.append(writer)
        await asyncio.sleep(1.0)
        after = rss_kib(pid)
    finally:
        for writer in conns:
            writer.close()
    return (after - before) * 1024 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("-n", type=int, default=3000)
    args = parser.parse_args()
    per = asyncio.run(measure(args.port, args.pid, args.n))
    print(f"{args.n} idle keep-alive connections: {per:.0f} bytes of server RSS each")


if __name__ == "__main__":
    main()
