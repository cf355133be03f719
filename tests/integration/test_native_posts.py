"""The native /v1/posts API (SPEC 4): many targets in one request, per-target
state, cancel/approve/retry/edit, cursor pagination, /v1/platforms.

Webhook channels point at a FakeReceiver (the stand-in platform) so that
publishNow really publishes and the tests can see what arrived."""

import datetime as dt
import time
import unittest

from fake_receiver import FakeReceiver, ok, slow, status
from harness import HeraldTestCase, unique, utcnow

ISO_FMT = "%Y-%m-%dT%H:%M:%S.000Z"


def at(days=3, minutes=0):
    t = (utcnow() + dt.timedelta(days=days, minutes=minutes)).replace(second=0, microsecond=0)
    return t.strftime(ISO_FMT)


class NativePostsTest(HeraldTestCase):

    server_env = {"HERALD_RETRY_BASE_MS": "200", "HERALD_RETRY_MAX": "2",
                  "HERALD_RATE_LIMIT": "100000"}

    @classmethod
    def setUpClass(cls):
        cls.rx = FakeReceiver().start()
        super().setUpClass()
        cls.addClassCleanup(cls.rx.stop)

    def org(self, n=1, provider="webhook"):
        key = self.srv.key(unique("nat"))
        chans = []
        for i in range(n):
            path = "/" + unique("h")
            st, h, b = self.srv.request("POST", "/v1/accounts", key=key, body={
                "provider": "webhook", "name": unique("ch"),
                "credentials": {"url": self.rx.url(path)}})
            self.assertEqual(st, 201, b)
            chans.append((b["id"], path))
        return key, chans

    def post(self, key, body, want=202, headers=None):
        st, h, b = self.srv.request("POST", "/v1/posts", body=body, key=key, headers=headers)
        self.assertEqual(st, want, b)
        return b

    def get(self, key, pid, want=200):
        st, h, b = self.srv.request("GET", "/v1/posts/" + pid, key=key)
        self.assertEqual(st, want, b)
        return b

    def wait_status(self, key, pid, want, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            b = self.get(key, pid)
            if b["status"] == want:
                return b
            time.sleep(0.2)
        self.fail("post %s never reached %s: %r" % (pid, want, b))

    # ---- create ----

    def test_create_many_targets_scheduled(self):
        key, chans = self.org(3)
        when = at(days=2)
        b = self.post(key, {"text": "hello all", "scheduledAt": when, "tags": ["launch"],
                            "targets": [{"accountId": chans[0][0]},
                                        {"accountId": chans[1][0], "text": "hi two"},
                                        {"accountId": chans[2][0],
                                         "thread": ["part two", {"text": "part three"}]}]})
        self.assertEqual(b["status"], "queued")
        self.assertEqual(b["scheduledAt"], when)
        self.assertEqual(b["tags"], ["launch"])
        self.assertEqual([t["accountId"] for t in b["targets"]], [c for c, _ in chans])
        self.assertEqual([t["text"] for t in b["targets"]], ["hello all", "hi two", "hello all"])
        self.assertEqual([t["status"] for t in b["targets"]], ["queued"] * 3)
        self.assertEqual([x["text"] for x in b["targets"][2]["thread"]], ["part two", "part three"])
        self.assertEqual(b["targets"][0]["thread"], [])
        for t in b["targets"]:
            self.assertEqual(t["platform"], "webhook")
            self.assertEqual(t["attempts"], [])
            self.assertIsNone(t["releaseUrl"])
        self.assertEqual(self.get(key, b["id"]), b)
        # each target is also a Postiz post
        for t in b["targets"]:
            st, h, pz = self.srv.request("GET", "/public/v1/posts/" + t["id"], key=key)
            self.assertEqual(st, 200, pz)

    def test_platform_target_resolves_the_only_account(self):
        key, chans = self.org(1)
        b = self.post(key, {"text": "x", "scheduledAt": at(), "targets": [{"platform": "webhook"}]})
        self.assertEqual(b["targets"][0]["accountId"], chans[0][0])

    def test_platform_target_ambiguous_or_missing(self):
        key, chans = self.org(2)
        st, h, b = self.srv.request("POST", "/v1/posts", key=key, body={
            "text": "x", "scheduledAt": at(), "targets": [{"platform": "webhook"}]})
        self.assertEnvelope(st, h, b, 400, "validation_failed", field="targets[0].platform",
                            postiz=False)
        self.assertIn("accountId", b["error"]["message"])
        st, h, b = self.srv.request("POST", "/v1/posts", key=key, body={
            "text": "x", "scheduledAt": at(), "targets": [{"platform": "bluesky"}]})
        self.assertEnvelope(st, h, b, 400, "validation_failed", field="targets[0].platform",
                            postiz=False)
        self.assertEqual(self.list_all(key), [])

    def test_preflight_refuses_before_storing(self):
        key, chans = self.org(1)
        st, h, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "bluesky", "name": "bs", "verify": False,
            "credentials": {"identifier": "me.bsky.social", "password": "abcd-efgh-ijkl-mnop"}})
        self.assertEqual(st, 201, b)
        bs = b["id"]
        text = "\U0001F469\u200D\U0001F469\u200D\U0001F467" * 301  # 301 graphemes
        st, h, b = self.srv.request("POST", "/v1/posts", key=key, body={
            "text": text, "scheduledAt": at(),
            "targets": [{"accountId": chans[0][0]}, {"accountId": bs}]})
        err = self.assertEnvelope(st, h, b, 400, "preflight_failed", postiz=False)
        rules = {v["rule"] for v in err["violations"]}
        self.assertIn("bluesky.text.max_graphemes", rules)
        self.assertEqual(err["rule"], err["violations"][0]["rule"])
        v = [v for v in err["violations"] if v["rule"] == "bluesky.text.max_graphemes"][0]
        self.assertEqual((v["limit"], v["actual"], v["target"]), (300, 301, 1))
        self.assertEqual(self.list_all(key), [])  # nothing of the request was stored

    def test_bad_requests(self):
        key, chans = self.org(1)
        ch = chans[0][0]
        cases = [
            ({"text": "x", "targets": [{"accountId": ch}]}, "scheduledAt"),
            ({"text": "x", "scheduledAt": at(), "publishNow": True, "targets": [{"accountId": ch}]},
             "scheduledAt"),
            ({"text": "x", "scheduledAt": "2020-01-01T00:00:00Z", "targets": [{"accountId": ch}]},
             "scheduledAt"),
            ({"text": "x", "scheduledAt": "tomorrow", "targets": [{"accountId": ch}]}, "scheduledAt"),
            ({"text": "x", "scheduledAt": at(), "targets": []}, "targets"),
            ({"text": "x", "scheduledAt": at(), "targets": [{"accountId": ch}, {"accountId": ch}]},
             "targets[1]"),
            ({"text": "x", "scheduledAt": at(), "targets": [{"platform": "myspace"}]},
             "targets[0].platform"),
            ({"text": "x", "scheduledAt": at(), "targets": [{"accountId": ch}], "tags": [""]},
             "tags[0]"),
            ({"text": "x", "scheduledAt": at(), "targets": [{"accountId": ch}],
              "media": [{"url": "file:///etc/passwd"}]}, "media[0].url"),
            ({"text": 5, "scheduledAt": at(), "targets": [{"accountId": ch}]}, "text"),
            ({"text": "x", "draft": True, "publishNow": True, "targets": [{"accountId": ch}]},
             "publishNow"),
        ]
        for body, field in cases:
            st, h, b = self.srv.request("POST", "/v1/posts", key=key, body=body)
            self.assertEnvelope(st, h, b, 400, "validation_failed", field=field, postiz=False)
        st, h, b = self.srv.request("POST", "/v1/posts", key=key, body={
            "text": "x", "scheduledAt": at(), "targets": [{"accountId": "nope"}]})
        self.assertEnvelope(st, h, b, 404, "not_found", field="targets[0].accountId", postiz=False)
        self.assertEqual(self.list_all(key), [])

    def test_first_comment_is_the_last_reply(self):
        key, chans = self.org(1)
        b = self.post(key, {"text": "main", "thread": ["two"], "firstComment": "link in comment",
                            "scheduledAt": at(), "targets": [{"accountId": chans[0][0]}]})
        self.assertEqual([x["text"] for x in b["targets"][0]["thread"]], ["two", "link in comment"])

    def test_queue_takes_the_next_free_slots(self):
        key, chans = self.org(2)
        st, h, slot = self.srv.request("GET", "/public/v1/find-slot/" + chans[0][0], key=key)
        self.assertEqual(st, 200, slot)
        b = self.post(key, {"text": "q", "queue": True,
                            "targets": [{"accountId": chans[0][0]}, {"accountId": chans[1][0]}]})
        first = b["targets"][0]["scheduledAt"]
        self.assertEqual(first[:16], slot["date"][:16])
        self.assertGreater(b["targets"][1]["scheduledAt"], first)  # not the same minute

    # ---- publishNow ----

    def test_publish_now_answers_with_results(self):
        key, chans = self.org(2)
        b = self.post(key, {"text": "now!", "publishNow": True,
                            "targets": [{"accountId": c} for c, _ in chans]}, want=200)
        self.assertEqual(b["status"], "published")
        for t, (c, path) in zip(b["targets"], chans):
            self.assertEqual(t["status"], "published")
            self.assertTrue(t["releaseId"])
            self.assertEqual(len(t["attempts"]), 1)
            self.assertEqual(t["attempts"][0]["outcome"], "ok")
            self.assertEqual(t["attempts"][0]["httpStatus"], 200)
            req = self.rx.wait_one(path=path, timeout=5)
            self.assertIn("now!", req.body.decode())

    def test_publish_now_partial_failure(self):
        key, chans = self.org(2)
        self.rx.script(chans[1][1], status(400, {"message": "rejected by platform"}))
        b = self.post(key, {"text": "half", "publishNow": True,
                            "targets": [{"accountId": c} for c, _ in chans]}, want=200)
        self.assertEqual([t["status"] for t in b["targets"]], ["published", "failed"])
        self.assertEqual(b["status"], "partially_published")
        self.assertIn("rejected by platform", b["targets"][1]["attempts"][-1]["platformResponse"])
        # retry publishes the failed target only
        self.rx.script(chans[1][1], ok())
        st, h, r = self.srv.request("POST", "/v1/posts/%s/retry" % b["id"], key=key)
        self.assertEqual(st, 202, r)
        done = self.wait_status(key, b["id"], "published")
        self.assertEqual(len(self.rx.deliveries(chans[0][1])), 1)  # not sent twice
        self.assertEqual(done["targets"][1]["status"], "published")
        st, h, r = self.srv.request("POST", "/v1/posts/%s/retry" % b["id"], key=key)
        self.assertEnvelope(st, h, r, 409, "invalid_state", postiz=False)

    def test_publish_now_slow_platform_answers_202(self):
        key, chans = self.org(1)
        self.rx.script(chans[0][1], slow(14))
        b = self.post(key, {"text": "slow", "publishNow": True,
                            "targets": [{"accountId": chans[0][0]}]}, want=202)
        self.assertIn(b["status"], ("publishing", "queued"))

    # ---- lifecycle ----

    def test_draft_approve(self):
        key, chans = self.org(1)
        b = self.post(key, {"text": "d", "draft": True, "scheduledAt": at(days=1),
                            "targets": [{"accountId": chans[0][0]}]})
        self.assertEqual(b["status"], "draft")
        st, h, a = self.srv.request("POST", "/v1/posts/%s/approve" % b["id"], key=key)
        self.assertEqual(st, 200, a)
        self.assertEqual(a["status"], "queued")
        st, h, a = self.srv.request("POST", "/v1/posts/%s/approve" % b["id"], key=key)
        self.assertEnvelope(st, h, a, 409, "invalid_state", postiz=False)

    def test_cancel_is_never_published(self):
        key, chans = self.org(1)
        soon = (utcnow() + dt.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        b = self.post(key, {"text": "cancel me", "scheduledAt": soon,
                            "targets": [{"accountId": chans[0][0]}]})
        st, h, c = self.srv.request("DELETE", "/v1/posts/" + b["id"], key=key)
        self.assertEqual(st, 200, c)
        self.assertEqual(c["status"], "canceled")
        self.assertEqual(c["targets"][0]["status"], "canceled")
        time.sleep(4.5)
        self.assertEqual(self.rx.deliveries(chans[0][1]), [])
        self.assertEqual(self.get(key, b["id"])["status"], "canceled")
        st, h, c = self.srv.request("DELETE", "/v1/posts/" + b["id"], key=key)
        self.assertEnvelope(st, h, c, 409, "invalid_state", postiz=False)
        st, h, c = self.srv.request("DELETE", "/v1/posts/NOPE", key=key)
        self.assertEnvelope(st, h, c, 404, "not_found", postiz=False)
        # the Postiz list does not show canceled posts
        start = (utcnow() - dt.timedelta(days=1)).strftime(ISO_FMT)
        end = (utcnow() + dt.timedelta(days=1)).strftime(ISO_FMT)
        self.assertEqual(self.list_posts(key, start, end), [])

    def test_patch_while_queued(self):
        key, chans = self.org(2)
        b = self.post(key, {"text": "old", "thread": ["t1", "t2"], "scheduledAt": at(days=2),
                            "tags": ["a"], "targets": [{"accountId": c} for c, _ in chans]})
        new_at = at(days=5)
        st, h, p = self.srv.request("PATCH", "/v1/posts/" + b["id"], key=key, body={
            "text": "new", "scheduledAt": new_at, "thread": ["only"], "tags": ["b", "c"]})
        self.assertEqual(st, 200, p)
        self.assertEqual(p["scheduledAt"], new_at)
        self.assertEqual(p["tags"], ["b", "c"])
        for t in p["targets"]:
            self.assertEqual(t["text"], "new")
            self.assertEqual([x["text"] for x in t["thread"]], ["only"])
            self.assertEqual(t["scheduledAt"], new_at)
        self.assertEqual(self.get(key, b["id"]), p)
        for body, field in (({"targets": []}, "targets"), ({"scheduledAt": "x"}, "scheduledAt"),
                            ({"text": 3}, "text")):
            st, h, e = self.srv.request("PATCH", "/v1/posts/" + b["id"], key=key, body=body)
            self.assertEnvelope(st, h, e, 400, "validation_failed", field=field, postiz=False)

    def test_patch_preflight_and_published(self):
        key, chans = self.org(1)
        b = self.post(key, {"text": "p", "publishNow": True,
                            "targets": [{"accountId": chans[0][0]}]}, want=200)
        st, h, e = self.srv.request("PATCH", "/v1/posts/" + b["id"], key=key, body={"text": "q"})
        self.assertEnvelope(st, h, e, 409, "invalid_state", postiz=False)
        self.assertEqual(self.get(key, b["id"])["targets"][0]["text"], "p")

    def test_preflight_runs_again_before_publishing(self):
        # a Postiz draft skips create-time preflight (as in Postiz); moved to
        # scheduled, it reaches the engine, which refuses it by rule before
        # any request leaves
        key, chans = self.org(1)
        st, h, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "bluesky", "name": "bs", "verify": False,
            "credentials": {"identifier": "me.bsky.social", "password": "abcd-efgh-ijkl-mnop",
                            "service": self.rx.url("/never")}})
        self.assertEqual(st, 201, b)
        bs = b["id"]
        soon = (utcnow() + dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        st, h, b = self.srv.request("POST", "/public/v1/posts", key=key, body={
            "type": "draft", "date": soon, "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": bs},
                       "value": [{"content": "<p>%s</p>" % ("a" * 301), "image": []}]}]})
        self.assertEqual(st, 201, b)
        pid = b[0]["postId"]
        st, h, r = self.srv.request("PUT", "/public/v1/posts/%s/status" % pid,
                                    body={"status": "schedule"}, key=key)
        self.assertEqual(st, 200, r)
        end = time.time() + 10
        while time.time() < end:
            st, h, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
            if p["state"] == "ERROR":
                break
            time.sleep(0.2)
        self.assertEqual(p["state"], "ERROR", p)
        self.assertIn("bluesky.text.max_graphemes", p["error"])
        self.assertEqual(self.rx.deliveries("/never/xrpc/com.atproto.server.createSession"), [])

    # ---- list ----

    def list_all(self, key, query="", limit=2):
        out, cursor = [], None
        for _ in range(100):
            q = "limit=%d%s%s" % (limit, query, "&cursor=" + cursor if cursor else "")
            st, h, b = self.srv.request("GET", "/v1/posts?" + q, key=key)
            self.assertEqual(st, 200, b)
            self.assertLessEqual(len(b["data"]), limit)
            out += b["data"]
            cursor = b["nextCursor"]
            if not cursor:
                return out
        self.fail("pagination does not end")

    def test_list_pages_and_filters(self):
        key, chans = self.org(2)
        ids = []
        for i in range(5):
            b = self.post(key, {"text": "n%d" % i, "scheduledAt": at(days=1 + i),
                                "tags": ["even"] if i % 2 == 0 else [],
                                "targets": [{"accountId": chans[i % 2][0]}]})
            ids.append(b["id"])
        d = self.post(key, {"text": "draft", "draft": True,
                            "targets": [{"accountId": chans[0][0]}]})
        got = [p["id"] for p in self.list_all(key)]
        self.assertEqual(got, [d["id"]] + ids[::-1])  # newest first, no repeats
        self.assertEqual([p["id"] for p in self.list_all(key, "&status=draft")], [d["id"]])
        self.assertEqual([p["id"] for p in self.list_all(key, "&accountId=" + chans[1][0])],
                         [ids[3], ids[1]])
        self.assertEqual([p["id"] for p in self.list_all(key, "&tag=even")],
                         [ids[4], ids[2], ids[0]])
        self.assertEqual([p["id"] for p in self.list_all(key, "&platform=bluesky")], [])
        frm, to = at(days=2, minutes=-1), at(days=3, minutes=1)
        self.assertEqual([p["id"] for p in self.list_all(key, "&from=%s&to=%s" % (frm, to))],
                         [ids[2], ids[1]])
        for q, field in (("limit=0", "limit"), ("limit=x", "limit"), ("status=gone", "status"),
                         ("cursor=abc", "cursor"), ("from=yesterday", "from")):
            st, h, b = self.srv.request("GET", "/v1/posts?" + q, key=key)
            self.assertEnvelope(st, h, b, 400, "validation_failed", field=field, postiz=False)

    def test_concurrent_posts_with_one_new_tag(self):
        # two requests creating the same new tag at once must both succeed
        import threading
        key, chans = self.org(1)
        for round_ in range(4):
            tag = unique("t")
            results = []

            def go():
                results.append(self.srv.request("POST", "/v1/posts", key=key, body={
                    "text": "tagged", "scheduledAt": at(), "tags": [tag],
                    "targets": [{"accountId": chans[0][0]}]}))

            ts = [threading.Thread(target=go) for _ in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual([r[0] for r in results], [202] * 8, [r[2] for r in results])
            self.assertEqual(len(self.list_all(key, "&tag=" + tag, limit=100)), 8)

    # ---- batch ----

    def test_batch_items_answered_each(self):
        key, chans = self.org(1)
        ch = chans[0][0]
        posts = [{"text": "b%d" % i, "scheduledAt": at(days=1 + i),
                  "targets": [{"accountId": ch}], "idempotencyKey": unique("row")}
                 for i in range(5)]
        posts[2]["scheduledAt"] = "yesterday"                      # validation
        posts[3]["targets"] = [{"accountId": "nope"}]               # not found
        st, h, b = self.srv.request("POST", "/v1/posts/batch", key=key, body={"posts": posts})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["created"], b["failed"], b["replayed"]), (3, 2, 0))
        self.assertEqual([r["status"] for r in b["results"]], [202, 202, 400, 404, 202])
        self.assertEqual(b["results"][2]["error"]["field"], "posts[2].scheduledAt")
        self.assertEqual(b["results"][3]["error"]["field"], "posts[3].targets[0].accountId")
        self.assertEqual(b["results"][3]["error"]["code"], "not_found")
        ids = [r["post"]["id"] for r in b["results"] if "post" in r]
        self.assertEqual(sorted(p["id"] for p in self.list_all(key, limit=100)), sorted(ids))
        self.assertEqual(b["results"][4]["post"]["targets"][0]["text"], "b4")
        # the same batch again: every keyed item answered as the first time
        st, h, b2 = self.srv.request("POST", "/v1/posts/batch", key=key, body={"posts": posts})
        self.assertEqual(st, 200, b2)
        self.assertEqual((b2["created"], b2["replayed"]), (0, 3))
        self.assertEqual([r["status"] for r in b2["results"]], [202, 202, 400, 404, 202])
        self.assertEqual([r.get("post", {}).get("id") for r in b2["results"]],
                         [r.get("post", {}).get("id") for r in b["results"]])
        self.assertEqual(len(self.list_all(key, limit=100)), 3)
        # a key reused with another body conflicts, only for that item
        posts[0]["text"] = "changed"
        st, h, b3 = self.srv.request("POST", "/v1/posts/batch", key=key, body={"posts": posts[:2]})
        self.assertEqual([r["status"] for r in b3["results"]], [409, 202])
        self.assertEqual(b3["results"][0]["error"]["code"], "idempotency_conflict")
        self.assertEqual(len(self.list_all(key, limit=100)), 3)

    def test_batch_preflight_and_shape_errors(self):
        key, chans = self.org(1)
        st, h, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "bluesky", "name": "bs", "verify": False,
            "credentials": {"identifier": "me.bsky.social", "password": "abcd-efgh-ijkl-mnop"}})
        bs = b["id"]
        posts = [{"text": "x" * 301, "scheduledAt": at(), "targets": [{"accountId": bs}]},
                 "not an object",
                 {"text": "fine", "scheduledAt": at(), "targets": [{"accountId": bs}],
                  "idempotencyKey": "has space"},
                 {"text": "ok", "scheduledAt": at(), "targets": [{"accountId": bs}]}]
        st, h, b = self.srv.request("POST", "/v1/posts/batch", key=key, body={"posts": posts})
        self.assertEqual(st, 200, b)
        r = b["results"]
        self.assertEqual([x["status"] for x in r], [400, 400, 400, 202])
        self.assertEqual(r[0]["error"]["code"], "preflight_failed")
        self.assertEqual(r[0]["error"]["rule"], "bluesky.text.max_graphemes")
        self.assertEqual(r[1]["error"]["field"], "posts[1]")
        self.assertEqual(r[2]["error"]["field"], "posts[2].idempotencyKey")
        for body, field in (({"posts": []}, "posts"), ({"posts": [{}] * 101}, "posts"),
                            ({}, "posts")):
            st, h, e = self.srv.request("POST", "/v1/posts/batch", key=key, body=body)
            self.assertEnvelope(st, h, e, 400, "validation_failed", field=field, postiz=False)
        self.assertEqual(len(self.list_all(key, limit=100)), 1)

    # ---- tenancy and idempotency ----

    def test_other_org_sees_nothing(self):
        k1, c1 = self.org(1)
        k2, c2 = self.org(1)
        b = self.post(k1, {"text": "mine", "scheduledAt": at(),
                           "targets": [{"accountId": c1[0][0]}]})
        for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/retry"),
                             ("POST", "/approve")):
            st, h, e = self.srv.request(method, "/v1/posts/%s%s" % (b["id"], path), key=k2,
                                        body={"text": "x"} if method == "PATCH" else None)
            self.assertEnvelope(st, h, e, 404, "not_found", postiz=False)
        self.assertEqual(self.list_all(k2), [])
        st, h, e = self.srv.request("POST", "/v1/posts", key=k2, body={
            "text": "x", "scheduledAt": at(), "targets": [{"accountId": c1[0][0]}]})
        self.assertEnvelope(st, h, e, 404, "not_found", postiz=False)
        self.assertEqual(self.get(k1, b["id"])["status"], "queued")

    def test_idempotent_create(self):
        key, chans = self.org(1)
        body = {"text": "once", "scheduledAt": at(), "targets": [{"accountId": chans[0][0]}]}
        hk = {"Idempotency-Key": unique("idem")}
        st, h1, b1 = self.srv.request("POST", "/v1/posts", key=key, body=body, headers=hk)
        self.assertEqual(st, 202, b1)
        st, h2, b2 = self.srv.request("POST", "/v1/posts", key=key, body=body, headers=hk)
        self.assertEqual(st, 202, b2)
        self.assertEqual(h2.get("idempotency-replayed"), "true")
        self.assertEqual(b1, b2)
        self.assertEqual(len(self.list_all(key)), 1)
        body["text"] = "twice"
        st, h, e = self.srv.request("POST", "/v1/posts", key=key, body=body, headers=hk)
        self.assertEnvelope(st, h, e, 409, "idempotency_conflict", postiz=False)


