"""The Postiz public API as Postiz clients (n8n, the postiz CLI, scripts) use it.

One herald instance for the class; every test works in its own organization
so that tests neither see each other's posts nor share the per-organization
POST /posts limit.
"""

import datetime as dt
import json
import os
import re
import threading
import unittest

from harness import (HeraldTestCase, create_body, entry, future, item, iso_z, unique,
                     utcnow)

PUBLISH_DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
SLOT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00$")
ISO_MS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

DEFAULT_POSTING_MINUTES = [120, 400, 700]  # Postiz's default postingTimes (UTC)


def next_slot(now, minutes=DEFAULT_POSTING_MINUTES, taken=()):
    """Earliest default posting time strictly after `now` not in `taken`."""
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for d in range(0, 5):
        for m in sorted(minutes):
            slot = day0 + dt.timedelta(days=d, minutes=m)
            if slot > now and slot.strftime("%Y-%m-%dT%H:%M:00") not in taken:
                return slot.strftime("%Y-%m-%dT%H:%M:00")
    raise AssertionError("no slot")


class AuthTest(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = unique("auth")
        cls.key = cls.srv.key(cls.org)

    def test_is_connected_raw_key(self):
        for prefix in ("/public/v1", "/api/public/v1"):
            st, h, b = self.srv.request("GET", prefix + "/is-connected", key=self.key)
            self.assertEqual(st, 200, b)
            self.assertEqual(b, {"connected": True})
            self.assertTrue(h.get("content-type", "").startswith("application/json"))
            self.assertTrue(h.get("x-request-id"))

    def test_is_connected_bearer(self):
        for prefix in ("/public/v1", "/api/public/v1"):
            st, h, b = self.srv.request("GET", prefix + "/is-connected", key="Bearer " + self.key)
            self.assertEqual(st, 200, b)
            self.assertEqual(b, {"connected": True})

    def test_missing_key(self):
        for prefix in ("/public/v1", "/api/public/v1"):
            for path in ("/is-connected", "/integrations", "/posts"):
                st, h, b = self.srv.request("GET", prefix + path)
                err = self.assertEnvelope(st, h, b, 401, "unauthenticated")
                self.assertEqual(b["msg"], "No API Key found")
                self.assertEqual(err["retryable"], False)
            st, h, b = self.srv.request("GET", prefix + "/is-connected", key="")
            self.assertEnvelope(st, h, b, 401, "unauthenticated")
            self.assertEqual(b["msg"], "No API Key found")

    def test_invalid_key(self):
        bad = [
            "0" * 64,
            self.key[:-1] + ("0" if self.key[-1] != "0" else "1"),
            "Bearer " + "f" * 64,
            "Bearer ",
            self.key.upper(),
            "x" * 4000,
        ]
        for k in bad:
            for prefix in ("/public/v1", "/api/public/v1"):
                st, h, b = self.srv.request("GET", prefix + "/is-connected", key=k)
                self.assertEnvelope(st, h, b, 401, "unauthenticated")
                self.assertEqual(b["msg"], "Invalid API key", k)

    def test_401_on_write_routes_leaves_nothing_behind(self):
        st, h, b = self.srv.request("POST", "/public/v1/posts", body={"type": "draft"}, key="nope")
        self.assertEnvelope(st, h, b, 401, "unauthenticated")
        self.assertEqual(b["msg"], "Invalid API key")
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/abc")
        self.assertEnvelope(st, h, b, 401, "unauthenticated")
        self.assertEqual(b["msg"], "No API Key found")

    def test_request_id_generated_and_in_envelope(self):
        st, h, b = self.srv.request("GET", "/public/v1/is-connected")
        rid = h.get("x-request-id")
        self.assertTrue(rid)
        self.assertEqual(b["error"]["requestId"], rid)
        st2, h2, b2 = self.srv.request("GET", "/public/v1/is-connected")
        self.assertNotEqual(h2.get("x-request-id"), rid, "request ids must be unique")

    def test_client_request_id_echoed(self):
        st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=self.key,
                                    headers={"X-Request-Id": "n8n-run-42"})
        self.assertEqual(st, 200)
        self.assertEqual(h.get("x-request-id"), "n8n-run-42")
        st, h, b = self.srv.request("GET", "/public/v1/is-connected", key="bad",
                                    headers={"X-Request-Id": "client-abc_123"})
        self.assertEnvelope(st, h, b, 401, "unauthenticated")
        self.assertEqual(h.get("x-request-id"), "client-abc_123")
        self.assertEqual(b["error"]["requestId"], "client-abc_123")

    def test_unusable_client_request_id_replaced(self):
        for rid in ("x" * 200, "has space", 'quote"d'):
            st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=self.key,
                                        headers={"X-Request-Id": rid})
            self.assertEqual(st, 200)
            self.assertTrue(h.get("x-request-id"))
            self.assertNotEqual(h.get("x-request-id"), rid)

    def test_healthz_needs_no_key(self):
        st, h, b = self.srv.request("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertEqual(b, {"status": "ok"})
        self.assertTrue(h.get("x-request-id"))
        st, h, b = self.srv.request("GET", "/readyz")
        self.assertEqual(st, 200, b)
        store = "postgres" if os.environ.get("HERALD_DATABASE_URL") else "sqlite"
        self.assertEqual((b["status"], b["store"]), ("ready", store))

    def test_head_and_get_with_body(self):
        st, h, b = self.srv.request("HEAD", "/public/v1/is-connected", key=self.key)
        self.assertEqual((st, b), (200, ""))
        # some clients send a body with GET; it is ignored
        st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=self.key, raw=b"{}")
        self.assertEqual((st, b), (200, {"connected": True}))

    def test_doc_url_resolves(self):
        st, h, b = self.srv.request("GET", "/public/v1/is-connected")
        doc = b["error"]["docUrl"]
        self.assertEqual(doc, "%s/v1/errors#unauthenticated" % self.srv.url)
        st, h, cat = self.srv.request("GET", "/v1/errors")
        self.assertEqual(st, 200, cat)
        codes = {e["code"]: e["status"] for e in cat["errors"]}
        for code, status in (("validation_failed", 400), ("preflight_failed", 400),
                             ("unauthenticated", 401), ("unauthorized", 403), ("not_found", 404),
                             ("invalid_state", 409), ("idempotency_conflict", 409),
                             ("idempotency_in_progress", 409), ("payload_too_large", 413),
                             ("unsupported_media_type", 415), ("rate_limited", 429),
                             ("internal_error", 500)):
            self.assertEqual(codes.get(code), status, code)


