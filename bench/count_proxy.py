#!/usr/bin/env python3
"""A TCP proxy on loopback that counts the bytes it forwards.

    count_proxy.py TARGET_PORT COUNT_FILE

Listens on a free port of 127.0.0.1 (printed on stdout, one line), forwards
every connection to 127.0.0.1:TARGET_PORT, and after each connection closes
rewrites COUNT_FILE with the total bytes forwarded so far (both directions,
all connections). The bench scripts read it before and after a run.
"""
import asyncio
import sys

total = 0


async def pipe(reader, writer):
    global total
    try:
        while data := await reader.read(1 << 16):
            total += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    target, count_file = int(sys.argv[1]), sys.argv[2]

    async def serve(client_r, client_w):
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        with open(count_file, "w") as f:
            f.write(f"{total}\n")

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
