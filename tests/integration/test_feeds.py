"""The built-in `rss` channel: posts published to it appear in the Atom and
RSS 2.0 feeds herald serves at /feeds/<channel id>/atom.xml and rss.xml
(public, no key), read here with a real XML parser as a feed reader would.
"""
import http.client
import time
import unittest
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime

from harness import HeraldTestCase

ATOM = "{http://www.w3.org/2005/Atom}"


class FeedTest(HeraldTestCase):
    def connect(self, key, **cred):
        creds = {"title": "Notes <from> Ada & co", "description": "what I ship",
                 "link": "https://ada.example/"}
        creds.update(cred)
        st, _, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "rss", "name": "ada's blog", "credentials": creds})
        self.assertEqual(st, 201, b)
        return b["id"]

    def publish(self, key, ch, text, **extra):
        body = {"text": text, "targets": [{"accountId": ch}], "publishNow": True}
        body.update(extra)
        st, _, b = self.srv.request("POST", "/v1/posts", key=key, body=body)
        self.assertIn(st, (200, 202), b)
        pid = b["id"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st, _, p = self.srv.request("GET", "/v1/posts/" + pid, key=key)
            if p.get("status") == "published":
                return pid
            time.sleep(0.05)
        self.fail("not published: %s" % p)

    def get(self, path, headers=None):
        """(status, headers with lowercased names, body bytes), no API key"""
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=15)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_posts_appear_in_both_feeds(self):
        key = self.srv.key("feeds")
        ch = self.connect(key)
        self.publish(key, ch, "first post")
        time.sleep(0.01)
        self.publish(key, ch, "Tom & Jerry say 1 < 2", thread=["and a second part"])
        time.sleep(0.01)
        self.publish(key, ch, "third\nwith a second line")
        # a scheduled post is not in the feed until it is published
        st, _, b = self.srv.request("POST", "/v1/posts", key=key, body={
            "text": "later", "targets": [{"accountId": ch}], "scheduledAt": "2099-01-01T00:00:00Z"})
        self.assertEqual(st, 202, b)

        st, h, body = self.get("/feeds/%s/atom.xml" % ch)
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("application/atom+xml"), h)
        feed = ET.fromstring(body)
        self.assertEqual(feed.tag, ATOM + "feed")
        self.assertEqual(feed.find(ATOM + "title").text, "Notes <from> Ada & co")
        self.assertEqual(feed.find(ATOM + "subtitle").text, "what I ship")
        links = {l.get("rel"): l.get("href") for l in feed.findall(ATOM + "link")}
        self.assertEqual(links["self"], "%s/feeds/%s/atom.xml" % (self.srv.url, ch))
        self.assertEqual(links["alternate"], "https://ada.example/")
        entries = feed.findall(ATOM + "entry")
        self.assertEqual(len(entries), 3)  # not the scheduled one
        titles = [e.find(ATOM + "title").text for e in entries]
        self.assertEqual(titles, ["third", "Tom & Jerry say 1 < 2", "first post"])
        html = entries[1].find(ATOM + "content").text
        self.assertIn("Tom &amp; Jerry say 1 &lt; 2", html)  # plain text shown as text
        self.assertIn("and a second part", html)               # the thread in one entry
        self.assertIn("third<br/>with a second line", entries[0].find(ATOM + "content").text)
        ids = [e.find(ATOM + "id").text for e in entries]
        self.assertEqual(len(set(ids)), 3)
        self.assertTrue(all(i.startswith("urn:herald:post:") for i in ids))

        st, h, body = self.get("/feeds/%s/rss.xml" % ch)
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("application/rss+xml"), h)
        rss = ET.fromstring(body)
        self.assertEqual(rss.tag, "rss")
        chan = rss.find("channel")
        self.assertEqual(chan.find("title").text, "Notes <from> Ada & co")
        self.assertEqual(chan.find("link").text, "https://ada.example/")
        items = chan.findall("item")
        self.assertEqual(len(items), 3)
        dates = [parsedate_to_datetime(i.find("pubDate").text) for i in items]
        self.assertEqual(dates, sorted(dates, reverse=True))
        self.assertEqual([i.find("guid").text for i in items], ids)
        self.assertIn("first post", items[2].find("description").text)

    def test_conditional_get_and_changes(self):
        key = self.srv.key("feeds-etag")
        ch = self.connect(key)
        pid = self.publish(key, ch, "one")
        st, h, _ = self.get("/feeds/%s/atom.xml" % ch)
        self.assertEqual(st, 200)
        etag = h["etag"]
        st, h2, body = self.get("/feeds/%s/atom.xml" % ch, {"If-None-Match": etag})
        self.assertEqual((st, body), (304, b""))
        # the RSS feed has its own tag
        st, h3, _ = self.get("/feeds/%s/rss.xml" % ch, {"If-None-Match": etag})
        self.assertEqual(st, 200)
        self.assertNotEqual(h3["etag"], etag)
        # a new post changes the tag
        self.publish(key, ch, "two")
        st, _, body = self.get("/feeds/%s/atom.xml" % ch, {"If-None-Match": etag})
        self.assertEqual(st, 200)
        self.assertEqual(len(ET.fromstring(body).findall(ATOM + "entry")), 2)
        # deleting from the platform takes it out of the feed
        st, _, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
        self.assertEqual(st, 202, b)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st, _, body = self.get("/feeds/%s/atom.xml" % ch)
            entries = ET.fromstring(body).findall(ATOM + "entry")
            if len(entries) == 1:
                break
            time.sleep(0.05)
        self.assertEqual([e.find(ATOM + "title").text for e in entries], ["two"])

    def test_postiz_html_kept_and_native_unpublish_of_two_targets(self):
        key = self.srv.key("feeds-two")
        a = self.connect(key)
        b = self.connect(key, title="second blog")
        # Postiz posts are HTML: kept as HTML in the entry
        st, _, created = self.srv.request("POST", "/public/v1/posts", key=key, body={
            "type": "now", "date": "2020-01-01T00:00:00Z", "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": a}, "value": [{"content": "<p>Hello <b>world</b></p>"}],
                       "settings": {}}]})
        self.assertEqual(st, 201, created)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st, _, body = self.get("/feeds/%s/atom.xml" % a)
            entries = ET.fromstring(body).findall(ATOM + "entry")
            if entries:
                break
            time.sleep(0.05)
        self.assertEqual(entries[0].find(ATOM + "title").text, "Hello world")
        self.assertIn("<b>world</b>", entries[0].find(ATOM + "content").text)
        # one native post to both feeds, deleted from both by its id
        st, _, p = self.srv.request("POST", "/v1/posts", key=key, body={
            "text": "everywhere", "targets": [{"accountId": a}, {"accountId": b}], "publishNow": True})
        self.assertEqual(st, 200, p)
        self.assertEqual([t["status"] for t in p["targets"]], ["published", "published"])
        st, _, u = self.srv.request("POST", "/v1/posts/%s/unpublish" % p["id"], key=key)
        self.assertEqual(st, 202, u)
        self.assertEqual([t["status"] for t in u["targets"]], ["deleting", "deleting"])
        self.assertEqual(sorted(t["accountId"] for t in u["targets"]), sorted([a, b]))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st, _, got = self.srv.request("GET", "/v1/posts/" + p["id"], key=key)
            if [t["status"] for t in got["targets"]] == ["deleted", "deleted"]:
                break
            time.sleep(0.05)
        self.assertEqual([t["status"] for t in got["targets"]], ["deleted", "deleted"], got)
        for ch in (a, b):
            st, _, body = self.get("/feeds/%s/rss.xml" % ch)
            texts = [i.find("description").text for i in ET.fromstring(body).find("channel").findall("item")]
            self.assertFalse(any("everywhere" in t for t in texts), texts)
        # asking again: already deleted on both
        st, h, again = self.srv.request("POST", "/v1/posts/%s/unpublish" % p["id"], key=key)
        self.assertEnvelope(st, h, again, 409, "invalid_state", postiz=False)

    def test_unknown_and_other_channels_are_404(self):
        key = self.srv.key("feeds-404")
        st, h, body = self.get("/feeds/01aaaaaaaaaaaaaaaaaaaaaaaa/atom.xml")
        self.assertEqual(st, 404, body)
        self.assertIn(b"not_found", body)
        # a channel of another provider has no feed
        st, _, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "webhook", "name": "hook",
            "credentials": {"url": "https://example.com/hook",
                            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
        self.assertEqual(st, 201, b)
        st, _, body = self.get("/feeds/%s/rss.xml" % b["id"])
        self.assertEqual(st, 404, body)

    def test_bad_link_refused_at_connect(self):
        key = self.srv.key("feeds-bad")
        st, h, b = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "rss", "name": "x", "credentials": {"title": "t", "link": "javascript:alert(1)"}})
        self.assertEnvelope(st, h, b, 400, "validation_failed", postiz=False)
        self.assertIn("link", b["error"]["message"])


if __name__ == "__main__":
    unittest.main()
