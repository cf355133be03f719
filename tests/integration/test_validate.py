"""POST /v1/posts/validate: every violation of every target at once."""
from harness import HeraldTestCase


class ValidateTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.srv.key("validate")
        cls.other = cls.srv.key("validate-other")

    def validate(self, body, key=None):
        return self.srv.request("POST", "/v1/posts/validate", key=key or self.key, body=body)

    def test_all_violations_of_all_targets(self):
        st, h, d = self.validate({"text": "é" * 301, "targets": [
            {"platform": "bluesky"}, {"platform": "x"}, {"platform": "instagram"},
            {"platform": "mastodon", "text": "short"}]})
        self.assertEqual(st, 200, d)
        self.assertFalse(d["valid"])
        got = sorted((v["target"], v["rule"], v["actual"], v["limit"]) for v in d["violations"])
        self.assertEqual(got, [(0, "bluesky.text.max_graphemes", 301, 300),
                               (1, "x.text.max_weighted_length", 301, 280),
                               (2, "instagram.media.required", 0, 1)])
        self.assertEqual([t["valid"] for t in d["targets"]], [False, False, False, True])
        for v in d["violations"]:
            self.assertTrue(v["message"] and v["remediation"], v)

    def test_graphemes_not_code_points(self):
        # a family emoji is 1 grapheme, 7 code points, 25 UTF-8 bytes
        fam = "\U0001F469\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"
        st, _, d = self.validate({"text": fam * 100, "targets": [{"platform": "bluesky"}]})
        self.assertEqual(st, 200, d)
        self.assertTrue(d["valid"], d)  # 700 code points, but 100 graphemes and 2500 bytes
        # Bluesky also caps the record at 3000 bytes
        st, _, d = self.validate({"text": fam * 121, "targets": [{"platform": "bluesky"}]})
        self.assertEqual([(v["rule"], v["actual"]) for v in d["violations"]],
                         [("bluesky.text.max_bytes", 3025)])
        st, _, d = self.validate({"text": "a" * 301, "targets": [{"platform": "bluesky"}]})
        self.assertEqual([(v["rule"], v["actual"]) for v in d["violations"]],
                         [("bluesky.text.max_graphemes", 301)])

    def test_thread_items_are_named(self):
        st, _, d = self.validate({"text": "ok", "thread": ["fine", "b" * 501],
                                  "targets": [{"platform": "threads"}]})
        self.assertEqual(st, 200, d)
        self.assertEqual([(v["rule"], v["item"]) for v in d["violations"]],
                         [("threads.text.max_characters", 2)])

    def test_account_target_uses_its_platform(self):
        st, _, acct = self.srv.request("POST", "/v1/accounts", key=self.key, body={
            "provider": "telegram", "name": "t", "verify": False,
            "credentials": {"token": "123456789:AAHvalidateTokenForHeraldTests_abcd",
                            "chat_id": "42"}})
        self.assertEqual(st, 201, acct)
        st, _, d = self.validate({"text": "x" * 4097, "targets": [{"accountId": acct["id"]}]})
        self.assertEqual(st, 200, d)
        self.assertEqual([v["rule"] for v in d["violations"]], ["telegram.text.max_length"])
        self.assertEqual(d["violations"][0]["accountId"], acct["id"])
        # another organization cannot validate against this account
        st, h, d = self.validate({"text": "x", "targets": [{"accountId": acct["id"]}]},
                                 key=self.other)
        self.assertEnvelope(st, h, d, 404, "not_found", field="targets[0].accountId", postiz=False)

    def test_bad_requests(self):
        for body, field in [({"text": "x"}, "targets"),
                            ({"text": "x", "targets": []}, "targets"),
                            ({"text": "x", "targets": [{}]}, "targets[0]"),
                            ({"text": "x", "targets": [{"platform": "nope"}]}, "targets[0].platform"),
                            ({"text": 5, "targets": [{"platform": "x"}]}, "text"),
                            ({"text": "x", "media": "no", "targets": [{"platform": "x"}]}, "media"),
                            ({"text": "x", "thread": [5], "targets": [{"platform": "x"}]}, "thread[0]")]:
            with self.subTest(field=field):
                st, h, d = self.validate(body)
                self.assertEnvelope(st, h, d, 400, "validation_failed", field=field, postiz=False)
