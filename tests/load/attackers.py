"""The soak's many and busy hostile clients, in a process of their own so that their loops do
not take the test's interpreter from the good clients it times: over HTTP, 64 idle uploaders
from another address that connect again whenever they are let go; over gRPC, gzip'd
typed-contents bombs (30 million packed zeros, 30 MB of empty `inputs` entries), floods of
streams past the advertised limit, streams opened and reset in a loop, and idle connections.
Each repeats until the process is stopped:
`python -m tests.load.attackers HTTP_PORT GRPC_HOST:PORT`."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import sys
import threading
import time
from collections.abc import Callable

from service.grpc.generated import grpc_service_pb2 as pb
from tests.service.grpc import raw_http2

INFER = "/inference.GRPCInferenceService/ModelInfer"
_EMPTY_INPUTS = b"\x2a\x00" * (15 * 2**20)  # 30 MB of empty `inputs` entries


def _zeros(count: int) -> bytes:
    message = pb.ModelInferRequest(model_name="mnist")
    tensor = message.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    tensor.contents.uint_contents.extend([0] * count)
    return message.SerializeToString()


def bombs(target: str) -> None:
    """Compressed once (29 KB and 30 KB), sent again and again, as an attacker would."""
    payloads = [raw_http2.gzip_once(_zeros(30_000_000)), raw_http2.gzip_once(_EMPTY_INPUTS)]
    while True:
        for payload in payloads:
            raw_http2.gzipped_call(target, INFER, payload)
            time.sleep(0.5)


def floods(target: str) -> None:
    while True:  # 2,000 streams on a new connection each second
        raw_http2.flood(target, streams=2000)
        time.sleep(1.0)


def resets(target: str) -> None:
    while True:  # paced: at full speed this client takes a core of the two the test has
        raw_http2.rapid_reset(target, seconds=2.0, per_second=1000)


def idle(target: str, count: int = 200) -> None:
    host, port = target.rsplit(":", 1)
    held: list[socket.socket] = []
    while True:
        held = [sock for sock in held if _open(sock)]
        while len(held) < count:
            try:
                held.append(socket.create_connection((host, int(port)), timeout=5))
            except OSError:
                break
        time.sleep(1.0)


def _open(sock: socket.socket) -> bool:
    """Whether the server still holds `sock` (what it sent is read and dropped)."""
    try:
        while select.select([sock], [], [], 0)[0]:
            if not sock.recv(65536):
                sock.close()
                return False
    except OSError:
        sock.close()
        return False
    return True


UPLOAD_HEAD = (
    b"POST /v1/models/tshirt/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n"
)


def idle_uploads(http_port: int, count: int = 64, source: str = "127.0.0.2") -> None:
    """`count` POSTs that send their headers and nothing else, from another address, each
    connecting again as soon as the server lets go: asyncio, so they cost little."""

    async def one() -> None:
        while True:
            with contextlib.suppress(OSError):  # cut off by the server: that is its job
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", http_port, local_addr=(source, 0)
                )
                writer.write(UPLOAD_HEAD)
                await reader.read()
                writer.close()
            await asyncio.sleep(0.05)

    async def all_of_them() -> None:
        await asyncio.gather(*(one() for _ in range(count)))

    asyncio.run(all_of_them())


def main(http_port: int, target: str) -> None:
    attacks: list[Callable[[], None]] = [
        lambda: idle_uploads(http_port),
        lambda: bombs(target),
        lambda: floods(target),
        lambda: resets(target),
        lambda: idle(target),
    ]
    for attack in attacks:
        threading.Thread(target=_forever, args=(attack,), daemon=True).start()
    print("attacking", flush=True)
    while True:
        time.sleep(1)


def _forever(attack: Callable[[], None]) -> None:
    while True:
        try:
            attack()
        except OSError:  # cut off: that is the server's job; come back
            time.sleep(0.1)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
