"""A fast local webhook receiver for bench/deliveries.py, in a process of its own: plain asyncio
streams speaking just enough HTTP/1.1 (keep-alive, Content-Length bodies) to answer every POST with
200 at once, so what is measured is the sender. It counts what it received by ``notification_id``
(``GET /stats``: requests, distinct ids, repeats) and prints its port on stdout when it listens.

    python -m bench.receiver            # prints the port, serves until SIGTERM
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections import Counter

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_ID = re.compile(rb'"notification_id":\s*(\d+)')


class Counts:
    def __init__(self) -> None:
        self.requests = 0
        self.ids: Counter[int] = Counter()

    def stats(self) -> bytes:
        body = json.dumps(
            {
                "requests": self.requests,
                "distinct": len(self.ids),
                "repeats": sum(n - 1 for n in self.ids.values() if n > 1),
            }
        ).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        return head.encode() + body

    def reset(self) -> None:
        self.requests = 0
        self.ids.clear()


async def serve_connection(
    counts: Counts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """One keep-alive connection: read each request's head and body, answer it."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET /stats"):
                writer.write(counts.stats())
            elif head.startswith(b"POST /reset"):
                counts.reset()
                writer.write(OK)
            else:
                counts.requests += 1
                found = _ID.search(body)
                if found:
                    counts.ids[int(found.group(1))] += 1
                writer.write(OK)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main() -> None:
    counts = Counts()
    server = await asyncio.start_server(
        lambda r, w: serve_connection(counts, r, w), "127.0.0.1", 0, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    sys.exit(0)


if __name__ == "__main__":
    asyncio.run(main())
