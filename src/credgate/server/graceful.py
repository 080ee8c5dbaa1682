"""Running uvicorn with a drain step, so SIGTERM never drops a request already on its way.

Uvicorn's own shutdown closes at once every connection that has no request in progress. A
request whose bytes are already in the socket, but not yet read, is then lost to a client
that did nothing wrong. Here the listening sockets close first (new connections are refused
and go to another instance), connections get a moment to deliver what they have sent, and
only then does the usual graceful shutdown run, finishing every request in progress.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("credgate.server")

DRAIN_SECONDS = 1.0
_STARTUP_FAILURE = 3  # uvicorn's own exit status for a server that never started


class DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        if self.server_state.connections:
            logger.info(
                "server.draining",
                extra={
                    "connections": len(self.server_state.connections),
                    "seconds": DRAIN_SECONDS,
                },
            )
            await asyncio.sleep(DRAIN_SECONDS)
        await super().shutdown(sockets)


def run_server(config: uvicorn.Config) -> None:
    """Serve until SIGTERM or SIGINT, as ``uvicorn.run`` does, draining on the way out.

    With several workers uvicorn's supervisor runs each worker's server, without the drain.
    """
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    config.load_app()
    server = DrainingServer(config)
    server.run()
    if not server.started:
        sys.exit(_STARTUP_FAILURE)
