"""Analytics: metrics sampled on a schedule after publishing, read back through both APIs.

    HERALD_BIN=build/asan/herald python3 tests/integration/run.py test_analytics

The platforms are recording fakes (fake_platform.FakePlatform) speaking the
exact Mastodon (GET /api/v1/statuses/:id, Bearer token) and Bluesky
(app.bsky.feed.getPosts?uris=at://..., session Bearer accessJwt) contracts;
every outbound request is checked in order, and a request beyond the
script fails the test.  HERALD_ANALYTICS_INTERVALS makes the schedule a few
seconds long.
"""

import datetime as _dt
import http.server
import json
import os
import threading
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from engine_util import Node, Proc  # noqa: E402
from fake_platform import FakePlatform  # noqa: E402
from harness import Herald, run_cli  # noqa: E402

MEDIA = os.path.join(HERE, "..", "providers", "media")
STORE_ENV = ({"HERALD_DATABASE_URL": os.environ["HERALD_DATABASE_URL"]}
             if os.environ.get("HERALD_DATABASE_URL") else {})
TOKEN = "tok-analytics-123456"
AUTH = {"authorization": "Bearer " + TOKEN}
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
BSKY_ITEM = "01jdbs1text000000000000000"
BSKY_URI = "at://%s/app.bsky.feed.post/3k7wiijrouhwq" % DID


def iso_now():
    d = _dt.datetime.now(_dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def today():
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")


def masto_publish(sid):
    return {"expect": {"method": "POST", "path": "/api/v1/statuses", "headers": AUTH},
            "reply": {"json": {"id": sid, "url": "https://masto.example/@a/%s" % sid,
                               "content": "<p>x</p>"}}}


def masto_status(sid, fav, reblogs, replies, reply=None):
    return {"expect": {"method": "GET", "path": "/api/v1/statuses/%s" % sid,
                       "headers": dict(AUTH, accept="application/json")},
            "reply": reply or {"json": {"id": sid, "favourites_count": fav,
                                        "reblogs_count": reblogs, "replies_count": replies,
                                        "content": "<p>x</p>"}}}


def bsky_session(acc="acc-1", ref="ref-1"):
    return {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession",
                       "json": {"identifier": "alice.bsky.social",
                                "password": "abcd-efgh-ijkl-mnop"}},
            "reply": {"json": {"accessJwt": acc, "refreshJwt": ref, "did": DID,
                               "handle": "alice.bsky.social", "active": True}}}


def bsky_create():
    return {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.createRecord",
                       "headers": {"authorization": "Bearer acc-1"}},
            "reply": {"json": {"uri": BSKY_URI, "cid": "bafyreig" + "1" * 52,
                               "commit": {"cid": "bafyreig" + "9" * 52, "rev": "3kabc"},
                               "validationStatus": "valid"}}}


def bsky_get_posts(acc, likes, reposts, replies, quotes, reply=None):
    return {"expect": {"method": "GET", "path": "/xrpc/app.bsky.feed.getPosts",
                       "query": {"uris": BSKY_URI},
                       "headers": {"authorization": "Bearer " + acc}},
            "reply": reply or {"json": {"posts": [{
                "uri": BSKY_URI, "cid": "bafyreig" + "1" * 52,
                "author": {"did": DID, "handle": "alice.bsky.social"},
                "record": {"$type": "app.bsky.feed.post", "text": "Hello from herald"},
                "replyCount": replies, "repostCount": reposts, "likeCount": likes,
                "quoteCount": quotes, "indexedAt": iso_now()}]}}}


def post_body(channel, text, item_id=None):
    v = {"content": text, "image": []}
    if item_id:
        v["id"] = item_id
    return {"type": "now", "date": iso_now(), "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": channel}, "value": [v], "settings": {}}]}


