"""Nostr provider end to end: herald -> WebSocket relays on loopback.

The relays are a minimal RFC 6455 server written here (the Python stdlib
has no WebSocket server): it records every ["EVENT", ...] it receives and
answers per a script (OK true, OK false "blocked:"/"duplicate:", silence,
NOTICEs, fragmented or oversized messages).

Every event a relay received is checked with an independent
implementation, nostr-tools from npm (getEventHash, verifyEvent, nip19),
installed by tests/nostr_setup.sh into tests/node_modules.  The tests run it
themselves when it is missing and skip, saying why, when it cannot be had.
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from engine_util import Node

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
SETUP = os.path.join(TESTS, "nostr_setup.sh")
NOSTR_TOOLS = os.path.join(TESTS, "node_modules", "nostr-tools", "package.json")

TIMEOUT_MS = 1500  # HERALD_NOSTR_TIMEOUT_MS: how long herald waits for a relay
TERMINAL = ("published", "failed", "unconfirmed")


def _nostr_tools_reason():
    """None when nostr-tools can be used, else why not (after trying to install it)."""
    if not shutil.which("node"):
        return "node is not installed: nostr-tools cannot verify the events"
    if not os.path.exists(NOSTR_TOOLS):
        try:
            p = subprocess.run(["sh", SETUP], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            return "tests/nostr_setup.sh failed (%s): nostr-tools is not installed" % e
        if p.returncode != 0 or not os.path.exists(NOSTR_TOOLS):
            return ("nostr-tools is not installed and tests/nostr_setup.sh failed: %s"
                    % p.stdout.decode("utf-8", "replace")[-500:])
    return None


# One node process per check: everything the tests want to know from
# nostr-tools about a batch of events and bech32 strings.
NODE_SCRIPT = r"""
import { verifyEvent, getEventHash, getPublicKey, nip19 } from "nostr-tools";
import { hexToBytes } from "@noble/hashes/utils.js";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const q = JSON.parse(input);
const out = { events: [], decoded: [], npubs: [], nsecs: [] };
for (const e of q.events || []) {
  let hash = null, ok = false, err = null;
  try { hash = getEventHash(e); ok = verifyEvent({ ...e }); } catch (x) { err = String(x); }
  out.events.push({ id: e.id, hash, verified: ok, error: err });
}
for (const s of q.decode || []) {
  try {
    const d = nip19.decode(s);
    out.decoded.push({ type: d.type, data: typeof d.data === "object" && !(d.data instanceof Uint8Array)
      ? d.data : (d.data instanceof Uint8Array ? Buffer.from(d.data).toString("hex") : d.data) });
  } catch (x) { out.decoded.push({ error: String(x) }); }
}
for (const sk of q.seckeys || []) {
  const pk = getPublicKey(hexToBytes(sk));
  out.npubs.push({ pubkey: pk, npub: nip19.npubEncode(pk) });
  out.nsecs.push(nip19.nsecEncode(hexToBytes(sk)));
}
process.stdout.write(JSON.stringify(out));
"""


def nostr_tools(query):
    p = subprocess.run(["node", "--input-type=module", "-e", NODE_SCRIPT], cwd=TESTS,
                       input=json.dumps(query).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise AssertionError("nostr-tools check failed: %s" % p.stderr.decode()[-2000:])
    return json.loads(p.stdout)


# ---- a minimal WebSocket relay -------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class _Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.relay = self.server.relay
        self.sock = self.request
        self.sock.settimeout(30)
        self.buf = b""

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, op, payload, fin=True):
        b0 = (0x80 if fin else 0) | op
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 126, n)
        else:
            head = struct.pack("!BBQ", b0, 127, n)
        self.sock.sendall(head + payload)

    def send_json(self, v, fragment=False):
        data = json.dumps(v).encode()
        if fragment and len(data) > 4:
            cut = len(data) // 2
            self.send_frame(0x1, data[:cut], fin=False)
            self.send_frame(0x0, data[cut:], fin=True)
        else:
            self.send_frame(0x1, data)

    def handle(self):
        r = self.relay
        try:
            if r.tls:
                self.sock = r.tls.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            r.note("tls_error", str(e))
            return
        r.track(self.sock)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = self.sock.recv(4096)
                if not chunk or len(head) > 16384:
                    return
                head += chunk
            head, self.buf = head.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            hdr = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdr[k.strip().lower()] = v.strip()
            r.note("handshake", {"request": lines[0], "headers": hdr})
            key = hdr.get("sec-websocket-key", "")
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            self.sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                               % accept).encode())
            msg = b""
            while True:
                b0, b1 = self._recv_exact(2)
                op, fin, masked, n = b0 & 0x0F, b0 & 0x80, b1 & 0x80, b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", self._recv_exact(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self._recv_exact(8))[0]
                if not masked:
                    r.note("protocol_error", "client frame not masked")
                    return
                mask = self._recv_exact(4)
                data = bytearray(self._recv_exact(n))
                for i in range(len(data)):
                    data[i] ^= mask[i % 4]
                if op == 0x8:
                    self.send_frame(0x8, bytes(data[:2]))
                    return
                if op == 0x9:
                    self.send_frame(0xA, bytes(data))
                    continue
                if op in (0x1, 0x0):
                    msg += bytes(data)
                    if fin:
                        self.on_message(msg)
                        msg = b""
        except (EOFError, OSError, ValueError):
            return
        finally:
            r.untrack(self.sock)

    def on_message(self, raw):
        r = self.relay
        try:
            text = raw.decode("utf-8")
            m = json.loads(text)
        except ValueError:
            r.note("protocol_error", "not UTF-8 JSON: %r" % raw[:200])
            raise
        if not (isinstance(m, list) and m and m[0] == "EVENT"):
            r.note("other", text)
            return
        ev = m[1]
        mode = r.next_mode()
        r.record(ev, text, mode)
        if mode == "silent":
            return
        if r.big_notice:
            self.send_json(["NOTICE", "x" * r.big_notice])
        if mode == "notice_ok":
            self.send_json(["NOTICE", "welcome, this relay is a test"])
            self.send_json(["OK", "0" * 64, False, "blocked: not about your event"])
            mode = "ok"
        if mode == "ok":
            self.send_json(["OK", ev["id"], True, ""], fragment=r.fragment)
        elif mode == "blocked":
            self.send_json(["OK", ev["id"], False, "blocked: this pubkey is not welcome here"])
        elif mode == "duplicate":
            self.send_json(["OK", ev["id"], False, "duplicate: already have this event"])
        elif mode == "rate":
            self.send_json(["OK", ev["id"], False, "rate-limited: slow down"])
        elif mode == "close":
            self.sock.shutdown(socket.SHUT_RDWR)


class Relay:
    """A WebSocket relay on 127.0.0.1 that answers EVENTs per `modes`, one mode
    per event received (the last one repeats): ok, blocked, duplicate, rate,
    silent (never answers), notice_ok (NOTICE and an OK for another id first),
    close (drops the connection)."""

    def __init__(self, *modes, tls=None, fragment=False, big_notice=0):
        self.modes = list(modes or ("ok",))
        self.tls = tls
        self.fragment = fragment
        self.big_notice = big_notice
        self.lock = threading.Lock()
        self.events = []   # dicts: event, raw, mode, t
        self.notes = []
        self.socks = set()
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.relay = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("wss" if self.tls else "ws", self.port)

    def next_mode(self):
        with self.lock:
            return self.modes.pop(0) if len(self.modes) > 1 else self.modes[0]

    def record(self, ev, raw, mode):
        with self.lock:
            self.events.append({"event": ev, "raw": raw, "mode": mode, "t": time.time()})

    def note(self, kind, what):
        with self.lock:
            self.notes.append((kind, what))

    def track(self, s):
        with self.lock:
            self.socks.add(s)

    def untrack(self, s):
        with self.lock:
            self.socks.discard(s)

    def received(self):
        with self.lock:
            return [e["event"] for e in self.events]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_cert(dirname):
    """A self-signed certificate for 127.0.0.1 (openssl CLI); (cert, key) or None."""
    if not shutil.which("openssl"):
        return None
    cert, key = os.path.join(dirname, "cert.pem"), os.path.join(dirname, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (cert, key) if p.returncode == 0 else None


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def new_seckey():
    while True:
        k = os.urandom(32)
        # below the secp256k1 order and not zero
        if 0 < int.from_bytes(k, "big") < 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141:
            return k.hex()


class NostrCase(unittest.TestCase):
    server_env = None
    srv = None
    skip_reason = None

    @classmethod
    def setUpClass(cls):
        cls.skip_reason = _nostr_tools_reason()
        if cls.skip_reason:
            raise unittest.SkipTest(cls.skip_reason)
        cls.tmp = tempfile.mkdtemp(prefix="herald-nostr-")
        env = {"HERALD_RETRY_BASE_MS": "100", "HERALD_RETRY_MAX": "2",
               "HERALD_NOSTR_TIMEOUT_MS": str(TIMEOUT_MS)}
        env.update(cls.extra_env())
        cls.srv = harness.Herald(env=env)
        cls.key = cls.srv.key(harness.unique("nostr"))
        cls.relays = []

    @classmethod
    def extra_env(cls):
        return {}

    @classmethod
    def tearDownClass(cls):
        for r in getattr(cls, "relays", []):
            r.close()
        if cls.srv:
            srv, cls.srv = cls.srv, None
            srv.stop()
        if getattr(cls, "tmp", None):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ----

    def setUp(self):
        self.mine = []

    def tearDown(self):
        for r in self.mine:
            bad = [n for n in r.notes if n[0] == "protocol_error"]
            self.assertEqual(bad, [], "herald sent a relay something that is not a WebSocket "
                             "text frame of UTF-8 JSON")

    def relay(self, *modes, **kw):
        r = Relay(*modes, **kw)
        type(self).relays.append(r)
        self.mine.append(r)
        return r

    def connect(self, relays, seckey=None, want=201):
        sk = seckey or new_seckey()
        st, h, b = self.srv.request("POST", "/v1/accounts", key=self.key, body={
            "provider": "nostr", "name": harness.unique("nostr-ch"),
            "credentials": {"private_key": sk, "relays": relays}})
        self.assertEqual(st, want, b)
        return (b["id"], sk, b) if want == 201 else b

    def post(self, channel, *contents):
        body = {"type": "now", "shortLink": False, "tags": [],
                "date": harness.iso_z(harness.utcnow()),
                "posts": [{"integration": {"id": channel},
                           "value": [c if isinstance(c, dict) else {"content": c, "image": []}
                                     for c in contents],
                           "settings": {}}]}
        st, h, b = self.srv.request("POST", "/public/v1/posts", key=self.key, body=body)
        self.assertEqual(st, 201, b)
        return b[0]["postId"]

    def wait(self, pid, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            st, h, b = self.srv.request("GET", "/public/v1/posts/" + pid, key=self.key)
            self.assertEqual(st, 200, b)
            if b["status"] in TERMINAL or time.monotonic() > deadline:
                return b
            time.sleep(0.1)

    def verify(self, events):
        """Every event checked by nostr-tools: id recomputed, signature verified."""
        got = nostr_tools({"events": events})["events"]
        for ev, res in zip(events, got):
            self.assertIsNone(res["error"], res)
            self.assertEqual(res["hash"], ev["id"], "nostr-tools computes another id for %r" % ev)
            self.assertTrue(res["verified"], "nostr-tools rejects the signature of %r" % ev)
        return got


class NostrTest(NostrCase):

    def test_text_note_is_signed_and_verified_by_nostr_tools(self):
        r = self.relay("ok")
        ch, sk, acct = self.connect([r.url])
        content = ("<p>Hello <strong>Nostr</strong> &amp; friends: \"quotes\", back\\slash, "
                   "a/b, caf\u00e9 \u2603 \U0001F680 &lt;tag&gt; &#x1F600; #Herald #nostr</p>"
                   "<p>second paragraph\twith a tab</p>")
        pid = self.post(ch, content)
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        evs = r.received()
        self.assertEqual(len(evs), 1, evs)
        ev = evs[0]
        self.verify(evs)
        self.assertEqual(set(ev), {"id", "pubkey", "created_at", "kind", "tags", "content", "sig"})
        self.assertEqual(ev["kind"], 1)
        self.assertEqual(ev["content"],
                         "Hello Nostr & friends: \"quotes\", back\\slash, a/b, caf\u00e9 \u2603 "
                         "\U0001F680 <tag> \U0001F600 #Herald #nostr\nsecond paragraph\twith a tab")
        self.assertEqual(ev["tags"], [["t", "herald"], ["t", "nostr"]])
        # created_at comes from the post's time, not from the clock at sending
        self.assertLessEqual(abs(ev["created_at"] - time.time()), 120)
        self.assertEqual(p["releaseId"], ev["id"])
        # '/' and non-ASCII travel verbatim, as NIP-01 serializes them
        raw = [e["raw"] for e in r.events][0]
        self.assertIn("a/b, caf\u00e9 \u2603 \U0001F680", raw)
        # the profile is the npub, the release URL a nevent: both per nostr-tools
        tools = nostr_tools({"seckeys": [sk], "decode": [acct["profile"],
                                                          p["releaseURL"][len("nostr:"):]]})
        self.assertEqual(tools["npubs"][0]["npub"], acct["profile"])
        self.assertEqual(tools["npubs"][0]["pubkey"], ev["pubkey"])
        self.assertTrue(p["releaseURL"].startswith("nostr:nevent1"), p)
        npub, nevent = tools["decoded"]
        self.assertEqual(npub, {"type": "npub", "data": ev["pubkey"]})
        self.assertEqual(nevent["type"], "nevent", nevent)
        self.assertEqual(nevent["data"]["id"], ev["id"])
        self.assertEqual(nevent["data"]["author"], ev["pubkey"])
        self.assertEqual(nevent["data"]["kind"], 1)
        self.assertEqual(nevent["data"]["relays"], [r.url])
        # the value[] item carries the same ids
        self.assertEqual(p["value"][0]["releaseId"], ev["id"])
        # the attempt records the relays' answers
        self.assertEqual(len(p["attempts"]), 1, p["attempts"])
        a = p["attempts"][0]
        self.assertEqual(a["outcome"], "ok", a)
        resp = json.loads(a["platformResponse"])
        self.assertEqual(resp["id"], ev["id"])
        self.assertEqual(resp["relays"], [{"url": r.url, "status": "accepted", "message": "",
                                           "sent": True}])

    def test_delete_sends_a_signed_nip09_kind5_event(self):
        """unpublish: a kind-5 deletion request by the same key with e and k tags,
        verified by nostr-tools; the relay's OK marks the post deleted"""
        r = self.relay("ok", "ok")
        ch, sk, acct = self.connect([r.url])
        pid = self.post(ch, "a note to take back")
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        note = p["releaseId"]
        st, h, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=self.key)
        self.assertEqual(st, 202, b)
        deadline = time.monotonic() + 20
        while True:
            st, h, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=self.key)
            self.assertEqual(st, 200, p)
            if p["status"] != "deleting" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(p["status"], "deleted", p)
        evs = r.received()
        self.assertEqual(len(evs), 2, evs)
        first, ev = evs
        self.verify(evs)
        self.assertEqual(ev["kind"], 5)
        self.assertEqual(ev["tags"], [["e", note], ["k", "1"]])
        self.assertEqual(ev["content"], "")
        self.assertEqual(ev["pubkey"], first["pubkey"], "deleted by another key")
        self.assertGreater(ev["created_at"], first["created_at"])
        dels = [a for a in p["attempts"] if a.get("kind") == "unpublish"]
        self.assertEqual([a["outcome"] for a in dels], ["deleted"], p["attempts"])
        self.assertEqual(json.loads(dels[0]["platformResponse"])["id"], ev["id"])

    def test_delete_refused_by_every_relay_keeps_the_post(self):
        """every relay refuses the kind-5 request: the post stays published with the
        relays' words, and the refusal is an unpublish attempt"""
        r = self.relay("ok", "blocked")
        ch, sk, acct = self.connect([r.url])
        pid = self.post(ch, "a note the relay keeps")
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        st, h, b = self.srv.request("POST", "/v1/posts/%s/unpublish" % pid, key=self.key)
        self.assertEqual(st, 202, b)
        deadline = time.monotonic() + 20
        while True:
            st, h, p = self.srv.request("GET", "/public/v1/posts/" + pid, key=self.key)
            if p["status"] != "deleting" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(p["status"], "published", p)
        self.assertIn("NIP-09 deletion request", p["error"] or "")
        self.assertIn("blocked: this pubkey is not welcome here", p["error"] or "")
        evs = r.received()
        self.assertEqual([e["kind"] for e in evs], [1, 5])
        self.verify(evs)
        dels = [a for a in p["attempts"] if a.get("kind") == "unpublish"]
        self.assertEqual([a["outcome"] for a in dels], ["failed"], p["attempts"])

    def test_nsec_key_connects_and_signs(self):
        r = self.relay("ok")
        sk = new_seckey()
        nsec = nostr_tools({"seckeys": [sk]})["nsecs"][0]
        ch, _, acct = self.connect([r.url], seckey=nsec)
        pid = self.post(ch, "plain text stays as it is: 1 < 2 && a &amp; b\n\nnew line")
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        (ev,) = r.received()
        self.verify([ev])
        tools = nostr_tools({"seckeys": [sk]})
        self.assertEqual(ev["pubkey"], tools["npubs"][0]["pubkey"])
        self.assertEqual(acct["profile"], tools["npubs"][0]["npub"])
        self.assertEqual(ev["content"], "plain text stays as it is: 1 < 2 && a &amp; b\n\nnew line")
        self.assertEqual(ev["tags"], [])

    def test_thread_replies_carry_nip10_tags(self):
        r = self.relay("ok")
        ch, sk, _ = self.connect([r.url])
        pid = self.post(ch, "<p>root note</p>", "<p>first reply</p>", "<p>second reply</p>")
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        evs = r.received()
        self.assertEqual([e["content"] for e in evs], ["root note", "first reply", "second reply"])
        self.verify(evs)
        root, first, second = evs
        pk = root["pubkey"]
        self.assertEqual(root["tags"], [])
        # a direct reply to the root carries only the "root" marker (NIP-10)
        self.assertEqual(first["tags"], [["e", root["id"], "", "root"], ["p", pk]])
        self.assertEqual(second["tags"], [["e", root["id"], "", "root"],
                                          ["e", first["id"], "", "reply"], ["p", pk]])
        self.assertEqual([v["releaseId"] for v in p["value"]], [e["id"] for e in evs])
        self.assertEqual(len({e["created_at"] for e in evs}), 3)

    def test_relay_refusal_fails_the_post_with_its_message(self):
        r = self.relay("blocked")
        ch, _, _ = self.connect([r.url])
        pid = self.post(ch, "a note the relay refuses")
        p = self.wait(pid)
        self.assertEqual(p["status"], "failed", p)
        self.assertIn("blocked: this pubkey is not welcome here", p["error"])
        self.assertEqual(len(r.received()), 1, "a permanent refusal must not be retried")
        self.verify(r.received())
        self.assertEqual(p["attempts"][-1]["outcome"], "failed")

    def test_duplicate_answer_counts_as_published(self):
        r = self.relay("duplicate")
        ch, _, _ = self.connect([r.url])
        pid = self.post(ch, "the relay has this one already")
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        (ev,) = r.received()
        self.verify([ev])
        self.assertEqual(p["releaseId"], ev["id"])

    def test_silent_relay_is_retried_then_gives_up(self):
        r = self.relay("silent")
        ch, _, _ = self.connect([r.url])
        t0 = time.monotonic()
        pid = self.post(ch, "nobody answers")
        p = self.wait(pid, timeout=30)
        self.assertEqual(p["status"], "failed", p)
        self.assertIn("gave up after 2 attempts", p["error"])
        self.assertIn("no answer within %d ms" % TIMEOUT_MS, p["error"])
        self.assertGreaterEqual(time.monotonic() - t0, 2 * TIMEOUT_MS / 1000.0 - 0.2)
        evs = r.received()
        self.assertEqual(len(evs), 2, evs)
        self.verify(evs)
        # the retry is the very same event (content-addressed id)
        self.assertEqual(evs[0]["id"], evs[1]["id"])
        self.assertEqual([a["outcome"] for a in p["attempts"]], ["transport", "transport"])

    def test_retry_publishes_the_same_event_id(self):
        r = self.relay("silent", "ok")
        ch, _, _ = self.connect([r.url])
        pid = self.post(ch, "second time lucky")
        p = self.wait(pid, timeout=30)
        self.assertEqual(p["status"], "published", p)
        evs = r.received()
        self.assertEqual(len(evs), 2, evs)
        self.verify(evs)
        self.assertEqual(evs[0]["id"], evs[1]["id"])
        self.assertEqual({k: v for k, v in evs[0].items() if k != "sig"},
                         {k: v for k, v in evs[1].items() if k != "sig"})
        self.assertEqual(p["releaseId"], evs[0]["id"])

    def test_unreachable_relay_is_retried_then_gives_up(self):
        url = "ws://127.0.0.1:%d" % closed_port()
        ch, _, _ = self.connect([url])
        pid = self.post(ch, "nowhere to go")
        p = self.wait(pid, timeout=30)
        self.assertEqual(p["status"], "failed", p)
        self.assertIn("gave up after 2 attempts", p["error"])
        self.assertIn("cannot connect", p["error"])
        self.assertIn(url, p["error"])

    def test_one_relay_accepting_is_enough(self):
        good, bad = self.relay("ok"), self.relay("blocked")
        down = "ws://127.0.0.1:%d/" % closed_port()
        ch, _, _ = self.connect([bad.url, down, good.url])
        pid = self.post(ch, "to three relays")
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        (a,), (b,) = good.received(), bad.received()
        self.assertEqual(a, b)
        self.verify([a])
        resp = json.loads(p["attempts"][-1]["platformResponse"])
        self.assertEqual([x["status"] for x in resp["relays"]], ["rejected", "no_answer", "accepted"])

    def test_every_relay_refusing_fails_with_their_messages(self):
        a, b = self.relay("blocked"), self.relay("blocked")
        ch, _, _ = self.connect([a.url, b.url])
        p = self.wait(self.post(ch, "nobody wants it"))
        self.assertEqual(p["status"], "failed", p)
        self.assertIn(a.url + ": blocked:", p["error"])
        self.assertIn(b.url + ": blocked:", p["error"])

    def test_rate_limited_is_retried(self):
        r = self.relay("rate", "ok")
        ch, _, _ = self.connect([r.url])
        p = self.wait(self.post(ch, "slow down, then go"), timeout=30)
        self.assertEqual(p["status"], "published", p)
        evs = r.received()
        self.assertEqual(len(evs), 2)
        self.assertEqual(evs[0]["id"], evs[1]["id"])
        self.assertEqual([x["outcome"] for x in p["attempts"]], ["retry", "ok"])

    def test_notices_fragments_and_other_ids_are_handled(self):
        r = self.relay("notice_ok", fragment=True)
        ch, _, _ = self.connect([r.url])
        p = self.wait(self.post(ch, "a chatty relay"))
        self.assertEqual(p["status"], "published", p)
        self.assertEqual(len(r.received()), 1)

    def test_oversized_relay_message_is_ignored(self):
        # a 300 KB NOTICE is over herald's 256 KiB bound: dropped, the OK after it counts
        r = self.relay("ok", big_notice=300 * 1024)
        ch, _, _ = self.connect([r.url])
        p = self.wait(self.post(ch, "big talker"))
        self.assertEqual(p["status"], "published", p)

    def test_relay_dropping_the_connection_is_retried(self):
        r = self.relay("close", "ok")
        ch, _, _ = self.connect([r.url])
        p = self.wait(self.post(ch, "hang up once"), timeout=30)
        self.assertEqual(p["status"], "published", p)
        evs = r.received()
        self.assertEqual(len(evs), 2)
        self.assertEqual(evs[0]["id"], evs[1]["id"])

    def test_media_urls_go_into_the_text(self):
        r = self.relay("ok")
        ch, _, _ = self.connect([r.url])
        pid = self.post(ch, {"content": "<p>look</p>",
                             "image": [{"id": "m1", "path": "https://example.com/cat.png"}]})
        p = self.wait(pid)
        self.assertEqual(p["status"], "published", p)
        (ev,) = r.received()
        self.verify([ev])
        self.assertEqual(ev["content"], "look\nhttps://example.com/cat.png")
        self.assertEqual(ev["tags"], [["imeta", "url https://example.com/cat.png"]])

    def test_longest_note(self):
        r = self.relay("ok")
        ch, _, _ = self.connect([r.url])
        text = ("\u00e9t\u00e9 \"\\ " * 12500)[:100000]
        p = self.wait(self.post(ch, text))
        self.assertEqual(p["status"], "published", p)
        (ev,) = r.received()
        self.assertEqual(ev["content"], text)
        self.verify([ev])

    def test_untrusted_tls_relay_is_not_used(self):
        cert = make_cert(self.tmp)
        if not cert:
            self.skipTest("openssl CLI not available to make a test certificate")
        r = self.relay("ok", tls=tls_context(*cert))
        ch, _, _ = self.connect([r.url])
        p = self.wait(self.post(ch, "self-signed relay"), timeout=30)
        self.assertEqual(p["status"], "failed", p)
        self.assertIn("gave up", p["error"])
        self.assertEqual(r.received(), [], "the event went to a relay whose certificate is unknown")

    def test_connect_validates_credentials(self):
        ok = "ws://127.0.0.1:1"
        cases = [
            ({"private_key": "00" * 32, "relays": [ok]}, "secp256k1"),
            ({"private_key": "ff" * 32, "relays": [ok]}, "secp256k1"),
            ({"private_key": "abc", "relays": [ok]}, "64 hex"),
            ({"private_key": "zz" * 32, "relays": [ok]}, "64 hex"),
            ({"relays": [ok]}, "private_key"),
            ({"private_key": 7, "relays": [ok]}, "private_key"),
            ({"private_key": "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe6",
              "relays": [ok]}, "nsec"),
            ({"private_key": "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg",
              "relays": [ok]}, "public key"),
            ({"private_key": new_seckey()}, "relays"),
            ({"private_key": new_seckey(), "relays": []}, "1 to 20"),
            ({"private_key": new_seckey(), "relays": ["https://relay.example"]}, "ws://"),
            ({"private_key": new_seckey(), "relays": ["ws://"]}, "ws://"),
            ({"private_key": new_seckey(), "relays": ["ws://a b"]}, "ws://"),
            ({"private_key": new_seckey(), "relays": ["ws://h:99999"]}, "ws://"),
            ({"private_key": new_seckey(), "relays": [3]}, "strings"),
            ({"private_key": new_seckey(), "relays": ["ws://r%d.example" % i for i in range(21)]},
             "1 to 20"),
        ]
        for cred, needle in cases:
            with self.subTest(cred=cred):
                st, h, b = self.srv.request("POST", "/v1/accounts", key=self.key, body={
                    "provider": "nostr", "name": "bad", "credentials": cred})
                self.assertEqual(st, 400, b)
                self.assertEqual(b["error"]["code"], "validation_failed", b)
                self.assertIn(needle, b["error"]["message"])

    def test_connect_accepts_nip19_vector_and_relay_list_string(self):
        # NIP-19's own example secret key, relays given as one string
        sk_nsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
        sk_hex = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"
        st, h, b = self.srv.request("POST", "/v1/accounts", key=self.key, body={
            "provider": "nostr", "name": "vector", "credentials": {
                "private_key": sk_nsec, "relays": "wss://relay.example, ws://[::1]:7777/x"}})
        self.assertEqual(st, 201, b)
        tools = nostr_tools({"seckeys": [sk_hex]})
        self.assertEqual(b["profile"], tools["npubs"][0]["npub"])


