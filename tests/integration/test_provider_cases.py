"""Provider wire cases: every tests/providers/<platform>/<case>.json, one test each.

    HERALD_BIN=build/asan/herald python3 -m unittest tests.integration.test_provider_cases -v

The case format is tests/providers/README.md.  For each case: a fake
platform (fake_platform.FakePlatform) starts on loopback, `%FAKE%` is
replaced by its base URL everywhere in the case (env, credentials, post,
exchanges and their replies, expectations), herald starts with the case's
env (harness.Herald: fresh data dir, sanitizers on), a channel is connected
with POST /v1/accounts, the post is created with POST /public/v1/posts type
"now", and GET /public/v1/posts/{id} is polled until a terminal status
(published, failed, unconfirmed) or wait_seconds.  Then the case's `expect`
is asserted, every scripted exchange must have happened and matched, no
request may have come beyond them, and herald must stop cleanly (a
sanitizer report fails the case).

Deleting from the platform (tests/providers/<platform>/delete_*.json): a
case with `unpublish` publishes as above, asserts `expect`, then loads the
fake with `unpublish.exchanges`, asks herald to delete the post
(`"via": "native"`: POST /v1/posts/{id}/unpublish, the record stays;
`"via": "postiz"`: DELETE /public/v1/posts/{id}?platform=true, the record
goes), asserts the answer's status (`unpublish.status`), polls until the
post leaves "deleting" (or is gone) and asserts `unpublish.expect` (the
keys of `expect`, with attempts counted over publish and delete, plus
`gone`: true when the post must be 404 afterwards, and
`attempts_kinds`).

Test names are test_<platform>_<file name>, e.g.
test_telegram_001_text.  A case file that is not valid JSON or has unknown
keys fails its own test rather than the whole module.

Extensions beyond the README, all optional: expectations `form`,
`form_subset`, `body_file`, `json_at`, `min_gap_ms`, header value null
(= absent), media `?pad_to=N` (the file zero-padded to N bytes), multipart part
keys `file`, `content_type`, `value`, `json`, `json_subset`
(fake_platform.py documents them); `expect.items[i].error_contains`;
`expect.attempts_outcomes` (list of attempt outcomes in order);
`post.settings` defaults to {}.
"""

import datetime as _dt
import json
import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_platform import FakePlatform  # noqa: E402
from harness import Herald  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CASES = os.path.join(ROOT, "tests", "providers")
MEDIA = os.path.join(CASES, "media")
TERMINAL = ("published", "failed", "unconfirmed")
CASE_KEYS = {"description", "provider", "env", "credentials", "connect_status", "create", "post",
             "exchanges", "expect", "wait_seconds", "unpublish"}
UNPUBLISH_KEYS = {"via", "status", "exchanges", "expect", "wait_seconds"}
EXPECT_KEYS = {"status", "releaseId", "releaseURL", "error_contains", "items", "attempts",
               "attempts_outcomes", "attempts_kinds", "gone"}


def substitute(v, fake_url):
    if isinstance(v, str):
        return v.replace("%FAKE%", fake_url)
    if isinstance(v, list):
        return [substitute(x, fake_url) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x, fake_url) for k, x in v.items()}
    return v


def discover():
    out = []
    if not os.path.isdir(CASES):
        return out
    for platform in sorted(os.listdir(CASES)):
        d = os.path.join(CASES, platform)
        if not os.path.isdir(d) or platform == "media":
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith(".json"):
                out.append((platform, os.path.join(d, f)))
    return out


