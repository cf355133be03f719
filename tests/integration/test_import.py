"""`herald import FILE.csv`: a content calendar scheduled through a real server.

Dry runs (local checks + POST /v1/posts/validate) report every bad row with
its line number and store nothing; real runs create one post per row with
an Idempotency-Key per row, so a re-run schedules nothing twice.  Dates
without an offset are in --tz; offsets in ISO dates are honoured (observed
through the UTC instant the CLI prints for a date in the past).
"""

import json
import os
import pty
import select
import shutil
import subprocess
import tempfile

from harness import HERALD_BIN, HeraldTestCase, base_env, run_cli, unique, future, iso_z, png_bytes, utcnow
from test_cli_client import TG_CRED, has_route

import datetime as dt


def csv_field(s):
    return '"' + s.replace('"', '""') + '"'


class ImportTest(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="herald-import-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def setUp(self):
        # a fresh organization per test: server state is only this test's
        self.org = unique("imp")
        self.key = self.srv.key(self.org)
        self.env = {"HERALD_URL": self.srv.url, "HERALD_API_KEY": self.key}

        def acct(provider, name, cred):
            st, _, b = self.srv.request("POST", "/v1/accounts", key=self.key, body={
                "provider": provider, "name": name, "credentials": cred,
                "verify": False})
            self.assertEqual(st, 201, b)
            return b["id"]
        self.hook = acct("webhook", "Blog Hook", {"url": "http://127.0.0.1:9/a"})
        self.tele = acct("telegram", "Tele", TG_CRED)
        acct("webhook", "Twin", {"url": "http://127.0.0.1:9/t1"})
        acct("webhook", "TWIN", {"url": "http://127.0.0.1:9/t2"})

    def write(self, name, text, bom=False):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
        return path

    def run_import(self, *args, env=None):
        e = dict(self.env)
        e.update(env or {})
        return run_cli("import", *args, env=e, timeout=120)

    def stored(self):
        """every post of the organization (Postiz list over a wide range)"""
        st, _, b = self.srv.request(
            "GET", "/public/v1/posts?startDate=2000-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z",
            key=self.key)
        self.assertEqual(st, 200, b)
        return b["posts"]

    def test_dry_run_reports_every_bad_row(self):
        day = future(days=20).strftime("%Y-%m-%d")
        open(os.path.join(self.tmp, "ok.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
        rows = [
            "date,channel,content,media",                                       # 1
            "%s 10:00,blog hook,fine,ok.png" % day,                             # 2
            "%s 10:00,nobody,unknown channel," % day,                           # 3
            "2020-01-01 10:00,Blog Hook,in the past,",                          # 4
            '%s 11:00,Blog Hook,%s,' % (day, csv_field("multi\nline, \"quoted\"")),  # 5-6
            "%s 25:00,Blog Hook,bad hour," % day,                               # 7
            "%s 12:00,Blog Hook,missing media,nothere.png" % day,               # 8
            "%s 12:00,Blog Hook,too,many,fields" % day,                         # 9
            "%s 12:00,Blog Hook,," % day,                                       # 10
            "%s 12:00,tele,%s," % (day, "x" * 5000),                            # 11
            "%s 12:00,twin,ambiguous," % day,                                   # 12
            "",                                                                 # 13 (skipped)
            "%s 13:00,Tele|Blog Hook,two channels,https://example.com/a.png" % day,  # 14
            ",Blog Hook,no date,",                                              # 15
        ]
        path = self.write("mistakes.csv", "\r\n".join(rows) + "\r\n")
        rc, out, err = self.run_import(path, "--dry-run")
        self.assertEqual(rc, 3, (out, err))
        lines = [int(l.split(":")[0][5:]) for l in out.splitlines() if l.startswith("line ")]
        self.assertEqual(sorted(set(lines)), [3, 4, 7, 8, 9, 10, 11, 12, 15], out)
        self.assertIn("line 3: channel 'nobody' is not a connected channel", out)
        self.assertIn("line 4: date 2020-01-01 10:00 (2020-01-01T10:00:00.000Z) is in the past", out)
        self.assertIn("line 7: date '%s 25:00' is not a date and time" % day, out)
        self.assertIn("line 8: media '%s/nothere.png' is neither" % self.tmp, out)
        self.assertIn("line 9: has 5 fields, the header has 4", out)
        self.assertIn("line 10: content is empty and there is no media", out)
        self.assertIn("line 11: telegram.text.max_length [telegram", out)
        self.assertIn("line 12: channel 'twin' is ambiguous", out)
        self.assertIn("line 15: date is empty", out)
        self.assertIn("12 rows checked", out)
        self.assertIn("3 valid, 9 invalid", out)
        self.assertEqual(self.stored(), [])
        # --json: the same rows, machine-readable
        rc, out, err = self.run_import(path, "--dry-run", "--json")
        self.assertEqual(rc, 3, err)
        d = json.loads(out)
        self.assertEqual((d["dryRun"], d["rows"], d["valid"], d["failed"]), (True, 12, 3, 9))
        self.assertEqual([e["line"] for e in d["errors"]], [3, 4, 7, 8, 9, 10, 11, 12, 15])
        tg = [e for e in d["errors"] if e["line"] == 11][0]
        self.assertEqual([v["rule"] for v in tg["violations"]], ["telegram.text.max_length"])
        # the real run refuses to send anything while rows are bad
        rc, out, err = self.run_import(path)
        self.assertEqual(rc, 3, err)
        self.assertIn("nothing was sent", err)
        self.assertEqual(self.stored(), [])

    def test_dry_run_clean_file(self):
        day = future(days=9).strftime("%Y-%m-%d")
        path = self.write("clean.csv", "Date,Channel,Content,Tags\n%s 09:30,%s,one,a|b\n"
                          "%s 09:45:10,Blog Hook,\"two, with comma\",\n" % (day, self.hook, day), bom=True)
        rc, out, err = self.run_import(path, "--dry-run")
        self.assertEqual(rc, 0, (out, err))
        self.assertRegex(out, r"^2 rows checked in [0-9.]+ s: 2 valid, 0 invalid\n$")
        self.assertEqual(err, "")  # not a terminal: no progress bar

    def test_time_zones(self):
        # dates in the past are reported with their UTC instant: the conversion is visible
        rows = ["date,channel,content",
                "2020-01-15 10:00,Blog Hook,winter",            # EST -05:00
                "2020-07-15 10:00,Blog Hook,summer",            # EDT -04:00
                "2020-07-15T10:00:00+02:00,Blog Hook,offset",   # offset wins over --tz
                "2020-07-15T10:00:00Z,Blog Hook,zulu",
                "2020-03-08 02:30,Blog Hook,gap"]               # does not exist in New York
        path = self.write("tz.csv", "\n".join(rows) + "\n")
        rc, out, err = self.run_import(path, "--dry-run", "--tz", "America/New_York")
        self.assertEqual(rc, 3, err)
        self.assertIn("line 2: date 2020-01-15 10:00 (2020-01-15T15:00:00.000Z) is in the past", out)
        self.assertIn("line 3: date 2020-07-15 10:00 (2020-07-15T14:00:00.000Z) is in the past", out)
        self.assertIn("(2020-07-15T08:00:00.000Z) is in the past", out)
        self.assertIn("(2020-07-15T10:00:00.000Z) is in the past", out)
        self.assertIn("line 6: date '2020-03-08 02:30' does not exist in time zone America/New_York", out)
        rc, out, err = self.run_import(path, "--dry-run")   # default UTC
        self.assertIn("line 2: date 2020-01-15 10:00 (2020-01-15T10:00:00.000Z)", out)

    def test_csv_and_header_errors(self):
        path = self.write("open.csv", 'date,channel,content\n2030-01-01 10:00,Blog Hook,"never\nclosed\n')
        rc, out, err = self.run_import(path, "--dry-run")
        self.assertEqual(rc, 3)
        self.assertIn("line 2: a quoted field is never closed", err)
        path = self.write("quote.csv", 'date,channel,content\n\n2030-01-01 10:00,Blog Hook,say "hi"\n')
        rc, out, err = self.run_import(path, "--dry-run")
        self.assertEqual(rc, 3)
        self.assertIn("line 3: a quote inside an unquoted field", err)
        path = self.write("hdr.csv", "date,channel,content,colour\n")
        rc, out, err = self.run_import(path, "--dry-run")
        self.assertEqual(rc, 2)
        self.assertIn("unknown column 'colour'", err)
        path = self.write("hdr2.csv", "date,content\n")
        rc, out, err = self.run_import(path, "--dry-run")
        self.assertEqual(rc, 2)
        self.assertIn("date, channel and content", err)
        rc, out, err = self.run_import(os.path.join(self.tmp, "absent.csv"))
        self.assertEqual(rc, 2)
        self.assertIn("cannot open", err)
        path = self.write("empty.csv", "")
        self.assertEqual(self.run_import(path, "--dry-run")[0], 3)

    def test_progress_bar_on_a_terminal(self):
        day = future(days=5).strftime("%Y-%m-%d")
        path = self.write("tty.csv", "date,channel,content\n" +
                          "".join("%s 10:%02d,Blog Hook,row %d\n" % (day, i % 60, i) for i in range(50)))
        master, slave = pty.openpty()
        env = base_env(self.env)
        p = subprocess.Popen([HERALD_BIN, "import", path, "--dry-run"], env=env,
                             stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            r, _, _ = select.select([master], [], [], 30)
            if not r:
                break
            try:
                b = os.read(master, 4096)
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
        out = p.stdout.read().decode()
        self.assertEqual(p.wait(timeout=60), 0, out)
        os.close(master)
        tty = b"".join(chunks).decode("utf-8", "replace")
        self.assertIn("validating [", tty)
        self.assertIn("50/50 100%", tty)
        self.assertIn("50 rows checked", out)

    # ---- real runs need POST /v1/posts (the lead's route) ----

    def need_posts(self):
        if not has_route(self.srv, self.key, "POST", "/v1/posts"):
            self.skipTest("POST /v1/posts is not on this branch yet")

    def v1_posts(self):
        out, cursor = [], None
        while True:
            q = "/v1/posts?limit=100" + ("&cursor=" + cursor if cursor else "")
            st, _, b = self.srv.request("GET", q, key=self.key)
            self.assertEqual(st, 200, b)
            out += b["data"]
            cursor = b.get("nextCursor")
            if not cursor:
                return out

    def test_import_then_rerun_schedules_nothing_twice(self):
        self.need_posts()
        day = future(days=30).strftime("%Y-%m-%d")
        texts = ['plain', 'with, comma', 'with "quotes"', 'multi\nline\r\ntext', 'émoji ✓ ünïcode']
        rows = ["date,channel,content,tags"]
        for i, t in enumerate(texts):
            rows.append("%s 1%d:00,%s,%s,t%d" % (day, i, "Blog Hook" if i % 2 else self.hook,
                                                  csv_field(t), i))
        rows.append("%sT08:00:00+02:00,tele,offset row," % day)
        rows.append("%s 10:00,Blog Hook,plain,t0" % day)   # an identical copy of a row: its own post
        rows[1] = rows[1].replace(",t0", ",t0")
        body = "\r\n".join(rows) + "\r\n"
        half = self.write("half.csv", "\r\n".join(rows[:4]) + "\r\n", bom=True)
        full = self.write("full.csv", body, bom=True)
        # an interrupted run: only the first rows made it
        rc, out, err = self.run_import(half, "--tz", "Europe/Paris")
        self.assertEqual(rc, 0, (out, err))
        self.assertIn("3 scheduled, 0 already scheduled", out)
        rc, out, err = self.run_import(full, "--tz", "Europe/Paris")
        self.assertEqual(rc, 0, (out, err))
        self.assertIn("7 rows", out)
        self.assertIn("4 scheduled, 3 already scheduled by an earlier run, 0 failed", out)
        rc, out, err = self.run_import(full, "--tz", "Europe/Paris", "--json")
        self.assertEqual(rc, 0, err)
        d = json.loads(out)
        self.assertEqual((d["created"], d["replayed"], d["failed"]), (0, 7, 0))
        posts = self.v1_posts()
        self.assertEqual(len(posts), 7)
        got = sorted((p["text"], p["scheduledAt"]) for p in posts)
        paris = dt.timezone(dt.timedelta(hours=1))  # winter or summer, checked below by offset
        want = []
        for i, t in enumerate(texts):
            local = dt.datetime.strptime("%s 1%d:00" % (day, i), "%Y-%m-%d %H:%M")
            want.append((t, local))
        # Europe/Paris is +01:00 or +02:00; the CLI used the zone database
        import zoneinfo
        zp = zoneinfo.ZoneInfo("Europe/Paris")
        want = [(t, iso_z(l.replace(tzinfo=zp))) for t, l in want]
        want.append(("offset row", iso_z(dt.datetime.strptime(day + " 06:00", "%Y-%m-%d %H:%M")
                                         .replace(tzinfo=dt.timezone.utc))))
        want.append(("plain", want[0][1]))
        self.assertEqual(got, sorted(want))
        by_text = {p["text"]: p for p in posts}
        self.assertEqual([t["accountId"] for t in by_text["offset row"]["targets"]], [self.tele])

    def test_media_uploaded_once(self):
        self.need_posts()
        if not has_route(self.srv, self.key, "GET", "/v1/media"):
            self.skipTest("/v1/media is not on this branch yet")
        day = future(days=12).strftime("%Y-%m-%d")
        os.makedirs(os.path.join(self.tmp, "img"), exist_ok=True)
        with open(os.path.join(self.tmp, "img", "a.png"), "wb") as f:
            f.write(png_bytes(4, 4, noise=True))
        rows = ["date,channel,content,media"] + [
            "%s 10:%02d,Blog Hook,m%d,img/a.png" % (day, i, i) for i in range(5)]
        path = self.write("media.csv", "\n".join(rows) + "\n")
        rc, out, err = self.run_import(path)
        self.assertEqual(rc, 0, (out, err))
        st, _, media = self.srv.request("GET", "/v1/media", key=self.key)
        self.assertEqual(len(media["data"]), 1, media)
        rc, out, err = self.run_import(path)
        self.assertEqual(rc, 0, (out, err))
        self.assertIn("0 scheduled, 5 already scheduled", out)

    def test_settings_tags_first_comment_columns(self):
        self.need_posts()
        day = future(days=15).strftime("%Y-%m-%d")
        path = self.write("settings.csv",
                          "date,channel,content,tags,first_comment,settings.mood,settings.count\n"
                          "%s 10:00,Blog Hook,with settings,launch| q4 ,see the link,calm,3\n"
                          "%s 11:00,Blog Hook,no settings,,,,\n" % (day, day))
        rc, out, err = self.run_import(path, "--json")
        self.assertEqual(rc, 0, (out, err))
        self.assertEqual(json.loads(out)["created"], 2)
        posts = {p["text"]: p for p in self.v1_posts()}
        p = posts["with settings"]
        self.assertEqual(sorted(p["tags"]), ["launch", "q4"])
        self.assertEqual(p["targets"][0]["options"], {"mood": "calm", "count": 3})
        self.assertEqual([i["text"] for i in p["targets"][0]["thread"]][-1:], ["see the link"])
        q = posts["no settings"]
        self.assertEqual((q["tags"], q["targets"][0]["options"]), ([], {}))


class ImportRateLimitTest(HeraldTestCase):
    """A per-key limit below the request count (700 rows are 7 batches of
    100 plus the accounts lookup, over a limit of 6 a minute): 429 answers
    are waited out (Retry-After) and sent again, every row still checked
    exactly once."""

    server_env = {"HERALD_RATE_LIMIT": "6"}

    def test_429_is_retried_after_retry_after(self):
        key = self.srv.key(unique("rl"))
        st, _, a = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "webhook", "name": "hook", "credentials": {"url": "http://127.0.0.1:9/a"}})
        self.assertEqual(st, 201, a)
        tmp = tempfile.mkdtemp(prefix="herald-rl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "cal.csv")
        day = future(days=3).strftime("%Y-%m-%d")
        with open(path, "w") as f:
            f.write("date,channel,content\n")
            for i in range(700):
                f.write("%s %02d:%02d,hook,row %d\n" % (day, 8 + i // 60, i % 60, i))
        rc, out, err = run_cli("import", path, "--dry-run", "--json", timeout=150,
                               env={"HERALD_URL": self.srv.url, "HERALD_API_KEY": key})
        self.assertEqual(rc, 0, (out, err))
        d = json.loads(out)
        self.assertEqual((d["rows"], d["valid"], d["failed"]), (700, 700, 0))
        self.assertGreater(d["ms"], 500)  # it had to wait for the next window
