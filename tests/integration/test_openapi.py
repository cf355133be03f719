"""GET /openapi.json: generated from the route table, valid OpenAPI 3.1."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import HeraldTestCase

REDOCLY = os.path.join(os.path.dirname(__file__), "..", "..", "build", "node", "node_modules",
                       ".bin", "redocly")


class OpenApiTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = cls.srv.key("openapi")

    def doc(self):
        st, h, body = self.srv.request("GET", "/openapi.json")
        self.assertEqual(st, 200)
        return body

    def test_lists_every_route_family(self):
        d = self.doc()
        self.assertEqual(d["openapi"], "3.1.0")
        paths = d["paths"]
        for p, m in [("/public/v1/posts", "post"), ("/public/v1/posts", "get"),
                     ("/api/public/v1/posts", "post"), ("/public/v1/posts/{id}", "delete"),
                     ("/public/v1/posts/group/{group}", "delete"),
                     ("/public/v1/find-slot/{id}", "get"), ("/v1/accounts", "post"),
                     ("/healthz", "get"), ("/openapi.json", "get")]:
            self.assertIn(m, paths.get(p, {}), f"{m.upper()} {p} missing")
        op = paths["/public/v1/posts/{id}"]["get"]
        self.assertEqual(op["parameters"][0]["name"], "id")
        self.assertEqual(op["security"], [{"apiKey": []}])
        self.assertEqual(paths["/healthz"]["get"]["security"], [])
        ids = [o["operationId"] for item in paths.values() for o in item.values()]
        self.assertEqual(len(ids), len(set(ids)), "operationIds must be unique")

    def test_every_documented_route_is_served(self):
        # nothing in the document may 404: the router and the document
        # come from one table
        d = self.doc()
        for path, item in d["paths"].items():
            for method in item:
                url = path.replace("{id}", "nope").replace("{group}", "nope")
                st, h, body = self.srv.request(method.upper(), url, key=self.key,
                                               body={} if method in ("post", "put", "patch") else None)
                if st == 404:
                    # a 404 must be about the resource, not the route
                    self.assertNotIn("Cannot", body["error"]["message"], f"{method} {url}")

    @unittest.skipUnless(os.path.exists(REDOCLY), "run tests/node_setup.sh to install @redocly/cli")
    def test_redocly_lint(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(self.doc(), f)
        try:
            r = subprocess.run([REDOCLY, "lint", f.name], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-2000:])
            self.assertIn("valid", r.stdout + r.stderr)
        finally:
            os.unlink(f.name)


class CatalogTest(HeraldTestCase):
    def test_preflight_rules_catalog(self):
        st, h, body = self.srv.request("GET", "/v1/preflight/rules")
        self.assertEqual(st, 200, body)
        rules = body["rules"]
        ids = [r["id"] for r in rules]
        self.assertEqual(len(ids), len(set(ids)), "rule ids must be unique")
        for r in rules:
            self.assertRegex(r["id"], r"^[a-z0-9-]+\.[a-z_]+\.[a-z_]+$")
            self.assertEqual(r["id"].split(".")[0], r["platform"])
            for k in ("limit", "unit", "message", "remediation"):
                self.assertIn(k, r, r["id"])
        by = {r["id"]: r for r in rules}
        self.assertEqual(by["bluesky.text.max_graphemes"]["limit"], 300)
        self.assertEqual(by["x.text.max_weighted_length"]["limit"], 280)
        self.assertIn("mastodon.text.max_characters", by)
        # every provider herald publishes to has rules
        for p in ("bluesky", "mastodon", "telegram", "discord", "slack", "nostr", "webhook", "rss"):
            self.assertTrue(any(r["platform"] == p for r in rules), p)

    def test_error_catalog(self):
        st, h, body = self.srv.request("GET", "/v1/errors")
        self.assertEqual(st, 200, body)
        codes = {e["code"]: e["status"] for e in body["errors"]}
        self.assertEqual(codes["validation_failed"], 400)
        self.assertEqual(codes["preflight_failed"], 400)
        self.assertEqual(codes["idempotency_conflict"], 409)
        self.assertEqual(codes["rate_limited"], 429)
