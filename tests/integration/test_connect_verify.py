"""Connecting a channel proves its credentials with the platform (issue #4).

    HERALD_BIN=build/asan/herald python3 tests/integration/run.py test_connect_verify

POST /v1/accounts asks the platform's own "who am I" before storing
anything, against fake_platform.FakePlatform, which checks every outbound
request exactly (method, path, query, auth header, body) and answers with
the platform's wire shapes (fake_platform.verify_exchanges and friends):

- good credentials: 201 with the platform's profile (platformProfile; its
  handle fills `profile`, its display name an empty `name`);
- refused credentials: 400 credentials_rejected naming the credential
  (field), the platform and its answer (platformResponse, secrets
  removed); nothing stored (GET /v1/accounts does not list it);
- the platform down (503), throttling (429) or unreachable (nothing
  listening): 502 platform_unavailable / 429 platform_rate_limited, retryable,
  nothing stored;
- "verify": false: stored without any request;
- GET /v1/accounts/{id}/health: ok with the profile, or the refusal of a
  since-revoked token as data (the account stays as it is);
- `herald channels add` verifies the same way (--no-verify skips it);
- the first Bluesky publish reuses the session the verify opened.

Also against the real local Bluesky PDS (when tests/bluesky_pds_setup.sh
installed it): the right app password is 201 with the PDS's handle, a
wrong one is refused.
"""

import datetime as _dt
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fake_platform as fp  # noqa: E402
from fake_platform import FakePlatform, verify_exchanges  # noqa: E402
from harness import Herald  # noqa: E402

MEDIA = os.path.join(HERE, "..", "providers", "media")
SLACK_TOKEN = "xoxb-1111111111-2222222222222-VerifyTokenAbcdefghijk"
BOT_TOKEN = "MTEyMjMzNDQ1NTY2Nzc4ODk5.GhIjKl.verifyabcdefghijklmnopqrstuvwxyz0123"
TG_TOKEN = "123456789:AAHverifyTokenForHeraldTests_abcdefg"
MASTO_TOKEN = "tok-verify-0123456789abcdef"
BSKY_PASSWORD = "abcd-efgh-ijkl-mnop"
HOOK_URL_TAIL = "/webhooks/112233445566778899/VerifyWebhookToken_abc-1234567890"