class IntegrationsTest(HeraldTestCase):

    def test_list_shape(self):
        org = unique("integ")
        key = self.srv.key(org)
        st, h, b = self.srv.request("GET", "/public/v1/integrations", key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(b, [])
        c1 = self.srv.channel(org, "Alpha hook", "http://127.0.0.1:9/a")
        c2 = self.srv.channel(org, "Beta hook", "http://127.0.0.1:9/b")
        for prefix in ("/public/v1", "/api/public/v1"):
            st, h, b = self.srv.request("GET", prefix + "/integrations", key=key)
            self.assertEqual(st, 200, b)
            self.assertIsInstance(b, list)
            self.assertEqual(len(b), 2, b)
            by_id = {i["id"]: i for i in b}
            self.assertEqual(set(by_id), {c1, c2})
            for i in b:
                self.assertEqual(set(i), {"id", "name", "identifier", "picture", "disabled",
                                          "profile"}, i)
                self.assertEqual(i["identifier"], "webhook")
                self.assertIs(i["disabled"], False)
                self.assertIsInstance(i["picture"], str)
            self.assertEqual(by_id[c1]["name"], "Alpha hook")
            self.assertEqual(by_id[c2]["name"], "Beta hook")
            self.assertEqual(by_id[c1]["profile"], "http://127.0.0.1:9/a")

    def test_connect_account_then_listed(self):
        key = self.srv.key(unique("acct"))
        body = {"provider": "webhook", "name": "From API",
                "credentials": {"url": "http://127.0.0.1:9/api-hook"}}
        st, h, b = self.srv.request("POST", "/v1/accounts", body=body, key=key)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["platform"], "webhook")
        self.assertEqual(b["name"], "From API")
        self.assertTrue(b["id"])
        self.assertTrue(b["secret"].startswith("whsec_"), b)
        acc = b["id"]
        st, h, lst = self.srv.request("GET", "/public/v1/integrations", key=key)
        self.assertEqual(st, 200)
        self.assertEqual(lst, [{"id": acc, "name": "From API", "identifier": "webhook",
                                "picture": "", "disabled": False,
                                "profile": "http://127.0.0.1:9/api-hook"}])
        st, h, one = self.srv.request("GET", "/v1/accounts/" + acc, key=key)
        self.assertEqual(st, 200, one)
        self.assertEqual(one["id"], acc)
        self.assertNotIn("secret", one)
        self.assertNotIn("credentials", one)

    def test_connect_account_rejects_bad_input(self):
        key = self.srv.key(unique("acctbad"))
        cases = [
            ({"provider": "nope", "credentials": {"url": "http://x.example/h"}}, "provider"),
            ({"name": "x", "credentials": {"url": "http://x.example/h"}}, "provider"),
            ({"provider": 5, "credentials": {}}, "provider"),
            ({"provider": "webhook"}, "credentials"),
            ({"provider": "webhook", "credentials": "http://x.example/h"}, "credentials"),
            ({"provider": "webhook", "credentials": {"url": "ftp://x.example/h"}}, "credentials"),
            ({"provider": "webhook", "credentials": {"url": 5}}, "credentials"),
            ({"provider": "webhook", "credentials": {"url": "http://x.example/h",
                                                     "secret": "short"}}, "credentials"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                st, h, b = self.srv.request("POST", "/v1/accounts", body=body, key=key)
                self.assertEnvelope(st, h, b, 400, "validation_failed", field=field, postiz=False)
        st, h, lst = self.srv.request("GET", "/public/v1/integrations", key=key)
        self.assertEqual(lst, [])

    def test_integration_settings(self):
        key, (ch,) = self.new_org()
        for prefix in ("/public/v1", "/api/public/v1"):
            st, h, b = self.srv.request("GET", prefix + "/integration-settings/" + ch, key=key)
            self.assertEqual(st, 200, b)
            self.assertEqual(set(b), {"output"})
            out = b["output"]
            self.assertEqual(set(out), {"rules", "maxLength", "settings", "tools"})
            self.assertIsInstance(out["rules"], str)
            self.assertTrue(out["rules"])
            self.assertIsInstance(out["maxLength"], int)
            self.assertGreater(out["maxLength"], 0)
            self.assertEqual(out["settings"], "No additional settings required")
            self.assertEqual(out["tools"], [])

    def test_integration_settings_unknown(self):
        key, _ = self.new_org()
        for cid in ("01nosuchchannel0000000000", "x"):
            st, h, b = self.srv.request("GET", "/public/v1/integration-settings/" + cid, key=key)
            self.assertEnvelope(st, h, b, 404, "not_found")
            self.assertEqual(b["msg"], "Integration not found")

    def test_integrations_unknown_group_filter(self):
        key, (ch,) = self.new_org()
        st, h, b = self.srv.request("GET", "/public/v1/integrations?group=01nosuchcustomer0000000000",
                                    key=key)
        self.assertEqual((st, b), (200, []))
        st, h, b = self.srv.request("GET", "/public/v1/integrations?group=", key=key)
        self.assertEqual([i["id"] for i in b], [ch])

    def test_groups_empty(self):
        key, _ = self.new_org()
        st, h, b = self.srv.request("GET", "/public/v1/groups", key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(b, [])

    def test_delete_integration_cancels_its_posts(self):
        key, (keep, gone) = self.new_org(channels=2)
        when = future(days=20)
        res = self.create_ok(key, create_body("schedule", [entry(keep, "stays"),
                                                          entry(gone, "goes", "goes 2")],
                                              date=when))
        keep_id, gone_id = res[0]["postId"], res[1]["postId"]
        gone_comment = self.get_post(key, gone_id)["value"][1]["id"]
        draft = self.create_ok(key, create_body("draft", [entry(gone, "draft on it")]))[0]["postId"]

        st, h, b = self.srv.request("DELETE", "/public/v1/integrations/" + gone, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["id"], gone)
        self.assertEqual(b["identifier"], "webhook")
        self.assertTrue(b.get("deletedAt"))

        st, h, lst = self.srv.request("GET", "/public/v1/integrations", key=key)
        self.assertEqual([i["id"] for i in lst], [keep])
        for pid in (gone_id, gone_comment, draft):
            self.get_post(key, pid, want=404)
        self.assertEqual(self.get_post(key, keep_id)["state"], "QUEUE")
        posts = self.list_posts(key, when - dt.timedelta(days=30), when + dt.timedelta(days=30))
        self.assertEqual([p["id"] for p in posts], [keep_id])

        # the channel is gone for every route
        st, h, b = self.srv.request("DELETE", "/public/v1/integrations/" + gone, key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")
        for path in ("/public/v1/integration-settings/", "/public/v1/find-slot/"):
            st, h, b = self.srv.request("GET", path + gone, key=key)
            self.assertEnvelope(st, h, b, 404, "not_found")
        st, h, b = self.create(key, create_body("schedule", [entry(gone, "again")]))
        self.assertEnvelope(st, h, b, 400, "validation_failed", field="posts[0].integration.id")
        self.assertEqual(b["message"], "Integration with id %s not found" % gone)

    def test_delete_integration_unknown(self):
        key, _ = self.new_org()
        st, h, b = self.srv.request("DELETE", "/public/v1/integrations/01nosuch000000000000000000",
                                    key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")


class CreatePostsTest(HeraldTestCase):

    def test_draft(self):
        key, (ch,) = self.new_org()
        when = future(days=10)
        pid = self.create_ok(key, create_body("draft", [entry(ch, "<p>draft text</p>")],
                                              date=when))[0]["postId"]
        p = self.get_post(key, pid)
        self.assertEqual(p["id"], pid)
        self.assertEqual(p["state"], "DRAFT")
        self.assertEqual(p["content"], "<p>draft text</p>")
        self.assertEqual(p["publishDate"], iso_z(when))
        self.assertEqual(p["integration"]["id"], ch)
        self.assertEqual(p["integration"]["providerIdentifier"], "webhook")
        self.assertEqual(json.loads(p["settings"])["__type"], "webhook")
        self.assertEqual(len(p["value"]), 1)
        self.assertEqual(p["value"][0]["id"], pid)
        self.assertEqual(p["value"][0]["state"], "DRAFT")

    def test_draft_may_be_in_the_past(self):
        key, (ch,) = self.new_org()
        when = future(days=-3)
        pid = self.create_ok(key, create_body("draft", [entry(ch, "old draft")],
                                              date=when))[0]["postId"]
        self.assertEqual(self.get_post(key, pid)["state"], "DRAFT")

    def test_schedule_future(self):
        key, (ch,) = self.new_org()
        when = future(days=12, hour=9, minute=30, second=15)
        res = self.create_ok(key, create_body("schedule", [entry(ch, "scheduled!")], date=when))
        p = self.get_post(key, res[0]["postId"])
        self.assertEqual(p["state"], "QUEUE")
        self.assertEqual(p["publishDate"], iso_z(when))
        self.assertIsNone(p["releaseURL"])
        self.assertIsNone(p["releaseId"])
        self.assertIsNone(p["error"])
        self.assertEqual(p["creationMethod"], "API")
        self.assertTrue(UUID_RE.match(p["group"]), p["group"])

    def test_schedule_date_with_offset_and_without_zone(self):
        key, (ch,) = self.new_org()
        day = future(days=15)
        local = day.strftime("%Y-%m-%dT") + "12:00:00+02:00"
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "offset")], date=local))[0]["postId"]
        self.assertEqual(self.get_post(key, pid)["publishDate"], day.strftime("%Y-%m-%dT") + "10:00:00.000Z")
        naive = day.strftime("%Y-%m-%dT") + "13:45:00"  # no zone: UTC, as Postiz (TZ=UTC)
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "naive")], date=naive))[0]["postId"]
        self.assertEqual(self.get_post(key, pid)["publishDate"], naive + ".000Z")

    def test_schedule_in_the_past_rejected(self):
        key, (ch,) = self.new_org()
        for when in (future(days=-1), utcnow() - dt.timedelta(minutes=5), "2020-01-01T00:00:00Z"):
            with self.subTest(when=when):
                st, h, b = self.create(key, create_body("schedule", [entry(ch, "too late")],
                                                        date=when))
                err = self.assertEnvelope(st, h, b, 400, "validation_failed", field="date")
                self.assertIn("past", err["message"])
        # nothing was stored
        self.assertEqual(self.list_posts(key, "2019-01-01T00:00:00Z", "2100-01-01T00:00:00Z"), [])

    def test_schedule_within_grace_accepted(self):
        key, (ch,) = self.new_org()
        when = utcnow() - dt.timedelta(seconds=10)
        self.create_ok(key, create_body("schedule", [entry(ch, "just now")], date=when))

    def test_now(self):
        key, (ch,) = self.new_org()
        before = utcnow().replace(microsecond=0) - dt.timedelta(seconds=1)
        res = self.create_ok(key, create_body("now", [entry(ch, "right now")],
                                              date="2000-01-01T00:00:00Z"))
        after = utcnow() + dt.timedelta(seconds=1)
        p = self.get_post(key, res[0]["postId"])
        self.assertIn(p["state"], ("QUEUE", "PUBLISHED", "ERROR"))
        self.assertNotEqual(p["state"], "DRAFT")
        got = dt.datetime.strptime(p["publishDate"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=dt.timezone.utc)
        # the date of a "now" post is the server's time, not the body's
        self.assertTrue(before - dt.timedelta(seconds=60) <= got <= after, p["publishDate"])

    def test_thread_of_three(self):
        key, (ch,) = self.new_org()
        when = future(days=11)
        body = create_body("schedule", [entry(ch, item("first"), item("second", delay=5),
                                              item("third", delay=0))], date=when)
        pid = self.create_ok(key, body)[0]["postId"]
        p = self.get_post(key, pid)
        self.assertEqual([v["content"] for v in p["value"]], ["first", "second", "third"])
        self.assertEqual([v["delay"] for v in p["value"]], [0, 5, 0])
        self.assertEqual(p["value"][0]["id"], pid)
        ids = [v["id"] for v in p["value"]]
        self.assertEqual(len(set(ids)), 3)
        for v in p["value"]:
            self.assertEqual(v["state"], "QUEUE")
            self.assertEqual(v["image"], [])
        # any item's id finds the same thread
        self.assertEqual([v["id"] for v in self.get_post(key, ids[2])["value"]], ids)
        # the list shows the root only
        posts = self.list_posts(key, when - dt.timedelta(hours=1), when + dt.timedelta(hours=1))
        self.assertEqual([x["id"] for x in posts], [pid])
        self.assertEqual(posts[0]["content"], "first")

    def test_images_kept(self):
        key, (ch,) = self.new_org()
        img = {"id": "m1", "path": "https://cdn.example.com/a.png", "alt": "alt text"}
        pid = self.create_ok(key, create_body("schedule", [entry(ch, item("", image=[img]))]))[0]["postId"]
        p = self.get_post(key, pid)
        self.assertEqual(p["value"][0]["image"], [img])

    def test_multiple_channels(self):
        key, chans = self.new_org(channels=3)
        when = future(days=13)
        body = create_body("schedule", [entry(c, "to %d" % i) for i, c in enumerate(chans)],
                           date=when)
        res = self.create_ok(key, body)
        self.assertEqual([r["integration"] for r in res], chans)
        ids = [r["postId"] for r in res]
        self.assertEqual(len(set(ids)), 3)
        groups = set()
        for i, pid in enumerate(ids):
            p = self.get_post(key, pid)
            self.assertEqual(p["integration"]["id"], chans[i])
            self.assertEqual(p["content"], "to %d" % i)
            groups.add(p["group"])
        self.assertEqual(len(groups), 3, "one group per posts[] entry")
        posts = self.list_posts(key, when, when)
        self.assertEqual(sorted(p["id"] for p in posts), sorted(ids))

    def test_tags_by_label(self):
        key, (ch,) = self.new_org()
        when = future(days=14)
        tags = [{"value": "news", "label": "news"}, {"value": "promo", "label": "promo"}]
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "tagged", "comment")],
                                              date=when, tags=tags))[0]["postId"]
        posts = self.list_posts(key, when, when)
        self.assertEqual(len(posts), 1)
        got = posts[0]["tags"]
        self.assertEqual(sorted(t["tag"]["name"] for t in got), ["news", "promo"])
        for t in got:
            self.assertEqual(set(t["tag"]), {"id", "name", "color", "orgId", "deletedAt",
                                             "createdAt", "updatedAt"})
            self.assertIsNone(t["tag"]["deletedAt"])
        # the same label twice reuses the tag
        pid2 = self.create_ok(key, create_body("schedule", [entry(ch, "tagged again")],
                                               date=when, tags=tags[:1]))[0]["postId"]
        posts = {p["id"]: p for p in self.list_posts(key, when, when)}
        self.assertEqual(posts[pid2]["tags"][0]["tag"]["id"],
                         [t for t in got if t["tag"]["name"] == "news"][0]["tag"]["id"])
        self.assertEqual(len(posts[pid]["tags"]), 2)

    def test_creation_method(self):
        key, (ch,) = self.new_org()
        when = future(days=16)
        a = self.create_ok(key, create_body("schedule", [entry(ch, "cli")], date=when,
                                            creationMethod="CLI"))[0]["postId"]
        b = self.create_ok(key, create_body("schedule", [entry(ch, "other")], date=when,
                                            creationMethod="WEB"))[0]["postId"]
        posts = {p["id"]: p for p in self.list_posts(key, when, when)}
        self.assertEqual(posts[a]["creationMethod"], "CLI")
        self.assertEqual(posts[b]["creationMethod"], "API")

    def test_settings_type_overwritten(self):
        key, (ch,) = self.new_org()
        e = entry(ch, "s", settings={"__type": "x", "custom": "v"})
        pid = self.create_ok(key, create_body("schedule", [e]))[0]["postId"]
        self.assertEqual(json.loads(self.get_post(key, pid)["settings"]),
                         {"__type": "webhook", "custom": "v"})

    def max_length(self, key, ch):
        st, h, b = self.srv.request("GET", "/public/v1/integration-settings/" + ch, key=key)
        self.assertEqual(st, 200, b)
        return b["output"]["maxLength"]

    def test_max_length_counted_in_utf16_units(self):
        key, (ch,) = self.new_org()
        n = self.max_length(key, ch)
        self.assertEqual(n % 2, 0)
        # an astral emoji is 2 UTF-16 units, as Postiz (JavaScript) counts
        self.create_ok(key, create_body("schedule", [entry(ch, "\U0001F600" * (n // 2))]))
        self.create_ok(key, create_body("schedule", [entry(ch, "<p>" + "\u00e9" * n + "</p>")]))
        for content in ("\U0001F600" * (n // 2) + "x", "a" * (n + 1)):
            st, h, b = self.create(key, create_body("schedule", [entry(ch, "ok", content)]))
            err = self.assertEnvelope(st, h, b, 400, "preflight_failed", field="posts[0].value[1].content")
            self.assertIn(str(n), err["message"])
        # drafts are not length-checked (Postiz validates non-drafts only)
        self.create_ok(key, create_body("draft", [entry(ch, "a" * (n + 1))]))

    def test_preflight_error_names_rule(self):
        key, (ch,) = self.new_org()
        n = self.max_length(key, ch)
        st, h, b = self.create(key, create_body("schedule", [entry(ch, "a" * (n + 1))]))
        err = self.assertEnvelope(st, h, b, 400, "preflight_failed")
        self.assertRegex(err.get("rule", ""), r"^webhook\.[a-z_]+\.[a-z_]+$")

    def test_unicode_round_trip(self):
        key, (ch,) = self.new_org()
        text = "h\u00e9llo \U0001F469\u200d\U0001F469\u200d\U0001F467 \u0645\u0631\u062d\u0628\u0627 " \
               "<b>x</b> &amp; \u200b\U0001F600 \"q\" \\ \n\ttab"
        pid = self.create_ok(key, create_body("schedule", [entry(ch, text, text + "2")]))[0]["postId"]
        p = self.get_post(key, pid)
        self.assertEqual([v["content"] for v in p["value"]], [text, text + "2"])

    def test_api_prefix_create_and_get(self):
        key, (ch,) = self.new_org()
        res = self.create_ok(key, create_body("schedule", [entry(ch, "via /api")]),
                             prefix="/api/public/v1")
        st, h, b = self.srv.request("GET", "/api/public/v1/posts/" + res[0]["postId"], key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["content"], "via /api")

    def test_concurrent_creates(self):
        # Parallel writers on both event loops: every create lands, no 5xx.
        orgs = [self.new_org() for _ in range(4)]
        when = future(days=17)
        results = []
        lock = threading.Lock()

        def worker(key, ch, n):
            for i in range(n):
                st, h, b = self.create(key, create_body("schedule", [entry(ch, "c%d" % i, "r")],
                                                        date=when))
                with lock:
                    results.append((st, b))

        threads = [threading.Thread(target=worker, args=(k, c[0], 15)) for k, c in orgs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([s for s, _ in results], [201] * 60, [b for s, b in results if s != 201][:3])
        for key, _ in orgs:
            self.assertEqual(len(self.list_posts(key, when, when)), 15)


class ListPostsTest(HeraldTestCase):

    def test_range_and_shape(self):
        key, (ch,) = self.new_org()
        when = future(days=40, hour=8, minute=5)
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "in range", "reply")],
                                              date=when))[0]["postId"]
        other = self.create_ok(key, create_body("draft", [entry(ch, "later")],
                                                date=when + dt.timedelta(days=3)))[0]["postId"]
        for prefix in ("/public/v1", "/api/public/v1"):
            posts = self.list_posts(key, when - dt.timedelta(days=1), when + dt.timedelta(days=1),
                                    prefix=prefix)
            self.assertEqual(len(posts), 1, posts)
            p = posts[0]
            for field in ("id", "content", "publishDate", "releaseURL", "releaseId", "state",
                          "intervalInDays", "group", "creationMethod", "settings", "tags",
                          "integration"):
                self.assertIn(field, p)
            self.assertEqual(p["id"], pid)
            self.assertEqual(p["content"], "in range")
            self.assertEqual(p["publishDate"], iso_z(when))
            self.assertEqual(p["state"], "QUEUE")
            self.assertIsNone(p["releaseURL"])
            self.assertIsNone(p["releaseId"])
            self.assertIsNone(p["intervalInDays"])
            self.assertIsInstance(p["settings"], str)
            self.assertEqual(json.loads(p["settings"])["__type"], "webhook")
            self.assertEqual(p["tags"], [])
            self.assertEqual(p["integration"]["id"], ch)
            self.assertEqual(p["integration"]["providerIdentifier"], "webhook")
            self.assertEqual(set(p["integration"]), {"id", "providerIdentifier", "name", "picture"})
            self.assertNotIn("actualDate", p)
        # both ends inclusive, states not filtered
        both = self.list_posts(key, when, when + dt.timedelta(days=3))
        self.assertEqual([(p["id"], p["state"]) for p in both], [(pid, "QUEUE"), (other, "DRAFT")])
        # out of range on either side
        self.assertEqual(self.list_posts(key, when + dt.timedelta(seconds=1),
                                         when + dt.timedelta(days=2)), [])
        self.assertEqual(self.list_posts(key, when - dt.timedelta(days=5),
                                         when - dt.timedelta(seconds=1)), [])

    def test_customer_filter(self):
        key, (ch,) = self.new_org()
        when = future(days=41)
        self.create_ok(key, create_body("schedule", [entry(ch, "x")], date=when))
        self.assertEqual(len(self.list_posts(key, when, when)), 1)
        self.assertEqual(self.list_posts(key, when, when, customer="01nosuchcustomer0000000000"), [])
        self.assertEqual(len(self.list_posts(key, when, when, customer="")), 1)

    def test_repeating_post_expanded(self):
        key, (ch,) = self.new_org()
        when = future(days=50, hour=7, minute=0)
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "weekly")], date=when,
                                              inter=7))[0]["postId"]
        posts = self.list_posts(key, when - dt.timedelta(days=1), when + dt.timedelta(days=15))
        self.assertEqual([p["id"] for p in posts], [pid] * 3)
        self.assertEqual([p["publishDate"] for p in posts],
                         [iso_z(when + dt.timedelta(days=7 * i)) for i in range(3)])
        self.assertEqual([p["intervalInDays"] for p in posts], [7, 7, 7])
        self.assertNotIn("actualDate", posts[0])
        self.assertEqual(posts[1]["actualDate"], iso_z(when))
        self.assertEqual(self.list_posts(key, when - dt.timedelta(days=9),
                                         when - dt.timedelta(days=1)), [])

    def test_bad_range(self):
        key, _ = self.new_org()
        cases = [
            ("", "startDate"),
            ("startDate=2030-01-01T00:00:00Z", "endDate"),
            ("endDate=2030-01-01T00:00:00Z", "startDate"),
            ("startDate=yesterday&endDate=2030-01-01T00:00:00Z", "startDate"),
            ("startDate=2030-01-01T00:00:00Z&endDate=2030-02-30T00:00:00Z", "endDate"),
            ("startDate=2030-02-01T00:00:00Z&endDate=2030-01-01T00:00:00Z", "endDate"),
            ("startDate=%zz&endDate=2030-01-01", "startDate"),
        ]
        for q, field in cases:
            with self.subTest(q=q):
                st, h, b = self.srv.request("GET", "/public/v1/posts?" + q, key=key)
                self.assertEnvelope(st, h, b, 400, "validation_failed", field=field)


