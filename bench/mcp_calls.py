#!/usr/bin/env python3
"""MCP tool-call overhead: the same operation (list 5 accounts) as a plain
GET /v1/accounts, as a tools/call over POST /mcp, and as a tools/call over
`herald mcp` on stdio; one sequential client each, in the same run.

    HERALD_BIN=build/herald python3 bench/mcp_calls.py [N]

The client is Python (one request at a time), so the figures measure
round trips including the client's own cost, not the server's ceiling.
"""
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
os.environ.setdefault("HERALD_BIN", os.path.join(os.path.dirname(HERE), "build", "herald"))

from harness import Herald  # noqa: E402
from test_mcp import Stdio, call, init  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    h = Herald(env={"HERALD_RATE_LIMIT": "100000000", "HERALD_ACCESS_LOG": "0"})
    try:
        k = h.key("bench")
        for i in range(5):
            h.request("POST", "/v1/accounts", key=k, body={
                "provider": "webhook", "name": "w%d" % i,
                "credentials": {"url": "http://127.0.0.1:9/x"}})
        c = http.client.HTTPConnection("127.0.0.1", h.port)
        hd = {"Authorization": "Bearer " + k}
        t = time.perf_counter()
        for _ in range(n):
            c.request("GET", "/v1/accounts", headers=hd)
            c.getresponse().read()
        rest = n / (time.perf_counter() - t)
        hd.update({"Content-Type": "application/json", "MCP-Protocol-Version": "2025-06-18",
                   "Accept": "application/json, text/event-stream"})
        body = json.dumps(call(1, "list_accounts", {}))
        t = time.perf_counter()
        for _ in range(n):
            c.request("POST", "/mcp", body=body, headers=hd)
            r = c.getresponse().read()
        over_http = n / (time.perf_counter() - t)
        assert b'"isError":false' in r, r
        p = Stdio(h.data_dir, k)
        p.ask(init())
        msg = (json.dumps(call(1, "list_accounts", {})) + "\n").encode()
        t = time.perf_counter()
        for _ in range(n):
            p.send_raw(msg)
            p.line()
        over_stdio = n / (time.perf_counter() - t)
        p.close()
    finally:
        h.stop()
    print("GET /v1/accounts %.0f req/s; tools/call over POST /mcp %.0f calls/s; "
          "tools/call over herald mcp (stdio) %.0f calls/s" % (rest, over_http, over_stdio))


if __name__ == "__main__":
    main()
