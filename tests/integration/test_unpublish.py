"""Deleting published posts from their platform: the API contract and durability.

    HERALD_BIN=build/asan/herald python3 tests/integration/run.py test_unpublish

The exact outbound request of every provider's delete is asserted by the
data-file cases (tests/providers/<platform>/delete_*.json).  This file
covers what is common: who may ask, in which states, what the answers
are, that Postiz's DELETE without ?platform=true never touches the
platform, and that a delete cut short by kill -9 is finished after a
restart (never lost, never stuck).  The platform is a Mastodon fake
(fake_platform.FakePlatform) whose every request is checked.
"""

import datetime as _dt
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from engine_util import Node  # noqa: E402
from fake_platform import FakePlatform  # noqa: E402
from harness import Herald  # noqa: E402

MEDIA = os.path.join(HERE, "..", "providers", "media")
# the harness drops HERALD_* from the environment: pass PostgreSQL on
# explicitly (tests/pg.sh run sh -c 'HERALD_DATABASE_URL=$HERALD_TEST_PG_URL ...')
STORE_ENV = ({"HERALD_DATABASE_URL": os.environ["HERALD_DATABASE_URL"]}
             if os.environ.get("HERALD_DATABASE_URL") else {})
TOKEN = "tok-unpublish-123456"
AUTH = {"authorization": "Bearer " + TOKEN}


def iso_now():
    d = _dt.datetime.now(_dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def status_reply(sid):
    return {"json": {"id": sid, "url": "https://masto.example/@a/%s" % sid, "content": "<p>x</p>"}}


def publish_ex(sid):
    return {"expect": {"method": "POST", "path": "/api/v1/statuses", "headers": AUTH},
            "reply": status_reply(sid)}


def delete_ex(sid, reply=None):
    return {"expect": {"method": "DELETE", "path": "/api/v1/statuses/%s" % sid, "headers": AUTH},
            "reply": reply or status_reply(sid)}


def post_body(channel, text, type_="now"):
    return {"type": type_, "date": iso_now() if type_ == "now" else "2099-01-01T10:00:00.000Z",
            "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": channel}, "value": [{"content": text, "image": []}],
                       "settings": {}}]}


class UnpublishApiTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.fake = FakePlatform(MEDIA).start()
        self.srv = Herald(env=dict(STORE_ENV, HERALD_RETRY_BASE_MS="100"))

    def tearDown(self):
        try:
            self.srv.stop()
        finally:
            self.fake.stop()

    def connect(self, key, provider="mastodon", creds=None):
        st, _, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": provider, "name": "%s unpublish" % provider, "verify": False,
            "credentials": creds or {"instance": self.fake.url, "access_token": TOKEN}})
        self.assertEqual(st, 201, b)
        return b["id"]

    def publish(self, key, channel, sid):
        self.fake.load([publish_ex(sid)])
        st, _, b = self.srv.request("POST", "/public/v1/posts", key=key, body=post_body(channel, "hi " + sid))
        self.assertEqual(st, 201, b)
        pid = b[0]["postId"]
        self.wait(key, pid, ("published",))
        self.assertEqual(self.fake.problems(), [])
        return pid

    def wait(self, key, pid, states, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            st, _, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
            if st == 404 and None in states:
                return None
            self.assertEqual(st, 200, p)
            if p["status"] in states:
                return p
            if time.monotonic() > deadline:
                self.fail("post %s stayed %s (wanted %s): %s" % (pid, p["status"], states, p))
            time.sleep(0.05)

    def envelope(self, st, body, want, code):
        self.assertEqual(st, want, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertTrue(body["error"]["message"], body)

    def test_native_unpublish_keeps_the_record_and_is_idempotent(self):
        key = self.srv.key("unpub_native")
        ch = self.connect(key)
        pid = self.publish(key, ch, "5001")
        self.fake.load([delete_ex("5001", {"delay_ms": 400, **status_reply("5001")})])
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
        self.assertEqual(st, 202, b)
        self.assertEqual(b["status"], "deleting")
        self.assertEqual(b["id"], pid)
        # asking again while it runs is the same request, not a second delete
        st, _, b2 = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
        self.assertEqual(st, 202, b2)
        # and a plain delete cannot pull the record from under the job
        st, _, b3 = self.srv.request("DELETE", "/public/v1/posts/" + pid, key=key)
        self.envelope(st, b3, 409, "invalid_state")
        p = self.wait(key, pid, ("deleted",))
        self.assertEqual(self.fake.problems(), [])
        self.assertEqual([a["outcome"] for a in p["attempts"]], ["ok", "deleted"])
        self.assertEqual(p["attempts"][1]["kind"], "unpublish")
        self.assertEqual(p["state"], "ERROR")  # Postiz has no "deleted"
        # deleted: nothing more to delete
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
        self.envelope(st, b, 409, "invalid_state")
        self.assertIn("nothing of this post is on the platform", b["error"]["message"])
        time.sleep(0.3)
        self.assertEqual(self.fake.problems(), [], "a second delete went out")

    def test_errors_unknown_other_org_unpublished_unsupported(self):
        key = self.srv.key("unpub_err_a")
        other = self.srv.key("unpub_err_b")
        ch = self.connect(key)
        pid = self.publish(key, ch, "5002")
        st, _, b = self.srv.request("POST", "/v1/posts/01jdnotapost0000000000000/unpublish", key=key)
        self.envelope(st, b, 404, "not_found")
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=other)
        self.envelope(st, b, 404, "not_found")
        st, _, b = self.srv.request("DELETE", "/public/v1/posts/%s?platform=true" % pid, key=other)
        self.assertEqual(st, 404, b)
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid)
        self.assertEqual(st, 401, b)
        # a scheduled post is not on the platform: native refuses, Postiz cancels
        self.fake.load([])
        st, _, b = self.srv.request("POST", "/public/v1/posts", key=key,
                                    body=post_body(ch, "later", type_="schedule"))
        self.assertEqual(st, 201, b)
        later = b[0]["postId"]
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % later, key=key)
        self.envelope(st, b, 409, "invalid_state")
        st, _, b = self.srv.request("DELETE", "/public/v1/posts/%s?platform=true" % later, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(b.get("deleted"), True, b)
        st, _, b = self.srv.request("GET", "/public/v1/posts/" + later, key=key)
        self.assertEqual(st, 404, b)
        # a provider that cannot delete (a generic webhook) says so
        hook = self.connect(key, "webhook", {"url": self.fake.url + "/hook", "secret": "whsec_" + "QUJD" * 8})
        self.fake.load([{"expect": {"method": "POST", "path": "/hook"}, "reply": {"json": {"id": "h1"}}}])
        st, _, b = self.srv.request("POST", "/public/v1/posts", key=key, body=post_body(hook, "hooked"))
        self.assertEqual(st, 201, b)
        hp = b[0]["postId"]
        self.wait(key, hp, ("published",))
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % hp, key=key)
        self.envelope(st, b, 409, "invalid_state")
        self.assertIn("cannot delete posts from", b["error"]["message"])
        time.sleep(0.3)
        self.assertEqual(self.fake.problems(), [])

    def test_postiz_delete_without_platform_never_touches_it(self):
        key = self.srv.key("unpub_postiz")
        ch = self.connect(key)
        pid = self.publish(key, ch, "5003")
        self.fake.load([])
        st, _, b = self.srv.request("DELETE", "/public/v1/posts/" + pid, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual(b.get("deleted"), True, b)
        time.sleep(0.5)
        self.assertEqual(self.fake.problems(), [], "Postiz's DELETE reached the platform")

    def test_postiz_delete_with_platform_removes_after_the_platform(self):
        key = self.srv.key("unpub_postiz2")
        ch = self.connect(key)
        pid = self.publish(key, ch, "5004")
        self.fake.load([delete_ex("5004")])
        st, _, b = self.srv.request("DELETE", "/public/v1/posts/%s?platform=true" % pid, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual((b["deleting"], b["deleted"], b["error"]), (True, False, False), b)
        self.wait(key, pid, (None,))
        self.assertEqual(self.fake.problems(), [])


    def test_postiz_delete_group_with_platform(self):
        key = self.srv.key("unpub_group")
        ch = self.connect(key)
        pid = self.publish(key, ch, "5005")
        st, _, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
        group = p["group"]
        self.fake.load([delete_ex("5005")])
        st, _, b = self.srv.request("DELETE", "/public/v1/posts/group/%s?platform=true" % group, key=key)
        self.assertEqual(st, 200, b)
        self.assertEqual((b["deleting"], b["group"]), (True, group), b)
        self.wait(key, pid, (None,))
        self.assertEqual(self.fake.problems(), [])
        st, _, b = self.srv.request("DELETE", "/public/v1/posts/group/%s?platform=true" % group, key=key)
        self.assertEqual(st, 404, b)


    @unittest.skipIf(STORE_ENV, "edits the SQLite file directly")
    def test_telegram_album_published_before_ids_were_kept(self):
        """A Telegram album published by an older herald has only its first
        message id (release_data NULL): the delete falls back to that id and
        the ones after it; an album published now keeps every id Telegram
        returned (tests/providers/telegram/delete_album_gaps.json)."""
        tok = "123456789:AAHtestTokenForHeraldCases_abcdefgh"
        self.srv.stop()  # this one needs Telegram pointed at the fake
        self.srv = srv = Herald(env=dict(HERALD_TELEGRAM_BASE_URL=self.fake.url,
                                         HERALD_FETCH_ALLOW_CIDRS="127.0.0.0/8",  # the fake's media
                                         HERALD_RETRY_BASE_MS="100"))
        key = srv.key("unpub_tg_old")
        st, _, b = srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "telegram", "name": "tg old album", "verify": False,
            "credentials": {"token": tok, "chat_id": "-1001234567890"}})
        self.assertEqual(st, 201, b)
        ch = b["id"]
        msgs = [{"message_id": i, "chat": {"id": -1001234567890, "type": "channel"}, "date": 1}
                for i in (30, 33)]
        self.fake.load([{"expect": {"method": "POST", "path": "/bot%s/sendMediaGroup" % tok},
                         "reply": {"json": {"ok": True, "result": msgs}}}])
        body = post_body(ch, "album")
        body["posts"][0]["value"][0]["image"] = [
            {"id": "m1", "path": self.fake.url + "/media/cat.png"},
            {"id": "m2", "path": self.fake.url + "/media/dog.jpg"}]
        st, _, b = srv.request("POST", "/public/v1/posts", key=key, body=body)
        self.assertEqual(st, 201, b)
        pid = b[0]["postId"]
        self.wait(key, pid, ("published",))
        self.assertEqual(self.fake.problems(), [])
        import sqlite3
        db = sqlite3.connect(os.path.join(srv.data_dir, "herald.db"), timeout=10)
        try:
            self.assertEqual(db.execute("SELECT release_data FROM posts WHERE id = ?", (pid,)).fetchone(),
                             ('{"message_ids":[30,33]}',))
            db.execute("UPDATE posts SET release_data = NULL WHERE id = ?", (pid,))
            db.commit()
        finally:
            db.close()
        self.fake.load([{"expect": {"method": "POST", "path": "/bot%s/deleteMessages" % tok,
                                    "json": {"chat_id": "-1001234567890", "message_ids": [30, 31]}},
                         "reply": {"json": {"ok": True, "result": True}}}])
        st, _, b = srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
        self.assertEqual(st, 202, b)
        self.wait(key, pid, ("deleted",))
        self.assertEqual(self.fake.problems(), [])