class GetEditPostTest(HeraldTestCase):

    def test_get_unknown(self):
        key, _ = self.new_org()
        for pid in ("01nosuchpost00000000000000", "x", "a-b_c", "%27%3B%20DROP%20TABLE%20posts%3B--",
                    "%25", "a" * 5000, "..", "%2e%2e"):
            st, h, b = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
            self.assertEnvelope(st, h, b, 404, "not_found")
            self.assertEqual(b["msg"], "Post not found")

    def test_edit_thread_via_group_and_ids(self):
        key, (ch,) = self.new_org()
        when = future(days=20)
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "a", "b", "c")],
                                              date=when))[0]["postId"]
        p = self.get_post(key, pid)
        g1 = p["group"]
        a, b, c = [v["id"] for v in p["value"]]
        later = when + dt.timedelta(days=1, hours=2)
        e = entry(ch, item("a2", id=a), item("b2", id=b, delay=3), item("new d"), group=g1)
        res = self.create_ok(key, create_body("schedule", [e], date=later))
        self.assertEqual(res, [{"postId": pid, "integration": ch}], "same root id after edit")
        p = self.get_post(key, pid)
        self.assertNotEqual(p["group"], g1, "editing rotates the group")
        self.assertTrue(UUID_RE.match(p["group"]))
        self.assertEqual([v["content"] for v in p["value"]], ["a2", "b2", "new d"])
        self.assertEqual([v["id"] for v in p["value"]][:2], [a, b])
        self.assertNotIn(p["value"][2]["id"], (a, b, c))
        self.assertEqual([v["delay"] for v in p["value"]], [0, 3, 0])
        self.assertEqual(p["publishDate"], iso_z(later))
        self.assertEqual(p["state"], "QUEUE")
        # the item not re-sent is gone everywhere
        self.get_post(key, c, want=404)
        posts = self.list_posts(key, when - dt.timedelta(days=2), when + dt.timedelta(days=3))
        self.assertEqual([(x["id"], x["content"], x["group"]) for x in posts],
                         [(pid, "a2", p["group"])])
        # the old group no longer exists
        st, h, body = self.srv.request("DELETE", "/public/v1/posts/group/" + g1, key=key)
        self.assertEnvelope(st, h, body, 404, "not_found")
        self.assertEqual(self.get_post(key, pid)["content"], "a2")

    def test_edit_draft_to_schedule_via_create(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("draft", [entry(ch, "d")]))[0]["postId"]
        g = self.get_post(key, pid)["group"]
        self.create_ok(key, create_body("schedule", [entry(ch, item("d!", id=pid), group=g)]))
        p = self.get_post(key, pid)
        self.assertEqual((p["state"], p["content"]), ("QUEUE", "d!"))

    def test_update_keeps_state(self):
        key, (ch,) = self.new_org()
        when = future(days=21)
        for type_, state in (("draft", "DRAFT"), ("schedule", "QUEUE")):
            with self.subTest(type=type_):
                pid = self.create_ok(key, create_body(type_, [entry(ch, "v1", "v1 reply")],
                                                      date=when))[0]["postId"]
                p = self.get_post(key, pid)
                ids = [v["id"] for v in p["value"]]
                new_date = when + dt.timedelta(hours=5)
                e = entry(ch, item("v2", id=ids[0]), item("v2 reply", id=ids[1]), group=p["group"])
                res = self.create_ok(key, create_body("update", [e], date=new_date))
                self.assertEqual(res[0]["postId"], pid)
                p = self.get_post(key, pid)
                self.assertEqual(p["state"], state)
                self.assertEqual([v["state"] for v in p["value"]], [state, state])
                self.assertEqual([v["content"] for v in p["value"]], ["v2", "v2 reply"])
                self.assertEqual(p["publishDate"], iso_z(new_date))

    def test_update_adding_item_to_draft_keeps_draft(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("draft", [entry(ch, "root")]))[0]["postId"]
        p = self.get_post(key, pid)
        e = entry(ch, item("root", id=pid), item("added comment"), group=p["group"])
        self.create_ok(key, create_body("update", [e]))
        p = self.get_post(key, pid)
        self.assertEqual([v["content"] for v in p["value"]], ["root", "added comment"])
        self.assertEqual([v["state"] for v in p["value"]], ["DRAFT", "DRAFT"])

    def test_duplicate_item_id_in_thread_rejected(self):
        key, (ch,) = self.new_org()
        when = future(days=22)
        body = create_body("schedule", [entry(ch, item("one", id="dupthread1"),
                                              item("two", id="dupthread1"))], date=when)
        st, h, b = self.create(key, body)
        # if it was accepted, the post must at least be a proper root in the list
        if st == 201:
            posts = self.list_posts(key, when, when)
            self.assertEqual([p["id"] for p in posts], ["dupthread1"], "post vanished from the list")
        self.assertEnvelope(st, h, b, 400, "validation_failed", field="posts[0].value[1].id")

    def test_same_item_id_in_two_entries_rejected(self):
        key, (c1, c2) = self.new_org(channels=2)
        when = future(days=23)
        body = create_body("schedule", [entry(c1, item("for c1", id="dupentry1")),
                                        entry(c2, item("for c2", id="dupentry1"))], date=when)
        st, h, b = self.create(key, body)
        self.assertEnvelope(st, h, b, 400, "validation_failed", field="posts[1].value[0].id")
        self.assertEqual(self.list_posts(key, when, when), [])

    def test_edit_replaces_tags(self):
        key, (ch,) = self.new_org()
        when = future(days=26)
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "t")], date=when,
                                              tags=[{"value": "news", "label": "news"}]))[0]["postId"]
        g = self.get_post(key, pid)["group"]
        self.create_ok(key, create_body("schedule", [entry(ch, item("t", id=pid), group=g)], date=when,
                                        tags=[{"value": "promo", "label": "promo"},
                                              {"value": "promo", "label": "promo"}]))
        posts = self.list_posts(key, when, when)
        self.assertEqual([[t["tag"]["name"] for t in p["tags"]] for p in posts], [["promo"]])
        self.assertEqual([t["tag"]["name"] for t in self.get_post(key, pid)["tags"]], ["promo"])

    def test_release_id_and_missing(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "r")]))[0]["postId"]
        st, h, b = self.srv.request("GET", "/public/v1/posts/%s/missing" % pid, key=key)
        self.assertEqual((st, b), (200, []))
        st, h, b = self.srv.request("GET", "/public/v1/posts/nosuch/missing", key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")
        # only a post whose release id is "missing" can be connected; never a 500
        st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/release-id" % pid,
                                    body={"releaseId": "r1"}, key=key)
        self.assertEnvelope(st, h, b, 409, "invalid_state", field="releaseId")
        self.assertIsNone(self.get_post(key, pid)["releaseId"])
        st, h, b = self.srv.request("PUT", "/public/v1/posts/nosuch/release-id",
                                    body={"releaseId": "r1"}, key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")

    def test_status_draft_schedule_roundtrip(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("draft", [entry(ch, "s", "s2")]))[0]["postId"]
        for prefix in ("/public/v1", "/api/public/v1"):
            st, h, b = self.srv.request("PUT", prefix + "/posts/%s/status" % pid,
                                        body={"status": "schedule"}, key=key)
            self.assertEqual(st, 200, b)
            self.assertEqual(b, {"id": pid, "state": "QUEUE"})
            p = self.get_post(key, pid)
            self.assertEqual([v["state"] for v in p["value"]], ["QUEUE", "QUEUE"])
            st, h, b = self.srv.request("PUT", prefix + "/posts/%s/status" % pid,
                                        body={"status": "draft"}, key=key)
            self.assertEqual(st, 200, b)
            self.assertEqual(b, {"id": pid, "state": "DRAFT"})
            self.assertEqual(self.get_post(key, pid)["state"], "DRAFT")
        # idempotent
        st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/status" % pid,
                                    body={"status": "draft"}, key=key)
        self.assertEqual((st, b), (200, {"id": pid, "state": "DRAFT"}))

    def test_status_errors(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("draft", [entry(ch, "s")]))[0]["postId"]
        for body, field in (({"status": "published"}, "status"), ({"status": 1}, "status"),
                            ({}, "status"), ({"state": "draft"}, "status")):
            st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/status" % pid, body=body, key=key)
            self.assertEnvelope(st, h, b, 400, "validation_failed", field=field)
        st, h, b = self.srv.request("PUT", "/public/v1/posts/nosuchpost/status",
                                    body={"status": "draft"}, key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")
        self.assertEqual(self.get_post(key, pid)["state"], "DRAFT")

    def test_status_schedule_refused_when_date_passed(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("draft", [entry(ch, "old")],
                                              date=future(days=-2)))[0]["postId"]
        st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/status" % pid,
                                    body={"status": "schedule"}, key=key)
        err = self.assertEnvelope(st, h, b, 400, "validation_failed", field="status")
        self.assertIn("passed", err["message"])
        self.assertEqual(self.get_post(key, pid)["state"], "DRAFT")

    def test_settings_merge(self):
        key, (ch,) = self.new_org()
        when = future(days=24, hour=16, minute=20, second=5)
        pid = self.create_ok(key, create_body(
            "schedule", [entry(ch, "x", "y", settings={"keep": 1, "a": 0})], date=when))[0]["postId"]
        group = self.get_post(key, pid)["group"]
        for settings in ({"a": 1}, {"b": 2, "a": 3}):
            st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/settings" % pid,
                                        body={"settings": settings}, key=key)
            self.assertEqual(st, 200, b)
            self.assertEqual(set(b), {"postId", "publishDate"})
            self.assertEqual(b["postId"], pid)
            self.assertTrue(PUBLISH_DATE_RE.match(b["publishDate"]), b)
            self.assertEqual(b["publishDate"], when.strftime("%Y-%m-%dT%H:%M:%S"))
        p = self.get_post(key, pid)
        self.assertEqual(json.loads(p["settings"]), {"__type": "webhook", "keep": 1, "a": 3, "b": 2})
        self.assertEqual(p["group"], group, "settings changes keep the group")
        self.assertEqual(p["state"], "QUEUE")
        self.assertEqual(p["publishDate"], iso_z(when))

    def test_settings_errors(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("draft", [entry(ch, "x", "y")]))[0]["postId"]
        comment = self.get_post(key, pid)["value"][1]["id"]
        for body in ({}, {"settings": "a=1"}, {"settings": [1]}, {"settings": None}):
            st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/settings" % pid, body=body, key=key)
            self.assertEnvelope(st, h, b, 400, "validation_failed", field="settings")
        st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/settings" % comment,
                                    body={"settings": {"a": 1}}, key=key)
        self.assertEnvelope(st, h, b, 400, "validation_failed")
        self.assertIn("comment", b["message"])
        st, h, b = self.srv.request("PUT", "/public/v1/posts/nosuch/settings",
                                    body={"settings": {"a": 1}}, key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")
        self.assertEqual(json.loads(self.get_post(key, pid)["settings"]), {"__type": "webhook"})


class DeletePostTest(HeraldTestCase):

    def test_delete_post(self):
        key, (ch,) = self.new_org()
        when = future(days=30)
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "del", "del 2", "del 3")],
                                              date=when))[0]["postId"]
        p = self.get_post(key, pid)
        ids = [v["id"] for v in p["value"]]
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/" + pid, key=key)
        self.assertEqual(st, 200, b)
        self.assertIs(b["deleted"], True, b)
        self.assertIs(b["error"], False, b)
        self.assertEqual(b["group"], p["group"])
        self.assertEqual(b["count"], 3)
        for i in ids:
            self.get_post(key, i, want=404)
        self.assertEqual(self.list_posts(key, when - dt.timedelta(days=1),
                                         when + dt.timedelta(days=1)), [])
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/" + pid, key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")
        # a deleted post cannot be rescheduled through status
        st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/status" % pid,
                                    body={"status": "schedule"}, key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")

    def test_delete_by_comment_id_deletes_thread(self):
        key, (ch,) = self.new_org()
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "r", "c")]))[0]["postId"]
        comment = self.get_post(key, pid)["value"][1]["id"]
        st, h, b = self.srv.request("DELETE", "/api/public/v1/posts/" + comment, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["count"], 2)
        self.get_post(key, pid, want=404)

    def test_delete_unknown(self):
        key, _ = self.new_org()
        for pid in ("01nosuchpost00000000000000", "x", "%20", "group"):
            with self.subTest(pid=pid):
                st, h, b = self.srv.request("DELETE", "/public/v1/posts/" + pid, key=key)
                self.assertEnvelope(st, h, b, 404, "not_found")
                self.assertEqual(b["msg"], "Post not found")

    def test_delete_group(self):
        key, (c1, c2) = self.new_org(channels=2)
        when = future(days=31)
        res = self.create_ok(key, create_body("schedule", [entry(c1, "g1", "g1b"), entry(c2, "g2")],
                                              date=when))
        p1, p2 = (self.get_post(key, r["postId"]) for r in res)
        self.assertNotEqual(p1["group"], p2["group"])
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/group/" + p1["group"], key=key)
        self.assertEqual(st, 200, b)
        self.assertIs(b["deleted"], True)
        self.assertEqual(b["count"], 2)
        self.get_post(key, p1["id"], want=404)
        self.assertEqual(self.get_post(key, p2["id"])["content"], "g2")
        self.assertEqual([p["id"] for p in self.list_posts(key, when, when)], [p2["id"]])
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/group/" + p1["group"], key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/group/no-such-group", key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")


