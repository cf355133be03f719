"""Per-account pacing: posts over a platform's rate are queued, not failed.

Telegram asks for at most about one message per second in a chat, so its
provider declares min_interval_ms = 1000; three posts due at once on one
channel must reach the (fake) Bot API at least a second apart, and all
three end published."""
import os
import time

from fake_platform import FakePlatform
from harness import HeraldTestCase

MEDIA = os.path.join(os.path.dirname(__file__), "..", "providers", "media")


class StampedFake(FakePlatform):
    def __init__(self, media_dir):
        super().__init__(media_dir)
        self.times = []

    def _handle(self, h):
        with self.lock:
            self.times.append(time.monotonic())
        super()._handle(h)


class PacingTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = StampedFake(MEDIA).start()
        cls.server_env = {"HERALD_TELEGRAM_BASE_URL": cls.fake.url}
        super().setUpClass()
        cls.addClassCleanup(cls.fake.stop)

    def test_three_posts_due_together_are_spaced_not_failed(self):
        key = self.srv.key("pacing")
        token = "123456789:AAHpacingTokenForHeraldTests_abcdefg"
        st, _, acct = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "telegram", "name": "chat", "verify": False,
            "credentials": {"token": token, "chat_id": "-1001234567890"}})
        self.assertEqual(st, 201, acct)
        self.fake.load([{"expect": {"method": "POST", "path": "/bot%s/sendMessage" % token},
                         "reply": {"status": 200,
                                   "json": {"ok": True, "result": {"message_id": i}}}}
                        for i in (1, 2, 3)])
        body = {"type": "now", "shortLink": False, "tags": [],
                "posts": [{"integration": {"id": acct["id"]},
                           "value": [{"content": "paced %d" % i, "image": []}], "settings": {}}
                          for i in range(3)]}
        st, _, created = self.srv.request("POST", "/public/v1/posts", key=key, body=body)
        self.assertEqual(st, 201, created)
        ids = [c["postId"] for c in created]
        deadline = time.monotonic() + 15
        states = {}
        while time.monotonic() < deadline:
            states = {i: self.srv.request("GET", "/public/v1/posts/" + i, key=key)[2]["status"]
                      for i in ids}
            if all(s in ("published", "failed", "unconfirmed") for s in states.values()):
                break
            time.sleep(0.2)
        self.assertEqual(sorted(states.values()), ["published"] * 3, states)
        self.assertEqual(self.fake.problems(), [])
        t = sorted(self.fake.times)
        self.assertEqual(len(t), 3, t)
        for a, b in zip(t, t[1:]):
            self.assertGreaterEqual(b - a, 0.95, "posts on one chat closer than 1 s: %s" % t)
        # queueing is not a failure: no attempt was used up on the wait
        for i in ids:
            post = self.srv.request("GET", "/public/v1/posts/" + i, key=key)[2]
            self.assertEqual([a["outcome"] for a in post["attempts"]], ["ok"], post["attempts"])
