"""Uploads are streamed to storage as they arrive (src/http/stream.c).

What a client sees on the wire: large files without the server holding
them in memory, chunked bodies, Expect: 100-continue, answers before the
body when the upload is refused, keep-alive and pipelined requests on the
same connection, and no temporary file left by a client that hangs up.
"""
import hashlib
import http.client
import os
import socket
import struct
import time
import unittest

from harness import HeraldTestCase, Herald
from test_media import multipart, mp4_bytes, png_bytes

BOUNDARY = "----heraldStreamTest"


def big_mp4(n):
    """A real MP4 layout (ftyp, moov with mvhd, mdat of n bytes) without holding n bytes twice."""
    def box(t, p):
        return struct.pack(">I", 8 + len(p)) + t + p
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, 4000)
               + struct.pack(">IH", 0x10000, 0x100) + b"\0" * 70 + struct.pack(">I", 2))
    moov = box(b"moov", mvhd)
    return ftyp + moov + struct.pack(">I", 8 + n) + b"mdat" + os.urandom(n)


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def read_response(sock, buf=b""):
    """One HTTP/1.1 response from sock: (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise AssertionError("connection closed before a response: %r" % buf)
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        d = sock.recv(65536)
        if not d:
            break
        rest += d
    return status, headers, rest[:n], rest[n:]


class StreamBase(HeraldTestCase):
    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20)
        self.addCleanup(s.close)
        return s

    def head(self, key, length, route="/v1/media", extra=""):
        return ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n%s\r\n"
                % (route, key, BOUNDARY, length, extra)).encode()

    def tmp_files(self):
        d = os.path.join(self.srv.data_dir, "uploads", ".tmp")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


class StreamTest(StreamBase):
    # ASan keeps freed memory in quarantine (256 MB by default), which would
    # show every transient buffer in the peak RSS; without it the peak is the
    # server's own
    server_env = {"HERALD_MAX_BODY": "65536",
                  "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:quarantine_size_mb=0"}

    def test_large_upload_not_held_in_memory(self):
        key = self.srv.key("stream-big")
        n = 96 * 1024 * 1024
        data = big_mp4(n)
        body, ct = multipart([("file", "big.mp4", "video/mp4", data)], BOUNDARY)
        # settle the allocator first with a small upload
        st, _, _ = self.srv.request("POST", "/v1/media", key=key,
                                    raw=multipart([("file", "s.png", "image/png", png_bytes())], BOUNDARY)[0],
                                    headers={"Content-Type": ct})
        self.assertEqual(st, 201)
        before = vm_hwm_kb(self.srv.proc.pid)
        st, _, m = self.srv.request("POST", "/v1/media", key=key, raw=body,
                                    headers={"Content-Type": ct}, timeout=120)
        self.assertEqual(st, 201, m)
        grew = vm_hwm_kb(self.srv.proc.pid) - before
        # buffered whole, the peak would grow by the body (96 MiB) at least; what it
        # grows by here is ASan's shadow and the allocator's own (~18 MiB)
        self.assertLess(grew, 40 * 1024, "peak RSS grew by %d KiB for a 96 MiB upload" % grew)
        self.assertEqual(m["bytes"], len(data))
        self.assertEqual(m["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(m["mime"], "video/mp4")
        self.assertEqual(m["durationMs"], 4000)
        path = os.path.join(self.srv.data_dir, "uploads", m["name"])
        with open(path, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), m["sha256"])

    def test_chunked_upload(self):
        key = self.srv.key("stream-chunked")
        data = mp4_bytes()
        body, ct = multipart([("file", "c.mp4", "video/mp4", data)], BOUNDARY)
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=20)
        self.addCleanup(conn.close)
        pieces = [body[i:i + 777] for i in range(0, len(body), 777)]
        conn.request("POST", "/public/v1/upload", body=iter(pieces), encode_chunked=True,
                     headers={"Authorization": key, "Content-Type": ct,
                              "Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        out = r.read()
        self.assertEqual(r.status, 201, out)
        self.assertIn(b'"originalName":"c.mp4"', out)
        st, _, listed = self.srv.request("GET", "/v1/media", key=key)
        self.assertEqual(listed["data"][0]["sha256"], hashlib.sha256(data).hexdigest())

    def test_malformed_chunked_body(self):
        key = self.srv.key("stream-badchunk")
        s = self.connect()
        s.sendall(("POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                   "Content-Type: multipart/form-data; boundary=%s\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "zz\r\nhello\r\n" % (key, BOUNDARY)).encode())
        st, h, b, _ = read_response(s)
        self.assertEqual(st, 400, b)
        self.assertIn(b"chunked body is malformed", b)
        self.assertTrue(h.get("x-request-id"))
        self.assertEqual(self.tmp_files(), [])

    def test_malformed_upload_replays_however_it_arrives(self):
        """The idempotency fingerprint of a malformed upload covers all of it,
        so a retry split differently by TCP is the same request (replayed)."""
        key = self.srv.key("stream-idem")
        # a part header block over the parser's 8 KiB bound: malformed early,
        # with 300 KB still to come
        body = (b"--%s\r\nX-Long: " % BOUNDARY.encode()) + b"a" * 20_000 + os.urandom(300_000)
        head = self.head(key, len(body), extra="Idempotency-Key: malformed-1\r\n")
        s = self.connect()
        s.sendall(head + body)
        st, h, b1, _ = read_response(s)
        self.assertEqual(st, 400, b1)
        self.assertIn(b"malformed", b1)
        s2 = self.connect()
        s2.sendall(head + body[:1000])
        for i in range(1000, len(body), 100_000):
            time.sleep(0.05)
            s2.sendall(body[i:i + 100_000])
        st, h, b2, _ = read_response(s2)
        self.assertEqual(st, 400, b2)
        self.assertEqual(h.get("idempotency-replayed"), "true", b2)

    def test_expect_100_continue(self):
        key = self.srv.key("stream-expect")
        data = png_bytes(20, 20)
        body, _ = multipart([("file", "e.png", "image/png", data)], BOUNDARY)
        s = self.connect()
        s.sendall(self.head(key, len(body), extra="Expect: 100-continue\r\n"))
        st, _, _, rest = read_response(s)
        self.assertEqual(st, 100)
        s.sendall(body)
        st, _, b, _ = read_response(s, rest)
        self.assertEqual(st, 201, b)

    def test_unauthenticated_answered_before_the_body(self):
        s = self.connect()
        s.sendall(self.head("wrong-key", 50 * 1024 * 1024, extra="Expect: 100-continue\r\n"))
        st, h, b, _ = read_response(s)  # no 100: the refusal comes first
        self.assertEqual(st, 401, b)
        self.assertEqual(h.get("connection"), "close")
        self.assertEqual(self.tmp_files(), [])
        # without Expect the client may already be sending: still answered at once
        s2 = self.connect()
        s2.sendall(self.head("wrong-key", 50 * 1024 * 1024) + b"x" * 100000)
        st, _, b, _ = read_response(s2)
        self.assertEqual(st, 401, b)
        self.assertIn(b"unauthenticated", b)

    def test_json_body_over_limit_answered_at_once(self):
        key = self.srv.key("stream-json")
        s = self.connect()
        s.sendall(("POST /v1/posts HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"text\":"
                   % (key, 500 * 1024 * 1024)).encode())
        st, h, b, _ = read_response(s)
        self.assertEqual(st, 413, b)
        self.assertIn(b"payload_too_large", b)
        self.assertTrue(h.get("x-request-id"))

    def test_keepalive_and_pipelining(self):
        key = self.srv.key("stream-pipe")
        one, _ = multipart([("file", "1.png", "image/png", png_bytes(10, 10))], BOUNDARY)
        two, _ = multipart([("file", "2.png", "image/png", png_bytes(12, 12))], BOUNDARY)
        s = self.connect()
        # two uploads and a GET in one write: answered in order
        s.sendall(self.head(key, len(one)) + one + self.head(key, len(two), route="/public/v1/upload")
                  + two + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        st1, _, b1, rest = read_response(s)
        st2, _, b2, rest = read_response(s, rest)
        st3, _, b3, _ = read_response(s, rest)
        self.assertEqual((st1, st2, st3), (201, 201, 200), (b1, b2, b3))
        self.assertIn(b'"originalName":"1.png"', b1)
        self.assertIn(b'"originalName":"2.png"', b2)
        self.assertIn(b"ok", b3)
        # and http.client reusing one connection
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=20)
        self.addCleanup(conn.close)
        for i in range(3):
            conn.request("POST", "/v1/media", body=one,
                         headers={"Authorization": key, "Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
            r = conn.getresponse()
            self.assertEqual(r.status, 201, r.read())
            r.read()
            conn.request("GET", "/v1/media?limit=1", headers={"Authorization": key})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            r.read()

    def test_client_hanging_up_leaves_nothing(self):
        key = self.srv.key("stream-hangup")
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20)
        head = multipart([("file", "h.mp4", "video/mp4", b"")], BOUNDARY)[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        s.sendall(self.head(key, 10 * 1024 * 1024) + head + os.urandom(2 * 1024 * 1024))
        time.sleep(0.5)
        self.assertEqual(len(self.tmp_files()), 1)  # the part being written
        s.close()
        deadline = time.monotonic() + 10
        while self.tmp_files() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.tmp_files(), [])
        st, _, listed = self.srv.request("GET", "/v1/media", key=key)
        self.assertEqual(listed["data"], [])
        self.assertTrue(self.srv.alive())


class StreamCapTest(StreamBase):
    server_env = {"HERALD_MAX_UPLOAD": "1048576"}

    def test_over_cap_answered_before_the_body_ends(self):
        key = self.srv.key("stream-cap")
        s = self.connect()
        head = multipart([("file", "h.mp4", "video/mp4", b"")], BOUNDARY)[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        # announced 8 MiB; 2 MiB sent: the 413 comes while the client could still be sending
        s.sendall(self.head(key, 8 * 1024 * 1024) + head + os.urandom(2 * 1024 * 1024))
        st, h, b, _ = read_response(s)
        self.assertEqual(st, 413, b)
        self.assertIn(b"payload_too_large", b)
        self.assertEqual(self.tmp_files(), [])

    def test_chunked_over_cap(self):
        key = self.srv.key("stream-cap-chunked")
        body, ct = multipart([("file", "big.mp4", "video/mp4", big_mp4(2 * 1024 * 1024))], BOUNDARY)
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=20)
        self.addCleanup(conn.close)
        try:
            conn.request("POST", "/v1/media", body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                         encode_chunked=True, headers={"Authorization": key, "Content-Type": ct,
                                                       "Transfer-Encoding": "chunked"})
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = conn.getresponse()
        self.assertEqual(r.status, 413, r.read())
        self.assertEqual(self.tmp_files(), [])


if __name__ == "__main__":
    unittest.main()
