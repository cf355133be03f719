"""Helpers for the delivery-engine tests and benchmarks.

harness.Herald owns a throw-away data dir that it deletes on stop(); engine
tests need more: kill -9 and restart on the same data dir, SIGTERM and look
at the exit status, an API-only process.  `Node` is that: one data dir, any
number of `herald serve` processes run on it one after another.

Stdlib only; it reads HERALD_BIN like the harness (default build/asan/herald,
relative to the repository root).
"""

import atexit
import base64
import datetime as _dt
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEPT_ENV = ("HERALD_DATABASE_URL",)  # as in harness.py: the store of make integration-pg


def herald_bin():
    b = os.environ.get("HERALD_BIN", "build/asan/herald")
    if os.path.isabs(b):
        return b
    if os.path.exists(b):
        return os.path.abspath(b)
    return os.path.join(ROOT, b)


SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
LISTEN_RE = re.compile(r"herald listening on http://127\.0\.0\.1:(\d+)")


def new_secret(nbytes=32):
    return "whsec_" + base64.b64encode(os.urandom(nbytes)).decode()


def iso_ms(t):
    """Unix seconds (float) -> 2031-03-15T10:00:00.123Z."""
    d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def parse_iso(s):
    """ISO 8601 (with Z) -> unix seconds (float)."""
    return _dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def whole_ms(t):
    """Round a time to the millisecond herald stores."""
    return round(t * 1000) / 1000.0


_live = set()  # Nodes not closed yet: their processes are killed at exit (e.g. Ctrl-C)


@atexit.register
def _kill_leftovers():
    for node in list(_live):
        for p in node.procs:
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()
            p._close()
        if not node.keep_dir:
            shutil.rmtree(node.tmp, ignore_errors=True)


class Proc:
    """One `herald serve` process."""

    def __init__(self, node, env, role=None, timeout=15.0, extra_args=()):
        self.node = node
        node._runs += 1
        n = node._runs
        self.out_path = os.path.join(node.tmp, "stdout.%d" % n)
        self.err_path = os.path.join(node.tmp, "stderr.%d" % n)
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        args = [herald_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", node.data_dir]
        if role:
            args += ["--role", role]
        args += list(extra_args)
        self.started = time.time()
        self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err)
        self.pid = self.proc.pid
        self.port = None
        self.url = None
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
            time.sleep(0.01)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()
        raise AssertionError("herald serve did not start (rc=%s)\nstderr:\n%s"
                             % (self.proc.returncode, self.stderr()[-4000:]))

    def _close(self):
        for f in (self._out, self._err):
            if not f.closed:
                f.close()

    def stderr(self):
        try:
            with open(self.err_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._close()

    def term(self, timeout=20.0):
        """SIGTERM and wait; returns (exit status, seconds it took)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close()
            raise AssertionError("herald did not exit within %.0f s of SIGTERM" % timeout)
        self._close()
        return rc, time.monotonic() - t0

    def sanitizer_report(self):
        err = self.stderr()
        for m in SANITIZER_MARKERS:
            if m in err:
                return err
        return None

    def vm_hwm_kb(self):
        """Peak resident set (VmHWM) in kB, from /proc."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def request(self, method, path, body=None, key=None, headers=None, timeout=30):
        h = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            h["Content-Type"] = "application/json"
        if key is not None:
            h["Authorization"] = key
        if headers:
            h.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=h)
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
                pass
        return status, rh, parsed


