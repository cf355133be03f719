"""The herald command-line client (herald post/posts/validate/media/channels list,
completion, man) run as a user would: the real binary as a subprocess with
HERALD_URL/HERALD_API_KEY against a real server; output, --json output, exit
codes and server state are asserted.

Exit codes (src/cli/cli.h enum cli_exit): 0 ok, 1 failure, 2 usage,
3 validation/preflight, 4 auth, 5 not found/conflict, 6 server/network.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import HERALD_BIN, HeraldTestCase, base_env, run_cli, unique, future, iso_z, png_bytes

ALL_COMMANDS = ("serve", "keys", "channels", "post", "posts", "validate", "media", "analytics", "import",
                "mcp", "config", "completion", "man", "version", "help")
CLIENT_COMMANDS = ("post", "posts", "validate", "media", "analytics", "import")
TG_CRED = {"token": "123456789:AAHvalidateTokenForHeraldTests_abcd", "chat_id": "42"}


def has_route(srv, key, method, path):
    """True when the server routes method+path (a missing route answers 404 'Cannot ...')."""
    st, _, b = srv.request(method, path, body={}, key=key)
    return not (st == 404 and "Cannot" in json.dumps(b))


class DocTest(unittest.TestCase):
    """help, completion and man page come from one command table."""

    def test_help_lists_every_command_and_exit_codes(self):
        rc, out, err = run_cli("--help")
        self.assertEqual(rc, 0, err)
        for c in ALL_COMMANDS:
            self.assertRegex(out, r"(?m)^\s+%s\s" % c)
        for code in range(7):
            self.assertRegex(out, r"(?m)^\s+%d\s+\S" % code)
        for c in CLIENT_COMMANDS:
            rc, out, err = run_cli(c, "--help")
            self.assertEqual(rc, 0, err)
            self.assertTrue(out.startswith("usage: herald %s" % c), out)
            for s in ("HERALD_URL", "HERALD_API_KEY", "--json", "exit status", "6  server"):
                self.assertIn(s, out, c)
        rc, out, _ = run_cli("channels", "--help")
        self.assertIn("--local", out)
        self.assertIn("HERALD_URL", out)

    def test_man_page(self):
        rc, out, err = run_cli("man")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith(".TH HERALD 1"), out[:50])
        for c in ALL_COMMANDS:
            self.assertIn("\n.SS %s\n" % c, out)
        for s in (".SH EXIT STATUS", ".SH ENVIRONMENT", "HERALD_API_KEY", "\\-\\-dry\\-run"):
            self.assertIn(s, out)
        if shutil.which("groff"):
            p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=out.encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.stderr.decode(), "")
        self.assertEqual(run_cli("man", "extra")[0], 2)

    def complete(self, script, words):
        """Run the completion function for a command line; returns COMPREPLY."""
        tmp = tempfile.mkdtemp(prefix="herald-comp-")
        try:
            path = os.path.join(tmp, "c.bash")
            with open(path, "w") as f:
                f.write(script)
            line = " ".join(words)
            prog = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _herald; printf "%%s\\n" "${COMPREPLY[@]}"'
                    % (path, " ".join("'%s'" % w for w in words), len(words) - 1))
            p = subprocess.run(["bash", "-c", prog], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30, cwd=tmp)
            self.assertEqual(p.returncode, 0, (line, p.stderr))
            return set(p.stdout.decode().split())
        finally:
            shutil.rmtree(tmp)

    def test_bash_completion(self):
        rc, out, err = run_cli("completion", "bash")
        self.assertEqual(rc, 0, err)
        p = subprocess.run(["bash", "-n"], input=out.encode(), stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("complete -F _herald herald", out)
        self.assertEqual(self.complete(out, ["herald", ""]) - {"--help", "--version"}, set(ALL_COMMANDS))
        self.assertEqual(self.complete(out, ["herald", "po"]), {"post", "posts"})
        self.assertEqual(self.complete(out, ["herald", "posts", ""]) & {"list", "show", "cancel", "retry"},
                         {"list", "show", "cancel", "retry"})
        self.assertIn("--dry-run", self.complete(out, ["herald", "import", "--d"]))
        self.assertEqual(self.complete(out, ["herald", "post", "--dr"]), {"--draft"})
        self.assertIn("--local", self.complete(out, ["herald", "channels", "list", "--"]))
        self.assertEqual(run_cli("completion", "zsh")[0], 2)

    def test_usage_errors(self):
        env = {"HERALD_URL": "http://127.0.0.1:9", "HERALD_API_KEY": "k"}
        for args, needle in [(("post", "hi"), "--to"),
                             (("post", "hi", "--to", "x", "--now", "--draft"), "one of"),
                             (("post", "hi", "--to", "x", "--bogus"), "--bogus"),
                             (("post", "hi", "--to"), "needs a value"),
                             (("posts",), "list"),
                             (("posts", "show"), "one post id"),
                             (("media", "upload", "/nonexistent/file.png"), "cannot read"),
                             (("import",), "CSV"),
                             (("import", "x.csv", "--tz", "Mars/Olympus"), "time zone"),
                             (("import", "x.csv", "--parallel", "0"), "parallel")]:
            with self.subTest(args=args):
                rc, out, err = run_cli(*args, env=env)
                self.assertEqual(rc, 2, (out, err))
                self.assertIn(needle, err)
                self.assertEqual(out, "")

    def test_missing_server_or_key(self):
        rc, out, err = run_cli("posts", "list", env={"HERALD_API_KEY": "k"})
        self.assertEqual(rc, 2)
        self.assertIn("HERALD_URL", err)
        rc, out, err = run_cli("posts", "list", env={"HERALD_URL": "http://127.0.0.1:9"})
        self.assertEqual(rc, 4)
        self.assertIn("HERALD_API_KEY", err)
        # nothing listens on port 9 of loopback: a network failure
        rc, out, err = run_cli("posts", "list", "--url", "http://127.0.0.1:9", "--key", "k")
        self.assertEqual(rc, 6, err)
        self.assertIn("cannot reach the server", err)


class ClientTest(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = unique("cli")
        cls.key = cls.srv.key(cls.org)

        def acct(provider, name, cred):
            st, _, b = cls.srv.request("POST", "/v1/accounts", key=cls.key, body={
                "provider": provider, "name": name, "credentials": cred,
                "verify": False})
            assert st == 201, b
            return b["id"]
        cls.hook = acct("webhook", "Hook A", {"url": "http://127.0.0.1:9/a"})
        cls.tele = acct("telegram", "Tele", TG_CRED)
        cls.dup1 = acct("webhook", "Twin", {"url": "http://127.0.0.1:9/t1"})
        cls.dup2 = acct("webhook", "twin", {"url": "http://127.0.0.1:9/t2"})
        cls.env = {"HERALD_URL": cls.srv.url, "HERALD_API_KEY": cls.key}
        cls.posts_route = has_route(cls.srv, cls.key, "POST", "/v1/posts")

    def cli(self, *args, env=None):
        e = dict(self.env)
        e.update(env or {})
        return run_cli(*args, env=e)

    def test_channels_list_remote_and_local(self):
        rc, out, err = self.cli("channels", "list")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "PLATFORM", "NAME", "STATE"])
        self.assertEqual(len(lines), 5, out)
        row = [l for l in lines if l.startswith(self.tele)]
        self.assertEqual(len(row), 1, out)
        self.assertEqual(row[0].split(), [self.tele, "telegram", "Tele", "active"])
        rc, out, err = self.cli("channels", "list", "--json")
        self.assertEqual(rc, 0, err)
        got = json.loads(out)
        st, _, want = self.srv.request("GET", "/v1/accounts", key=self.key)
        self.assertEqual(got, want)
        # --url/--key flags instead of the environment
        rc, out2, err = run_cli("channels", "list", "--json", "--url", self.srv.url, "--key", self.key)
        self.assertEqual((rc, json.loads(out2)), (0, want), err)
        # --org (or --local) keeps the local command, even with HERALD_URL set
        self.srv.channel(self.org, "local-only")
        rc, out, err = self.cli("channels", "list", "--org", self.org, "--data-dir", self.srv.data_dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("local-only", out)
        self.assertNotIn("PLATFORM", out.splitlines()[0] if out else "")

    def test_bad_key(self):
        rc, out, err = self.cli("channels", "list", env={"HERALD_API_KEY": "0" * 64})
        self.assertEqual(rc, 4, err)
        self.assertRegex(err, r"herald channels list: \w+: .+\[HTTP 401\]")
        self.assertEqual(out, "")

    def test_validate(self):
        rc, out, err = self.cli("validate", "hello", "--to", "Hook A")
        self.assertEqual((rc, out), (0, "valid: no preflight violations\n"), err)
        rc, out, err = self.cli("validate", "x" * 5000, "--to", "tele,hook a")
        self.assertEqual(rc, 3, err)
        self.assertTrue(out.startswith("invalid: 1 violation\n"), out)
        self.assertIn("telegram.text.max_length [telegram", out)
        self.assertIn("4096", out)
        self.assertIn("fix:", out)
        rc, out, err = self.cli("validate", "x" * 301, "--to", "bluesky", "--json")
        self.assertEqual(rc, 3, err)
        d = json.loads(out)
        self.assertIs(d["valid"], False)
        self.assertEqual([v["rule"] for v in d["violations"]], ["bluesky.text.max_graphemes"])
        # thread items are validated too
        rc, out, err = self.cli("validate", "ok", "--to", "threads", "--thread", "fine", "--thread", "b" * 501)
        self.assertEqual(rc, 3, (out, err))
        self.assertIn("item 2", out)

    def test_channel_resolution_errors(self):
        rc, out, err = self.cli("validate", "hi", "--to", "twin")
        self.assertEqual(rc, 3)
        self.assertIn("'twin' is ambiguous", err)
        rc, out, err = self.cli("validate", "hi", "--to", self.dup1)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("post", "hi", "--to", "nobody", "--draft")
        self.assertEqual(rc, 3)
        self.assertIn("'nobody' is not a connected channel", err)
        rc, out, err = self.cli("post", "hi", "--to", "Hook A", "--at", "tomorrow")
        self.assertEqual(rc, 2)
        self.assertIn("--at", err)

    # ---- against POST /v1/posts (the lead's route; skipped until it is on the branch) ----

    def need_posts(self):
        if not self.posts_route:
            self.skipTest("POST /v1/posts is not on this branch yet")

    def test_post_schedule_show_list_cancel(self):
        self.need_posts()
        when = future(days=40)
        rc, out, err = self.cli("post", "scheduled from the cli", "--to", "hook a",
                                "--at", iso_z(when), "--tag", "cli", "--json")
        self.assertEqual(rc, 0, err)
        p = json.loads(out)
        self.assertEqual(p["text"], "scheduled from the cli")
        self.assertEqual([t["accountId"] for t in p["targets"]], [self.hook])
        st, _, got = self.srv.request("GET", "/v1/posts/" + p["id"], key=self.key)
        self.assertEqual(st, 200, got)
        self.assertEqual(got["scheduledAt"], iso_z(when))
        self.assertEqual(got["status"], "queued")
        rc, out, err = self.cli("posts", "show", p["id"])
        self.assertEqual(rc, 0, err)
        self.assertIn("id:        %s\n" % p["id"], out)
        self.assertIn("status:    queued\n", out)
        self.assertIn("webhook Hook A (%s) queued" % self.hook, out)
        rc, out, err = self.cli("posts", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn(p["id"], out)
        rc, out, err = self.cli("posts", "list", "--json", "--all", "--status", "queued")
        self.assertEqual(rc, 0, err)
        self.assertIn(p["id"], [x["id"] for x in json.loads(out)["data"]])
        # --channel takes a name as well as an id
        for ch, present in (("HOOK A", True), (self.hook, True), ("Tele", False)):
            rc, out, err = self.cli("posts", "list", "--json", "--all", "--channel", ch)
            self.assertEqual(rc, 0, err)
            self.assertEqual(p["id"] in [x["id"] for x in json.loads(out)["data"]], present, ch)
        rc, out, err = self.cli("posts", "list", "--channel", "nobody")
        self.assertEqual(rc, 3, err)
        rc, out, err = self.cli("posts", "cancel", p["id"])
        self.assertEqual((rc, out), (0, "canceled %s: canceled\n" % p["id"]), err)
        st, _, got = self.srv.request("GET", "/v1/posts/" + p["id"], key=self.key)
        self.assertEqual(got["status"], "canceled")
        rc, out, err = self.cli("posts", "show", "01nosuchpost000000000000000")
        self.assertEqual(rc, 5, err)
        self.assertIn("not_found", err)
        rc, out, err = self.cli("posts", "retry", p["id"])
        self.assertEqual(rc, 5, err)  # 409 invalid_state

    def test_post_draft_thread_and_idempotency(self):
        self.need_posts()
        args = ("post", "draft text", "--to", self.hook, "--draft", "--thread", "second",
                "--idempotency-key", unique("k"), "--json")
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, err)
        p = json.loads(out)
        self.assertEqual(p["status"], "draft")
        rc, out2, err = self.cli(*args)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out2)["id"], p["id"])
        st, _, got = self.srv.request("GET", "/v1/posts/" + p["id"], key=self.key)
        self.assertEqual([i["text"] for i in got["targets"][0]["thread"]][-1:], ["second"])

    def test_post_preflight_failure(self):
        self.need_posts()
        st, _, before = self.srv.request("GET", "/v1/posts?limit=100", key=self.key)
        rc, out, err = self.cli("post", "x" * 5000, "--to", "tele", "--at", iso_z(future(days=3)))
        self.assertEqual(rc, 3, err)
        self.assertIn("preflight_failed", err)
        self.assertIn("telegram.text.max_length", err)
        st, _, after = self.srv.request("GET", "/v1/posts?limit=100", key=self.key)
        self.assertEqual(len(after["data"]), len(before["data"]))

    def test_media_upload(self):
        if not has_route(self.srv, self.key, "GET", "/v1/media"):
            self.skipTest("/v1/media is not on this branch yet")
        tmp = tempfile.mkdtemp(prefix="herald-media-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "pic.png")
        data = png_bytes()
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = self.cli("media", "upload", path, "--json")
        self.assertEqual(rc, 0, err)
        m = json.loads(out)
        self.assertEqual(m["bytes"], len(data))
        st, _, got = self.srv.request("GET", "/v1/media/" + m["id"], key=self.key)
        self.assertEqual(st, 200, got)
        rc, out, err = self.cli("media", "upload", path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^\S+  \S+  \S+  %d bytes\n$" % len(data))
