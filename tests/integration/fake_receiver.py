#!/usr/bin/env python3
"""A fake webhook receiver (a stand-in platform) for engine tests and benchmarks.

Stdlib only.  A ThreadingHTTPServer on 127.0.0.1 (ephemeral port unless told)
that records every request, counts deliveries per `webhook-id`, verifies the
Standard Webhooks signature when it knows the secret, and answers as it is
told, per path or globally.

In-process use (tests):

    from fake_receiver import FakeReceiver, ok, status, slow, reset
    rx = FakeReceiver(secret="whsec_...").start()
    url = rx.url("/hook-a")                       # give this to a webhook channel
    rx.script("/hook-a", status(503), ok())        # first 503, then 200 for ever
    rx.script(None, slow(3))                       # global default: hold 3 s, then 200
    rx.secrets["/hook-b"] = "whsec_..."            # per-path secret (else `secret`)
    req = rx.wait_one(lambda r: r.path == "/hook-a", timeout=5)
    rx.deliveries("/hook-a"); rx.counts["msg_..."]; req.sig_ok; req.json
    rx.stop()

A script is a list of actions taken one per request; the last action stays in
force once the others are used up.  A path's script wins over the global one.
Actions:
    ok(id=None, url=None)               200 {"id": .., "url": ..} (id defaults to a
                                        stable "rel_<webhook-id>", so a redelivery of
                                        the same message gets the same release id)
    status(code, body=None, headers=None, delay=0)
                                        e.g. status(503), status(400, {"message": ..}),
                                        status(429, headers={"Retry-After": "2"}), status(401)
    slow(seconds, then=None)            hold the request, then answer `then` (default ok())
    reset(delay=0)                      read the request, then close the socket with RST
                                        without answering a byte

Standalone use (benchmarks):

    python3 tests/integration/fake_receiver.py --port N --log FILE [--secret whsec_..]
        [--status CODE] [--delay SECONDS] [--fast] [--quiet]

FILE gets one JSON line per request: {"t": receive time (unix seconds, float),
"method", "path", "webhook_id", "webhook_timestamp", "sig_ok" (null without
--secret), "status" (what was answered, 0 for a reset), "id" / "postId" /
"position" / "publishDate" / "inReplyTo" from the body when it is a herald
webhook, "len": body bytes}.  With --full the headers and body are logged too.
The process prints "fake receiver listening on http://127.0.0.1:PORT" on stdout
once it accepts connections, and stops cleanly on SIGTERM/SIGINT.  Scripts can
be changed at run time with `POST /__script` {"path": "/x" | null, "actions":
[{"status": 503}, {"reset": true}, {"delay": 1.5, "status": 200}, ...]}, and
`GET /__stats` answers {"requests": n, "distinct_ids": n, "duplicates": n}.
"""

import argparse
import asyncio
import base64
import collections
import hashlib
import hmac
import http
import http.server
import json
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

__all__ = ["FakeReceiver", "Request", "ok", "status", "slow", "reset", "verify_signature"]


# ---- actions ----

def ok(id=None, url=None, delay=0.0):
    return {"kind": "ok", "id": id, "url": url, "delay": float(delay)}


def status(code, body=None, headers=None, delay=0.0):
    return {"kind": "status", "code": int(code), "body": body, "headers": dict(headers or {}),
            "delay": float(delay)}


def slow(seconds, then=None):
    a = dict(then or ok())
    a["delay"] = float(seconds)
    return a


def reset(delay=0.0):
    return {"kind": "reset", "delay": float(delay)}


def _action_from_json(d):
    """The wire form of /__script: {"status": 503, "body":.., "headers":.., "delay":..,
    "reset": true, "id":.., "url":..}."""
    delay = float(d.get("delay", 0) or 0)
    if d.get("reset"):
        return reset(delay)
    code = int(d.get("status", 200))
    if code == 200 and "body" not in d:
        return ok(d.get("id"), d.get("url"), delay)
    return status(code, d.get("body"), d.get("headers"), delay)


# ---- signatures ----

