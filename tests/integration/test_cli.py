"""The herald command line: help, keys, channels, config."""

import os
import shutil
import tempfile
import time
import unittest

import subprocess

from harness import (HERALD_BIN, HEX64_RE, SANITIZED, Herald, HeraldTestCase, base_env,
                     run_cli, unique)

AUTH_CACHE_S = 2.0  # src/api/api.h AUTH_CACHE_MS: a revoked key stops working within this

COMMANDS = ("serve", "keys", "channels", "config", "version", "help")


class HelpTest(unittest.TestCase):

    def test_top_level_help(self):
        for flag in ("--help", "-h"):
            rc, out, err = run_cli(flag)
            self.assertEqual(rc, 0, err)
            self.assertTrue(out.startswith("usage: herald"), out)
            for c in COMMANDS:
                self.assertRegex(out, r"(?m)^\s+%s\s" % c)
        rc, out, err = run_cli("help")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("usage: herald"))

    def test_command_help(self):
        for c in ("serve", "keys", "channels", "config", "version"):
            for flag in ("--help", "-h"):
                with self.subTest(cmd=c, flag=flag):
                    rc, out, err = run_cli(c, flag)
                    self.assertEqual(rc, 0, err)
                    self.assertTrue(out.startswith("usage: herald %s" % c), out)
                    if flag == "--help":
                        rc2, out2, _ = run_cli("help", c)
                        self.assertEqual((rc2, out2), (0, out))
        rc, out, err = run_cli("serve", "--help")
        for opt in ("--listen", "--data-dir", "HERALD_API_LIMIT", "HERALD_MAX_BODY"):
            self.assertIn(opt, out)
        rc, out, err = run_cli("keys", "--help")
        for sub in ("create", "list", "revoke"):
            self.assertIn(sub, out)
        rc, out, err = run_cli("keys", "create", "--help")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("usage: herald keys"))

    def test_help_does_not_touch_data_dir(self):
        tmp = tempfile.mkdtemp(prefix="herald-it-")
        try:
            d = os.path.join(tmp, "data")
            rc, out, err = run_cli("keys", "create", "--help", "--data-dir", d)
            self.assertEqual(rc, 0)
            self.assertFalse(os.path.exists(d))
        finally:
            shutil.rmtree(tmp)

    def test_version(self):
        for args in (("version",), ("--version",)):
            rc, out, err = run_cli(*args)
            self.assertEqual(rc, 0)
            self.assertRegex(out, r"^herald \S+\n$")

    def test_unknown_command(self):
        rc, out, err = run_cli("frobnicate")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("frobnicate", err)
        rc, out, err = run_cli()
        self.assertEqual(rc, 2)
        self.assertIn("usage", err)
        rc, out, err = run_cli("help", "frobnicate")
        self.assertEqual(rc, 2)

    BAD_OPTIONS = [
        (("config",), {"HERALD_API_LIMIT": "lots"}, "lots"),
        (("config", "--max-body", "-5"), None, "-5"),
        (("config", "--role", "boss"), None, "boss"),
        (("serve", "--listen"), None, "--listen"),
    ]

    def test_bad_option_values(self):
        for args, env, word in self.BAD_OPTIONS:
            with self.subTest(args=args, env=env):
                # leak checking off: test_bad_option_values_no_leak covers that
                rc, out, err = run_cli(*args, env=dict(env or {}, ASAN_OPTIONS="detect_leaks=0"))
                self.assertEqual(rc, 2, err)
                self.assertEqual(out, "")
                self.assertIn(word, err)

    @unittest.skipUnless(SANITIZED, "needs the ASan build")
    def test_bad_option_values_no_leak(self):
        for args, env, word in self.BAD_OPTIONS:
            with self.subTest(args=args, env=env):
                rc, out, err = run_cli(*args, env=env)  # fails on a LeakSanitizer report
                self.assertEqual(rc, 2, err)


