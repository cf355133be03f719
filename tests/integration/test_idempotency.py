"""Idempotency-Key on writes (SPEC 4): replay, conflict, in-progress, scope.

Exercised on the Postiz create route (which every automation uses) and on
the native routes; the concurrent case fires the same request from many
threads at once and checks that exactly one post exists afterwards."""

import json
import threading
import unittest

from harness import HeraldTestCase, create_body, entry, future, unique


class IdempotencyTest(HeraldTestCase):

    def body(self, ch, text="hello"):
        return create_body("schedule", [entry(ch, "<p>%s</p>" % text)], date=future(days=3))

    def count_posts(self, key):
        start = future(days=2).replace(hour=0, minute=0)
        end = future(days=4).replace(hour=23, minute=59)
        return len(self.list_posts(key, start, end))

    def test_replay_same_body_byte_for_byte(self):
        key, (ch,) = self.new_org()
        body = self.body(ch)
        hk = {"Idempotency-Key": "create-" + unique("k")}
        st1, h1, b1 = self.create(key, body, headers=hk)
        self.assertEqual(st1, 201, b1)
        self.assertNotIn("idempotency-replayed", h1)
        st2, h2, b2 = self.create(key, body, headers=hk)
        self.assertEqual(st2, 201, b2)
        self.assertEqual(h2.get("idempotency-replayed"), "true")
        self.assertEqual(b1, b2)
        self.assertNotEqual(h1["x-request-id"], h2["x-request-id"])
        self.assertEqual(self.count_posts(key), 1)

    def test_replay_is_byte_for_byte(self):
        key, (ch,) = self.new_org()
        raw = json.dumps(self.body(ch, "bytes"))
        hk = {"Idempotency-Key": unique("raw")}
        st1, h1, t1 = self.raw_create(key, raw, hk)
        st2, h2, t2 = self.raw_create(key, raw, hk)
        self.assertEqual((st1, st2), (201, 201))
        self.assertEqual(t1, t2)
        self.assertEqual(h2.get("idempotency-replayed"), "true")

    def raw_create(self, key, raw, headers):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=15)
        h = {"Authorization": key, "Content-Type": "application/json"}
        h.update(headers)
        conn.request("POST", "/public/v1/posts", body=raw.encode(), headers=h)
        r = conn.getresponse()
        out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        conn.close()
        return out

    def test_different_body_conflicts(self):
        key, (ch,) = self.new_org()
        hk = {"Idempotency-Key": unique("c")}
        st, h, b = self.create(key, self.body(ch, "one"), headers=hk)
        self.assertEqual(st, 201, b)
        st, h, b = self.create(key, self.body(ch, "two"), headers=hk)
        err = self.assertEnvelope(st, h, b, 409, "idempotency_conflict", field="Idempotency-Key")
        self.assertFalse(err["retryable"])
        self.assertEqual(self.count_posts(key), 1)

    def test_scoped_per_org(self):
        k1, (c1,) = self.new_org()
        k2, (c2,) = self.new_org()
        hk = {"Idempotency-Key": "shared-" + unique("s")}
        st, h, b1 = self.create(k1, self.body(c1), headers=hk)
        self.assertEqual(st, 201, b1)
        # the same key in another organization is a different request
        st, h, b2 = self.create(k2, self.body(c2), headers=hk)
        self.assertEqual(st, 201, b2)
        self.assertNotIn("idempotency-replayed", h)
        self.assertNotEqual(b1[0]["postId"], b2[0]["postId"])

    def test_scoped_per_route(self):
        key, (ch,) = self.new_org()
        hk = {"Idempotency-Key": unique("r")}
        st, h, b = self.create(key, self.body(ch), headers=hk)
        self.assertEqual(st, 201, b)
        pid = b[0]["postId"]
        st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/status" % pid,
                                    body={"status": "draft"}, key=key, headers=hk)
        self.assertEqual(st, 200, b)
        self.assertNotIn("idempotency-replayed", h)

    def test_api_prefix_alias_is_the_same_route(self):
        key, (ch,) = self.new_org()
        body = self.body(ch)
        hk = {"Idempotency-Key": unique("alias")}
        st, h, b1 = self.create(key, body, headers=hk)
        self.assertEqual(st, 201, b1)
        st, h, b2 = self.create(key, body, prefix="/api/public/v1", headers=hk)
        self.assertEqual(st, 201, b2)
        self.assertEqual(h.get("idempotency-replayed"), "true")
        self.assertEqual(b1, b2)

    def test_validation_error_is_replayed_too(self):
        key, (ch,) = self.new_org()
        hk = {"Idempotency-Key": unique("v")}
        bad = {"type": "schedule", "posts": "nope"}
        st1, h1, b1 = self.create(key, bad, headers=hk)
        self.assertEqual(st1, 400, b1)
        st2, h2, b2 = self.create(key, bad, headers=hk)
        self.assertEqual(st2, 400, b2)
        self.assertEqual(h2.get("idempotency-replayed"), "true")
        self.assertEqual(b1, b2)

    def test_bad_keys_refused(self):
        key, (ch,) = self.new_org()
        for bad in ("", "has space", "x" * 256, "caf\u00e9"):
            st, h, b = self.srv.request("POST", "/public/v1/posts", body=self.body(ch), key=key,
                                        headers={"Idempotency-Key": bad.encode("utf-8").decode("latin-1")})
            self.assertEnvelope(st, h, b, 400, "validation_failed", field="Idempotency-Key")
        self.assertEqual(self.count_posts(key), 0)

    def test_get_ignores_key(self):
        key, (ch,) = self.new_org()
        st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=key,
                                    headers={"Idempotency-Key": "g"})
        self.assertEqual(st, 200)
        self.assertNotIn("idempotency-replayed", h)

    def test_concurrent_same_key_creates_once(self):
        key, (ch,) = self.new_org()
        body = self.body(ch, "race")
        hk = {"Idempotency-Key": unique("race")}
        results = []
        lock = threading.Lock()

        def go():
            r = self.create(key, body, headers=hk)
            with lock:
                results.append(r)

        ts = [threading.Thread(target=go) for _ in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        created = [r for r in results if r[0] == 201]
        busy = [r for r in results if r[0] == 409]
        self.assertEqual(len(created) + len(busy), 12, [r[0] for r in results])
        self.assertGreaterEqual(len(created), 1)
        ids = {r[2][0]["postId"] for r in created}
        self.assertEqual(len(ids), 1, ids)  # replays carry the one post id
        for st, h, b in busy:
            err = self.assertEnvelope(st, h, b, 409, "idempotency_in_progress",
                                      field="Idempotency-Key")
            self.assertTrue(err["retryable"])
            self.assertEqual(h.get("retry-after"), "1")
        self.assertEqual(self.count_posts(key), 1)


if __name__ == "__main__":
    unittest.main()