class NostrRestartTest(unittest.TestCase):
    """Exactly once across a crash and a stop: the event id does not change."""

    def setUp(self):
        reason = _nostr_tools_reason()
        if reason:
            self.skipTest(reason)
        self.node = None
        self.relay = None

    def tearDown(self):
        if self.relay:
            self.relay.close()
        if self.node:
            self.node.close()

    def publish_and_interrupt(self, interrupt, env):
        self.relay = Relay("silent", "ok")
        self.node = Node(env=dict({"HERALD_RETRY_BASE_MS": "100",
                                   "HERALD_NOSTR_TIMEOUT_MS": "30000"}, **env))
        self.node.start()
        key = self.node.key("restart")
        st, h, b = self.node.request("POST", "/v1/accounts", key=key, body={
            "provider": "nostr", "name": "r", "credentials": {
                "private_key": new_seckey(), "relays": [self.relay.url]}})
        self.assertEqual(st, 201, b)
        st, h, b = self.node.create(key, {
            "type": "now", "shortLink": False, "tags": [],
            "posts": [{"integration": {"id": b["id"]},
                       "value": [{"content": "survives " + interrupt, "image": []}],
                       "settings": {}}]})
        self.assertEqual(st, 201, b)
        pid = b[0]["postId"]
        deadline = time.monotonic() + 10
        while not self.relay.received() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.relay.received()), 1)
        if interrupt == "kill":
            self.node.proc.kill9()
        else:
            rc, took = self.node.proc.term()
            self.assertEqual(rc, 0)
            self.assertLess(took, 10, "SIGTERM waited for the silent relay")
            self.assertIsNone(self.node.proc.sanitizer_report())
        self.node.start()
        p = self.node.wait_post(key, pid, lambda p: p["status"] in TERMINAL, timeout=20)
        self.assertEqual(p["status"], "published", p)
        evs = self.relay.received()
        self.assertEqual(len(evs), 2, evs)
        self.assertEqual(evs[0]["id"], evs[1]["id"])
        self.assertEqual(p["releaseId"], evs[0]["id"])
        got = nostr_tools({"events": evs})["events"]
        for ev, res in zip(evs, got):
            self.assertEqual(res["hash"], ev["id"])
            self.assertTrue(res["verified"])

    def test_kill9_while_a_relay_is_silent(self):
        self.publish_and_interrupt("kill", {})

    def test_sigterm_with_no_drain_while_a_relay_is_silent(self):
        # the loops are torn down while the request is still out: the relay's
        # thread must not touch them, and the process exits cleanly
        self.publish_and_interrupt("term", {"HERALD_DRAIN_SECONDS": "0"})


@unittest.skipUnless(shutil.which("openssl"), "openssl CLI not available to make a test CA")
class NostrTlsTest(NostrCase):
    """wss:// with a certificate herald trusts (HERALD_NOSTR_CA_FILE adds a CA)."""

    @classmethod
    def extra_env(cls):
        cls.cert = make_cert(cls.tmp)
        return {"HERALD_NOSTR_CA_FILE": cls.cert[0]}

    def test_wss_relay(self):
        r = self.relay("ok", tls=tls_context(*self.cert))
        ch, _, _ = self.connect([r.url])
        p = self.wait(self.post(ch, "over TLS"))
        self.assertEqual(p["status"], "published", p)
        (ev,) = r.received()
        self.verify([ev])
        hs = [w for k, w in r.notes if k == "handshake"][0]
        self.assertEqual(hs["request"], "GET / HTTP/1.1")
        self.assertEqual(hs["headers"]["host"], "127.0.0.1:%d" % r.port)


if __name__ == "__main__":
    unittest.main()
