"""Postiz's POST /public/v1/posts throttle (HERALD_API_LIMIT per organization per hour)."""

import unittest

from harness import HeraldTestCase, create_body, entry, unique

LIMIT = 3


class PostizRateLimitTest(HeraldTestCase):
    server_env = {"HERALD_API_LIMIT": str(LIMIT)}

    def assertLimitHeaders(self, h, remaining):
        self.assertEqual(h.get("x-ratelimit-limit"), str(LIMIT), h)
        self.assertEqual(h.get("x-ratelimit-remaining"), str(remaining), h)
        reset = int(h["x-ratelimit-reset"])
        self.assertTrue(1 <= reset <= 3600, reset)

    def test_fourth_post_in_the_hour_is_429(self):
        key, (ch,) = self.new_org()
        for i in range(LIMIT):
            st, h, b = self.create(key, create_body("draft", [entry(ch, "p%d" % i)]))
            self.assertEqual(st, 201, b)
            self.assertLimitHeaders(h, LIMIT - 1 - i)
        st, h, b = self.create(key, create_body("draft", [entry(ch, "one too many")]))
        self.assertEqual(st, 429, b)
        self.assertEqual(b["statusCode"], 429)
        self.assertEqual(b["message"], "ThrottlerException: Too Many Requests")
        self.assertEqual(b["error"]["code"], "rate_limited")
        self.assertIs(b["error"]["retryable"], True)
        self.assertEqual(b["error"]["requestId"], h.get("x-request-id"))
        retry = int(h["retry-after"])
        self.assertTrue(1 <= retry <= 3600, retry)
        self.assertLimitHeaders(h, 0)
        # the /api alias is the same route and the same counter
        st, h, b = self.create(key, create_body("draft", [entry(ch, "alias")]), prefix="/api/public/v1")
        self.assertEqual(st, 429, b)
        # the refused post was not stored
        posts = self.list_posts(key, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
        self.assertEqual(sorted(p["content"] for p in posts), ["p0", "p1", "p2"])

    def test_gets_and_other_routes_not_limited(self):
        key, (ch,) = self.new_org()
        for i in range(LIMIT + 1):
            self.create(key, create_body("draft", [entry(ch, "p%d" % i)]))
        st, h, b = self.create(key, create_body("draft", [entry(ch, "x")]))
        self.assertEqual(st, 429)
        for _ in range(3 * LIMIT):
            for path in ("/public/v1/is-connected", "/public/v1/integrations",
                         "/public/v1/posts?startDate=2000-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z",
                         "/public/v1/find-slot/" + ch):
                st, h, b = self.srv.request("GET", path, key=key)
                self.assertEqual(st, 200, (path, b))
                self.assertNotIn("x-ratelimit-limit", h, path)
        posts = self.list_posts(key, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
        st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/status" % posts[0]["id"],
                                    body={"status": "draft"}, key=key)
        self.assertEqual(st, 200, b)
        st, h, b = self.srv.request("DELETE", "/public/v1/posts/" + posts[0]["id"], key=key)
        self.assertEqual(st, 200, b)

    def test_limit_is_per_organization(self):
        org = unique("rl")
        k1 = self.srv.key(org)
        k2 = self.srv.key(org)
        ch = self.srv.channel(org, "c")
        for i in range(LIMIT):
            st, h, b = self.create(k1 if i % 2 else k2, create_body("draft", [entry(ch, "p%d" % i)]))
            self.assertEqual(st, 201, b)
        for k in (k1, k2):
            st, h, b = self.create(k, create_body("draft", [entry(ch, "over")]))
            self.assertEqual(st, 429, b)
        other, (och,) = self.new_org()
        st, h, b = self.create(other, create_body("draft", [entry(och, "fresh org")]))
        self.assertEqual(st, 201, b)
        self.assertLimitHeaders(h, LIMIT - 1)

    def test_invalid_creates_count_as_postiz_does(self):
        key, (ch,) = self.new_org()
        for _ in range(LIMIT):
            st, h, b = self.create(key, {"type": "bogus"})
            self.assertEqual(st, 400, b)
        st, h, b = self.create(key, create_body("draft", [entry(ch, "valid")]))
        self.assertEqual(st, 429, b)

    def test_unauthenticated_posts_do_not_count(self):
        key, (ch,) = self.new_org()
        for _ in range(LIMIT + 2):
            st, h, b = self.srv.request("POST", "/public/v1/posts", body={"type": "draft"}, key="wrong")
            self.assertEqual(st, 401, b)
        st, h, b = self.create(key, create_body("draft", [entry(ch, "still fine")]))
        self.assertEqual(st, 201, b)


class PerKeyRateLimitTest(HeraldTestCase):
    """HERALD_RATE_LIMIT: requests per minute per API key, on every authenticated route."""
    server_env = {"HERALD_RATE_LIMIT": "5"}

    def test_per_key_limit(self):
        org = unique("pk")
        key = self.srv.key(org)
        for i in range(5):
            st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=key)
            self.assertEqual(st, 200, b)
            self.assertEqual(h.get("ratelimit-limit"), "5")
            self.assertEqual(h.get("ratelimit-remaining"), str(4 - i))
            self.assertTrue(1 <= int(h["ratelimit-reset"]) <= 60)
        for path in ("/public/v1/is-connected", "/public/v1/integrations"):
            st, h, b = self.srv.request("GET", path, key=key)
            self.assertEqual(st, 429, b)
            self.assertEqual(b["error"]["code"], "rate_limited")
            self.assertEqual(b["statusCode"], 429)
            self.assertEqual(h.get("ratelimit-remaining"), "0")
            self.assertTrue(1 <= int(h["retry-after"]) <= 60, h)
        # native routes: the same budget, announced in both spellings
        st, h, b = self.srv.request("GET", "/v1/accounts", key=key)
        self.assertEqual(st, 429, b)
        self.assertEqual(b["error"]["code"], "rate_limited")
        self.assertEqual((h.get("x-ratelimit-limit"), h.get("x-ratelimit-remaining")), ("5", "0"))
        self.assertEqual(h.get("x-ratelimit-reset"), h.get("ratelimit-reset"))
        # another key of the same org has its own budget; unauthenticated routes are not limited
        other = self.srv.key(org)
        st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=other)
        self.assertEqual(st, 200, b)
        st, h, b = self.srv.request("GET", "/v1/accounts", key=other)
        self.assertEqual(st, 200, b)
        self.assertEqual((h.get("x-ratelimit-limit"), h.get("x-ratelimit-remaining")), ("5", "3"))
        st, h, b = self.srv.request("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertNotIn("ratelimit-limit", h)


if __name__ == "__main__":
    unittest.main()
