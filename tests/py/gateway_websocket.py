#!/usr/bin/env python3
"""A WebSocket client (the `websockets` package) for the gateway's WebSocket tests.

    python tests/py/gateway_websocket.py --port PORT PLAN

PLAN is JSON: {"path": "/v1/chat", "headers": {"name": "value"}, "steps": [...]}, each step one of
{"send": "text"} (one text frame; "" ends the client's messages), {"send_binary": "text"} (a binary
frame), {"send_bytes": n} (a text frame of about n bytes), {"recv": n} (wait for n messages), {"ready": true} (print a line `ready`, so the test
knows the session got this far) or {"abort": true} (drop the TCP connection without a close
frame, as a client that vanishes). After the steps it reads until the gateway closes (unless aborted),
then prints one JSON line: {"received": [texts], "close": [code, reason] or null}. Every wait has a
10 s limit, so a gateway that hangs fails the test instead of hanging it.
"""

import argparse
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

LIMIT = 10


async def run(port, plan):
    received, close = [], None
    uri = f"ws://127.0.0.1:{port}{plan['path']}"
    try:
        ws = await asyncio.wait_for(connect(uri, additional_headers=plan.get("headers", {})), LIMIT)
    except InvalidStatus as error:
        return {"received": [], "close": None, "http_status": error.response.status_code}
    try:
        for step in plan.get("steps", []):
            if "send" in step:
                await ws.send(step["send"])
            elif "send_binary" in step:
                await ws.send(step["send_binary"].encode())
            elif "send_bytes" in step:
                await ws.send(json.dumps({"text": "x" * step["send_bytes"]}))
            elif "recv" in step:
                for _ in range(step["recv"]):
                    received.append(await asyncio.wait_for(ws.recv(), LIMIT))
            elif step.get("ready"):
                print("ready", flush=True)
            elif step.get("abort"):
                ws.transport.abort()
                return {"received": received, "close": None}
        while True:
            received.append(await asyncio.wait_for(ws.recv(), LIMIT))
    except ConnectionClosed as closed:
        if closed.rcvd is not None:
            close = [closed.rcvd.code, closed.rcvd.reason]
    finally:
        await ws.close()
    return {"received": received, "close": close}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("plan")
    args = parser.parse_args()
    result = asyncio.run(run(args.port, json.loads(args.plan)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