class ConfigTest(unittest.TestCase):

    def test_masks_secrets(self):
        secret = "ab" * 32
        pg = "postgres://herald:hunter2@db.example/herald"
        rc, out, err = run_cli("config", env={"HERALD_SECRET_KEY": secret,
                                              "HERALD_DATABASE_URL": pg,
                                              "HERALD_API_LIMIT": "42"})
        self.assertEqual(rc, 0, err)
        self.assertNotIn(secret, out + err)
        self.assertNotIn("hunter2", out + err)
        lines = {l.split()[0]: l.split(None, 1)[1] if len(l.split()) > 1 else ""
                 for l in out.splitlines() if l.strip()}
        self.assertTrue(lines["HERALD_SECRET_KEY"].startswith("****"), lines["HERALD_SECRET_KEY"])
        self.assertEqual(lines["HERALD_API_LIMIT"], "42")

    def test_defaults_and_precedence(self):
        rc, out, err = run_cli("config")
        self.assertEqual(rc, 0, err)
        lines = dict(l.split(None, 1) if len(l.split()) > 1 else (l.strip(), "")
                     for l in out.splitlines() if l.strip())
        self.assertEqual(lines["HERALD_LISTEN"], "127.0.0.1:8080")
        self.assertEqual(lines["HERALD_API_LIMIT"], "90")
        self.assertEqual(lines["HERALD_DATA_DIR"], "./data")
        self.assertEqual(lines["HERALD_PUBLIC_URL"], "http://127.0.0.1:8080")
        self.assertEqual(lines["HERALD_SECRET_KEY"], "")
        # flag beats environment beats default
        rc, out, err = run_cli("config", "--api-limit", "7", "--listen", "127.0.0.1:9999",
                               env={"HERALD_API_LIMIT": "5"})
        lines = dict(l.split(None, 1) for l in out.splitlines() if len(l.split()) > 1)
        self.assertEqual(lines["HERALD_API_LIMIT"], "7")
        self.assertEqual(lines["HERALD_LISTEN"], "127.0.0.1:9999")
        self.assertEqual(lines["HERALD_PUBLIC_URL"], "http://127.0.0.1:9999")


