"""Requests exactly as real Postiz clients send them (postiz.md section 5): the
official `postiz` CLI (npm postiz@2.1.0), the n8n node and plain scripts.

RealPostizCliTest drives the real CLI when it is installed: set POSTIZ_CLI to
its executable (e.g. after `npm install --prefix /tmp/pz postiz@2.1.0`,
POSTIZ_CLI=/tmp/pz/node_modules/.bin/postiz) or put `postiz` on PATH;
otherwise it is skipped.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import HeraldTestCase, future, iso_z, utcnow


def js_iso(d):
    """JavaScript's Date.toISOString(): milliseconds and Z."""
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


class ClientShapesTest(HeraldTestCase):

    def test_cli_posts_create_shape(self):
        # posts:create -c Hello -c 'first reply' -m URL -s DATE -i ID --settings JSON
        key, (ch,) = self.new_org()
        when = future(days=60)
        body = {
            "type": "schedule",
            "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "shortLink": True,
            "tags": [],
            "posts": [{
                "integration": {"id": ch},
                "value": [
                    {"content": "Hello", "image": [{"id": "k3j4h5g6f7", "path": "https://uploads.postiz.com/a.png"}]},
                    {"content": "first reply", "image": []},
                ],
                "settings": {"who_can_reply_post": "everyone"},
            }],
        }
        st, h, b = self.srv.request("POST", "/public/v1/posts", body=body, key=key,
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(st, 201, b)
        self.assertEqual(len(b), 1)
        self.assertEqual(b[0]["integration"], ch)
        p = self.get_post(key, b[0]["postId"])
        self.assertEqual([v["content"] for v in p["value"]], ["Hello", "first reply"])
        self.assertEqual(p["value"][0]["image"], [{"id": "k3j4h5g6f7", "path": "https://uploads.postiz.com/a.png"}])
        self.assertEqual(json.loads(p["settings"]), {"who_can_reply_post": "everyone", "__type": "webhook"})
        self.assertEqual(p["publishDate"], iso_z(when))

    def test_cli_posts_list_default_window(self):
        # posts:list without dates: now - 30 d .. now + 30 d as toISOString().
        key, (ch,) = self.new_org()
        when = future(days=5)
        pid = self.create_ok(key, {"type": "schedule", "date": js_iso(when), "shortLink": False,
                                   "tags": [], "posts": [{"integration": {"id": ch},
                                                          "value": [{"content": "x", "image": []}],
                                                          "settings": {}}]})[0]["postId"]
        now = utcnow()
        st, h, b = self.srv.request(
            "GET", "/public/v1/posts?startDate=%s&endDate=%s" % (
                js_iso(now - dt.timedelta(days=30)), js_iso(now + dt.timedelta(days=30))), key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual([p["id"] for p in b["posts"]], [pid])

    def test_url_encoded_dates(self):
        # Scripts often encode the query (':' as %3A).
        key, (ch,) = self.new_org()
        when = future(days=6)
        pid = self.create_ok(key, {"type": "draft", "date": iso_z(when), "shortLink": False, "tags": [],
                                   "posts": [{"integration": {"id": ch},
                                              "value": [{"content": "x", "image": []}]}]})[0]["postId"]
        q = "startDate=%s&endDate=%s" % (iso_z(when - dt.timedelta(hours=1)).replace(":", "%3A"),
                                         iso_z(when + dt.timedelta(hours=1)).replace(":", "%3A"))
        st, h, b = self.srv.request("GET", "/public/v1/posts?" + q, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual([p["id"] for p in b["posts"]], [pid])

    def test_sdk_minimal_body(self):
        # @postiz/node and hand-written scripts: no settings, no image arrays, no shortLink.
        key, (ch,) = self.new_org()
        body = {"type": "schedule", "date": iso_z(future(days=7)), "tags": [],
                "posts": [{"integration": {"id": ch}, "value": [{"content": "minimal"}]}]}
        pid = self.create_ok(key, body)[0]["postId"]
        p = self.get_post(key, pid)
        self.assertEqual(p["value"][0]["image"], [])
        self.assertEqual(json.loads(p["settings"]), {"__type": "webhook"})


def find_postiz_cli():
    p = os.environ.get("POSTIZ_CLI")
    if p and os.access(p, os.X_OK):
        return p
    # where tests/node_setup.sh installs it
    local = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "node",
                         "node_modules", ".bin", "postiz")
    if os.access(local, os.X_OK):
        return os.path.normpath(local)
    return shutil.which("postiz")


POSTIZ_CLI = find_postiz_cli()


@unittest.skipUnless(POSTIZ_CLI, "the postiz CLI is not installed (set POSTIZ_CLI)")
class RealPostizCliTest(HeraldTestCase):

    def pz(self, key, *args, want_rc=0):
        home = tempfile.mkdtemp(prefix="herald-it-pz-")
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTIZ_", "HERALD_"))}
            env.update(POSTIZ_API_URL=self.srv.url, POSTIZ_API_KEY=key, HOME=home)
            p = subprocess.run([POSTIZ_CLI] + list(args), env=env, capture_output=True, text=True,
                               timeout=60)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        self.assertEqual(p.returncode, want_rc, p.stdout + p.stderr)
        return p.stdout if want_rc == 0 else p.stdout + p.stderr

    @staticmethod
    def json_of(out):
        return json.loads(out[min(i for i in (out.find("{"), out.find("[")) if i >= 0):])

    def test_cli_round_trip(self):
        key, (ch,) = self.new_org()
        out = self.pz(key, "integrations:list")
        self.assertEqual([i["id"] for i in self.json_of(out)], [ch])
        out = self.pz(key, "integrations:settings", ch)
        self.assertIn("maxLength", self.json_of(out)["output"])
        # integration-trigger: a webhook channel has no tools, said as a 400
        out = self.pz(key, "integrations:trigger", ch, "channels", "-d", "{}", want_rc=1)
        self.assertIn("400", out)
        self.assertIn("has no tool", out)
        out = self.pz(key, "auth:status")
        self.assertIn("1 integration", out)
        when = future(days=45)
        out = self.pz(key, "posts:create", "-c", "Hello from the CLI", "-c", "first reply",
                      "-m", "https://uploads.postiz.com/a.png", "-s", iso_z(when), "-i", ch,
                      "--settings", '{"who_can_reply_post":"everyone"}')
        created = self.json_of(out)
        self.assertEqual(created[0]["integration"], ch)
        pid = created[0]["postId"]
        out = self.pz(key, "posts:list", "--startDate", iso_z(when - dt.timedelta(days=1)),
                      "--endDate", iso_z(when + dt.timedelta(days=1)))
        posts = self.json_of(out)["posts"]
        self.assertEqual([(p["id"], p["content"], p["state"]) for p in posts],
                         [(pid, "Hello from the CLI", "QUEUE")])
        p = self.get_post(key, pid)
        self.assertEqual([v["content"] for v in p["value"]], ["Hello from the CLI", "first reply"])
        self.assertEqual(p["value"][0]["image"][0]["path"], "https://uploads.postiz.com/a.png")
        self.assertEqual(self.json_of(self.pz(key, "posts:missing", pid)), [])
        self.pz(key, "posts:delete", pid)
        self.get_post(key, pid, want=404)
        self.pz(key, "posts:delete", pid, want_rc=1)

    def test_cli_multi_channel_and_json_file(self):
        key, (c1, c2) = self.new_org(channels=2)
        when = future(days=46)
        out = self.pz(key, "posts:create", "-c", "to both", "-s", iso_z(when), "-i", "%s,%s" % (c1, c2))
        created = self.json_of(out)
        self.assertEqual(sorted(x["integration"] for x in created), sorted([c1, c2]))
        for x in created:
            p = self.get_post(key, x["postId"])
            self.assertEqual([v["content"] for v in p["value"]], ["to both"])
        # --json: the file is sent verbatim as the request body
        import tempfile, os
        body = {"type": "draft", "date": iso_z(when), "shortLink": False, "tags": [],
                "posts": [{"integration": {"id": c2},
                           "value": [{"content": "from a file", "image": []}],
                           "settings": {}}]}
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(body, f)
        self.addCleanup(os.unlink, path)
        out = self.pz(key, "posts:create", "--json", path)
        (made,) = self.json_of(out)
        self.assertEqual(made["integration"], c2)
        p = self.get_post(key, made["postId"])
        self.assertEqual((p["value"][0]["content"], p["status"]), ("from a file", "draft"))

    def test_cli_bad_key(self):
        out = self.pz("0" * 64, "integrations:list", want_rc=1)
        self.assertIn("API Error (401)", out)
        self.assertIn("Invalid API key", out)


@unittest.skipUnless(POSTIZ_CLI, "the postiz CLI is not installed (set POSTIZ_CLI)")
class RealPostizCliAnalyticsTest(RealPostizCliTest):
    """analytics:platform and analytics:post against a post whose metrics were
    sampled from a Mastodon fake (the exact GET /api/v1/statuses/:id)."""
    server_env = {"HERALD_ANALYTICS_INTERVALS": "1", "HERALD_ANALYTICS_DAYS": "0",
                  "HERALD_RETRY_BASE_MS": "100"}

    # the inherited tests run in RealPostizCliTest already
    test_cli_round_trip = test_cli_multi_channel_and_json_file = test_cli_bad_key = None

    def test_cli_analytics(self):
        import time
        from fake_platform import FakePlatform
        fake = FakePlatform(os.path.dirname(os.path.abspath(__file__))).start()
        self.addCleanup(fake.stop)
        auth = {"authorization": "Bearer tok-cli-analytics"}
        fake.load([
            {"expect": {"method": "POST", "path": "/api/v1/statuses", "headers": auth},
             "reply": {"json": {"id": "8001", "url": "https://masto.example/@a/8001"}}},
            {"expect": {"method": "GET", "path": "/api/v1/statuses/8001", "headers": auth},
             "reply": {"json": {"id": "8001", "favourites_count": 12, "reblogs_count": 3,
                                "replies_count": 1}}},
        ])
        key = self.srv.key("pz_cli_analytics")
        st, _, acc = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "mastodon", "name": "cli analytics", "verify": False,
            "credentials": {"instance": fake.url, "access_token": "tok-cli-analytics"}})
        self.assertEqual(st, 201, acc)
        ch = acc["id"]
        out = self.pz(key, "posts:create", "-c", "measured", "-i", ch, "-s",
                      iso_z(utcnow() + dt.timedelta(seconds=2)))
        pid = self.json_of(out)[0]["postId"]
        deadline = time.monotonic() + 15
        while fake.used() < 2 or not self.srv.request(
                "GET", "/v1/analytics/posts/" + pid, key=key)[2]["targets"][0]["series"]:
            self.assertLess(time.monotonic(), deadline, fake.transcript())
            time.sleep(0.1)
        self.assertEqual(fake.problems(), [])
        day = utcnow().strftime("%Y-%m-%d")
        got = self.json_of(self.pz(key, "analytics:platform", ch, "-d", "30"))
        self.assertEqual(got[0], {"label": "Likes", "data": [{"total": "12", "date": day}],
                                  "percentageChange": 0})
        self.assertEqual([x["label"] for x in got], ["Likes", "Reposts", "Replies"])
        got = self.json_of(self.pz(key, "analytics:post", pid))
        self.assertEqual(got[1]["data"], [{"total": "3", "date": day}])
        # unknown id: the CLI reports the 404
        out = self.pz(key, "analytics:post", "nope", want_rc=1)
        self.assertIn("404", out)


if __name__ == "__main__":
    unittest.main()
