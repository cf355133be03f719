"""A generic recording fake platform for the provider cases (stdlib only).

FakePlatform listens on 127.0.0.1 (a free port) and answers requests with a
scripted list of exchanges, in order: request N is checked against
exchanges[N]["expect"] and answered with exchanges[N]["reply"].  Every
request is recorded with the problems found in it, so a test can fail with
the full story (what came, what was expected) instead of a bare timeout.

    fake = FakePlatform(media_dir)
    fake.start()                      # fake.url == "http://127.0.0.1:PORT"
    fake.load(exchanges)              # after %FAKE% substitution
    ...
    fake.problems()                   # [] when everything matched and was used
    fake.stop()

Served without consuming an exchange: GET /media/<file> from media_dir (so
a post's media path "%FAKE%/media/cat.png" gives the provider real bytes).

Expectations (every key optional; only the keys given are checked):
  method, path (without the query), query (exact dict of parameters; a
  parameter given several times compares as a list), headers (names
  case-insensitive, values exact; a null value asserts the header is
  absent), json (exact, parsed), json_subset (recursive subset: objects by
  key, arrays element-wise with equal length), body_contains (list of
  substrings of the body as text), body_file (the raw body equals that
  file of media_dir), form / form_subset (application/x-www-form-urlencoded
  body, exact dict or subset; values that are JSON texts may be given as
  JSON values and are compared parsed), multipart (dict part name ->
  expected part: a string is the exact text value; an object may hold
  filename, size, content_type, file (bytes equal a file of media_dir),
  value, json, json_subset).
Replies: status (default 200), headers, json or body (text), delay_ms
(sleep before answering), reset (close the connection without answering).
A request beyond the list is answered 500 and reported as a problem.
"""

import http.server
import json
import os
import socket
import socketserver
import struct
import threading
import time
import urllib.parse

EXPECT_KEYS = {"method", "path", "query", "headers", "json", "json_subset", "body_contains",
               "body_file", "form", "form_subset", "multipart"}
REPLY_KEYS = {"status", "headers", "json", "body", "delay_ms", "reset"}