def iso_now():
    d = _dt.datetime.now(_dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


class ProviderCases(unittest.TestCase):
    maxDiff = None

    def run_case(self, path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        bad = set(raw) - CASE_KEYS
        self.assertFalse(bad, "unknown case keys %s" % sorted(bad))
        bad = set(raw.get("expect", {})) - EXPECT_KEYS
        self.assertFalse(bad, "unknown expect keys %s" % sorted(bad))
        bad = set(raw.get("unpublish", {})) - UNPUBLISH_KEYS
        self.assertFalse(bad, "unknown unpublish keys %s" % sorted(bad))
        bad = set(raw.get("unpublish", {}).get("expect", {})) - EXPECT_KEYS
        self.assertFalse(bad, "unknown unpublish.expect keys %s" % sorted(bad))
        fake = FakePlatform(MEDIA).start()
        srv = None
        try:
            case = substitute(raw, fake.url)
            fake.load(case.get("exchanges", []))
            # the fake serves the posts' media from loopback, which the engine's
            # guard refuses by default (case 016 of telegram shows it)
            env = {"HERALD_FETCH_ALLOW_CIDRS": "127.0.0.0/8"}
            env.update(case.get("env") or {})
            srv = Herald(env=env)
            self._drive(case, fake, srv, path)
        except BaseException:
            if srv is not None:
                try:
                    srv.stop()
                except AssertionError as e:
                    sys.stderr.write("\n(herald also failed at stop: %s)\n" % str(e)[:2000])
                srv = None
            raise
        finally:
            fake.stop()
            if srv is not None:
                srv.stop()  # raises on a sanitizer report or bad exit

    def _drive(self, case, fake, srv, path):
        org = "cases_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
        key = srv.key(org)
        want_connect = case.get("connect_status", 201)
        st, _, acct = srv.request("POST", "/v1/accounts", key=key, body={
            "provider": case["provider"],
            "name": "%s case" % case["provider"],
            "credentials": case.get("credentials", {}),
            # these cases script publishing; connect verification is
            # test_connect_verify's
            "verify": False,
        })
        self.assertEqual(st, want_connect, "connect answered %s: %s" % (st, acct))
        if want_connect != 201:
            self.assertEqual(case.get("exchanges", []), [],
                             "a case with refused credentials must not script exchanges")
            if fake.problems():
                self.fail("fake platform:\n  " + "\n  ".join(fake.problems()))
            return
        channel = acct["id"]
        post = case.get("post", {})
        body = {
            "type": "now",
            "date": iso_now(),
            "shortLink": False,
            "tags": [],
            "posts": [{
                "integration": {"id": channel},
                "value": post.get("value", []),
                "settings": post.get("settings", {}),
            }],
        }
        st, _, created = srv.request("POST", "/public/v1/posts", key=key, body=body)
        want = case.get("create")
        if want:
            # refused by preflight at create time: nothing may reach the platform
            self.assertEqual(st, want["status"], created)
            self.assertEqual(created["error"]["code"], want["code"], created)
            if "rule" in want:
                self.assertEqual(created["error"].get("rule"), want["rule"], created)
            self.assertEqual(case.get("exchanges", []), [], "a refused create sends nothing")
            time.sleep(0.5)
            if fake.problems():
                self.fail("fake platform:\n  " + "\n  ".join(fake.problems()))
            return
        self.assertEqual(st, 201, "create answered %s: %s" % (st, created))
        pid = created[0]["postId"]

        deadline = time.monotonic() + float(case.get("wait_seconds", 10))
        got = None
        while True:
            st, _, got = srv.request("GET", "/public/v1/posts/" + pid, key=key)
            self.assertEqual(st, 200, got)
            if got.get("status") in TERMINAL or time.monotonic() > deadline:
                break
            time.sleep(0.05)

        self._check(case, case.get("expect", {}), got, fake, srv)
        un = case.get("unpublish")
        if not un:
            return
        fake.load(un.get("exchanges", []))
        if un.get("via", "native") == "postiz":
            st, _, ans = srv.request("DELETE", "/public/v1/posts/%s?platform=true" % pid, key=key)
        else:
            st, _, ans = srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=key)
        self.assertEqual(st, un.get("status", 202), "unpublish answered %s: %s" % (st, ans))
        deadline = time.monotonic() + float(un.get("wait_seconds", 10))
        while True:
            st, _, got = srv.request("GET", "/public/v1/posts/" + pid, key=key)
            if st == 404:
                got = None
                break
            self.assertEqual(st, 200, got)
            if got.get("status") != "deleting" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self._check(case, un.get("expect", {}), got, fake, srv)

    def _check(self, case, exp, got, fake, srv):
        story = "\n--- post:\n%s\n--- requests the fake saw:\n%s\n--- herald stderr (tail):\n%s" % (
            json.dumps(got, indent=1)[:6000], fake.transcript(), srv.stderr()[-3000:])
        problems = fake.problems()
        if problems:
            self.fail("fake platform:\n  %s%s" % ("\n  ".join(problems), story))
        if "gone" in exp:
            self.assertEqual(got is None, exp["gone"], "post gone (404)" + story)
        if got is None:
            return
        if "status" in exp:
            self.assertEqual(got.get("status"), exp["status"], "post status" + story)
        for k in ("releaseId", "releaseURL"):
            if k in exp:
                self.assertEqual(got.get(k), exp[k], k + story)
        if "error_contains" in exp:
            errors = [got.get("error") or ""] + [it.get("error") or "" for it in got.get("value", [])]
            self.assertTrue(any(exp["error_contains"] in e for e in errors),
                            "no error contains %r: %r%s" % (exp["error_contains"], errors, story))
        if "items" in exp:
            items = got.get("value", [])
            self.assertEqual(len(items), len(exp["items"]), "thread items" + story)
            for i, (w, g) in enumerate(zip(exp["items"], items)):
                for k, v in w.items():
                    if k == "error_contains":
                        self.assertIn(v, g.get("error") or "", "item %d error%s" % (i, story))
                    else:
                        self.assertEqual(g.get(k), v, "item %d %s%s" % (i, k, story))
        if "attempts" in exp:
            self.assertEqual(len(got.get("attempts", [])), exp["attempts"], "attempts" + story)
        if "attempts_outcomes" in exp:
            self.assertEqual([a.get("outcome") for a in got.get("attempts", [])],
                             exp["attempts_outcomes"], "attempt outcomes" + story)
        if "attempts_kinds" in exp:
            self.assertEqual([a.get("kind") for a in got.get("attempts", [])],
                             exp["attempts_kinds"], "attempt kinds" + story)
        # secrets never reach the attempt log
        for secret in _secrets(case.get("credentials", {})):
            self.assertNotIn(secret, json.dumps(got.get("attempts", [])),
                             "a credential appears in the attempt records" + story)


def _secrets(cred):
    """Credential values that must never be logged (tokens, webhook tokens)."""
    out = []
    for k, v in cred.items():
        if not isinstance(v, str):
            continue
        if k == "token":
            out.append(v.split(":", 1)[-1] if ":" in v else v)
        elif k == "webhook_url":
            m = re.search(r"/webhooks/\d+/([A-Za-z0-9_-]+)", v)
            if m:
                out.append(m.group(1))
    return [s for s in out if len(s) >= 6]


def _make(path):
    def test(self):
        self.run_case(path)
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f).get("description")
        test.__doc__ = d if isinstance(d, str) else None
    except (OSError, ValueError, AttributeError):
        test.__doc__ = None
    return test


for _platform, _path in discover():
    _stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(_path))[0])
    _name = "test_%s_%s" % (re.sub(r"\W", "_", _platform), _stem)
    setattr(ProviderCases, _name, _make(_path))


if __name__ == "__main__":
    unittest.main()
