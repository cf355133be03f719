"""MCP: `herald mcp` over stdio and POST /mcp over Streamable HTTP.

Raw JSON-RPC checks of both transports (framing, errors, batches,
notifications, version negotiation, sessions, auth, Origin/Accept), tool
calls compared with the HTTP answer of the same route (a tool is that
route), and the official MCP TypeScript SDK as a real client over both
transports (tests/mcp_sdk_setup.sh installs it; skipped without it).
"""
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest

import datetime as dt

from fake_receiver import FakeReceiver
from harness import (HERALD_BIN, ROOT, SANITIZER_MARKERS, HeraldTestCase, base_env, run_cli, unique,
                     utcnow)

SDK_DIR = os.path.join(ROOT, "build", "mcp-node")
SDK_CLIENT = os.path.join(os.path.dirname(__file__), "mcp_sdk_client.mjs")
HAVE_SDK = os.path.exists(os.path.join(SDK_DIR, "node_modules", "@modelcontextprotocol", "sdk",
                                       "package.json")) and shutil.which("node")

SERVED_TOOLS = {"list_accounts": "listAccounts", "validate_post": "validatePost",
                "find_slot": "postizFindSlot", "create_post": "createPost", "list_posts": "listPosts",
                "get_post": "getPost", "cancel_post": "cancelPost",
                "get_analytics": "getPostAnalytics"}
# tools whose routes are being built on other branches: listed once the
# operation is in the route table (and so in /openapi.json)
PENDING_TOOLS = {"upload_media_from_url": "uploadMediaFromUrl"}


def rpc(id_, method, params=None):
    m = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        m["params"] = params
    return m


def note(method, params=None):
    m = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        m["params"] = params
    return m


def init(version="2025-06-18", id_=0):
    return rpc(id_, "initialize", {"protocolVersion": version, "capabilities": {},
                                   "clientInfo": {"name": "herald-test", "version": "1"}})


def call(id_, name, args=None):
    p = {"name": name}
    if args is not None:
        p["arguments"] = args
    return rpc(id_, "tools/call", p)


class Stdio:
    """One `herald mcp` child: lines in, lines out; stderr to a file."""

    def __init__(self, data_dir, key, extra_env=None):
        self.tmp = tempfile.mkdtemp(prefix="herald-mcp-")
        self.err_path = os.path.join(self.tmp, "stderr")
        self._err = open(self.err_path, "wb")
        env = {"HERALD_API_KEY": key}
        env.update(extra_env or {})
        self.proc = subprocess.Popen([HERALD_BIN, "mcp", "--data-dir", data_dir],
                                     env=base_env(env), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err)
        self.buf = b""

    def send_raw(self, data):
        self.proc.stdin.write(data if isinstance(data, bytes) else data.encode())
        self.proc.stdin.flush()

    def send(self, msg):
        self.send_raw(json.dumps(msg) + "\n")

    def line(self, timeout=20):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line from herald mcp within %ss; stderr:\n%s"
                                     % (timeout, self.stderr()[-3000:]))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError("herald mcp closed stdout; stderr:\n" + self.stderr()[-3000:])
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)  # stdout carries JSON-RPC lines only

    def ask(self, msg):
        self.send(msg)
        return self.line()

    def stderr(self):
        with open(self.err_path, "r", errors="replace") as f:
            return f.read()

    def close(self):
        """EOF on stdin: herald mcp must exit 0, print nothing more and no sanitizer report."""
        self.proc.stdin.close()
        rest = self.proc.stdout.read()
        rc = self.proc.wait(timeout=20)
        self._err.close()
        err = self.stderr()
        shutil.rmtree(self.tmp, ignore_errors=True)
        for m in SANITIZER_MARKERS:
            if m in err:
                raise AssertionError("sanitizer report from herald mcp:\n" + err[-6000:])
        if rc != 0:
            raise AssertionError("herald mcp exited %s; stderr:\n%s" % (rc, err[-3000:]))
        return self.buf + rest


