"""GET /metrics: access modes, a strict check of the exposition format, and
values that move with what herald does.

    HERALD_BIN=build/asan/herald python3 tests/integration/run.py test_metrics

The parser below accepts exactly the Prometheus text format 0.0.4 (HELP and
TYPE comments, samples `name{label="value",...} value`, label values with
only \\\\, \\" and \\n escapes, families contiguous and typed before their
samples, no duplicate series, histograms with increasing `le`, cumulative
buckets and +Inf == _count) and fails the test on anything else.
"""

import datetime as _dt
import math
import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_platform import FakePlatform  # noqa: E402
from harness import Herald, run_cli  # noqa: E402

MEDIA = os.path.join(HERE, "..", "providers", "media")
TOKEN = "metrics-token-0123456789"

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)"
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
SAMPLE_RE = re.compile(r"^(%s)(\{.*\})? (%s)(?: -?\d+)?$" % (NAME, VALUE))
PAIR_RE = re.compile(r'(%s)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"' % LABEL)


def parse_labels(text, line):
    if text is None:
        return ()
    body = text[1:-1]
    out, pos = [], 0
    while pos < len(body):
        m = PAIR_RE.match(body, pos)
        if not m:
            raise AssertionError("bad labels in %r" % line)
        out.append((m.group(1), m.group(2).replace("\\n", "\n").replace('\\"', '"')
                    .replace("\\\\", "\\")))
        pos = m.end()
        if pos < len(body):
            if body[pos] != ",":
                raise AssertionError("bad label separator in %r" % line)
            pos += 1
            if pos == len(body):
                break  # a trailing comma is allowed
    names = [k for k, _ in out]
    if len(set(names)) != len(names):
        raise AssertionError("repeated label in %r" % line)
    return tuple(sorted(out))


def parse_exposition(text):
    """{(name, labels): value}, {family: type}; AssertionError on any deviation."""
    if text and not text.endswith("\n"):
        raise AssertionError("the exposition must end with a newline")
    samples, types, helps, seen_families = {}, {}, {}, []
    current = None
    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            m = HELP_RE.match(line)
            if m:
                if m.group(1) in helps:
                    raise AssertionError("second HELP for %s" % m.group(1))
                helps[m.group(1)] = m.group(2)
                continue
            m = TYPE_RE.match(line)
            if m:
                fam = m.group(1)
                if fam in types:
                    raise AssertionError("second TYPE for %s" % fam)
                if fam in seen_families:
                    raise AssertionError("TYPE for %s after its samples" % fam)
                types[fam] = m.group(2)
                current = fam
                continue
            if line.startswith("# HELP") or line.startswith("# TYPE"):
                raise AssertionError("malformed comment %r" % line)
            continue  # other comments are allowed
        if not line.strip():
            raise AssertionError("empty line in the exposition")
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("malformed sample line %r" % line)
        name, labels, value = m.group(1), parse_labels(m.group(2), line), m.group(3)
        fam = name
        for suf in ("_bucket", "_count", "_sum"):
            if name.endswith(suf) and types.get(name[:-len(suf)]) in ("histogram", "summary"):
                fam = name[:-len(suf)]
        if fam != current:
            if fam in seen_families or fam in types:
                raise AssertionError("samples of %s are not contiguous" % fam)
            current = fam
        if fam not in seen_families:
            seen_families.append(fam)
        if (name, labels) in samples:
            raise AssertionError("duplicate series %s%s" % (name, labels))
        samples[(name, labels)] = float(value.replace("Inf", "inf"))
    for fam, t in types.items():
        if t == "counter" and not fam.endswith("_total"):
            raise AssertionError("counter %s does not end in _total" % fam)
        if t == "histogram":
            buckets = sorted(((float(dict(l)["le"].replace("Inf", "inf")), v)
                              for (n, l), v in samples.items() if n == fam + "_bucket"))
            if not buckets or not math.isinf(buckets[-1][0]):
                raise AssertionError("histogram %s has no +Inf bucket" % fam)
            counts = [v for _, v in buckets]
            if counts != sorted(counts):
                raise AssertionError("histogram %s buckets are not cumulative" % fam)
            if samples.get((fam + "_count", ())) != counts[-1]:
                raise AssertionError("histogram %s: _count is not the +Inf bucket" % fam)
            if (fam + "_sum", ()) not in samples:
                raise AssertionError("histogram %s has no _sum" % fam)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class ParserSelfTest(unittest.TestCase):
    """The strict parser refuses what it must (so the checks below can fail)."""

    def test_refuses(self):
        bad = ["x 1",  # no trailing newline
               "# TYPE x counter\nx 1\n",  # counter without _total
               "a{l=\"v\"} 1\na{l=\"v\"} 2\n",  # duplicate
               "a 1\nb 1\na 2\n",  # not contiguous
               "a{l=\"v} 1\n", "a{l=\"\\t\"} 1\n", "a 1 2 3\n", "a one\n",
               "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
               "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n"]
        for text in bad:
            with self.assertRaises(AssertionError, msg=repr(text)):
                parse_exposition(text)
        s, _ = parse_exposition('# HELP a x\n# TYPE a gauge\na{l="q\\"\\\\\\n"} +Inf\n')
        self.assertEqual(value(s, "a", l='q"\\\n'), float("inf"))


class MetricsTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.fake = FakePlatform(MEDIA).start()
        self.srv = None

    def tearDown(self):
        try:
            if self.srv:
                self.srv.stop()
        finally:
            self.fake.stop()

    def scrape(self, headers=None, want=200):
        st, h, body = self.srv.request("GET", "/metrics", headers=headers)
        self.assertEqual(st, want, body)
        return st, h, body

    def test_access_modes(self):
        self.srv = Herald()  # default: token, none configured
        st, _, b = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 403, b)
        self.assertIn("HERALD_METRICS_TOKEN", b["error"]["message"])
        # an organization's API key is not the metrics token
        key = self.srv.key("metrics_org")
        st, _, b = self.srv.request("GET", "/metrics", key=key)
        self.assertEqual(st, 403, b)
        self.srv.stop()
        self.srv = Herald(env={"HERALD_METRICS_TOKEN": TOKEN})
        st, _, b = self.srv.request("GET", "/metrics")
        self.assertEqual((st, b["error"]["code"]), (401, "unauthenticated"))
        st, _, b = self.srv.request("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN + "x"})
        self.assertEqual(st, 401, b)
        st, h, body = self.srv.request("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(st, 200)
        self.assertEqual(h.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        parse_exposition(body)
        self.srv.stop()
        self.srv = Herald(env={"HERALD_METRICS": "off"})
        st, _, b = self.srv.request("GET", "/metrics")
        self.assertEqual((st, b["error"]["code"]), (404, "not_found"))
        self.srv.stop()
        self.srv = None
        rc, out, err = run_cli("config", env={"HERALD_METRICS": "sometimes"})
        self.assertNotEqual(rc, 0)
        self.assertIn("metrics", err + out)

    def test_values_follow_publishing_and_deleting(self):
        self.srv = Herald(env={"HERALD_METRICS": "public", "HERALD_RETRY_BASE_MS": "100"})
        key = self.srv.key("metrics_values")
        st, _, acct = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "mastodon", "name": "metrics", "verify": False,
            "credentials": {"instance": self.fake.url, "access_token": "tok-metrics-1"}})
        self.assertEqual(st, 201, acct)
        before, types = parse_exposition(self.scrape()[2])
        self.assertEqual(types["herald_posts"], "gauge")
        self.assertEqual(types["herald_publish_attempts_total"], "counter")
        self.assertEqual(types["herald_engine_lag_seconds"], "histogram")

        self.fake.load([
            {"expect": {"method": "POST", "path": "/api/v1/statuses"},
             "reply": {"status": 503, "body": "busy"}},
            {"expect": {"method": "POST", "path": "/api/v1/statuses"},
             "reply": {"json": {"id": "777", "url": "https://masto.example/@m/777"}}}])
        d = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        st, _, created = self.srv.request("POST", "/public/v1/posts", key=key, body={
            "type": "now", "date": d, "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": acct["id"]},
                       "value": [{"content": "counted", "image": []}], "settings": {}}]})
        self.assertEqual(st, 201, created)
        pid = created[0]["postId"]
        deadline = time.monotonic() + 10
        while True:
            st, _, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
            if p.get("status") == "published" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(p.get("status"), "published", p)
        after, _ = parse_exposition(self.scrape()[2])
        m = "herald_publish_attempts_total"
        self.assertEqual(value(after, m, provider="mastodon", outcome="retry")
                         - value(before, m, provider="mastodon", outcome="retry"), 1)
        self.assertEqual(value(after, m, provider="mastodon", outcome="ok")
                         - value(before, m, provider="mastodon", outcome="ok"), 1)
        self.assertEqual(value(after, "herald_posts", state="published")
                         - value(before, "herald_posts", state="published"), 1)
        self.assertEqual(value(after, "herald_http_requests_total", route="/public/v1/posts", code="2xx")
                         - value(before, "herald_http_requests_total", route="/public/v1/posts",
                                 code="2xx"), 1)
        self.assertGreaterEqual(value(after, "herald_http_requests_total", route="/metrics", code="2xx"), 1)
        # claimed twice (the first try and the retry): two lag observations
        self.assertEqual(value(after, "herald_engine_lag_seconds_count")
                         - value(before, "herald_engine_lag_seconds_count"), 2)
        self.assertEqual(value(after, "herald_inflight", kind="publish"), 0)
        self.assertEqual(self.fake.problems(), [])

        # deleting it moves the unpublish counters and the state gauge
        self.fake.load([{"expect": {"method": "DELETE", "path": "/api/v1/statuses/777"},
                         "reply": {"json": {"id": "777"}}}])
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
        self.assertEqual(st, 202, b)
        deadline = time.monotonic() + 10
        while True:
            st, _, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
            if p.get("status") != "deleting" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(p.get("status"), "deleted", p)
        gone, _ = parse_exposition(self.scrape()[2])
        self.assertEqual(value(gone, "herald_unpublish_attempts_total", provider="mastodon",
                               outcome="deleted"), 1)
        self.assertEqual(value(gone, "herald_posts", state="deleted"), 1)
        self.assertEqual(value(gone, "herald_posts", state="published")
                         - value(after, "herald_posts", state="published"), -1)
        self.assertEqual(value(gone, "herald_http_requests_total", route="/v1/posts/{id}/unpublish",
                               code="2xx"), 1)
        self.assertEqual(self.fake.problems(), [])


if __name__ == "__main__":
    unittest.main()