class KeysChannelsTest(HeraldTestCase):

    def test_keys_create_prints_one_line(self):
        org = unique("cli")
        rc, out, err = self.srv.cli("keys", "create", "--org", org)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertTrue(out.endswith("\n"))
        self.assertRegex(out.strip(), HEX64_RE)
        # keys differ, and both work for the same org
        k2 = self.srv.key(org)
        self.assertNotEqual(k2, out.strip())
        for k in (out.strip(), k2):
            st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=k)
            self.assertEqual((st, b), (200, {"connected": True}))

    def test_keys_create_default_org_and_bad_args(self):
        rc, out, err = self.srv.cli("keys", "create")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.strip(), HEX64_RE)
        self.assertEqual(len(out.splitlines()), 1)
        rc, out, err = self.srv.cli("keys", "create", "--bogus")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        rc, out, err = self.srv.cli("keys", "create", "--org", "")
        self.assertEqual(rc, 2)
        rc, out, err = self.srv.cli("keys", "frob")
        self.assertEqual(rc, 2)

    def test_keys_list_never_shows_key(self):
        org = unique("list")
        key = self.srv.key(org)
        rc, out, err = self.srv.cli("keys", "list")
        self.assertEqual(rc, 0, err)
        self.assertNotIn(key, out)
        rows = [r for r in self.srv.key_ids() if r["org"] == org]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["hint"], "%s...%s" % (key[:4], key[-4:]))

    def test_keys_revoke(self):
        org = unique("rev")
        key = self.srv.key(org)
        other = self.srv.key(org)
        st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=key)
        self.assertEqual(st, 200)
        hint = "%s...%s" % (key[:4], key[-4:])
        kid = [r["id"] for r in self.srv.key_ids() if r["hint"] == hint][0]
        rc, out, err = self.srv.cli("keys", "revoke", kid)
        revoked_at = time.monotonic()
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "revoked %s\n" % kid)
        # each event loop may trust a verified key for AUTH_CACHE_MS (2 s) more
        time.sleep(max(0.0, revoked_at + AUTH_CACHE_S + 0.2 - time.monotonic()))
        for k in (key, "Bearer " + key) * 3:  # several requests: every loop answers
            st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=k)
            self.assertEqual(st, 401, b)
            self.assertEqual(b["msg"], "Invalid API key")
            self.assertEqual(b["error"]["code"], "unauthenticated")
        # the org's other key still works; revoking twice fails
        st, h, b = self.srv.request("GET", "/public/v1/is-connected", key=other)
        self.assertEqual(st, 200)
        rc, out, err = self.srv.cli("keys", "revoke", kid)
        self.assertEqual(rc, 1)
        rc, out, err = self.srv.cli("keys", "revoke", "no-such-key")
        self.assertEqual(rc, 1)
        rc, out, err = self.srv.cli("keys", "revoke")
        self.assertEqual(rc, 2)

    def test_channels_add_list_remove(self):
        org = unique("chan")
        key = self.srv.key(org)
        cid = self.srv.channel(org, "My hook", "http://127.0.0.1:9/x")
        rc, out, err = self.srv.cli("channels", "list", "--org", org)
        self.assertEqual(rc, 0, err)
        self.assertIn(cid, out)
        self.assertIn("My hook", out)
        st, h, b = self.srv.request("GET", "/public/v1/integrations", key=key)
        self.assertEqual([i["id"] for i in b], [cid])
        rc, out, err = self.srv.cli("channels", "remove", "--org", org, cid)
        self.assertEqual(rc, 0, err)
        st, h, b = self.srv.request("GET", "/public/v1/integrations", key=key)
        self.assertEqual(b, [])
        rc, out, err = self.srv.cli("channels", "remove", "--org", org, cid)
        self.assertEqual(rc, 1)

    def test_channels_add_refuses_bad_input(self):
        org = unique("chbad")
        for args in (["--provider", "webhook", "--credentials", "{"],
                     ["--provider", "webhook", "--credentials", "[]"],
                     ["--provider", "nope", "--credentials", "{}"],
                     ["--provider", "webhook"],
                     ["--credentials", "{}"]):
            with self.subTest(args=args):
                rc, out, err = self.srv.cli("channels", "add", "--org", org, *args)
                self.assertEqual(rc, 2, (out, err))
                self.assertEqual(out, "")
        rc, out, err = self.srv.cli("channels", "add", "--org", org, "--provider", "webhook",
                                    "--credentials", '{"url":"ftp://x"}')
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")


class ServeTest(unittest.TestCase):

    def test_serve_refuses_bad_listen(self):
        tmp = tempfile.mkdtemp(prefix="herald-it-")
        try:
            for addr in ("nonsense", "127.0.0.1:notaport", "256.1.1.1:80"):
                with self.subTest(addr=addr):
                    rc, out, err = run_cli("serve", "--listen", addr, "--data-dir",
                                           os.path.join(tmp, "data"), timeout=10)
                    self.assertEqual(rc, 1, (out, err))
                    self.assertIn(addr, err)
                    self.assertNotIn("herald listening", out)
        finally:
            shutil.rmtree(tmp)

    def test_serve_refuses_port_in_use(self):
        first = Herald()
        tmp = tempfile.mkdtemp(prefix="herald-it-")
        try:
            p = subprocess.Popen([HERALD_BIN, "serve", "--listen", "127.0.0.1:%d" % first.port,
                                  "--data-dir", os.path.join(tmp, "data")], env=base_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                out, err = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                p.terminate()
                out, err = p.communicate()
                self.fail("a second herald started on port %d, which is in use" % first.port)
            self.assertEqual(p.returncode, 1, err)
            self.assertIn(b"in use", err)
        finally:
            shutil.rmtree(tmp)
            first.stop()

    def test_serve_unexpected_argument(self):
        rc, out, err = run_cli("serve", "extra")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()
