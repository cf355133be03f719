"""Two organizations on one server: nothing of one is visible to or changeable by the other."""

import datetime as dt
import json
import unittest

from harness import HeraldTestCase, create_body, entry, future, item


class TenancyTest(HeraldTestCase):

    def setUp(self):
        # org A with a scheduled thread and a draft; org B with its own channel
        self.ka, (self.ca,) = self.new_org(prefix="orgA")
        self.kb, (self.cb,) = self.new_org(prefix="orgB")
        self.when = future(days=25)
        res = self.create_ok(self.ka, create_body(
            "schedule", [entry(self.ca, "A secret", "A reply", settings={"s": 1})],
            date=self.when, tags=[{"value": "a-tag", "label": "a-tag"}]))
        self.pa = res[0]["postId"]
        self.draft_a = self.create_ok(self.ka, create_body(
            "draft", [entry(self.ca, "A draft")], date=self.when))[0]["postId"]
        self.snapshot = self.a_state()

    def a_state(self):
        """Everything org A can see, to compare before and after B's attempts."""
        st, h, integ = self.srv.request("GET", "/public/v1/integrations", key=self.ka)
        self.assertEqual(st, 200)
        posts = self.list_posts(self.ka, self.when - dt.timedelta(days=1),
                                self.when + dt.timedelta(days=1))
        full = {p["id"]: self.get_post(self.ka, p["id"]) for p in posts}
        return integ, posts, full

    def assertAUnchanged(self):
        self.assertEqual(self.a_state(), self.snapshot)

    def assertRefused(self, st, h, b, want=404):
        """B's attempt on A's data: 404, or 400 "... not found" for ids inside a body
        (exactly as for ids that do not exist at all: nothing leaks)."""
        self.assertEqual(st, want, b)
        self.assertEqual(b["error"]["code"], "not_found" if st == 404 else "validation_failed", b)
        self.assertIn("not found", b["error"]["message"].lower(), b)
        self.assertNotIn("A secret", json.dumps(b))

    def test_cannot_see(self):
        st, h, lst = self.srv.request("GET", "/public/v1/integrations", key=self.kb)
        self.assertEqual([i["id"] for i in lst], [self.cb])
        self.assertEqual(self.list_posts(self.kb, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"), [])
        st, h, b = self.srv.request("GET", "/public/v1/groups", key=self.kb)
        self.assertEqual((st, b), (200, []))
        st, h, b = self.srv.request("GET", "/v1/accounts", key=self.kb)
        self.assertEqual(st, 200, b)
        self.assertEqual([a["id"] for a in b["data"]], [self.cb])

    def test_cannot_get(self):
        comment = self.snapshot[2][self.pa]["value"][1]["id"]
        for pid in (self.pa, comment, self.draft_a):
            for prefix in ("/public/v1", "/api/public/v1"):
                st, h, b = self.srv.request("GET", prefix + "/posts/" + pid, key=self.kb)
                self.assertRefused(st, h, b)
        for path in ("/public/v1/integration-settings/", "/public/v1/find-slot/", "/v1/accounts/"):
            st, h, b = self.srv.request("GET", path + self.ca, key=self.kb)
            self.assertRefused(st, h, b)
        st, h, b = self.srv.request("GET", "/public/v1/posts/%s/missing" % self.pa, key=self.kb)
        self.assertRefused(st, h, b)

    def test_cannot_post_to_other_channel(self):
        st, h, b = self.create(self.kb, create_body("schedule", [entry(self.ca, "B into A")]))
        self.assertRefused(st, h, b, want=400)
        self.assertEqual(b["error"]["field"], "posts[0].integration.id")
        # also not as the 2nd entry next to its own channel
        st, h, b = self.create(self.kb, create_body("schedule", [entry(self.cb, "mine"),
                                                                 entry(self.ca, "theirs")]))
        self.assertRefused(st, h, b, want=400)
        self.assertEqual(self.list_posts(self.kb, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"), [])
        self.assertAUnchanged()

    def test_cannot_edit_by_item_id(self):
        full = self.snapshot[2][self.pa]
        comment = full["value"][1]["id"]
        for t in ("schedule", "update", "draft"):
            for target in (self.pa, comment, self.draft_a):
                st, h, b = self.create(self.kb, create_body(
                    t, [entry(self.cb, item("hijacked", id=target))], date=self.when))
                self.assertRefused(st, h, b, want=400)
        # with A's group as well
        st, h, b = self.create(self.kb, create_body(
            "schedule", [entry(self.cb, item("hijacked", id=self.pa), group=full["group"])]))
        self.assertRefused(st, h, b, want=400)
        self.assertAUnchanged()

    def test_other_group_in_edit_does_not_delete(self):
        group = self.snapshot[2][self.pa]["group"]
        res = self.create_ok(self.kb, create_body(
            "schedule", [entry(self.cb, "B's own", group=group)], date=self.when))
        self.assertEqual(self.get_post(self.kb, res[0]["postId"])["content"], "B's own")
        self.assertAUnchanged()

    def test_cannot_change_status_or_settings(self):
        for pid in (self.pa, self.draft_a):
            for status in ("draft", "schedule"):
                st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/status" % pid,
                                            body={"status": status}, key=self.kb)
                self.assertRefused(st, h, b)
            st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/settings" % pid,
                                        body={"settings": {"s": 2}}, key=self.kb)
            self.assertRefused(st, h, b)
            st, h, b = self.srv.request("PUT", "/public/v1/posts/%s/release-id" % pid,
                                        body={"releaseId": "x"}, key=self.kb)
            self.assertRefused(st, h, b)
        self.assertAUnchanged()

    def test_cannot_delete(self):
        group = self.snapshot[2][self.pa]["group"]
        comment = self.snapshot[2][self.pa]["value"][1]["id"]
        for path in ("/public/v1/posts/" + self.pa, "/public/v1/posts/" + comment,
                     "/public/v1/posts/" + self.draft_a, "/public/v1/posts/group/" + group,
                     "/public/v1/integrations/" + self.ca, "/v1/accounts/" + self.ca):
            st, h, b = self.srv.request("DELETE", path, key=self.kb)
            self.assertRefused(st, h, b)
        self.assertAUnchanged()

    def test_find_slot_ignores_other_org_posts(self):
        # A takes B's next slot: B must still get it (slots are per organization)
        st, h, b = self.srv.request("GET", "/public/v1/find-slot/" + self.cb, key=self.kb)
        self.assertEqual(st, 200, b)
        slot = b["date"]
        self.create_ok(self.ka, create_body("schedule", [entry(self.ca, "A in the slot")], date=slot))
        st, h, a = self.srv.request("GET", "/public/v1/find-slot/" + self.ca, key=self.ka)
        self.assertNotEqual(a["date"], slot)
        st, h, b2 = self.srv.request("GET", "/public/v1/find-slot/" + self.cb, key=self.kb)
        self.assertEqual((st, b2), (200, {"date": slot}))

    def test_same_tag_label_is_separate(self):
        res = self.create_ok(self.kb, create_body("schedule", [entry(self.cb, "B tagged")],
                                                  date=self.when,
                                                  tags=[{"value": "a-tag", "label": "a-tag"}]))
        b_posts = self.list_posts(self.kb, self.when, self.when)
        a_tag = self.snapshot[1][0]["tags"] or self.snapshot[1][1]["tags"]
        self.assertEqual(len(b_posts), 1)
        self.assertEqual(b_posts[0]["id"], res[0]["postId"])
        self.assertEqual(b_posts[0]["tags"][0]["tag"]["name"], "a-tag")
        self.assertNotEqual(b_posts[0]["tags"][0]["tag"]["id"], a_tag[0]["tag"]["id"])
        self.assertNotEqual(b_posts[0]["tags"][0]["tag"]["orgId"], a_tag[0]["tag"]["orgId"])
        self.assertAUnchanged()


if __name__ == "__main__":
    unittest.main()