def subset(want, got, where="$"):
    """Problems (list of str) with `want` being a recursive subset of `got`."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return ["%s: expected an object, got %r" % (where, got)]
        out = []
        for k, v in want.items():
            if k not in got:
                out.append("%s.%s: missing (expected %r)" % (where, k, v))
            else:
                out.extend(subset(v, got[k], "%s.%s" % (where, k)))
        return out
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return ["%s: expected a list of %d, got %r" % (where, len(want), got)]
        out = []
        for i, (w, g) in enumerate(zip(want, got)):
            out.extend(subset(w, g, "%s[%d]" % (where, i)))
        return out
    if want != got or type(want) is not type(got):
        return ["%s: expected %r, got %r" % (where, want, got)]
    return []


def parse_multipart(body, content_type):
    """{name: {"filename", "content_type", "data"}} from a multipart/form-data body."""
    params = {}
    for p in content_type.split(";")[1:]:
        if "=" in p:
            k, v = p.strip().split("=", 1)
            params[k.lower()] = v.strip('"')
    boundary = params.get("boundary")
    if not boundary:
        raise ValueError("multipart without boundary")
    delim = b"--" + boundary.encode()
    parts = {}
    chunks = body.split(delim)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("multipart body is not terminated by the closing boundary")
    for raw in chunks[1:-1]:
        if not raw.startswith(b"\r\n") or not raw.endswith(b"\r\n"):
            raise ValueError("malformed multipart part framing")
        raw = raw[2:-2]
        head, sep, data = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without header end")
        hdrs = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        disp = hdrs.get("content-disposition", "")
        name = filename = None
        for p in disp.split(";")[1:]:
            if "=" in p:
                k, v = p.strip().split("=", 1)
                v = v.strip().strip('"')
                if k.strip().lower() == "name":
                    name = v
                elif k.strip().lower() == "filename":
                    filename = v
        if name is None:
            raise ValueError("multipart part without a name: %r" % disp)
        if name in parts:
            raise ValueError("multipart part %r given twice" % name)
        parts[name] = {"filename": filename, "content_type": hdrs.get("content-type"),
                       "data": data}
    return parts


def _maybe_json(s):
    try:
        return json.loads(s)
    except (ValueError, TypeError):
        return s


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakePlatform:
    def __init__(self, media_dir):
        self.media_dir = media_dir
        self.lock = threading.Lock()
        self.exchanges = []
        self.records = []      # every scripted request: dict with "problems"
        self.extra = []        # requests beyond the script
        self.media_gets = []
        self._server = None
        self._thread = None
        self.url = None

    # ---- lifecycle ----

    def start(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _any(self):
                fake._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

            def finish(self):
                try:
                    super().finish()
                except OSError:
                    pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def load(self, exchanges):
        for i, ex in enumerate(exchanges):
            bad = set(ex.get("expect", {})) - EXPECT_KEYS
            if bad:
                raise ValueError("exchange %d: unknown expect keys %s" % (i, sorted(bad)))
            bad = set(ex.get("reply", {})) - REPLY_KEYS
            if bad:
                raise ValueError("exchange %d: unknown reply keys %s" % (i, sorted(bad)))
        with self.lock:
            self.exchanges = list(exchanges)
            self.records = []
            self.extra = []

    # ---- state for the test ----

    def used(self):
        with self.lock:
            return len(self.records)

    def problems(self):
        """Everything that went wrong: mismatches, unused and extra exchanges."""
        out = []
        with self.lock:
            for i, r in enumerate(self.records):
                for p in r["problems"]:
                    out.append("exchange %d (%s %s): %s" % (i, r["method"], r["path"], p))
            for r in self.extra:
                out.append("unexpected request %s %s (beyond the %d scripted exchanges)"
                           % (r["method"], r["target"], len(self.exchanges)))
            for i in range(len(self.records), len(self.exchanges)):
                e = self.exchanges[i].get("expect", {})
                out.append("exchange %d (%s %s) never happened" % (i, e.get("method", "?"),
                                                                   e.get("path", "?")))
        return out

    def transcript(self):
        """A readable list of what arrived, for failure messages."""
        lines = []
        with self.lock:
            for i, r in enumerate(self.records + self.extra):
                body = r["body"]
                text = body[:600].decode("utf-8", "replace")
                lines.append("#%d %s %s\n   headers: %s\n   body (%d bytes): %s" % (
                    i, r["method"], r["target"],
                    {k: v for k, v in r["headers"].items()
                     if k in ("content-type", "authorization", "user-agent")},
                    len(body), text))
        return "\n".join(lines)

    # ---- serving ----

    def _read_body(self, h):
        te = h.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = b""
            while True:
                line = h.rfile.readline()
                n = int(line.strip().split(b";")[0], 16)
                if n == 0:
                    h.rfile.readline()
                    break
                data += h.rfile.read(n)
                h.rfile.readline()
            return data
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def _send(self, h, status, body=b"", headers=None, ctype=None):
        h.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for k, v in (headers or {}).items():
            h.send_header(k, str(v))
        if ctype and "content-type" not in sent:
            h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _handle(self, h):
        body = self._read_body(h)
        target = h.path
        split = urllib.parse.urlsplit(target)
        path = split.path
        if h.command == "GET" and path.startswith("/media/"):
            name = os.path.basename(urllib.parse.unquote(path[len("/media/"):]))
            fp = os.path.join(self.media_dir, name)
            with self.lock:
                self.media_gets.append(target)
            if name and os.path.isfile(fp):
                with open(fp, "rb") as f:
                    self._send(h, 200, f.read(), ctype="application/octet-stream")
            else:
                self._send(h, 404, b"no such media", ctype="text/plain")
            return
        headers = {k.lower(): v for k, v in h.headers.items()}
        rec = {"method": h.command, "path": path, "target": target, "query": split.query,
               "headers": headers, "body": body, "problems": [], "at": time.monotonic()}
        with self.lock:
            idx = len(self.records)
            if idx >= len(self.exchanges):
                self.extra.append(rec)
                ex = None
            else:
                self.records.append(rec)
                ex = self.exchanges[idx]
        if ex is None:
            self._send(h, 500, b'{"error":"unexpected request"}', ctype="application/json")
            return
        rec["problems"] = self._check(ex.get("expect", {}), rec)
        reply = ex.get("reply", {})
        if reply.get("delay_ms"):
            time.sleep(reply["delay_ms"] / 1000.0)
        if reply.get("reset"):
            try:
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                h.connection.close()
            except OSError:
                pass
            h.close_connection = True
            return
        status = reply.get("status", 200)
        if "json" in reply:
            out = json.dumps(reply["json"]).encode()
            ctype = "application/json"
        else:
            out = reply.get("body", "").encode()
            ctype = "text/plain; charset=utf-8"
        self._send(h, status, out, reply.get("headers"), ctype)

    # ---- checking ----

    def _media(self, name):
        with open(os.path.join(self.media_dir, name), "rb") as f:
            return f.read()

    def _check(self, e, r):
        probs = []
        if "method" in e and e["method"] != r["method"]:
            probs.append("method: expected %s, got %s" % (e["method"], r["method"]))
        if "path" in e and e["path"] != r["path"]:
            probs.append("path: expected %r, got %r" % (e["path"], r["path"]))
        if "query" in e:
            q = {}
            for k, v in urllib.parse.parse_qsl(r["query"], keep_blank_values=True):
                q.setdefault(k, []).append(v)
            q = {k: v[0] if len(v) == 1 else v for k, v in q.items()}
            if q != e["query"]:
                probs.append("query: expected %r, got %r" % (e["query"], q))
        for k, v in (e.get("headers") or {}).items():
            got = r["headers"].get(k.lower())
            if v is None and got is not None:
                probs.append("header %s: expected absent, got %r" % (k, got))
            elif v is not None and got != v:
                probs.append("header %s: expected %r, got %r" % (k, v, got))
        text = r["body"].decode("utf-8", "replace")
        if "json" in e or "json_subset" in e:
            try:
                got = json.loads(r["body"])
            except ValueError:
                probs.append("body is not JSON: %r" % text[:300])
            else:
                if "json" in e and got != e["json"]:
                    probs.append("json: expected %s, got %s" % (json.dumps(e["json"]),
                                                                 json.dumps(got)))
                if "json_subset" in e:
                    probs.extend("json_subset " + p for p in subset(e["json_subset"], got))
        for s in e.get("body_contains") or []:
            if s not in text:
                probs.append("body does not contain %r: %r" % (s, text[:300]))
        if "body_file" in e and r["body"] != self._media(e["body_file"]):
            probs.append("body is not the bytes of %s (%d bytes)" % (e["body_file"],
                                                                     len(r["body"])))
        if "form" in e or "form_subset" in e:
            form = {}
            for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True):
                form[k] = v
            if "form" in e:
                want = e["form"]
                if set(form) != set(want):
                    probs.append("form fields: expected %s, got %s" % (sorted(want), sorted(form)))
                want_sub = want
            else:
                want_sub = e["form_subset"]
            for k, v in want_sub.items():
                if k not in form:
                    probs.append("form field %s missing" % k)
                elif isinstance(v, str):
                    if form[k] != v:
                        probs.append("form field %s: expected %r, got %r" % (k, v, form[k]))
                else:
                    probs.extend("form field %s " % k + p for p in subset(v, _maybe_json(form[k])))
        if "multipart" in e:
            ctype = r["headers"].get("content-type", "")
            if not ctype.startswith("multipart/form-data"):
                probs.append("multipart: content-type is %r" % ctype)
            else:
                try:
                    parts = parse_multipart(r["body"], ctype)
                except ValueError as ex:
                    probs.append("multipart: %s" % ex)
                else:
                    probs.extend(self._check_parts(e["multipart"], parts))
        return probs

    def _check_parts(self, want, parts):
        probs = []
        if set(want) != set(parts):
            probs.append("multipart parts: expected %s, got %s" % (sorted(want), sorted(parts)))
        for name, w in want.items():
            p = parts.get(name)
            if p is None:
                continue
            val = p["data"].decode("utf-8", "replace")
            if isinstance(w, str):
                if p["filename"] is not None or val != w:
                    probs.append("part %s: expected value %r, got %r (filename %r)"
                                 % (name, w, val[:200], p["filename"]))
                continue
            if "filename" in w and p["filename"] != w["filename"]:
                probs.append("part %s: filename %r, expected %r" % (name, p["filename"],
                                                                    w["filename"]))
            if "size" in w and len(p["data"]) != w["size"]:
                probs.append("part %s: %d bytes, expected %d" % (name, len(p["data"]), w["size"]))
            if "content_type" in w and p["content_type"] != w["content_type"]:
                probs.append("part %s: content-type %r, expected %r" % (name, p["content_type"],
                                                                        w["content_type"]))
            if "file" in w and p["data"] != self._media(w["file"]):
                probs.append("part %s: not the bytes of %s" % (name, w["file"]))
            if "value" in w and val != w["value"]:
                probs.append("part %s: value %r, expected %r" % (name, val[:200], w["value"]))
            if "json" in w or "json_subset" in w:
                try:
                    got = json.loads(p["data"])
                except ValueError:
                    probs.append("part %s is not JSON: %r" % (name, val[:200]))
                    continue
                if "json" in w and got != w["json"]:
                    probs.append("part %s: json %s, expected %s" % (name, json.dumps(got),
                                                                    json.dumps(w["json"])))
                if "json_subset" in w:
                    probs.extend("part %s " % name + x for x in subset(w["json_subset"], got))
        return probs
