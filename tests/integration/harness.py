"""Integration test harness: runs the real herald binary over loopback HTTP.

Stdlib only.  A `Herald` starts `$HERALD_BIN serve --listen 127.0.0.1:0
--data-dir <tmp>` with sanitizer options, waits for the "listening" line,
and offers helpers for CLI calls, keys, channels and HTTP requests.  stop()
fails the test when the process exits non-zero or a sanitizer reported
anything.

stdout and stderr of the server go to files (not pipes): the access log on
stderr would otherwise fill a pipe buffer and block the server.
"""

import atexit
import datetime as _dt
import http.client
import itertools as _it
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _resolve_bin():
    b = os.environ.get("HERALD_BIN", "build/asan/herald")
    if os.path.isabs(b):
        return b
    if os.path.exists(b):
        return os.path.abspath(b)
    return os.path.join(ROOT, b)


def _snapshot(path):
    """A private copy of the binary for this run: a rebuild of build/ while the
    suite runs must not swap the binary under it (or fail with ETXTBSY)."""
    if not os.path.isfile(path):
        return path
    d = tempfile.mkdtemp(prefix="herald-it-bin-")
    atexit.register(shutil.rmtree, d, True)
    dst = os.path.join(d, "herald")
    for _ in range(50):  # a linker may be writing it right now
        shutil.copy2(path, dst)
        try:
            if subprocess.run([dst, "version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"),
                              timeout=10).returncode == 0:
                return dst
        except (OSError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.2)
    return path


HERALD_BIN_SOURCE = _resolve_bin()
HERALD_BIN = _snapshot(HERALD_BIN_SOURCE)


def _is_sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _is_sanitized(HERALD_BIN)  # built with -fsanitize=address

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}

LISTEN_RE = re.compile(r"herald listening on http://127\.0\.0\.1:(\d+)")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


# HERALD_* variables of the caller are dropped (a developer's settings must
# not change what a test sees), except the store: `make integration-pg` runs
# the suites on PostgreSQL by setting HERALD_DATABASE_URL.
KEPT_ENV = ("HERALD_DATABASE_URL",)