class FindSlotTest(HeraldTestCase):

    def find_slot(self, key, ch):
        before = utcnow()
        st, h, b = self.srv.request("GET", "/public/v1/find-slot/" + ch, key=key)
        after = utcnow()
        self.assertEqual(st, 200, b)
        self.assertEqual(set(b), {"date"})
        self.assertTrue(SLOT_RE.match(b["date"]), b)
        return b["date"], before, after

    def test_future_default_slot(self):
        key, (ch,) = self.new_org()
        got, before, after = self.find_slot(key, ch)
        self.assertIn(got, {next_slot(before), next_slot(after)})
        slot = dt.datetime.strptime(got, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
        self.assertGreater(slot, before)
        st, h, b = self.srv.request("GET", "/api/public/v1/find-slot/" + ch, key=key)
        self.assertEqual((st, b), (200, {"date": got}))

    def test_skips_taken_slot(self):
        key, (ch,) = self.new_org()
        first, before, _ = self.find_slot(key, ch)
        pid = self.create_ok(key, create_body("schedule", [entry(ch, "in the slot")],
                                              date=first))[0]["postId"]
        second, b2, a2 = self.find_slot(key, ch)
        self.assertNotEqual(second, first)
        self.assertGreater(second, first)
        self.assertIn(second, {next_slot(b2, taken=[first]), next_slot(a2, taken=[first])})
        # a third post: the next slot again
        self.create_ok(key, create_body("schedule", [entry(ch, "second slot")], date=second))
        third, b3, a3 = self.find_slot(key, ch)
        self.assertIn(third, {next_slot(b3, taken=[first, second]),
                              next_slot(a3, taken=[first, second])})
        # deleting the first frees its slot
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/" + pid, key=key)
        self.assertEqual(st, 200, b)
        again, _, _ = self.find_slot(key, ch)
        self.assertEqual(again, first)

    def test_unknown_channel(self):
        key, _ = self.new_org()
        st, h, b = self.srv.request("GET", "/public/v1/find-slot/01nosuchchannel00000000000", key=key)
        self.assertEnvelope(st, h, b, 404, "not_found")
        self.assertEqual(b["msg"], "Integration not found")


if __name__ == "__main__":
    unittest.main()
