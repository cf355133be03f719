"""Provider tools through Postiz's POST /public/v1/integration-trigger/{id}.

    HERALD_BIN=build/asan/herald python3 tests/integration/run.py test_tools

Each tool runs against fake_platform.FakePlatform, which checks the exact
outbound request (method, path, query, headers, body) and answers as the
platform does; the test then checks herald's {"output": ...}.  Also: the
tools listed by integration-settings, unknown methodName (400 envelope),
another organization's channel (404), refused credentials (401
platform_auth_failed), a platform refusal (422 platform_rejected) and an
unreachable platform (502 platform_unavailable).
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_platform import FakePlatform, verify_exchanges  # noqa: E402
from harness import Herald  # noqa: E402

MEDIA = os.path.join(HERE, "..", "providers", "media")
SLACK_TOKEN = "xoxb-1111111111-2222222222222-AbCdEfGhIjKlMnOpQrStUvWx"
BOT_TOKEN = "MTEyMjMzNDQ1NTY2Nzc4ODk5.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
TG_TOKEN = "123456789:AAHtestTokenForHeraldCases_abcdefgh"
MASTO_TOKEN = "tok-tools-abcdef"


class ToolsTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.fake = FakePlatform(MEDIA).start()
        u = cls.fake.url
        cls.srv = Herald(env={"HERALD_SLACK_BASE_URL": u + "/api",
                              "HERALD_DISCORD_BASE_URL": u + "/api/v10",
                              "HERALD_TELEGRAM_BASE_URL": u})
        cls.key = cls.srv.key("tools_a")
        cls.other = cls.srv.key("tools_b")
        cls.slack = cls.connect("slack", {"token": SLACK_TOKEN, "channel": "C0123456789"})
        cls.discord = cls.connect("discord", {"token": BOT_TOKEN, "channel": "223344556677889900",
                                              "guild": "998877665544332211"})
        cls.hook = cls.connect("discord", {"webhook_url": "https://discord.com/api/webhooks/"
                                           "112233445566778899/WebhookTokenAbc_def-1234567890"})
        cls.telegram = cls.connect("telegram", {"token": TG_TOKEN, "chat_id": "-1001234567890"})
        cls.masto = cls.connect("mastodon", {"instance": u, "access_token": MASTO_TOKEN})
        # unverified: the profile test below wants the tool's own first login
        cls.bsky = cls.connect("bluesky", {"service": u, "identifier": "alice.test",
                                           "password": "abcd-efgh-ijkl-mnop"}, verify=False)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.fake.stop()

    @classmethod
    def connect(cls, provider, creds, verify=True):
        """Connect as a user does: the platform (the fake) verifies the
        credentials first, with the exact who-am-I requests."""
        cls.fake.load(verify_exchanges(provider, creds) if verify else [])
        body = {"provider": provider, "name": provider + " tools", "credentials": creds}
        if not verify:
            body["verify"] = False
        st, _, b = cls.srv.request("POST", "/v1/accounts", key=cls.key, body=body)
        assert st == 201, (st, b)
        assert cls.fake.problems() == [], cls.fake.problems()
        assert b["verified"] is verify, b
        return b["id"]

    def trigger(self, channel, method, data=None, key=None, exchanges=()):
        self.fake.load(list(exchanges))
        body = {"methodName": method}
        if data is not None:
            body["data"] = data
        st, _, b = self.srv.request("POST", "/public/v1/integration-trigger/" + channel,
                                    key=key or self.key, body=body)
        self.assertEqual(self.fake.problems(), [], "requests:\n" + self.fake.transcript())
        return st, b

    def envelope(self, st, b, want, code, field=None):
        self.assertEqual(st, want, b)
        self.assertEqual(b["error"]["code"], code, b)
        if field:
            self.assertEqual(b["error"].get("field"), field, b)
        self.assertEqual(b.get("statusCode"), want, b)  # Postiz's own fields too

    # ---- tools ----

    def test_slack_channels_follows_the_cursor(self):
        q = {"types": "public_channel,private_channel", "exclude_archived": "true", "limit": "200"}
        h = {"authorization": "Bearer " + SLACK_TOKEN}
        st, b = self.trigger(self.slack, "channels", exchanges=[
            {"expect": {"method": "GET", "path": "/api/conversations.list", "query": q, "headers": h},
             "reply": {"json": {"ok": True, "channels": [
                 {"id": "C01", "name": "general", "is_private": False, "is_member": True},
                 {"id": "C02", "name": "random", "is_private": False, "is_member": False}],
                 "response_metadata": {"next_cursor": "dGVhbTpDMDI="}}}},
            {"expect": {"method": "GET", "path": "/api/conversations.list",
                        "query": dict(q, cursor="dGVhbTpDMDI="), "headers": h},
             "reply": {"json": {"ok": True, "channels": [
                 {"id": "G03", "name": "secret", "is_private": True, "is_member": True}],
                 "response_metadata": {"next_cursor": ""}}}},
        ])
        self.assertEqual(st, 200, b)
        self.assertEqual(b, {"output": [
            {"id": "C01", "name": "general", "isPrivate": False, "isMember": True},
            {"id": "C02", "name": "random", "isPrivate": False, "isMember": False},
            {"id": "G03", "name": "secret", "isPrivate": True, "isMember": True}]})

    def test_slack_missing_scope_is_a_platform_refusal(self):
        st, b = self.trigger(self.slack, "channels", exchanges=[
            {"expect": {"method": "GET", "path": "/api/conversations.list"},
             "reply": {"json": {"ok": False, "error": "missing_scope", "needed": "channels:read"}}}])
        self.envelope(st, b, 422, "platform_rejected")
        self.assertIn("channels:read", b["error"]["message"])

    def test_discord_channels_of_the_guild(self):
        st, b = self.trigger(self.discord, "channels", exchanges=[
            {"expect": {"method": "GET", "path": "/api/v10/guilds/998877665544332211/channels",
                        "headers": {"authorization": "Bot " + BOT_TOKEN}},
             "reply": {"json": [
                 {"id": "1", "name": "Text Channels", "type": 4},
                 {"id": "223344556677889900", "name": "general", "type": 0},
                 {"id": "223344556677889901", "name": "voice", "type": 2},
                 {"id": "223344556677889902", "name": "news", "type": 5}]}}])
        self.assertEqual(st, 200, b)
        self.assertEqual(b["output"], [
            {"id": "223344556677889900", "name": "general", "type": 0},
            {"id": "223344556677889902", "name": "news", "type": 5}])
        # another guild through data
        st, b = self.trigger(self.discord, "channels", data={"guild": "112233445566778800"}, exchanges=[
            {"expect": {"method": "GET", "path": "/api/v10/guilds/112233445566778800/channels"},
             "reply": {"json": []}}])
        self.assertEqual((st, b), (200, {"output": []}))

    def test_discord_webhook_channel_cannot_list(self):
        st, b = self.trigger(self.hook, "channels")
        self.envelope(st, b, 422, "platform_rejected")
        self.assertIn("bot token", b["error"]["message"])

    def test_discord_bad_token_is_an_auth_failure(self):
        st, b = self.trigger(self.discord, "channels", exchanges=[
            {"expect": {"method": "GET", "path": "/api/v10/guilds/998877665544332211/channels"},
             "reply": {"status": 401, "json": {"message": "401: Unauthorized", "code": 0}}}])
        self.envelope(st, b, 401, "platform_auth_failed")

    def test_telegram_get_chat(self):
        chat = {"id": -1001234567890, "type": "channel", "title": "Herald", "username": "heraldnews"}
        st, b = self.trigger(self.telegram, "getChat", exchanges=[
            {"expect": {"method": "POST", "path": "/bot%s/getChat" % TG_TOKEN,
                        "headers": {"content-type": "application/json"},
                        "json": {"chat_id": "-1001234567890"}},
             "reply": {"json": {"ok": True, "result": chat}}}])
        self.assertEqual((st, b), (200, {"output": chat}))

    def test_telegram_busy_is_unavailable(self):
        st, b = self.trigger(self.telegram, "getChat", exchanges=[
            {"expect": {"method": "POST", "path": "/bot%s/getChat" % TG_TOKEN},
             "reply": {"status": 502, "body": "Bad Gateway"}}])
        self.envelope(st, b, 502, "platform_unavailable")

    def test_mastodon_profile_and_lists(self):
        h = {"authorization": "Bearer " + MASTO_TOKEN}
        st, b = self.trigger(self.masto, "profile", exchanges=[
            {"expect": {"method": "GET", "path": "/api/v1/accounts/verify_credentials", "headers": h},
             "reply": {"json": {"id": "109", "username": "alice", "acct": "alice",
                                "display_name": "Alice", "url": "https://masto.example/@alice",
                                "followers_count": 3, "source": {"privacy": "public"},
                                "role": {"name": "Owner"}}}}])
        self.assertEqual(st, 200, b)
        self.assertEqual(b["output"], {"id": "109", "username": "alice", "acct": "alice",
                                       "display_name": "Alice", "url": "https://masto.example/@alice",
                                       "followers_count": 3})
        st, b = self.trigger(self.masto, "lists", exchanges=[
            {"expect": {"method": "GET", "path": "/api/v1/lists", "headers": h},
             "reply": {"json": [{"id": "12", "title": "friends", "replies_policy": "list"},
                                {"id": "13", "title": "work"}]}}])
        self.assertEqual((st, b), (200, {"output": [{"id": "12", "title": "friends"},
                                                    {"id": "13", "title": "work"}]}))

    def test_mastodon_revoked_token(self):
        st, b = self.trigger(self.masto, "profile", exchanges=[
            {"expect": {"method": "GET", "path": "/api/v1/accounts/verify_credentials"},
             "reply": {"status": 401, "json": {"error": "The access token was revoked"}}}])
        self.envelope(st, b, 401, "platform_auth_failed")
        self.assertIn("The access token was revoked", b["error"]["message"])

    def test_bluesky_profile_logs_in_once_and_refreshes(self):
        did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
        prof = {"did": did, "handle": "alice.test", "displayName": "Alice", "followersCount": 7,
                "followsCount": 2, "postsCount": 40, "labels": [], "indexedAt": "2026-01-01T00:00:00Z"}
        want = {"did": did, "handle": "alice.test", "displayName": "Alice", "followersCount": 7,
                "followsCount": 2, "postsCount": 40}
        get = lambda tok, reply: {"expect": {
            "method": "GET", "path": "/xrpc/app.bsky.actor.getProfile", "query": {"actor": did},
            "headers": {"authorization": "Bearer " + tok}}, "reply": reply}
        st, b = self.trigger(self.bsky, "profile", exchanges=[
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession",
                        "json": {"identifier": "alice.test", "password": "abcd-efgh-ijkl-mnop"}},
             "reply": {"json": {"accessJwt": "acc-1", "refreshJwt": "ref-1", "did": did,
                                "handle": "alice.test"}}},
            get("acc-1", {"json": prof})])
        self.assertEqual((st, b), (200, {"output": want}))
        # the session was kept: no second login; an expired token is refreshed
        st, b = self.trigger(self.bsky, "profile", exchanges=[
            get("acc-1", {"status": 400, "json": {"error": "ExpiredToken", "message": "expired"}}),
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.refreshSession",
                        "headers": {"authorization": "Bearer ref-1"}},
             "reply": {"json": {"accessJwt": "acc-2", "refreshJwt": "ref-2", "did": did,
                                "handle": "alice.test"}}},
            get("acc-2", {"json": prof})])
        self.assertEqual((st, b), (200, {"output": want}))

    # ---- the contract ----

    def test_unknown_method_is_400_naming_the_tools(self):
        st, b = self.trigger(self.masto, "subreddits")
        self.envelope(st, b, 400, "validation_failed", "methodName")
        self.assertIn("profile, lists", b["error"]["message"])
        st, b = self.trigger(self.masto, "")
        self.assertEqual(st, 400, b)
        st, _, b = self.srv.request("POST", "/public/v1/integration-trigger/" + self.masto,
                                    key=self.key, body={"data": {}})
        self.envelope(st, b, 400, "validation_failed", "methodName")
        st, _, b = self.srv.request("POST", "/public/v1/integration-trigger/" + self.masto,
                                    key=self.key, body={"methodName": "profile", "data": [1]})
        self.envelope(st, b, 400, "validation_failed", "data")

    def test_other_orgs_channel_is_404(self):
        st, b = self.trigger(self.masto, "profile", key=self.other)
        self.envelope(st, b, 404, "not_found")
        st, b = self.trigger("01jdnotachannel00000000000", "profile")
        self.envelope(st, b, 404, "not_found")

    def test_integration_settings_lists_the_tools(self):
        st, _, b = self.srv.request("GET", "/public/v1/integration-settings/" + self.discord, key=self.key)
        self.assertEqual(st, 200, b)
        tools = b["output"]["tools"]
        self.assertEqual([t["methodName"] for t in tools], ["channels"])
        self.assertEqual(tools[0]["dataSchema"][0]["key"], "guild")
        st, _, b = self.srv.request("GET", "/public/v1/integration-settings/" + self.masto, key=self.key)
        self.assertEqual([t["methodName"] for t in b["output"]["tools"]], ["profile", "lists"])


class ToolsUnreachableTest(unittest.TestCase):
    def test_unreachable_platform_is_502(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        srv = Herald()
        try:
            key = srv.key("tools_down")
            st, _, b = srv.request("POST", "/v1/accounts", key=key, body={
                "provider": "mastodon", "name": "down", "verify": False,
                "credentials": {"instance": "http://127.0.0.1:%d" % port, "access_token": "tok-x"}})
            self.assertEqual(st, 201, b)
            st, _, b = srv.request("POST", "/public/v1/integration-trigger/" + b["id"], key=key,
                                   body={"methodName": "lists"})
            self.assertEqual(st, 502, b)
            self.assertEqual(b["error"]["code"], "platform_unavailable", b)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