class AnalyticsTest(unittest.TestCase):
    maxDiff = None
    intervals = "1,3"

    def setUp(self):
        self.fake = FakePlatform(MEDIA).start()
        self.srv = Herald(env=dict(STORE_ENV, HERALD_RETRY_BASE_MS="100",
                                   HERALD_ANALYTICS_INTERVALS=self.intervals,
                                   HERALD_ANALYTICS_DAYS="0", HERALD_METRICS="public"))

    def tearDown(self):
        try:
            self.srv.stop()
        finally:
            self.fake.stop()

    # ---- helpers ----

    def connect(self, key, provider="mastodon", creds=None):
        st, _, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": provider, "name": "%s analytics" % provider, "verify": False,
            "credentials": creds or {"instance": self.fake.url, "access_token": TOKEN}})
        self.assertEqual(st, 201, b)
        return b["id"]

    def connect_bsky(self, key):
        return self.connect(key, "bluesky", {"service": self.fake.url,
                                             "identifier": "alice.bsky.social",
                                             "password": "abcd-efgh-ijkl-mnop"})

    def publish(self, key, channel, text, item_id=None):
        st, _, b = self.srv.request("POST", "/public/v1/posts", key=key,
                                    body=post_body(channel, text, item_id))
        self.assertEqual(st, 201, b)
        pid = b[0]["postId"]
        deadline = time.monotonic() + 10
        while True:
            st, _, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
            self.assertEqual(st, 200, p)
            if p["status"] == "published":
                return pid
            self.assertNotIn(p["status"], ("failed", "unconfirmed"), p)
            if time.monotonic() > deadline:
                self.fail("post %s stayed %s: %s" % (pid, p["status"], self.fake.transcript()))
            time.sleep(0.05)

    def native(self, key, pid):
        st, _, b = self.srv.request("GET", "/v1/analytics/posts/" + pid, key=key)
        self.assertEqual(st, 200, b)
        return b

    def wait_samples(self, key, pid, n, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            b = self.native(key, pid)
            if len(b["targets"][0]["series"]) >= n:
                return b
            if time.monotonic() > deadline:
                self.fail("%d samples wanted, have %s\n%s" % (n, b, self.fake.transcript()))
            time.sleep(0.1)

    def wait_used(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while self.fake.used() < n:
            if time.monotonic() > deadline:
                self.fail("%d requests wanted, %d came\n%s" % (n, self.fake.used(),
                                                               self.fake.transcript()))
            time.sleep(0.05)

    # ---- tests ----

    def test_mastodon_samples_on_schedule_with_both_shapes(self):
        key = self.srv.key("an_masto")
        ch = self.connect(key)
        self.fake.load([masto_publish("7001"), masto_status("7001", 3, 1, 0),
                        masto_status("7001", 10, 4, 2)])
        pid = self.publish(key, ch, "hello analytics")
        t_pub = time.monotonic()
        b = self.wait_samples(key, pid, 2)
        time.sleep(1.0)  # the schedule is over: nothing more may go out
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        recs = self.fake.records
        # the samples came at about 1 s and 2 s after publishing, in order
        self.assertGreaterEqual(recs[1]["at"] - t_pub, 0.5)
        self.assertGreaterEqual(recs[2]["at"] - recs[1]["at"], 0.5)
        t = b["targets"][0]
        self.assertEqual(t["platform"], "mastodon")
        self.assertEqual(t["accountId"], ch)
        self.assertTrue(t["metricsSupported"])
        self.assertEqual([s["metrics"] for s in t["series"]],
                         [{"likes": 3, "reposts": 1, "replies": 0},
                          {"likes": 10, "reposts": 4, "replies": 2}])
        self.assertEqual(t["metrics"], {"likes": 10, "reposts": 4, "replies": 2})
        self.assertEqual(t["sampledAt"], t["series"][-1]["sampledAt"])
        self.assertIsNone(t["nextSampleAt"])  # the schedule is over
        self.assertIsNone(t["lastError"])
        # Postiz: one post's series, per day
        st, _, pz = self.srv.request("GET", "/public/v1/analytics/post/%s?date=7" % pid, key=key)
        self.assertEqual(st, 200, pz)
        self.assertEqual(pz, [
            {"label": "Likes", "data": [{"total": "10", "date": today()}], "percentageChange": 0},
            {"label": "Reposts", "data": [{"total": "4", "date": today()}], "percentageChange": 0},
            {"label": "Replies", "data": [{"total": "2", "date": today()}], "percentageChange": 0},
        ])
        # Postiz: the channel, summed over its posts (one here)
        st, _, pc = self.srv.request("GET", "/public/v1/analytics/%s?date=30" % ch, key=key)
        self.assertEqual(st, 200, pc)
        self.assertEqual([x["label"] for x in pc], ["Likes", "Reposts", "Replies"])
        self.assertEqual(pc[0]["data"], [{"total": "10", "date": today()}])
        # the /api alias and the default date (7)
        st, _, pc2 = self.srv.request("GET", "/api/public/v1/analytics/%s" % ch, key=key)
        self.assertEqual((st, pc2), (200, pc))
        # native per-account
        st, _, acc = self.srv.request("GET", "/v1/analytics/accounts/%s" % ch, key=key)
        self.assertEqual(st, 200, acc)
        self.assertEqual(acc["accountId"], ch)
        self.assertTrue(acc["metricsSupported"])
        self.assertEqual(acc["totals"], {"likes": 10, "reposts": 4, "replies": 2})
        self.assertEqual(acc["days"], [{"date": today(), "metrics": acc["totals"]}])
        # the herald CLI reads the same routes
        env = {"HERALD_URL": self.srv.url, "HERALD_API_KEY": key}
        rc, out, err = run_cli("analytics", "post", pid, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("mastodon  %s  likes 10  reposts 4  replies 2  (sampled " % ch, out)
        rc, out, err = run_cli("analytics", "account", ch, "--from", today(), env=env)
        self.assertEqual((rc, out), (0, "%s  likes 10  reposts 4  replies 2\n" % today()), err)
        rc, out, err = run_cli("analytics", "post", pid, "--json", env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), self.native(key, pid))
        rc, out, err = run_cli("analytics", "post", "nope", env=env)
        self.assertEqual(rc, 5, out + err)
        rc, out, err = run_cli("analytics", "account", ch, "--from", "someday", env=env)
        self.assertEqual(rc, 3, out + err)
        self.assertIn("from", err)
        rc, out, err = run_cli("analytics", "sideways", "x", env=env)
        self.assertEqual(rc, 2, out + err)
        # GET /metrics counts the samples
        st, _, text = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 200, text)
        self.assertIn('herald_analytics_samples_total{provider="mastodon",outcome="ok"} 2\n', text)
        self.assertIn('herald_inflight{kind="analytics"} 0\n', text)

    def test_channel_sums_posts_and_percentage_change_over_days(self):
        key = self.srv.key("an_sum")
        ch = self.connect(key)
        self.fake.load([masto_publish("7101"), masto_status("7101", 2, 0, 0),
                        masto_status("7101", 5, 0, 0)])
        p1 = self.publish(key, ch, "first")
        self.wait_samples(key, p1, 2)
        self.fake.load([masto_publish("7102"), masto_status("7102", 1, 1, 1),
                        masto_status("7102", 3, 1, 1)])
        p2 = self.publish(key, ch, "second")
        self.wait_samples(key, p2, 2)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        st, _, pc = self.srv.request("GET", "/public/v1/analytics/%s?date=1" % ch, key=key)
        self.assertEqual(st, 200, pc)
        self.assertEqual(pc[0], {"label": "Likes", "data": [{"total": "8", "date": today()}],
                                 "percentageChange": 0})
        self.assertEqual(pc[1]["data"][0]["total"], "1")
        # a window that starts before any sample still has only today
        st, _, acc = self.srv.request(
            "GET", "/v1/analytics/accounts/%s?from=2020-01-01&to=2020-01-05" % ch, key=key)
        self.assertEqual(st, 200, acc)
        self.assertEqual(acc["days"], [])
        self.assertEqual(acc["totals"], {})

    def test_429_then_success_and_401_skips_one_sample_only(self):
        key = self.srv.key("an_429")
        ch = self.connect(key)
        self.fake.load([
            masto_publish("7201"),
            masto_status("7201", 0, 0, 0, {"status": 429, "headers": {"Retry-After": "1"},
                                           "json": {"error": "Too many requests"}}),
            masto_status("7201", 1, 0, 0),
            masto_status("7201", 0, 0, 0, {"status": 401,
                                           "json": {"error": "The access token is invalid"}}),
        ])
        pid = self.publish(key, ch, "limited")
        self.wait_used(4)
        time.sleep(0.8)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        recs = self.fake.records
        # Retry-After: 1 was honoured (the retry base is 100 ms)
        self.assertGreaterEqual(recs[2]["at"] - recs[1]["at"], 0.9)
        b = self.native(key, pid)
        t = b["targets"][0]
        self.assertEqual([s["metrics"] for s in t["series"]],
                         [{"likes": 1, "reposts": 0, "replies": 0}])
        # the refused sample is recorded as the job's last error, nothing else changed
        self.assertIn("401", t["lastError"])
        self.assertIn("platform_auth_failed", t["lastError"])
        st, _, text = self.srv.request("GET", "/metrics")
        for outcome, n in (("retry", 1), ("ok", 1), ("auth", 1)):
            self.assertIn('herald_analytics_samples_total{provider="mastodon",outcome="%s"} %d\n'
                          % (outcome, n), text)

    def test_bluesky_get_posts_with_session_refresh(self):
        key = self.srv.key("an_bsky")
        ch = self.connect_bsky(key)
        expired = {"status": 400, "json": {"error": "ExpiredToken", "message": "Token has expired"}}
        self.fake.load([
            bsky_session(), bsky_create(),
            bsky_get_posts("acc-1", 4, 1, 2, 0),
            bsky_get_posts("acc-1", 0, 0, 0, 0, expired),
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.refreshSession",
                        "headers": {"authorization": "Bearer ref-1"}},
             "reply": {"json": {"accessJwt": "acc-2", "refreshJwt": "ref-2", "did": DID,
                                "handle": "alice.bsky.social"}}},
            bsky_get_posts("acc-2", 9, 3, 2, 1),
        ])
        pid = self.publish(key, ch, "<p>Hello from herald</p>", BSKY_ITEM)
        b = self.wait_samples(key, pid, 2)
        time.sleep(0.5)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        t = b["targets"][0]
        self.assertEqual(t["platform"], "bluesky")
        self.assertEqual([s["metrics"] for s in t["series"]],
                         [{"likes": 4, "reposts": 1, "replies": 2, "quotes": 0},
                          {"likes": 9, "reposts": 3, "replies": 2, "quotes": 1}])
        st, _, pz = self.srv.request("GET", "/public/v1/analytics/post/%s" % pid, key=key)
        self.assertEqual(st, 200, pz)
        self.assertEqual([x["label"] for x in pz], ["Likes", "Reposts", "Replies", "Quotes"])
        self.assertEqual(pz[3]["data"], [{"total": "1", "date": today()}])

    def test_provider_without_metrics_missing_release_and_errors(self):
        key = self.srv.key("an_err_a")
        other = self.srv.key("an_err_b")
        hook = self.srv.channel("an_err_a", "hook")
        # a webhook channel has no metrics: Postiz answers []
        st, _, b = self.srv.request("GET", "/public/v1/analytics/%s?date=7" % hook, key=key)
        self.assertEqual((st, b), (200, []))
        st, _, acc = self.srv.request("GET", "/v1/analytics/accounts/%s" % hook, key=key)
        self.assertEqual(st, 200, acc)
        self.assertFalse(acc["metricsSupported"])
        self.assertEqual(acc["days"], [])
        # a post without release id (scheduled in the future): {"missing": true}
        ch = self.connect(key)
        st, _, made = self.srv.request("POST", "/public/v1/posts", key=key, body={
            "type": "schedule", "date": "2099-01-01T10:00:00.000Z", "shortLink": False,
            "tags": [], "posts": [{"integration": {"id": ch},
                                   "value": [{"content": "later", "image": []}],
                                   "settings": {}}]})
        self.assertEqual(st, 201, made)
        pid = made[0]["postId"]
        st, _, b = self.srv.request("GET", "/public/v1/analytics/post/%s" % pid, key=key)
        self.assertEqual((st, b), (200, {"missing": True}))
        nb = self.native(key, pid)
        self.assertEqual(nb["targets"][0]["series"], [])
        self.assertIsNone(nb["targets"][0]["metrics"])
        # unknown ids and another organization's ids: 404 envelopes, never 500
        for path in ("/public/v1/analytics/nope", "/public/v1/analytics/%s" % ch,
                     "/public/v1/analytics/post/nope", "/public/v1/analytics/post/%s" % pid,
                     "/v1/analytics/posts/%s" % pid, "/v1/analytics/accounts/%s" % ch,
                     "/v1/analytics/posts/nope"):
            st, _, b = self.srv.request("GET", path, key=other)
            self.assertEqual(st, 404, (path, b))
            self.assertEqual(b["error"]["code"], "not_found", (path, b))
        # bad query parameters: 400 naming the field
        for path, field in (("/public/v1/analytics/%s?date=abc" % ch, "date"),
                            ("/public/v1/analytics/%s?date=0" % ch, "date"),
                            ("/public/v1/analytics/%s?date=100000" % ch, "date"),
                            ("/public/v1/analytics/post/%s?date=-3" % pid, "date"),
                            ("/v1/analytics/accounts/%s?from=yesterday" % ch, "from"),
                            ("/v1/analytics/accounts/%s?to=2026-13-45" % ch, "to"),
                            ("/v1/analytics/accounts/%s?from=2026-02-01&to=2026-01-01" % ch, "from"),
                            ("/v1/analytics/accounts/%s?from=2020-01-01&to=2026-01-01" % ch, "from")):
            st, _, b = self.srv.request("GET", path, key=key)
            self.assertEqual(st, 400, (path, b))
            self.assertEqual(b["error"]["code"], "validation_failed", (path, b))
            self.assertEqual(b["error"].get("field"), field, (path, b))
        # no key: 401
        st, _, b = self.srv.request("GET", "/v1/analytics/accounts/%s" % ch)
        self.assertEqual(st, 401, b)

    @unittest.skipIf(STORE_ENV, "writes old samples straight into the SQLite file")
    def test_days_carry_forward_and_percentage_change(self):
        import sqlite3
        key = self.srv.key("an_days")
        ch = self.connect(key)
        self.fake.load([masto_publish("7401"), masto_status("7401", 20, 2, 1)])
        pid = self.publish(key, ch, "days")
        self.wait_samples(key, pid, 1)
        day = 86400000
        now = int(time.time() * 1000)
        midnight = now - now % day
        db = sqlite3.connect(os.path.join(self.srv.data_dir, "herald.db"), timeout=10)
        org = db.execute("SELECT org_id FROM channels WHERE id = ?", (ch,)).fetchone()[0]
        rows = [("01s1", pid, "likes", 10, midnight - 3 * day + 1000),
                ("01s2", pid, "likes", 15, midnight - day + 1000),
                ("01s3", "01jother0000000000000000aa", "likes", 5, midnight - 3 * day + 5000)]
        with db:
            for sid, item, name, value, at in rows:
                db.execute("INSERT INTO metric_samples(id, org_id, item_id, channel_id, name, value,"
                           " sampled_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (sid, org, item, ch, name, value, at))
        db.close()

        def d(n):
            return _dt.datetime.fromtimestamp((midnight - n * day) / 1000,
                                              _dt.timezone.utc).strftime("%Y-%m-%d")
        st, _, pz = self.srv.request("GET", "/public/v1/analytics/post/%s?date=4" % pid, key=key)
        self.assertEqual(st, 200, pz)
        self.assertEqual(pz[0], {"label": "Likes", "percentageChange": 100, "data": [
            {"total": "10", "date": d(3)}, {"total": "10", "date": d(2)},
            {"total": "15", "date": d(1)}, {"total": "20", "date": d(0)}]})
        st, _, pz = self.srv.request("GET", "/public/v1/analytics/post/%s?date=2" % pid, key=key)
        self.assertEqual(pz[0]["percentageChange"], 33.33, pz)
        self.assertEqual([x["total"] for x in pz[0]["data"]], ["15", "20"])
        # the channel adds the other post's 5 (carried forward) to every day
        st, _, pc = self.srv.request("GET", "/public/v1/analytics/%s?date=4" % ch, key=key)
        self.assertEqual([x["total"] for x in pc[0]["data"]], ["15", "15", "20", "25"], pc)
        self.assertEqual(pc[0]["percentageChange"], 66.67)
        st, _, acc = self.srv.request("GET", "/v1/analytics/accounts/%s?from=%s&to=%s"
                                      % (ch, d(3), d(1)), key=key)
        self.assertEqual(st, 200, acc)
        self.assertEqual([(x["date"], x["metrics"]["likes"]) for x in acc["days"]],
                         [(d(3), 15), (d(2), 15), (d(1), 20)])

    def test_refresh_samples_again_now(self):
        key = self.srv.key("an_refresh")
        ch = self.connect(key)
        self.fake.load([masto_publish("7301"), masto_status("7301", 1, 0, 0),
                        masto_status("7301", 2, 0, 0), masto_status("7301", 6, 0, 0)])
        pid = self.publish(key, ch, "refresh me")
        self.wait_samples(key, pid, 2)
        st, _, b = self.srv.request("POST", "/v1/analytics/posts/%s/refresh" % pid, key=key)
        # the answer waited for the sample
        self.assertEqual(st, 200, b)
        self.assertTrue(b["refreshed"])
        self.assertEqual(len(b["targets"][0]["series"]), 3)
        self.assertEqual(b["targets"][0]["metrics"], {"likes": 6, "reposts": 0, "replies": 0})
        self.assertIsNone(b["targets"][0]["nextSampleAt"])  # the schedule is over again
        time.sleep(0.5)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        # a slow platform: 202 after the wait, and the sample still lands
        self.fake.load([masto_status("7301", 9, 0, 0, {"delay_ms": 11000,
                                                       "json": {"id": "7301", "favourites_count": 9}})])
        t = time.monotonic()
        st, _, b = self.srv.request("POST", "/v1/analytics/posts/%s/refresh" % pid, key=key,
                                    timeout=30)
        self.assertEqual(st, 202, b)
        self.assertFalse(b["refreshed"])
        self.assertGreaterEqual(time.monotonic() - t, 9.5)
        self.wait_samples(key, pid, 4, timeout=10)
        # a platform without metrics: nothing to sample, 409
        hook = self.srv.channel("an_refresh", "hook2")
        st, _, made = self.srv.request("POST", "/public/v1/posts", key=key,
                                       body=post_body(hook, "no metrics"))
        self.assertEqual(st, 201, made)
        st, _, b = self.srv.request("POST", "/v1/analytics/posts/%s/refresh" % made[0]["postId"],
                                    key=key)
        self.assertEqual(st, 409, b)
        self.assertEqual(b["error"]["code"], "invalid_state")
        st, _, b = self.srv.request("POST", "/v1/analytics/posts/nope/refresh", key=key)
        self.assertEqual(st, 404, b)


class CountingMastodon:
    """A Mastodon that publishes any status (ids 9001, 9002, ...) and counts the
    GET /api/v1/statuses/:id of each, for tests where the order of requests
    across posts is not fixed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_id = 9000
        self.gets = {}
        self.bad = []
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, obj):
                out = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.next_id += 1
                    sid = str(fake.next_id)
                self.reply({"id": sid, "url": "https://masto.example/@a/" + sid})

            def do_GET(self):
                sid = self.path.rsplit("/", 1)[-1]
                with fake.lock:
                    if self.headers.get("Authorization") != "Bearer " + TOKEN or \
                            not self.path.startswith("/api/v1/statuses/"):
                        fake.bad.append(self.path)
                    fake.gets[sid] = fake.gets.get(sid, 0) + 1
                    n = fake.gets[sid]
                self.reply({"id": sid, "favourites_count": n, "reblogs_count": 0,
                            "replies_count": 0})

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class AnalyticsDurabilityTest(unittest.TestCase):
    maxDiff = None

    def connect(self, proc, key, url):
        st, _, b = proc.request("POST", "/v1/accounts", {
            "provider": "mastodon", "name": "durable", "verify": False,
            "credentials": {"instance": url, "access_token": TOKEN}}, key=key)
        self.assertEqual(st, 201, b)
        return b["id"]

    def samples(self, proc, key, pid):
        st, _, b = proc.request("GET", "/v1/analytics/posts/" + pid, key=key)
        self.assertEqual(st, 200, b)
        return b["targets"][0]["series"]

    def test_kill9_mid_sample_samples_after_restart(self):
        fake = FakePlatform(MEDIA).start()
        node = Node(env=dict(STORE_ENV, HERALD_RETRY_BASE_MS="100", HERALD_LEASE_SECONDS="5",
                             HERALD_ANALYTICS_INTERVALS="1", HERALD_ANALYTICS_DAYS="0"))
        try:
            node.start()
            key = node.key("an_crash")
            ch = self.connect(node.proc, key, fake.url)
            fake.load([masto_publish("7501"),
                       masto_status("7501", 0, 0, 0, {"delay_ms": 3000, "json": {"id": "7501"}}),
                       masto_status("7501", 4, 2, 0)])
            st, _, b = node.request("POST", "/public/v1/posts", post_body(ch, "crash"), key=key)
            self.assertEqual(st, 201, b)
            pid = b[0]["postId"]
            deadline = time.monotonic() + 10
            while fake.used() < 2:
                self.assertLess(time.monotonic(), deadline, fake.transcript())
                time.sleep(0.02)
            node.proc.kill9()  # while the first sample's GET is out
            node.start()
            deadline = time.monotonic() + 20
            while not self.samples(node.proc, key, pid):
                self.assertLess(time.monotonic(), deadline, fake.transcript())
                time.sleep(0.1)
            self.assertEqual([x["metrics"] for x in self.samples(node.proc, key, pid)],
                             [{"likes": 4, "reposts": 2, "replies": 0}])
            time.sleep(0.5)
            self.assertEqual(fake.problems(), [], fake.transcript())
        finally:
            try:
                node.close()
            finally:
                fake.stop()

    @unittest.skipUnless(STORE_ENV, "two processes share one store only on PostgreSQL")
    def test_two_processes_never_sample_twice(self):
        fake = CountingMastodon()
        node = Node(env=dict(STORE_ENV, HERALD_RETRY_BASE_MS="100",
                             HERALD_ANALYTICS_INTERVALS="1,2", HERALD_ANALYTICS_DAYS="0"))
        try:
            a = node.start()
            b = Proc(node, node.env())  # a second process on the same database
            node.procs.append(b)
            key = node.key("an_two")
            ch = self.connect(a, key, fake.url)
            pids = []
            for i in range(12):
                st, _, made = (a if i % 2 else b).request(
                    "POST", "/public/v1/posts", post_body(ch, "two %d" % i), key=key)
                self.assertEqual(st, 201, made)
                pids.append(made[0]["postId"])
            deadline = time.monotonic() + 30
            while any(len(self.samples(a, key, p)) < 2 for p in pids):
                self.assertLess(time.monotonic(), deadline, fake.gets)
                time.sleep(0.2)
            time.sleep(1.0)
            with fake.lock:
                self.assertEqual(fake.bad, [])
                self.assertEqual(len(fake.gets), 12, fake.gets)
                self.assertEqual(set(fake.gets.values()), {2}, fake.gets)
            for p in pids:
                self.assertEqual([x["metrics"]["likes"] for x in self.samples(b, key, p)], [1, 2])
            rc, _ = b.term()
            self.assertEqual(rc, 0, b.stderr()[-3000:])
            self.assertIsNone(b.sanitizer_report())
        finally:
            try:
                node.close()
            finally:
                fake.stop()


if __name__ == "__main__":
    unittest.main()