class McpBase(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = unique("mcp")
        cls.key = cls.srv.key(cls.org)
        st, h, b = cls.srv.request("POST", "/v1/accounts", key=cls.key, body={
            "provider": "webhook", "name": "mcp-hook",
            "credentials": {"url": "http://127.0.0.1:9/mcp"}})
        assert st == 201, b
        cls.account = b["id"]
        st, h, doc = cls.srv.request("GET", "/openapi.json")
        cls.ops = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}

    def http(self, method, path, body=None):
        return self.srv.request(method, path, body=body, key=self.key)


class McpStdioTest(McpBase):
    def setUp(self):
        self.p = Stdio(self.srv.data_dir, self.key)
        self.addCleanup(self._close)

    def _close(self):
        if self.p:
            p, self.p = self.p, None
            self.assertEqual(p.close(), b"", "output after the last reply")

    def session(self, version="2025-06-18"):
        r = self.p.ask(init(version))
        self.assertEqual(r["id"], 0)
        self.p.send(note("notifications/initialized"))
        return r["result"]

    def test_initialize_and_negotiation(self):
        res = self.session()
        self.assertEqual(res["protocolVersion"], "2025-06-18")
        self.assertEqual(res["capabilities"], {"tools": {"listChanged": False}})
        self.assertEqual(res["serverInfo"]["name"], "herald")
        for asked, got in [("2025-03-26", "2025-03-26"), ("2024-11-05", "2024-11-05"),
                           ("2099-01-01", "2025-06-18"), ("banana", "2025-06-18")]:
            r = self.p.ask(init(asked, id_="v" + asked))
            self.assertEqual(r, {"jsonrpc": "2.0", "id": "v" + asked, "result": r["result"]})
            self.assertEqual(r["result"]["protocolVersion"], got, asked)
        self.assertEqual(self.p.ask(rpc(5, "ping")), {"jsonrpc": "2.0", "id": 5, "result": {}})

    def test_tools_list_comes_from_the_route_table(self):
        self.session()
        tools = {t["name"]: t for t in self.p.ask(rpc(1, "tools/list"))["result"]["tools"]}
        for name, op in SERVED_TOOLS.items():
            self.assertIn(name, tools)
            self.assertEqual(tools[name]["description"], self.ops[op]["summary"])
            self.assertEqual(tools[name]["inputSchema"]["type"], "object")
            self.assertIn("readOnlyHint", tools[name]["annotations"])
            self.assertTrue(tools[name]["title"])
        self.assertEqual(tools["find_slot"]["inputSchema"]["required"], ["accountId"])
        self.assertEqual(set(tools) - set(SERVED_TOOLS) - set(PENDING_TOOLS), set())
        # 2024-11-05 predates titles and annotations
        self.p.ask(init("2024-11-05"))
        old = self.p.ask(rpc(2, "tools/list"))["result"]["tools"]
        self.assertTrue(all("annotations" not in t and "title" not in t for t in old))

    def test_pending_tools_appear_with_their_routes(self):
        self.session()
        tools = {t["name"] for t in self.p.ask(rpc(1, "tools/list"))["result"]["tools"]}
        absent = []
        for name, op in PENDING_TOOLS.items():
            if op in self.ops:
                self.assertIn(name, tools, "%s is served (%s) but not offered" % (op, name))
            else:
                self.assertNotIn(name, tools, "%s offered without its route %s" % (name, op))
                absent.append(op)
        if absent:
            self.skipTest("routes not in this build yet: " + ", ".join(absent))

    def test_tool_answers_are_the_routes_answers(self):
        self.session()
        r = self.p.ask(call(1, "list_accounts", {}))["result"]
        st, h, want = self.http("GET", "/v1/accounts")
        self.assertEqual(st, 200)
        self.assertFalse(r["isError"])
        self.assertEqual(r["structuredContent"], want)
        self.assertEqual(json.loads(r["content"][0]["text"]), want)
        self.assertEqual(r["content"][0]["type"], "text")
        self.assertIn(self.account, [a["id"] for a in want["data"]])

        body = {"text": "a" * 301, "targets": [{"platform": "bluesky"}, {"accountId": self.account}]}
        r = self.p.ask(call(2, "validate_post", body))["result"]
        st, h, want = self.http("POST", "/v1/posts/validate", body)
        self.assertEqual(st, 200)
        self.assertEqual(r["structuredContent"], want)
        self.assertFalse(want["valid"])
        self.assertEqual([v["rule"] for v in r["structuredContent"]["violations"]],
                         ["bluesky.text.max_graphemes"])

        r = self.p.ask(call(3, "find_slot", {"accountId": self.account}))["result"]
        st, h, want = self.http("GET", "/public/v1/find-slot/" + self.account)
        self.assertEqual(st, 200)
        self.assertFalse(r["isError"])
        self.assertRegex(r["structuredContent"]["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00")

    def test_tool_errors_carry_the_envelope(self):
        self.session()
        r = self.p.ask(call(1, "validate_post", {"text": "x"}))
        self.assertEqual(r["id"], 1)
        res = r["result"]
        self.assertTrue(res["isError"])
        err = res["structuredContent"]["error"]
        self.assertEqual(err["code"], "validation_failed")
        self.assertEqual(err["field"], "targets")
        self.assertEqual(set(res["structuredContent"]), {"error"})
        self.assertEqual(json.loads(res["content"][0]["text"]), res["structuredContent"])
        for k in ("message", "retryable", "docUrl", "requestId"):
            self.assertIn(k, err)
        # a Postiz route's error loses its Postiz fields, keeps the envelope
        res = self.p.ask(call(2, "find_slot", {"accountId": "nope"}))["result"]
        self.assertTrue(res["isError"])
        self.assertEqual(set(res["structuredContent"]), {"error"})
        self.assertEqual(res["structuredContent"]["error"]["code"], "not_found")
        # arguments that cannot form the request never reach the API
        for args, field in [({}, "accountId"), ({"accountId": 5}, "accountId"),
                            ({"accountId": "a/b"}, "accountId"), ({"accountId": "a", "x": 1}, "x")]:
            res = self.p.ask(call(3, "find_slot", args))["result"]
            self.assertTrue(res["isError"], args)
            self.assertEqual(res["structuredContent"]["error"]["code"], "validation_failed")
            self.assertEqual(res["structuredContent"]["error"]["field"], field)

    def test_tenancy(self):
        other = self.srv.key(unique("mcp-other"))
        p2 = Stdio(self.srv.data_dir, other)
        try:
            p2.ask(init())
            r = p2.ask(call(1, "list_accounts"))["result"]
            self.assertEqual(r["structuredContent"], {"data": []})
            r = p2.ask(call(2, "find_slot", {"accountId": self.account}))["result"]
            self.assertTrue(r["isError"])
            self.assertEqual(r["structuredContent"]["error"]["code"], "not_found")
        finally:
            self.assertEqual(p2.close(), b"")

    def test_raw_jsonrpc_errors(self):
        self.session()
        # malformed JSON: -32700 with a null id, and the stream goes on
        self.p.send_raw('{"jsonrpc":"2.0","id":1,"method":"ping"\n')
        r = self.p.line()
        self.assertEqual((r["id"], r["error"]["code"]), (None, -32700))
        self.p.send_raw('{"jsonrpc":"2.0","id":1,"method":"ping","id":2}\n')  # duplicate key
        self.assertEqual(self.p.line()["error"]["code"], -32700)
        self.assertEqual(self.p.ask(rpc(2, "ping"))["result"], {})
        # unknown method: -32601 with the request's id
        r = self.p.ask(rpc("abc", "resources/list"))
        self.assertEqual((r["id"], r["error"]["code"]), ("abc", -32601))
        # bad params: -32602
        for m in [rpc(3, "tools/call", {}), rpc(3, "tools/call", {"name": 5}),
                  rpc(3, "tools/call", {"name": "no_such_tool"}),
                  rpc(3, "tools/call", {"name": "list_accounts", "arguments": [1]}),
                  rpc(3, "initialize", {"protocolVersion": 20250618}),
                  rpc(3, "tools/list", {"cursor": "next"})]:
            r = self.p.ask(m)
            self.assertEqual((r["id"], r["error"]["code"]), (3, -32602), m)
        # invalid requests: -32600
        for m, want_id in [({"id": 4, "method": "ping"}, 4), ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
                           ({"jsonrpc": "2.0", "id": 4, "method": "ping", "params": [1]}, 4),
                           ({"jsonrpc": "2.0", "id": 4.5, "method": "ping"}, None), (7, None), ([], None)]:
            r = self.p.ask(m)
            self.assertEqual((r["id"], r["error"]["code"]), (want_id, -32600), m)

    def test_batches_and_notifications(self):
        self.session()
        # notifications and client responses get no reply: the next line
        # read is the ping's
        self.p.send(note("notifications/cancelled", {"requestId": 1}))
        self.p.send({"jsonrpc": "2.0", "id": 99, "result": {}})
        self.p.send([note("notifications/progress"), note("x")])
        self.assertEqual(self.p.ask(rpc("after", "ping"))["id"], "after")
        r = self.p.ask([rpc(1, "ping"), note("notifications/x"), rpc(2, "nope"), {"bad": 1},
                        call(3, "list_accounts"), init(id_=4)])
        self.assertIsInstance(r, list)
        self.assertEqual([x.get("id") for x in r], [1, 2, None, 3, 4])
        self.assertEqual(r[0]["result"], {})
        self.assertEqual(r[1]["error"]["code"], -32601)
        self.assertEqual(r[2]["error"]["code"], -32600)
        self.assertFalse(r[3]["result"]["isError"])
        self.assertEqual(r[4]["error"]["code"], -32600)  # initialize may not be batched
        r = self.p.ask([rpc(i, "ping") for i in range(101)])
        self.assertEqual(r["error"]["code"], -32600)

    def test_framing(self):
        self.session()
        self.p.send_raw("\n  \r\n")  # blank lines are skipped
        self.p.send_raw(json.dumps(rpc(1, "ping")) + "\r\n")
        self.assertEqual(self.p.line()["id"], 1)
        # two messages in one write, one split across writes
        self.p.send_raw(json.dumps(rpc(2, "ping")) + "\n" + json.dumps(rpc(3, "ping"))[:10])
        self.assertEqual(self.p.line()["id"], 2)
        self.p.send_raw(json.dumps(rpc(3, "ping"))[10:] + "\n")
        self.assertEqual(self.p.line()["id"], 3)

    def test_oversized_line_is_refused_and_skipped(self):
        p = Stdio(self.srv.data_dir, self.key, {"HERALD_MAX_BODY": 2048})
        try:
            big = json.dumps(call(1, "validate_post", {"text": "a" * 100000, "targets": [{"platform": "x"}]}))
            p.send_raw(big + "\n")
            r = p.line()
            self.assertEqual((r["id"], r["error"]["code"]), (None, -32600))
            self.assertIn("2048", r["error"]["message"])
            self.assertEqual(p.ask(rpc(2, "ping"))["id"], 2)
        finally:
            self.assertEqual(p.close(), b"")

    def test_last_line_without_newline(self):
        self.p.send_raw(json.dumps(rpc(1, "ping")))
        self.p.proc.stdin.close()
        self.assertEqual(json.loads(self.p.proc.stdout.readline())["id"], 1)
        self.p.proc.stdin = open(os.devnull, "wb")  # close() closes it again


class McpCliTest(McpBase):
    def test_key_required(self):
        rc, out, err = run_cli("mcp", "--data-dir", self.srv.data_dir)
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("HERALD_API_KEY", err)
        rc, out, err = run_cli("mcp", "--data-dir", self.srv.data_dir, env={"HERALD_API_KEY": "0" * 64})
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("not a valid API key", err)

    def test_help(self):
        rc, out, err = run_cli("mcp", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("HERALD_API_KEY", out)
        self.assertIn("/mcp", out)
        # the tool list is generated from the tool and route tables
        self.assertRegex(out, r"\n  list_accounts +GET /v1/accounts: ")
        self.assertRegex(out, r"\n  find_slot +GET /public/v1/find-slot/\{id\}: ")
        rc, out, err = run_cli("--help")
        self.assertRegex(out, r"\n  mcp ")


SESSION_RE = re.compile(r"^[0-9a-f]{32}\.\d{4}-\d\d-\d\d\.[0-9a-f]{32}$")
ACCEPT = {"Accept": "application/json, text/event-stream"}


class McpHttpTest(McpBase):
    def post(self, msg, key=None, headers=None, raw=None):
        h = dict(ACCEPT)
        h.update(headers or {})
        return self.srv.request("POST", "/mcp", body=msg if raw is None else None, raw=raw,
                                key="Bearer " + self.key if key is None else key, headers=h)

    def initialize(self, version="2025-06-18", key=None):
        st, h, b = self.post(init(version), key=key)
        self.assertEqual(st, 200, b)
        self.assertRegex(h.get("mcp-session-id", ""), SESSION_RE)
        self.assertEqual(b["result"]["protocolVersion"], version)
        return h["mcp-session-id"]

    def test_auth(self):
        st, h, b = self.post(rpc(1, "ping"), key="")
        self.assertEnvelope(st, h, b, 401, "unauthenticated", postiz=False)
        st, h, b = self.post(rpc(1, "ping"), key="Bearer " + "0" * 64)
        self.assertEnvelope(st, h, b, 401, "unauthenticated", postiz=False)
        st, h, b = self.post(rpc(1, "ping"), key=self.key)  # raw key, as everywhere
        self.assertEqual((st, b["result"]), (200, {}))

    def test_session_lifecycle(self):
        sid = self.initialize()
        hs = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"}
        st, h, b = self.post(note("notifications/initialized"), headers=hs)
        self.assertEqual((st, b), (202, ""))
        st, h, b = self.post(rpc(1, "tools/list"), headers=hs)
        self.assertEqual(st, 200)
        self.assertTrue(set(SERVED_TOOLS) <= {t["name"] for t in b["result"]["tools"]})
        self.assertNotIn("mcp-session-id", h)
        st, h, b = self.post(call(2, "list_accounts"), headers=hs)
        st2, h2, want = self.http("GET", "/v1/accounts")
        self.assertEqual(b["result"]["structuredContent"], want)
        # the session remembers 2025-03-26 (no structuredContent there)
        old = self.initialize("2025-03-26")
        st, h, b = self.post(call(3, "list_accounts"), headers={"Mcp-Session-Id": old})
        self.assertNotIn("structuredContent", b["result"])
        self.assertEqual(json.loads(b["result"]["content"][0]["text"]), want)
        # a forged, altered or other key's session: 404
        other = self.srv.key(unique("mcp-http-other"))
        other_sid = self.initialize(key="Bearer " + other)
        for bad in ["nope", sid[:-1] + ("0" if sid[-1] != "0" else "1"),
                    sid.replace("2025-06-18", "2025-03-26"), other_sid]:
            st, h, b = self.post(rpc(4, "ping"), headers={"Mcp-Session-Id": bad})
            self.assertEqual(st, 404, bad)
            self.assertEqual(b["error"]["code"], -32001)
        # a session is valid on every loop: several requests in a row
        for i in range(6):
            st, h, b = self.post(rpc(i, "ping"), headers=hs)
            self.assertEqual(st, 200)

    def test_protocol_version_header(self):
        st, h, b = self.post(rpc(1, "ping"), headers={"MCP-Protocol-Version": "1999-01-01"})
        self.assertEqual(st, 400)
        self.assertEqual(b["error"]["code"], -32600)
        st, h, b = self.post(call(1, "list_accounts"), headers={"MCP-Protocol-Version": "2025-06-18"})
        self.assertIn("structuredContent", b["result"])
        st, h, b = self.post(call(1, "list_accounts"))  # no header, no session: 2025-03-26
        self.assertNotIn("structuredContent", b["result"])

    def test_jsonrpc_errors_over_http(self):
        st, h, b = self.post(None, raw='{"jsonrpc":"2.0","id":1,')
        self.assertEqual(st, 400)
        self.assertEqual((b["id"], b["error"]["code"]), (None, -32700))
        st, h, b = self.post({"jsonrpc": "2.0", "id": 1})
        self.assertEqual((st, b["id"], b["error"]["code"]), (400, 1, -32600))
        st, h, b = self.post([])
        self.assertEqual((st, b["error"]["code"]), (400, -32600))
        st, h, b = self.post(rpc(7, "nope"))
        self.assertEqual((st, b["id"], b["error"]["code"]), (200, 7, -32601))
        st, h, b = self.post(rpc(8, "tools/call", {"name": "nope"}))
        self.assertEqual((st, b["error"]["code"]), (200, -32602))
        st, h, b = self.post([rpc(1, "ping"), note("x"), rpc(2, "nope")])
        self.assertEqual(st, 200)
        self.assertEqual([x["id"] for x in b], [1, 2])
        st, h, b = self.post([note("a"), {"jsonrpc": "2.0", "id": 5, "result": {}}])
        self.assertEqual((st, b), (202, ""))
        st, h, b = self.post(call(9, "validate_post", {"text": "x"}))
        self.assertEqual(st, 200)
        self.assertTrue(b["result"]["isError"])
        self.assertEqual(b["result"]["content"][0]["type"], "text")
        self.assertEqual(json.loads(b["result"]["content"][0]["text"])["error"]["field"], "targets")

    def test_http_level_refusals(self):
        for m in ("GET", "DELETE"):
            st, h, b = self.srv.request(m, "/mcp", key="Bearer " + self.key, headers=ACCEPT)
            self.assertEnvelope(st, h, b, 405, "method_not_allowed", postiz=False)
        st, h, b = self.post(rpc(1, "ping"), headers={"Origin": "http://evil.example"})
        self.assertEnvelope(st, h, b, 403, "origin_not_allowed", field="Origin", postiz=False)
        for ok in ("http://localhost:5173", "http://127.0.0.1", "http://[::1]:8080", self.srv.url):
            st, h, b = self.post(rpc(1, "ping"), headers={"Origin": ok})
            self.assertEqual(st, 200, ok)
        for bad in ("http://localhost.evil.example", "http://127.0.0.1:80x", "null",
                    self.srv.url + ".evil.example"):
            st, h, b = self.post(rpc(1, "ping"), headers={"Origin": bad})
            self.assertEqual(st, 403, bad)
        st, h, b = self.post(rpc(1, "ping"), headers={"Accept": "text/html"})
        self.assertEnvelope(st, h, b, 406, "not_acceptable", field="Accept", postiz=False)
        for ok in ("application/json", "*/*", "text/event-stream;q=1, application/json;q=0.9"):
            st, h, b = self.post(rpc(1, "ping"), headers={"Accept": ok})
            self.assertEqual(st, 200, ok)
        st, h, b = self.post(rpc(1, "ping"), headers={"Content-Type": "multipart/form-data; boundary=x"})
        self.assertEnvelope(st, h, b, 415, "unsupported_media_type", postiz=False)

    def test_tool_calls_count_against_the_key_limit(self):
        # the /mcp POST and each tool call it makes are requests of the key
        st, h, b = self.post(rpc(1, "ping"))
        before = int(h["ratelimit-remaining"])
        st, h, b = self.post([call(1, "list_accounts"), call(2, "list_accounts")])
        self.assertEqual(int(h["ratelimit-remaining"]), before - 1)
        st, h, b = self.post(rpc(3, "ping"))
        self.assertEqual(int(h["ratelimit-remaining"]), before - 4)


def later(days=3):
    t = (utcnow() + dt.timedelta(days=days)).replace(second=0, microsecond=0)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class McpPostsTest(McpBase):
    """The post tools on the native /v1/posts routes; a FakeReceiver stands in
    for the platform so publishNow really publishes."""

    server_env = {"HERALD_RATE_LIMIT": "100000"}

    @classmethod
    def setUpClass(cls):
        cls.rx = FakeReceiver().start()
        super().setUpClass()
        cls.addClassCleanup(cls.rx.stop)

    def setUp(self):
        self.path = "/" + unique("mcp-rx")
        st, h, b = self.http("POST", "/v1/accounts", {
            "provider": "webhook", "name": unique("mcp-ch"),
            "credentials": {"url": self.rx.url(self.path)}})
        self.assertEqual(st, 201, b)
        self.ch = b["id"]
        self.p = Stdio(self.srv.data_dir, self.key)
        self.p.ask(init())
        self.addCleanup(lambda: self.assertEqual(self.p.close(), b""))

    def tool(self, id_, name, args):
        r = self.p.ask(call(id_, name, args))
        self.assertEqual(r["id"], id_)
        return r["result"]

    def test_create_get_list_cancel(self):
        res = self.tool(1, "create_post", {"text": "from mcp", "scheduledAt": later(),
                                           "targets": [{"accountId": self.ch}]})
        self.assertFalse(res["isError"], res)
        post = res["structuredContent"]
        self.assertEqual(post["status"], "queued")
        self.assertEqual(post["creationMethod"], "MCP")
        st, h, want = self.http("GET", "/v1/posts/" + post["id"])
        self.assertEqual(st, 200)
        self.assertEqual(want["creationMethod"], "MCP")
        self.assertEqual(self.tool(2, "get_post", {"postId": post["id"]})["structuredContent"], want)
        page = self.tool(3, "list_posts", {"limit": 1, "status": "queued"})["structuredContent"]
        self.assertEqual([p["id"] for p in page["data"]], [post["id"]])
        res = self.tool(4, "cancel_post", {"postId": post["id"]})
        self.assertFalse(res["isError"], res)
        self.assertEqual(res["structuredContent"]["status"], "canceled")
        res = self.tool(6, "get_post", {"postId": "nope"})
        self.assertTrue(res["isError"])
        self.assertEqual(res["structuredContent"]["error"]["code"], "not_found")
        # the same post created over HTTP says API
        st, h, b = self.http("POST", "/v1/posts", {"text": "http", "scheduledAt": later(),
                                                    "targets": [{"accountId": self.ch}]})
        self.assertEqual((st, b["creationMethod"]), (202, "API"))

    def test_preflight_failure_is_a_tool_error(self):
        res = self.tool(1, "create_post", {"text": "a" * 301, "scheduledAt": later(),
                                           "targets": [{"platform": "bluesky"}]})
        self.assertTrue(res["isError"])
        err = res["structuredContent"]["error"]
        self.assertIn(err["code"], ("preflight_failed", "validation_failed"))

    def test_idempotency_key(self):
        args = {"text": "once", "scheduledAt": later(), "targets": [{"accountId": self.ch}],
                "idempotencyKey": unique("idem")}
        a = self.tool(1, "create_post", args)["structuredContent"]
        b = self.tool(2, "create_post", args)["structuredContent"]
        self.assertEqual(a["id"], b["id"])
        args["text"] = "twice"
        res = self.tool(3, "create_post", args)
        self.assertTrue(res["isError"])
        self.assertEqual(res["structuredContent"]["error"]["code"], "idempotency_conflict")

    def test_publish_now_over_stdio_waits_on_the_loop(self):
        # the handler defers its answer (api_defer); herald mcp runs its
        # loop until the answer is there.  No engine runs in herald mcp: the
        # server's engine publishes, and the answer is 200 (done) or 202
        t0 = time.monotonic()
        res = self.tool(1, "create_post", {"text": "now over stdio", "publishNow": True,
                                           "targets": [{"accountId": self.ch}]})
        self.assertFalse(res["isError"], res)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertIn(res["structuredContent"]["status"], ("published", "queued", "publishing"))
        req = self.rx.wait_one(path=self.path, timeout=15)
        self.assertIn("now over stdio", req.body.decode())
        self.assertEqual(self.p.ask(rpc(2, "ping"))["result"], {})

    def test_publish_now_over_http(self):
        # the /mcp POST itself is deferred until the tool call answers
        st, h, b = self.srv.request("POST", "/mcp", key="Bearer " + self.key, headers=ACCEPT, body=[
            call(1, "create_post", {"text": "now over http", "publishNow": True,
                                    "targets": [{"accountId": self.ch}]}),
            rpc(2, "ping")], timeout=30)
        self.assertEqual(st, 200, b)
        self.assertEqual([x["id"] for x in b], [1, 2])
        res = b[0]["result"]
        self.assertFalse(res["isError"], res)
        self.assertEqual(json.loads(res["content"][0]["text"])["status"], "published")
        self.assertIn("now over http", self.rx.wait_one(path=self.path, timeout=5).body.decode())


@unittest.skipUnless(HAVE_SDK, "run tests/mcp_sdk_setup.sh to install @modelcontextprotocol/sdk")
class McpSdkClientTest(McpBase):
    """The official TypeScript SDK's Client lists and calls tools."""

    def run_client(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(["node", SDK_CLIENT] + list(args), capture_output=True, text=True,
                           timeout=60, env=e, cwd=SDK_DIR)
        self.assertEqual(p.returncode, 0, p.stderr[-4000:])
        return json.loads(p.stdout)

    def check(self, out):
        self.assertEqual(out["serverVersion"]["name"], "herald")
        self.assertTrue(set(SERVED_TOOLS) <= set(out["tools"]), out["tools"])
        st, h, want = self.http("GET", "/v1/accounts")
        self.assertFalse(out["listAccounts"]["isError"])
        self.assertEqual(out["listAccounts"]["structuredContent"], want)
        self.assertTrue(out["validate"]["isError"])
        self.assertEqual(out["validate"]["structuredContent"]["error"]["field"], "targets")
        self.assertEqual(out["slot"]["isError"], False)
        self.assertIn("date", out["slot"]["structuredContent"])
        self.assertEqual(out["unknownTool"]["code"], -32602)
        created = out["created"]["structuredContent"]
        self.assertFalse(out["created"]["isError"], out["created"])
        self.assertEqual((created["status"], created["creationMethod"]), ("draft", "MCP"))
        st, h, b = self.http("GET", "/v1/posts/" + created["id"])
        self.assertEqual((st, b["text"]), (200, created["text"]))

    def test_stdio(self):
        env = {k: v for k, v in base_env({"HERALD_API_KEY": self.key}).items()}
        out = self.run_client("stdio", HERALD_BIN, self.srv.data_dir, self.account,
                              env={"MCP_CHILD_ENV": json.dumps(env)})
        self.check(out)
        self.assertEqual(out["protocolVersion"], "2025-06-18")

    def test_streamable_http(self):
        out = self.run_client("http", self.srv.url + "/mcp", self.key, self.account)
        self.check(out)
        self.assertRegex(out["sessionId"], SESSION_RE)


if __name__ == "__main__":
    unittest.main()