class UnpublishCrashTest(unittest.TestCase):
    def test_kill9_mid_delete_finishes_after_restart(self):
        fake = FakePlatform(MEDIA).start()
        # PostgreSQL: the dead lease must expire (5 s); SQLite frees it at start
        node = Node(env=dict(STORE_ENV, HERALD_RETRY_BASE_MS="100", HERALD_LEASE_SECONDS="5"))
        try:
            node.start()
            key = node.key("unpub_crash")
            st, _, b = node.request("POST", "/v1/accounts", {
                "provider": "mastodon", "name": "crash", "verify": False,
                "credentials": {"instance": fake.url, "access_token": TOKEN}}, key=key)
            self.assertEqual(st, 201, b)
            ch = b["id"]
            fake.load([publish_ex("6001")])
            st, _, b = node.request("POST", "/public/v1/posts", post_body(ch, "crash me"), key=key)
            self.assertEqual(st, 201, b)
            pid = b[0]["postId"]
            node.wait_post(key, pid, lambda p: p["status"] == "published")
            # the first delete hangs; herald dies while it is out
            fake.load([delete_ex("6001", {"delay_ms": 3000, **status_reply("6001")}),
                       delete_ex("6001", {"status": 404, "json": {"error": "Record not found"}})])
            st, _, b = node.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
            self.assertEqual(st, 202, b)
            deadline = time.monotonic() + 5
            while fake.used() < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(fake.used(), 1, "the delete never went out")
            node.proc.kill9()
            node.start()
            p = node.wait_post(key, pid, lambda p: p["status"] != "deleting", timeout=15)
            self.assertEqual(p["status"], "deleted", p)
            self.assertEqual([a["outcome"] for a in p["attempts"]], ["ok", "interrupted", "deleted"])
            self.assertEqual(fake.problems(), [])
        finally:
            try:
                node.close()
            finally:
                fake.stop()


if __name__ == "__main__":
    unittest.main()