def verify_signature(secret, headers, body):
    """Standard Webhooks: signature header holds space-separated "v1,<base64>"
    entries; each is base64(HMAC-SHA256(secret bytes, "<id>.<ts>.<body>")) where
    the secret is the base64 after "whsec_".  True when one entry matches."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sig = headers.get("webhook-signature")
    if not (secret and msg_id and ts and sig):
        return False
    key = secret[6:] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(key, validate=True)
    except (ValueError, TypeError):
        return False
    if isinstance(body, str):
        body = body.encode("utf-8")
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
    want = base64.b64encode(mac.digest()).decode()
    for part in sig.split(" "):
        ver, _, val = part.partition(",")
        if ver == "v1" and hmac.compare_digest(val, want):
            return True
    return False


# ---- records ----

class Request:
    """One received request.  `t` is the wall-clock receive time (time.time(),
    taken when the headers and body have been read, before any scripted delay)."""

    __slots__ = ("seq", "t", "method", "path", "headers", "body", "webhook_id", "sig_ok",
                 "answered", "answered_at", "_json")

    def __init__(self, seq, t, method, path, headers, body, sig_ok):
        self.seq = seq
        self.t = t
        self.method = method
        self.path = path
        self.headers = headers          # dict, lowercased names
        self.body = body                # bytes
        self.webhook_id = headers.get("webhook-id")
        self.sig_ok = sig_ok            # None when no secret is known
        self.answered = None            # status sent, 0 for a reset, None while held
        self.answered_at = None
        self._json = False

    @property
    def json(self):
        if self._json is False:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except ValueError:
                self._json = None
        return self._json

    @property
    def data(self):
        """The `data` object of a herald webhook body ({} when absent)."""
        j = self.json
        return j.get("data", {}) if isinstance(j, dict) else {}

    def summary(self):
        d = self.data
        return {
            "t": round(self.t, 6), "method": self.method, "path": self.path,
            "webhook_id": self.webhook_id,
            "webhook_timestamp": self.headers.get("webhook-timestamp"),
            "sig_ok": self.sig_ok, "status": self.answered, "len": len(self.body),
            "id": d.get("id"), "postId": d.get("postId"), "position": d.get("position"),
            "publishDate": d.get("publishDate"), "inReplyTo": d.get("inReplyTo"),
        }

    def __repr__(self):
        return "<Request #%d %s %s id=%s t=%.3f answered=%s>" % (
            self.seq, self.method, self.path, self.webhook_id, self.t, self.answered)


# ---- server ----

class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # a client that disconnects (or is killed) mid-connection is normal here
        import sys as _sys
        if isinstance(_sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _response(rx, req, action):
    """What to answer `req` under a non-reset `action`: (code, [(name, value)], body bytes)."""
    if action["kind"] == "ok":
        rid = action["id"] or "rel_%s" % (req.webhook_id or "req%d" % req.seq)
        url = action["url"] or "%s/p/%s" % (rx.base_url, rid)
        code, payload, extra = 200, {"id": rid, "url": url}, {}
    else:
        code, payload, extra = action["code"], action["body"], action["headers"]
    if payload is None:
        out = b""
    elif isinstance(payload, (bytes, bytearray)):
        out = bytes(payload)
    elif isinstance(payload, str):
        out = payload.encode("utf-8")
    else:
        out = json.dumps(payload).encode("utf-8")
    hdrs = []
    if out and not any(k.lower() == "content-type" for k in extra):
        hdrs.append(("Content-Type", "application/json"))
    hdrs += [(k, str(v)) for k, v in extra.items()]
    hdrs.append(("Content-Length", str(len(out))))
    return code, hdrs, out


def _control(rx, method, path, body):
    """The /__ routes: (code, payload)."""
    try:
        if path == "/__script" and method == "POST":
            d = json.loads(body.decode("utf-8") or "{}")
            rx.script(d.get("path"), *[_action_from_json(a) for a in d.get("actions", [])])
            return 200, {"ok": True}
        if path == "/__stats":
            return 200, rx.stats()
        return 404, {"message": "unknown control route"}
    except (ValueError, TypeError, AttributeError) as e:
        return 400, {"message": str(e)}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as a real platform
    server_version = "fake-receiver/1"

    def log_message(self, fmt, *args):  # silence the per-request stderr line
        pass

    def _send(self, code, hdrs, out):
        self.send_response(code)
        for k, v in hdrs:
            self.send_header(k, v)
        self.end_headers()
        if out and self.command != "HEAD":
            self.wfile.write(out)

    def _handle(self):
        rx = self.server.rx
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        t = time.time()
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        if path.startswith("/__") and rx.control:
            code, payload = _control(rx, self.command, path, body)
            out = json.dumps(payload).encode()
            return self._send(code, [("Content-Type", "application/json"),
                                     ("Content-Length", str(len(out)))], out)
        req = rx._record(t, self.command, path, headers, body)
        action = rx._next_action(path)
        if action["delay"] > 0:
            time.sleep(action["delay"])
        if action["kind"] == "reset":
            req.answered = 0
            req.answered_at = time.time()
            rx._log(req)
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            self.close_connection = True
            return
        code, hdrs, out = _response(rx, req, action)
        req.answered = code
        req.answered_at = time.time()
        rx._log(req)
        try:
            self._send(code, hdrs, out)
        except OSError:
            # the client went away while we held the request (e.g. killed)
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = do_HEAD = _handle


# ---- fast mode: the same receiver on asyncio (standalone --fast) ----

_REASONS = {c.value: c.phrase for c in http.HTTPStatus}


async def _fast_conn(rx, reader, writer):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                return
            headers = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length") or 0)
            body = await reader.readexactly(n) if n > 0 else b""
            t = time.time()
            path = target.split("?", 1)[0]
            if path.startswith("/__") and rx.control:
                code, payload = _control(rx, method, path, body)
                out = json.dumps(payload).encode()
                hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
            else:
                req = rx._record(t, method, path, headers, body)
                action = rx._next_action(path)
                if action["delay"] > 0:
                    await asyncio.sleep(action["delay"])
                if action["kind"] == "reset":
                    req.answered = 0
                    req.answered_at = time.time()
                    rx._log(req)
                    sock = writer.get_extra_info("socket")
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                    except OSError:
                        pass
                    writer.transport.abort()
                    return
                code, hdrs, out = _response(rx, req, action)
                req.answered = code
                req.answered_at = time.time()
                rx._log(req)
            head = ["HTTP/1.1 %d %s" % (code, _REASONS.get(code, "Status"))]
            head += ["%s: %s" % kv for kv in hdrs]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") +
                         (out if method != "HEAD" else b""))
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, RuntimeError):
            pass


def serve_fast(rx, stop_event):
    """Run rx on an asyncio loop in this thread until stop_event is set."""
    async def amain():
        srv = await asyncio.start_server(lambda r, w: _fast_conn(rx, r, w), rx.host, rx.port,
                                         backlog=1024, reuse_address=True)
        rx.port = srv.sockets[0].getsockname()[1]
        rx.base_url = "http://%s:%d" % (rx.host, rx.port)
        if rx.log_path and not rx._log_f:
            rx._log_f = open(rx.log_path, "a", buffering=1 << 16)
        print("fake receiver listening on %s" % rx.base_url, flush=True)
        while not stop_event.is_set():
            await asyncio.sleep(0.5)
            rx.flush()
        srv.close()
    asyncio.run(amain())


class FakeReceiver:
    """See the module docstring.  Thread-safe; every accessor returns copies."""

    def __init__(self, secret=None, host="127.0.0.1", port=0, log_path=None, full_log=False,
                 control=True, keep=True):
        self.secret = secret                  # default signing secret
        self.secrets = {}                     # path -> secret (wins over the default)
        self.host = host
        self.port = port
        self.log_path = log_path
        self.full_log = full_log
        self.control = control
        self.keep = keep                      # keep Request objects (off for huge benchmarks)
        self._mu = threading.Condition()
        self._requests = []
        self._scripts = {}                    # path (or None) -> list of actions
        self.counts = collections.Counter()   # webhook-id -> deliveries
        self.total = 0
        self._log_f = None
        self._srv = None
        self._thread = None
        self.base_url = None

    # ---- lifecycle ----

    def start(self):
        self._srv = _Server((self.host, self.port), _Handler)
        self._srv.rx = self
        self.port = self._srv.server_address[1]
        self.base_url = "http://%s:%d" % (self.host, self.port)
        if self.log_path:
            self._log_f = open(self.log_path, "a", buffering=1 << 16)
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._srv:
            self._srv.shutdown()
            self._srv.server_close()
            self._srv = None
        with self._mu:
            if self._log_f:
                self._log_f.close()
                self._log_f = None

    def __enter__(self):
        return self.start() if not self._srv else self

    def __exit__(self, *exc):
        self.stop()

    def url(self, path="/hook"):
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    # ---- behaviour ----

    def script(self, path, *actions):
        """Answer requests to `path` (None: every path without its own script)
        with these actions in order; the last one stays."""
        with self._mu:
            if actions:
                self._scripts[path] = [dict(a) for a in actions]
            else:
                self._scripts.pop(path, None)

    always = script

    def _next_action(self, path):
        with self._mu:
            s = self._scripts.get(path)
            if s is None:
                s = self._scripts.get(None)
            if not s:
                return ok()
            return s.pop(0) if len(s) > 1 else dict(s[0])

    # ---- records ----

    def _record(self, t, method, path, headers, body):
        secret = self.secrets.get(path, self.secret)
        sig_ok = verify_signature(secret, headers, body) if secret else None
        with self._mu:
            self.total += 1
            req = Request(self.total, t, method, path, headers, body, sig_ok)
            if self.keep:
                self._requests.append(req)
            if req.webhook_id:
                self.counts[req.webhook_id] += 1
            self._mu.notify_all()
        return req

    def _log(self, req):
        if not self._log_f:
            return
        d = req.summary()
        if self.full_log:
            d["headers"] = req.headers
            d["body"] = req.body.decode("utf-8", "replace")
        line = json.dumps(d, separators=(",", ":")) + "\n"
        with self._mu:
            if self._log_f:
                self._log_f.write(line)

    def flush(self):
        with self._mu:
            if self._log_f:
                self._log_f.flush()

    def requests(self, path=None, pred=None):
        with self._mu:
            v = list(self._requests)
        if path is not None:
            v = [r for r in v if r.path == path]
        if pred is not None:
            v = [r for r in v if pred(r)]
        return v

    deliveries = requests

    def ids(self, path=None):
        """Distinct webhook-ids seen (on `path`), in first-seen order."""
        seen = []
        for r in self.requests(path):
            if r.webhook_id not in seen:
                seen.append(r.webhook_id)
        return seen

    def stats(self):
        with self._mu:
            dup = sum(c - 1 for c in self.counts.values() if c > 1)
            return {"requests": self.total, "distinct_ids": len(self.counts), "duplicates": dup}

    def clear(self):
        with self._mu:
            self._requests.clear()
            self.counts.clear()
            self.total = 0

    def wait_for(self, pred=None, count=1, timeout=10.0, path=None):
        """Block until `count` recorded requests satisfy pred (and path);
        returns all of them (a list, oldest first), or raises AssertionError
        on timeout."""
        deadline = time.monotonic() + timeout
        with self._mu:
            while True:
                got = [r for r in self._requests
                       if (path is None or r.path == path) and (pred is None or pred(r))]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "fake receiver: %d of %d expected requests%s within %.1f s; saw %r"
                        % (len(got), count, " on " + path if path else "", timeout,
                           self._requests[-10:]))
                self._mu.wait(min(left, 0.05))

    def wait_one(self, pred=None, timeout=10.0, path=None):
        """The first request satisfying pred (and path); AssertionError on timeout."""
        return self.wait_for(pred, 1, timeout, path)[0]

    def wait_quiet(self, seconds, path=None):
        """Sleep `seconds`; returns the requests (on path) that arrived meanwhile."""
        before = len(self.requests(path))
        time.sleep(seconds)
        return self.requests(path)[before:]


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake webhook receiver (see module docstring)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--full", action="store_true", help="log headers and body too")
    ap.add_argument("--secret", help="whsec_... to verify signatures with")
    ap.add_argument("--status", type=int, default=200, help="answer this status to everything")
    ap.add_argument("--delay", type=float, default=0.0, help="hold every request this long")
    ap.add_argument("--fast", action="store_true",
                    help="serve with asyncio instead of a thread per connection (several "
                         "times the throughput; same answers, log and control routes)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    rx = FakeReceiver(secret=a.secret, host=a.host, port=a.port, log_path=a.log,
                      full_log=a.full, keep=False)
    if a.status != 200:
        rx.script(None, status(a.status, {"message": "scripted %d" % a.status}, delay=a.delay))
    elif a.delay:
        rx.script(None, slow(a.delay))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if a.fast:
        serve_fast(rx, stop)
    else:
        rx.start()
        print("fake receiver listening on %s" % rx.base_url, flush=True)
        while not stop.wait(1.0):
            rx.flush()
    rx.stop()
    if not a.quiet:
        print(json.dumps(rx.stats()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