class PlatformsTest(HeraldTestCase):

    def test_every_platform_listed(self):
        st, h, b = self.srv.request("GET", "/v1/platforms")
        self.assertEqual(st, 200, b)
        by = {p["id"]: p for p in b["data"]}
        for pid in ("bluesky", "mastodon", "telegram", "discord", "slack", "nostr", "webhook", "rss"):
            p = by[pid]
            self.assertEqual(p["tier"], "1")
            self.assertTrue(p["capabilities"]["publish"], pid)
            self.assertTrue(p["apiVersion"], pid)
            self.assertTrue(p["limits"], pid)
        for pid in ("x", "linkedin", "instagram", "threads", "youtube"):
            self.assertEqual(by[pid]["tier"], "2")
            self.assertFalse(by[pid]["capabilities"]["publish"])
            self.assertTrue(by[pid]["limits"], pid)
        self.assertTrue(by["bluesky"]["capabilities"]["idempotentPublish"])
        self.assertIn("bluesky.text.max_graphemes", [l["rule"] for l in by["bluesky"]["limits"]])

    def test_no_pinned_version_near_its_sunset(self):
        st, h, b = self.srv.request("GET", "/v1/platforms")
        self.assertEqual(st, 200, b)
        self.assertEqual(sunset_problems(b["data"], dt.date.today()), [])

    def test_sunset_check_itself_fails_near_the_date(self):
        today = dt.date(2026, 11, 22)
        near = [{"id": "linkedin", "apiVersion": "202601", "sunsetAt": "2027-01-15"}]
        far = [{"id": "x", "apiVersion": "2", "sunsetAt": "2027-06-01"}]
        bad = [{"id": "y", "apiVersion": "1", "sunsetAt": "soon"}]
        self.assertEqual(len(sunset_problems(near, today)), 1)
        self.assertEqual(sunset_problems(far, today), [])
        self.assertEqual(len(sunset_problems(bad, today)), 1)


def sunset_problems(platforms, today, days=90):
    """Pinned upstream versions that stop working within `days` (or whose
    sunset date does not parse)."""
    out = []
    for p in platforms:
        s = p.get("sunsetAt")
        if s is None:
            continue
        try:
            d = dt.date.fromisoformat(s)
        except ValueError:
            out.append("%s: sunsetAt %r is not a date" % (p["id"], s))
            continue
        if (d - today).days <= days:
            out.append("%s: %s sunsets on %s, within %d days: move to a newer version"
                       % (p["id"], p.get("apiVersion"), s, days))
    return out


if __name__ == "__main__":
    unittest.main()