def iso_now():
    d = _dt.datetime.now(_dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


class ConnectVerifyTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.fake = FakePlatform(MEDIA).start()
        u = cls.fake.url
        cls.env = {"HERALD_SLACK_BASE_URL": u + "/api",
                   "HERALD_DISCORD_BASE_URL": u + "/api/v10",
                   "HERALD_TELEGRAM_BASE_URL": u,
                   "HERALD_RETRY_BASE_MS": "100"}
        cls.srv = Herald(env=cls.env)
        cls.org_n = 0

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.fake.stop()

    def setUp(self):
        type(self).org_n += 1
        self.key = self.srv.key("verify%d" % self.org_n)

    # ---- helpers ----

    def creds(self, provider, **over):
        u = self.fake.url
        base = {
            "mastodon": {"instance": u, "access_token": MASTO_TOKEN},
            "bluesky": {"service": u, "identifier": "alice.test", "password": BSKY_PASSWORD},
            "telegram": {"token": TG_TOKEN, "chat_id": "-1001234567890"},
            "discord": {"token": BOT_TOKEN, "channel": "223344556677889900"},
            "discord-webhook": {"webhook_url": "https://discord.com/api" + HOOK_URL_TAIL},
            "slack": {"token": SLACK_TOKEN, "channel": "C0123456789"},
        }[provider]
        base.update(over)
        return base

    def connect(self, provider, creds, exchanges, name=None, verify=None):
        """POST /v1/accounts with the fake scripted; asserts every scripted
        request came exactly as expected and nothing else did."""
        self.fake.load(exchanges)
        body = {"provider": provider, "credentials": creds}
        if name is not None:
            body["name"] = name
        if verify is not None:
            body["verify"] = verify
        st, h, b = self.srv.request("POST", "/v1/accounts", key=self.key, body=body)
        self.assertEqual(self.fake.problems(), [], "requests:\n" + self.fake.transcript())
        return st, h, b

    def listed(self):
        st, _, b = self.srv.request("GET", "/v1/accounts", key=self.key)
        self.assertEqual(st, 200, b)
        return b["data"]

    def refused(self, st, h, b, field, platform, response):
        self.assertEqual(st, 400, b)
        err = b["error"]
        self.assertEqual(err["code"], "credentials_rejected", b)
        self.assertEqual(err["field"], field, b)
        self.assertEqual(err["platform"], platform, b)
        self.assertEqual(err["platformResponse"], response, b)
        self.assertIs(err["retryable"], False, b)
        self.assertEqual(err["requestId"], h.get("x-request-id"), b)
        self.assertNotIn("statusCode", b)  # native route: the plain envelope
        self.assertEqual(self.listed(), [], "nothing may be stored")
        return err

    def unavailable(self, st, b, code="platform_unavailable", status=502):
        self.assertEqual(st, status, b)
        self.assertEqual(b["error"]["code"], code, b)
        self.assertIs(b["error"]["retryable"], True, b)
        self.assertEqual(self.listed(), [], "nothing may be stored")
        return b["error"]

    # ---- Mastodon ----

    def test_mastodon_good_token(self):
        c = self.creds("mastodon")
        st, _, b = self.connect("mastodon", c, verify_exchanges("mastodon", c))
        self.assertEqual(st, 201, b)
        host = self.fake.url.split("://")[1]
        self.assertEqual(b["profile"], "@alice@" + host)
        self.assertEqual(b["name"], "Alice Example")  # none given: the platform's
        self.assertIs(b["verified"], True)
        self.assertEqual(b["platformProfile"]["id"], "109348")
        self.assertEqual(b["platformProfile"]["acct"], "alice")
        self.assertEqual([a["id"] for a in self.listed()], [b["id"]])

    def test_mastodon_given_name_wins(self):
        c = self.creds("mastodon")
        st, _, b = self.connect("mastodon", c, verify_exchanges("mastodon", c), name="Brand")
        self.assertEqual(st, 201, b)
        self.assertEqual(b["name"], "Brand")

    def test_mastodon_wrong_token(self):
        # Mastodon's own 401 body; it echoes nothing secret, but a body that
        # did must come back without the token
        st, h, b = self.connect("mastodon", self.creds("mastodon"), [
            {"expect": {"method": "GET", "path": "/api/v1/accounts/verify_credentials",
                        "headers": {"authorization": "Bearer " + MASTO_TOKEN}},
             "reply": {"status": 401, "json": {"error": "The access token is invalid"}}}])
        err = self.refused(st, h, b, "credentials.access_token", "mastodon",
                           {"error": "The access token is invalid"})
        self.assertIn("The access token is invalid", err["message"])

    def test_secrets_are_removed_from_the_platform_response(self):
        st, h, b = self.connect("mastodon", self.creds("mastodon"), [
            {"expect": {"path": "/api/v1/accounts/verify_credentials"},
             "reply": {"status": 401, "json": {"error": "token %s revoked" % MASTO_TOKEN,
                                               "access_token": "other-secret-value"}}}])
        self.refused(st, h, b, "credentials.access_token", "mastodon",
                     {"error": "token [redacted] revoked", "access_token": "[redacted]"})
        self.assertNotIn(MASTO_TOKEN, json.dumps(b))

    def test_mastodon_not_an_instance(self):
        st, h, b = self.connect("mastodon", self.creds("mastodon"), [
            {"expect": {"path": "/api/v1/accounts/verify_credentials"},
             "reply": {"status": 404, "body": "Not Found"}}])
        self.refused(st, h, b, "credentials.instance", "mastodon", "Not Found")

    def test_mastodon_down_is_unavailable(self):
        st, _, b = self.connect("mastodon", self.creds("mastodon"), [
            {"expect": {"path": "/api/v1/accounts/verify_credentials"},
             "reply": {"status": 503, "body": "<html>maintenance</html>"}}])
        err = self.unavailable(st, b)
        self.assertEqual(err["platform"], "mastodon")
        self.assertEqual(err["platformResponse"], "<html>maintenance</html>")

    def test_mastodon_throttling_is_rate_limited(self):
        st, _, b = self.connect("mastodon", self.creds("mastodon"), [
            {"expect": {"path": "/api/v1/accounts/verify_credentials"},
             "reply": {"status": 429, "json": {"error": "Too many requests"}}}])
        self.unavailable(st, b, "platform_rate_limited", 429)

    def test_unreachable_is_unavailable(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        st, _, b = self.connect("mastodon", self.creds("mastodon", instance="http://127.0.0.1:%d" % port), [])
        err = self.unavailable(st, b)
        self.assertIn("could not be reached", err["message"])
        self.assertNotIn("platformResponse", err)

    def test_verify_false_sends_nothing(self):
        for provider in ("mastodon", "bluesky", "telegram", "discord", "discord-webhook", "slack"):
            with self.subTest(provider=provider):
                st, _, b = self.connect(provider.split("-")[0], self.creds(provider), [],
                                        name="offline " + provider, verify=False)
                self.assertEqual(st, 201, b)
                self.assertIs(b["verified"], False)
                self.assertNotIn("platformProfile", b)
        self.assertEqual(len(self.listed()), 6)

    def test_verify_must_be_a_boolean(self):
        st, h, b = self.connect("mastodon", self.creds("mastodon"), [], verify="no")
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["code"], "validation_failed")
        self.assertEqual(b["error"]["field"], "verify")

    def test_shape_errors_come_before_any_request(self):
        st, _, b = self.connect("mastodon", {"instance": self.fake.url}, [])
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["code"], "validation_failed")

    # ---- Bluesky ----

    def test_bluesky_good_password_and_the_first_publish_reuses_the_session(self):
        c = self.creds("bluesky", identifier="@Alice.test")
        st, _, b = self.connect("bluesky", c, verify_exchanges("bluesky", c))
        self.assertEqual(st, 201, b)
        self.assertEqual(b["profile"], "@alice.test")
        self.assertEqual(b["name"], "@alice.test")
        self.assertEqual(b["platformProfile"]["did"], "did:plc:abcdefghijklmnopqrstuvwx")
        self.assertNotIn("accessJwt", b["platformProfile"])
        access = fp.bsky_session("alice.test")["accessJwt"]
        # publishing now: createRecord straight away with the stored session
        self.fake.load([
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.createRecord",
                        "headers": {"authorization": "Bearer " + access},
                        "json_subset": {"repo": "did:plc:abcdefghijklmnopqrstuvwx",
                                        "collection": "app.bsky.feed.post"}},
             "reply": {"json": {"uri": "at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3k",
                                "cid": "bafyreib"}}}])
        st, _, created = self.srv.request("POST", "/public/v1/posts", key=self.key, body={
            "type": "now", "date": iso_now(), "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": b["id"]}, "value": [{"content": "<p>hello</p>",
                                                                   "image": []}],
                       "settings": {}}]})
        self.assertEqual(st, 201, created)
        deadline = time.monotonic() + 15
        while self.fake.used() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        self.assertEqual(self.fake.problems(), [], "requests:\n" + self.fake.transcript())

    def test_bluesky_wrong_password(self):
        c = self.creds("bluesky")
        answer = {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
        st, h, b = self.connect("bluesky", c, [
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession",
                        "json": {"identifier": "alice.test", "password": BSKY_PASSWORD}},
             "reply": {"status": 401, "json": answer}}])
        err = self.refused(st, h, b, "credentials.password", "bluesky", answer)
        self.assertIn("Invalid identifier or password", err["message"])

    def test_bluesky_pds_down(self):
        st, _, b = self.connect("bluesky", self.creds("bluesky"), [
            {"expect": {"path": "/xrpc/com.atproto.server.createSession"},
             "reply": {"status": 503, "json": {"error": "InternalServerError"}}}])
        self.unavailable(st, b)

    # ---- Telegram ----

    def test_telegram_good(self):
        c = self.creds("telegram")
        st, _, b = self.connect("telegram", c, verify_exchanges("telegram", c))
        self.assertEqual(st, 201, b)
        self.assertEqual(b["profile"], "@herald_news")
        self.assertEqual(b["name"], "Herald News")
        self.assertEqual(b["platformProfile"]["bot"]["username"], "herald_test_bot")
        self.assertEqual(b["platformProfile"]["chat"]["id"], -1001234567890)

    def test_telegram_wrong_token(self):
        answer = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        st, h, b = self.connect("telegram", self.creds("telegram"), [
            {"expect": {"method": "POST", "path": "/bot%s/getMe" % TG_TOKEN},
             "reply": {"status": 401, "json": answer}}])
        err = self.refused(st, h, b, "credentials.token", "telegram", answer)
        self.assertIn("Unauthorized", err["message"])
        self.assertNotIn(TG_TOKEN, json.dumps(b))

    def test_telegram_chat_not_found(self):
        answer = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        ex = verify_exchanges("telegram", self.creds("telegram"))[:2]
        ex[1]["reply"] = {"status": 400, "json": answer}
        st, h, b = self.connect("telegram", self.creds("telegram"), ex)
        err = self.refused(st, h, b, "credentials.chat_id", "telegram", answer)
        self.assertIn("chat not found", err["message"])

    def test_telegram_bot_not_in_the_chat(self):
        ex = verify_exchanges("telegram", self.creds("telegram"))
        left = fp.tg_ok(fp.tg_member("left"))
        ex[2]["reply"] = {"json": left}
        st, h, b = self.connect("telegram", self.creds("telegram"), ex)
        err = self.refused(st, h, b, "credentials.chat_id", "telegram", left)
        self.assertIn("-1001234567890", err["message"])
        self.assertIn("@herald_test_bot", err["message"])

    def test_telegram_channel_member_but_not_admin(self):
        ex = verify_exchanges("telegram", self.creds("telegram"))
        ex[2]["reply"] = {"json": fp.tg_ok(fp.tg_member("member"))}
        st, h, b = self.connect("telegram", self.creds("telegram"), ex)
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["field"], "credentials.chat_id")
        self.assertIn("administrator", b["error"]["message"])

    def test_telegram_private_chat_has_no_member_check(self):
        c = self.creds("telegram", chat_id="4242424242")
        ex = verify_exchanges("telegram", c)[:2]
        ex[1]["reply"] = {"json": fp.tg_ok({"id": 4242424242, "type": "private",
                                            "first_name": "Dana", "username": "dana"})}
        st, _, b = self.connect("telegram", c, ex)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["profile"], "@dana")
        self.assertEqual(b["name"], "Dana")

    def test_telegram_down(self):
        st, _, b = self.connect("telegram", self.creds("telegram"), [
            {"expect": {"path": "/bot%s/getMe" % TG_TOKEN},
             "reply": {"status": 502, "body": "Bad Gateway"}}])
        self.unavailable(st, b)

    # ---- Discord ----

    def test_discord_webhook_good(self):
        c = self.creds("discord-webhook")
        st, _, b = self.connect("discord", c, verify_exchanges("discord", c))
        self.assertEqual(st, 201, b)
        self.assertEqual(b["profile"], "webhook Herald hook")
        self.assertEqual(b["platformProfile"]["channel_id"], "223344556677889900")
        self.assertNotIn("token", b["platformProfile"])
        self.assertNotIn("VerifyWebhookToken", json.dumps(b))

    def test_discord_webhook_deleted(self):
        answer = {"message": "Unknown Webhook", "code": 10015}
        st, h, b = self.connect("discord", self.creds("discord-webhook"), [
            {"expect": {"method": "GET", "path": "/api/v10" + HOOK_URL_TAIL,
                        "headers": {"authorization": None}},
             "reply": {"status": 404, "json": answer}}])
        err = self.refused(st, h, b, "credentials.webhook_url", "discord", answer)
        self.assertIn("Unknown Webhook", err["message"])
        self.assertNotIn("VerifyWebhookToken", err["message"])

    def test_discord_bot_good(self):
        c = self.creds("discord")
        st, _, b = self.connect("discord", c, verify_exchanges("discord", c))
        self.assertEqual(st, 201, b)
        self.assertEqual(b["profile"], "#general")
        self.assertEqual(b["platformProfile"]["guild_id"], "998877665544332211")

    def test_discord_bot_wrong_token(self):
        answer = {"message": "401: Unauthorized", "code": 0}
        st, h, b = self.connect("discord", self.creds("discord"), [
            {"expect": {"method": "GET", "path": "/api/v10/channels/223344556677889900",
                        "headers": {"authorization": "Bot " + BOT_TOKEN}},
             "reply": {"status": 401, "json": answer}}])
        self.refused(st, h, b, "credentials.token", "discord", answer)

    def test_discord_bot_unknown_channel(self):
        answer = {"message": "Unknown Channel", "code": 10003}
        st, h, b = self.connect("discord", self.creds("discord"), [
            {"expect": {"path": "/api/v10/channels/223344556677889900"},
             "reply": {"status": 404, "json": answer}}])
        err = self.refused(st, h, b, "credentials.channel", "discord", answer)
        self.assertIn("223344556677889900", err["message"])

    # ---- Slack ----

    def test_slack_good(self):
        c = self.creds("slack")
        st, _, b = self.connect("slack", c, verify_exchanges("slack", c))
        self.assertEqual(st, 201, b)
        self.assertEqual(b["profile"], "Acme #general")
        self.assertEqual(b["name"], "#general")
        self.assertEqual(b["platformProfile"]["team_id"], "T0123ABCD")
        self.assertEqual(b["platformProfile"]["channel"]["isMember"], True)

    def test_slack_refusals_at_http_200(self):
        for error, field, step in (("invalid_auth", "credentials.token", 0),
                                   ("not_authed", "credentials.token", 0),
                                   ("account_inactive", "credentials.token", 0),
                                   ("channel_not_found", "credentials.channel", 1)):
            with self.subTest(error=error):
                answer = {"ok": False, "error": error}
                ex = verify_exchanges("slack", self.creds("slack"))[:step + 1]
                ex[step]["reply"] = {"json": answer}
                st, h, b = self.connect("slack", self.creds("slack"), ex)
                err = self.refused(st, h, b, field, "slack", answer)
                self.assertIn(error, err["message"])

    def test_slack_down(self):
        st, _, b = self.connect("slack", self.creds("slack"), [
            {"expect": {"path": "/api/auth.test"},
             "reply": {"status": 503, "body": "upstream connect error"}}])
        self.unavailable(st, b)

    # ---- providers with nothing to ask ----

    def test_webhook_rss_nostr_send_nothing(self):
        for provider, c in (("webhook", {"url": "http://127.0.0.1:9/x"}),
                            ("rss", {"title": "Feed"})):
            with self.subTest(provider=provider):
                st, _, b = self.connect(provider, c, [], name=provider)
                self.assertEqual(st, 201, b)
                self.assertIs(b["verified"], False)

    # ---- health ----

    def test_health_good_then_revoked(self):
        c = self.creds("mastodon")
        st, _, b = self.connect("mastodon", c, verify_exchanges("mastodon", c))
        self.assertEqual(st, 201, b)
        acc = b["id"]
        self.fake.load(verify_exchanges("mastodon", c))
        st, _, hb = self.srv.request("GET", "/v1/accounts/%s/health" % acc, key=self.key)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        self.assertEqual(st, 200, hb)
        self.assertIs(hb["ok"], True, hb)
        self.assertIs(hb["verified"], True, hb)
        self.assertRegex(hb["checkedAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertEqual(hb["profile"]["acct"], "alice")
        self.assertNotIn("error", hb)
        # the token is revoked on the instance
        answer = {"error": "The access token was revoked"}
        self.fake.load([{"expect": {"method": "GET", "path": "/api/v1/accounts/verify_credentials",
                                    "headers": {"authorization": "Bearer " + MASTO_TOKEN}},
                         "reply": {"status": 401, "json": answer}}])
        st, _, hb = self.srv.request("GET", "/v1/accounts/%s/health" % acc, key=self.key)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        self.assertEqual(st, 200, hb)
        self.assertIs(hb["ok"], False, hb)
        self.assertNotIn("profile", hb)
        self.assertEqual(hb["error"]["code"], "credentials_rejected", hb)
        self.assertEqual(hb["error"]["field"], "credentials.access_token", hb)
        self.assertEqual(hb["error"]["platform"], "mastodon", hb)
        self.assertEqual(hb["error"]["platformResponse"], answer, hb)
        self.assertIn("revoked", hb["error"]["message"])
        # reported, nothing destroyed: the account is still there, enabled
        st, _, one = self.srv.request("GET", "/v1/accounts/" + acc, key=self.key)
        self.assertEqual(st, 200, one)
        self.assertIs(one["disabled"], False)

    def test_health_keeps_the_session_it_opened(self):
        """Bluesky's health logs in (createSession); the session is stored
        for the channel, and the next publish uses it without a login."""
        c = self.creds("bluesky")
        st, _, b = self.connect("bluesky", c, [], verify=False)
        self.assertEqual(st, 201, b)
        session = fp.bsky_session("alice.test", did="did:plc:healthhealthhealthhealth")
        self.fake.load([{"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession",
                                    "json": {"identifier": "alice.test", "password": BSKY_PASSWORD}},
                         "reply": {"json": session}}])
        st, _, hb = self.srv.request("GET", "/v1/accounts/%s/health" % b["id"], key=self.key)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        self.assertEqual((st, hb["ok"]), (200, True), hb)
        self.assertEqual(hb["profile"]["did"], "did:plc:healthhealthhealthhealth")
        self.assertNotIn("accessJwt", json.dumps(hb))
        self.fake.load([
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.createRecord",
                        "headers": {"authorization": "Bearer " + session["accessJwt"]},
                        "json_subset": {"repo": "did:plc:healthhealthhealthhealth"}},
             "reply": {"json": {"uri": "at://did:plc:healthhealthhealthhealth/app.bsky.feed.post/3k",
                                "cid": "bafyreib"}}}])
        st, _, created = self.srv.request("POST", "/public/v1/posts", key=self.key, body={
            "type": "now", "date": iso_now(), "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": b["id"]}, "value": [{"content": "<p>hi</p>",
                                                                   "image": []}],
                       "settings": {}}]})
        self.assertEqual(st, 201, created)
        deadline = time.monotonic() + 15
        while self.fake.used() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        self.assertEqual(self.fake.problems(), [], "requests:\n" + self.fake.transcript())

    def test_idempotent_replay_does_not_ask_again(self):
        c = self.creds("mastodon")
        self.fake.load(verify_exchanges("mastodon", c))
        body = {"provider": "mastodon", "credentials": c}
        hd = {"Idempotency-Key": "connect-once"}
        st, h1, b1 = self.srv.request("POST", "/v1/accounts", key=self.key, body=body, headers=hd)
        self.assertEqual(st, 201, b1)
        st, h2, b2 = self.srv.request("POST", "/v1/accounts", key=self.key, body=body, headers=hd)
        self.assertEqual(st, 201, b2)
        self.assertEqual(b2, b1)
        self.assertEqual(h2.get("idempotency-replayed"), "true")
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())  # one verify only
        self.assertEqual(len(self.listed()), 1)

    def test_health_platform_down(self):
        c = self.creds("slack")
        st, _, b = self.connect("slack", c, [], verify=False)
        self.assertEqual(st, 201, b)
        self.fake.load([{"expect": {"path": "/api/auth.test"},
                         "reply": {"status": 503, "body": "down"}}])
        st, _, hb = self.srv.request("GET", "/v1/accounts/%s/health" % b["id"], key=self.key)
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        self.assertEqual(st, 200, hb)
        self.assertIs(hb["ok"], False)
        self.assertEqual(hb["error"]["code"], "platform_unavailable")
        self.assertIs(hb["error"]["retryable"], True)

    def test_health_of_a_webhook_and_unknown_ids(self):
        st, _, b = self.connect("webhook", {"url": "http://127.0.0.1:9/h"}, [], name="h")
        self.fake.load([])
        st, _, hb = self.srv.request("GET", "/v1/accounts/%s/health" % b["id"], key=self.key)
        self.assertEqual(self.fake.problems(), [])
        self.assertEqual(st, 200, hb)
        self.assertEqual((hb["ok"], hb["verified"]), (True, False), hb)
        self.assertEqual(hb["profile"]["profile"], b["profile"])
        st, _, hb = self.srv.request("GET", "/v1/accounts/nope/health", key=self.key)
        self.assertEqual(st, 404, hb)
        self.assertEqual(hb["error"]["code"], "not_found")
        other = self.srv.key("verify_other")
        st, _, hb = self.srv.request("GET", "/v1/accounts/%s/health" % b["id"], key=other)
        self.assertEqual(st, 404, hb)

    # ---- CLI ----

    def test_cli_add_verifies(self):
        org = "verify_cli"
        c = self.creds("mastodon")
        self.fake.load(verify_exchanges("mastodon", c))
        rc, out, err = self.srv.cli("channels", "add", "--org", org, "--provider", "mastodon",
                                    "--credentials", json.dumps(c))
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        self.assertEqual(rc, 0, err)
        cid = out.strip()
        rc, out, err = self.srv.cli("channels", "list", "--org", org)
        self.assertIn(cid, out)
        self.assertIn("Alice Example", out)
        # refused: exit 1, the platform's words, nothing stored
        self.fake.load([{"expect": {"path": "/api/v1/accounts/verify_credentials"},
                         "reply": {"status": 401, "json": {"error": "The access token is invalid"}}}])
        rc, out, err = self.srv.cli("channels", "add", "--org", org, "--provider", "mastodon",
                                    "--name", "bad", "--credentials", json.dumps(c))
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        self.assertEqual((rc, out), (3, ""), err)  # 3: validation failed
        self.assertIn("credentials_rejected", err)
        self.assertIn("credentials.access_token", err)
        self.assertIn("The access token is invalid", err)
        self.assertNotIn(MASTO_TOKEN, err)
        # the platform down: 6 (network failure), nothing stored
        self.fake.load([{"expect": {"path": "/api/v1/accounts/verify_credentials"},
                         "reply": {"status": 503, "body": "down"}}])
        rc, out, err = self.srv.cli("channels", "add", "--org", org, "--provider", "mastodon",
                                    "--name", "bad", "--credentials", json.dumps(c))
        self.assertEqual(self.fake.problems(), [], self.fake.transcript())
        self.assertEqual((rc, out), (6, ""), err)
        self.assertIn("platform_unavailable", err)
        self.assertIn("--no-verify", err)
        # --no-verify: stored without a request
        self.fake.load([])
        rc, out, err = self.srv.cli("channels", "add", "--org", org, "--provider", "mastodon",
                                    "--name", "offline", "--no-verify", "--credentials", json.dumps(c))
        self.assertEqual(self.fake.problems(), [])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.srv.cli("channels", "list", "--org", org)
        self.assertIn("offline", out)
        self.assertNotIn(" bad ", out)
        self.assertEqual(len(out.strip().splitlines()), 3, out)  # header + 2