def base_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HERALD_") or k in KEPT_ENV}
    env.update(SANITIZER_ENV)
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(*args, env=None, timeout=30, sanitizer_check=True):
    """Run the herald binary; returns (rc, stdout, stderr).  Fails on sanitizer output
    unless sanitizer_check is false."""
    p = subprocess.run(
        [HERALD_BIN] + [str(a) for a in args],
        env=base_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for m in SANITIZER_MARKERS if sanitizer_check else ():
        if m in err:
            raise AssertionError("sanitizer report from herald %s:\n%s" % (" ".join(map(str, args)), err))
    return p.returncode, out, err


_live = set()  # servers not stopped yet: killed at exit (e.g. after Ctrl-C)


@atexit.register
def _kill_leftovers():
    for h in list(_live):
        try:
            if h.proc.poll() is None:
                h.proc.kill()
                h.proc.wait()
        finally:
            h._close_files()
            shutil.rmtree(h.tmp, ignore_errors=True)


class Herald:
    """One running `herald serve` on a fresh data dir (under tempfile, removed by stop())."""

    def __init__(self, env=None, start_timeout=10.0):
        self.extra_env = dict(env or {})
        self.tmp = tempfile.mkdtemp(prefix="herald-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.out_path = os.path.join(self.tmp, "stdout")
        self.err_path = os.path.join(self.tmp, "stderr")
        self.proc = None
        self.port = None
        self.url = None
        self._stopped = False
        self._start(start_timeout)

    # ---- lifecycle ----

    def _start(self, timeout):
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [HERALD_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir],
                env=base_env(self.extra_env),
                stdin=subprocess.DEVNULL,
                stdout=self._out,
                stderr=self._err,
            )
        except OSError:
            self._close_files()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        _live.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out_path, "r", errors="replace") as f:
                m = LISTEN_RE.search(f.read())
            if m:
                self.port = int(m.group(1))
                self.url = "http://127.0.0.1:%d" % self.port
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        rc = self.proc.poll()
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        _live.discard(self)
        self._close_files()
        err = self.stderr()
        shutil.rmtree(self.tmp, ignore_errors=True)
        raise AssertionError(
            "herald serve did not report its port within %.0f s (rc=%s)\nstderr:\n%s"
            % (timeout, rc, err[-4000:])
        )

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()

    def stdout(self):
        try:
            with open(self.out_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stderr(self):
        try:
            with open(self.err_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, wait, and fail on a non-zero exit or sanitizer output."""
        if self._stopped:
            return
        self._stopped = True
        rc = None
        timed_out = False
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    self.proc.kill()
                    rc = self.proc.wait()
            else:
                rc = self.proc.returncode
        finally:
            _live.discard(self)
            self._close_files()
            err = self.stderr()
            shutil.rmtree(self.tmp, ignore_errors=True)
        problems = []
        if timed_out:
            problems.append("did not stop within 15 s of SIGTERM")
        if rc != 0:
            problems.append("exited with status %s" % rc)
        for m in SANITIZER_MARKERS:
            if m in err:
                problems.append("stderr contains %r" % m)
        if problems:
            raise AssertionError(
                "herald serve: %s\nstderr (tail):\n%s" % ("; ".join(problems), err[-6000:])
            )

    def alive(self):
        return self.proc.poll() is None

    # ---- CLI ----

    def cli(self, *args, env=None):
        e = dict(self.extra_env)
        if env:
            e.update(env)
        return run_cli(*(list(args) + ["--data-dir", self.data_dir]), env=e)

    def key(self, org):
        """`herald keys create --org ORG`: exactly one line, a 64-hex key."""
        rc, out, err = self.cli("keys", "create", "--org", org)
        if rc != 0:
            raise AssertionError("keys create failed: rc=%d %s" % (rc, err))
        lines = out.splitlines()
        if len(lines) != 1 or not out.endswith("\n") or not HEX64_RE.match(lines[0]):
            raise AssertionError("keys create must print one line with a 64-hex key, printed %r" % out)
        return lines[0]

    def channel(self, org, name, url="http://127.0.0.1:9/hook"):
        """`herald channels add --provider webhook`; returns the channel id.  The
        default URL is a closed local port: nothing leaves the machine."""
        rc, out, err = self.cli(
            "channels", "add", "--org", org, "--provider", "webhook", "--name", name,
            "--credentials", json.dumps({"url": url}),
        )
        if rc != 0:
            raise AssertionError("channels add failed: rc=%d %s" % (rc, err))
        lines = out.splitlines()
        if len(lines) != 1 or not lines[0]:
            raise AssertionError("channels add must print one line (the id), printed %r" % out)
        return lines[0]

    def key_ids(self):
        """`herald keys list` rows as dicts {id, org, hint}."""
        rc, out, err = self.cli("keys", "list")
        assert rc == 0, err
        rows = []
        for line in out.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 3:
                rows.append({"id": parts[0], "org": parts[1], "hint": parts[2]})
        return rows

    # ---- HTTP ----

    def request(self, method, path, body=None, key=None, headers=None, raw=None, timeout=15):
        """Returns (status, headers with lowercased names, parsed JSON or text).

        `body` is JSON-encoded; `raw` (bytes or str) is sent as is instead.
        `key` goes into Authorization verbatim (pass "Bearer ..." yourself)."""
        h = {}
        data = None
        if raw is not None:
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
            h["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            h["Content-Type"] = "application/json"
        if key is not None:
            h["Authorization"] = key
        if headers:
            h.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders()
            if data is not None:
                try:
                    conn.send(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may answer (413) before reading everything
            resp = conn.getresponse()
            status = resp.status
            rh = {k.lower(): v for k, v in resp.getheaders()}
            text = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        parsed = text
        if "json" in rh.get("content-type", "") and text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
        return status, rh, parsed


class HeraldTestCase(unittest.TestCase):
    """Base class: one server per test class (setUpClass), extra env in `server_env`.

    Subclasses call self.srv.request(...) etc.  The server is stopped by a
    class cleanup; a sanitizer report or a bad exit fails the class."""

    server_env = None
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Herald(env=cls.server_env)
        # a class cleanup also runs when a subclass's setUpClass fails later on
        cls.addClassCleanup(cls._stop_server)

    @classmethod
    def _stop_server(cls):
        if cls.srv:
            srv, cls.srv = cls.srv, None
            srv.stop()

    # ---- helpers for tests ----

    def assertEnvelope(self, status, headers, body, want_status, code, field=None, postiz=True):
        """A 4xx/5xx answer carrying the herald error envelope."""
        self.assertEqual(status, want_status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIn("error", body, body)
        err = body["error"]
        self.assertIsInstance(err, dict, body)
        self.assertEqual(err.get("code"), code, body)
        self.assertIsInstance(err.get("message"), str)
        self.assertTrue(err["message"])
        self.assertIn("retryable", err)
        self.assertIn("docUrl", err)
        self.assertEqual(err.get("requestId"), headers.get("x-request-id"), body)
        if field is not None:
            self.assertEqual(err.get("field"), field, body)
        if postiz:
            self.assertEqual(body.get("statusCode"), want_status, body)
        return err

    def new_org(self, channels=1, prefix="org"):
        """A fresh organization: (key, [channel ids])."""
        org = unique(prefix)
        key = self.srv.key(org)
        return key, [self.account(key, "%s-ch%d" % (org, i)) for i in range(channels)]

    def account(self, key, name, url=None):
        """Connect a webhook channel over HTTP (POST /v1/accounts); returns its id.
        Faster than `herald channels add`, which Herald.channel() runs."""
        body = {"provider": "webhook", "name": name,
                "credentials": {"url": url or "http://127.0.0.1:9/" + name}}
        st, h, b = self.srv.request("POST", "/v1/accounts", body=body, key=key)
        self.assertEqual(st, 201, b)
        return b["id"]

    def create(self, key, body, prefix="/public/v1", headers=None):
        return self.srv.request("POST", prefix + "/posts", body=body, key=key, headers=headers)

    def create_ok(self, key, body, prefix="/public/v1"):
        """POST /posts expecting 201; returns the [{postId, integration}] list."""
        st, h, b = self.create(key, body, prefix)
        self.assertEqual(st, 201, b)
        self.assertIsInstance(b, list, b)
        self.assertEqual(len(b), len(body["posts"]), b)
        for got, sent in zip(b, body["posts"]):
            self.assertEqual(set(got), {"postId", "integration"}, got)
            self.assertEqual(got["integration"], sent["integration"]["id"])
            self.assertIsInstance(got["postId"], str)
            self.assertTrue(got["postId"])
        return b

    def get_post(self, key, post_id, want=200):
        st, h, b = self.srv.request("GET", "/public/v1/posts/" + post_id, key=key)
        self.assertEqual(st, want, b)
        return b

    def list_posts(self, key, start, end, customer=None, prefix="/public/v1"):
        if isinstance(start, _dt.datetime):
            start = iso_z(start)
        if isinstance(end, _dt.datetime):
            end = iso_z(end)
        q = "startDate=%s&endDate=%s" % (start, end)
        if customer is not None:
            q += "&customer=" + customer
        st, h, b = self.srv.request("GET", prefix + "/posts?" + q, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(set(b), {"posts"}, b)
        return b["posts"]


# ---- Postiz request builders and time helpers ----


_seq = _it.count(1)


def unique(prefix):
    """A name unique within this test run (orgs, channels)."""
    return "%s%d_%d" % (prefix, os.getpid(), next(_seq))


def utcnow():
    return _dt.datetime.now(_dt.timezone.utc)


def iso_z(dt):
    """2031-03-15T10:00:00.000Z, the form herald and Postiz return."""
    return dt.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % (dt.microsecond // 1000)


def future(days=30, hour=10, minute=15, second=0):
    """A whole-second UTC datetime `days` days from today at hh:mm:ss."""
    d = utcnow().replace(hour=hour, minute=minute, second=second, microsecond=0)
    return d + _dt.timedelta(days=days)


def item(content, **kw):
    v = {"content": content, "image": []}
    v.update(kw)
    return v


def entry(channel_id, *contents, **kw):
    """One posts[] entry: a thread of `contents` (strings or item dicts)."""
    e = {
        "integration": {"id": channel_id},
        "value": [c if isinstance(c, dict) else item(c) for c in contents],
        "settings": {},
    }
    e.update(kw)
    return e


def create_body(type_, posts, date=None, tags=None, **kw):
    if date is None:
        date = future()
    if isinstance(date, _dt.datetime):
        date = iso_z(date)
    b = {"type": type_, "date": date, "shortLink": False, "tags": tags or [], "posts": posts}
    b.update(kw)
    return b


def png_bytes(w=4, h=4, noise=False):
    """A real, decodable RGB PNG (herald sniffs and decodes uploads: a PNG
    signature followed by junk is refused as unsupported)."""
    import struct
    import zlib
    rows = b"".join(b"\0" + (os.urandom(w * 3) if noise else bytes((x * 40 + y * 7) % 256 for x in range(w * 3)))
                    for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