class Node:
    """A data dir plus the herald processes started on it, one at a time.

        node = Node(env={"HERALD_RETRY_BASE_MS": 200})
        p = node.start()            # a Proc; node.proc is the current one
        key = node.key("org")
        ...
        p.kill9(); node.start()     # same data dir
        node.close()                # stops what runs, checks sanitizers, removes the dir
    """

    def __init__(self, env=None, keep_dir=False, sanitizer_env=True):
        self.tmp = tempfile.mkdtemp(prefix="herald-engine-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.extra_env = {k: str(v) for k, v in (env or {}).items()}
        self.keep_dir = keep_dir
        self.sanitizer_env = sanitizer_env
        self.procs = []
        self.proc = None
        self._runs = 0
        _live.add(self)

    def env(self, extra=None):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("HERALD_") or k in KEPT_ENV}
        if self.sanitizer_env:
            e.update(SANITIZER_ENV)
        e.update(self.extra_env)
        if extra:
            e.update({k: str(v) for k, v in extra.items()})
        return e

    def start(self, env=None, role=None, timeout=15.0, extra_args=()):
        assert self.proc is None or not self.proc.alive(), "a herald is still running"
        self.proc = Proc(self, self.env(env), role=role, timeout=timeout, extra_args=extra_args)
        self.procs.append(self.proc)
        return self.proc

    # ---- CLI ----

    def cli(self, *args, env=None, timeout=60):
        p = subprocess.run([herald_bin()] + [str(a) for a in args] + ["--data-dir", self.data_dir],
                           env=self.env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        for m in SANITIZER_MARKERS:
            if m in err:
                raise AssertionError("sanitizer report from herald %s:\n%s" % (args, err))
        return p.returncode, out, err

    def key(self, org):
        rc, out, err = self.cli("keys", "create", "--org", org)
        assert rc == 0 and len(out.splitlines()) == 1, "keys create: rc=%d %r %r" % (rc, out, err)
        return out.strip()

    # ---- API shortcuts on the current process ----

    def request(self, *a, **kw):
        return self.proc.request(*a, **kw)

    def webhook_channel(self, key, url, secret=None, name=None):
        """Connect a webhook channel through POST /v1/accounts; returns (id, secret)."""
        secret = secret or new_secret()
        body = {"provider": "webhook", "name": name or "hook-%d" % int(time.time() * 1e6),
                "credentials": {"url": url, "secret": secret}}
        st, h, b = self.request("POST", "/v1/accounts", body, key=key)
        assert st == 201, "connect webhook: %s %r" % (st, b)
        return b["id"], secret

    def create(self, key, body):
        return self.request("POST", "/public/v1/posts", body, key=key)

    def get_post(self, key, post_id):
        st, h, b = self.request("GET", "/public/v1/posts/" + post_id, key=key)
        assert st == 200, "GET post %s: %s %r" % (post_id, st, b)
        return b

    def wait_post(self, key, post_id, pred, timeout=10.0, interval=0.05):
        """Poll GET /public/v1/posts/{id} until pred(post) holds; returns the post."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.get_post(key, post_id)
            if pred(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError("post %s did not reach the expected state within %.1f s; "
                                     "last seen: %s" % (post_id, timeout,
                                                        json.dumps(last)[:3000]))
            time.sleep(interval)

    # ---- teardown ----

    def close(self):
        """SIGTERM what still runs; AssertionError on a bad exit or a sanitizer report."""
        _live.discard(self)
        problems = []
        p = self.proc
        if p is not None and p.alive():
            try:
                rc, _ = p.term()
                if rc != 0:
                    problems.append("exited with status %s" % rc)
            except AssertionError as e:
                problems.append(str(e))
        for q in self.procs:
            rep = q.sanitizer_report()
            if rep:
                problems.append("sanitizer report:\n" + rep[-6000:])
        if not self.keep_dir:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if problems:
            raise AssertionError("herald: " + "\n".join(problems))


def post_body(type_, channel_ids, items, date=None, **kw):
    """A Postiz create body: one posts[] entry per channel, each a thread of
    `items` (strings or {"content", "image", "delay"} dicts)."""
    value = [it if isinstance(it, dict) else {"content": it, "image": []} for it in items]
    for v in value:
        v.setdefault("image", [])
    if isinstance(channel_ids, str):
        channel_ids = [channel_ids]
    b = {"type": type_, "shortLink": False, "tags": [],
         "posts": [{"integration": {"id": c}, "value": [dict(v) for v in value], "settings": {}}
                   for c in channel_ids]}
    if date is not None:
        b["date"] = date if isinstance(date, str) else iso_ms(date)
    elif type_ != "now":
        raise ValueError("date required for " + type_)
    b.update(kw)
    return b