def _pds_skip():
    try:
        import test_bluesky_pds as pdsmod
    except Exception as e:  # pragma: no cover
        return None, "cannot import test_bluesky_pds: %s" % e
    return pdsmod, pdsmod.skip_reason()


class ConnectVerifyRealPDS(unittest.TestCase):
    """Against the real @atproto/pds on loopback."""

    @classmethod
    def setUpClass(cls):
        cls.mod, cls.skip_why = _pds_skip()
        if cls.skip_why:
            return
        cls.pds = cls.mod.PDS()
        cls.srv = None
        try:
            import secrets
            st, acct = cls.pds.xrpc("com.atproto.server.createAccount", body={
                "handle": "carol.test", "email": "carol@herald.invalid",
                "password": "pw-" + secrets.token_hex(8)})
            assert st == 200, (st, acct)
            st, ap = cls.pds.xrpc("com.atproto.server.createAppPassword", body={"name": "herald"},
                                  token=acct["accessJwt"])
            assert st == 200, (st, ap)
            cls.app_password = ap["password"]
            cls.did = acct["did"]
            cls.srv = Herald()
            cls.key = cls.srv.key("verify_pds")
        except BaseException:
            cls.pds.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.skip_why:
            return
        try:
            if cls.srv:
                cls.srv.stop()
        finally:
            cls.pds.stop()

    def setUp(self):
        if self.skip_why:
            raise unittest.SkipTest(self.skip_why)

    def test_right_app_password_then_wrong_one(self):
        st, _, b = self.srv.request("POST", "/v1/accounts", key=self.key, body={
            "provider": "bluesky",
            "credentials": {"service": self.pds.url, "identifier": "carol.test",
                            "password": self.app_password}})
        self.assertEqual(st, 201, b)
        self.assertEqual(b["profile"], "@carol.test")
        self.assertEqual(b["platformProfile"]["handle"], "carol.test")
        self.assertEqual(b["platformProfile"]["did"], self.did)
        st, h, b = self.srv.request("POST", "/v1/accounts", key=self.key, body={
            "provider": "bluesky", "name": "wrong",
            "credentials": {"service": self.pds.url, "identifier": "carol.test",
                            "password": "aaaa-bbbb-cccc-dddd"}})
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["code"], "credentials_rejected", b)
        self.assertEqual(b["error"]["field"], "credentials.password", b)
        self.assertEqual(b["error"]["platformResponse"].get("error"), "AuthenticationRequired", b)
        self.assertIn("Invalid identifier or password", b["error"]["message"])
        st, _, lst = self.srv.request("GET", "/v1/accounts", key=self.key)
        self.assertEqual([a["profile"] for a in lst["data"]], ["@carol.test"])


if __name__ == "__main__":
    unittest.main()
