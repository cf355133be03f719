"""Media pipeline (issue #6, SPEC 9): uploads sniffed from the bytes, size
caps, /uploads serving with ETag and Range, the media library and its
tenancy.  Real files: PNG built by hand (zlib), JPEG/GIF/WebP made by the
`vips` CLI, MP4 hand-built (ftyp, mdat, moov/mvhd/trak/tkhd)."""
import hashlib
import http.client
import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib

from harness import HeraldTestCase, Herald, create_body, entry, item

HAVE_VIPS = shutil.which("vips") is not None


def png_bytes(w=16, h=12, seed=1, noise=False):
    rows = b""
    for y in range(h):
        rows += b"\0" + (os.urandom(w * 3) if noise else
                         bytes(((x * 7 + y * 13 + seed) % 256) for x in range(w * 3)))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def mp4_bytes(duration_ms=5250, w=640, h=360, mdat_len=2000):
    def box(t, p):
        return struct.pack(">I", 8 + len(p)) + t + p
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, duration_ms)
               + struct.pack(">IH", 0x10000, 0x100) + b"\0" * 70 + struct.pack(">I", 2))
    tkhd = box(b"tkhd", b"\0\0\0\x03" + struct.pack(">IIIII", 0, 0, 1, 0, duration_ms)
               + b"\0" * 52 + struct.pack(">II", w << 16, h << 16))
    moov = box(b"moov", mvhd + box(b"trak", tkhd))
    return ftyp + box(b"mdat", os.urandom(mdat_len)) + moov


def vips_convert(png, ext, extra=""):
    d = tempfile.mkdtemp()
    try:
        src = os.path.join(d, "in.png")
        with open(src, "wb") as f:
            f.write(png)
        out = os.path.join(d, "out." + ext)
        subprocess.run(["vips", "copy", src, out + extra], check=True, capture_output=True)
        with open(out, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def multipart(fields, boundary="----heraldTestBoundary7MA4YWxk"):
    """fields: list of (name, filename or None, content type or None, bytes)."""
    out = b""
    for name, filename, ctype, data in fields:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out += b"Content-Disposition: " + disp.encode() + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, "multipart/form-data; boundary=" + boundary


def raw_get(h, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class MediaBase(HeraldTestCase):
    def upload(self, key, data, filename="f.bin", ctype="application/octet-stream",
               route="/public/v1/upload", field="file", h=None):
        body, ct = multipart([(field, filename, ctype, data)])
        return (h or self.srv).request("POST", route, key=key, raw=body, headers={"Content-Type": ct})

    def local_path(self, url):
        self.assertTrue(url.startswith(self.srv.url + "/uploads/"), url)
        return url[len(self.srv.url):]


class UploadTest(MediaBase):
    def check_roundtrip(self, key, data, mime, ext, filename, declared):
        st, _, r = self.upload(key, data, filename=filename, ctype=declared)
        self.assertEqual(st, 201, r)
        self.assertEqual(sorted(r.keys()), ["alt", "id", "name", "originalName", "path", "thumbnail"])
        self.assertTrue(r["path"].endswith("." + ext), r["path"])
        self.assertTrue(r["name"].endswith("." + ext))
        self.assertEqual(r["originalName"], filename)
        st, hd, got = raw_get(self.srv, self.local_path(r["path"]))
        self.assertEqual(st, 200)
        self.assertEqual(got, data)
        self.assertEqual(hd["content-type"], mime)
        self.assertEqual(hd["etag"], '"%s"' % hashlib.sha256(data).hexdigest())
        st, _, m = self.srv.request("GET", "/v1/media/" + r["id"], key="Bearer " + key)
        self.assertEqual(st, 200, m)
        self.assertEqual(m["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(m["bytes"], len(data))
        self.assertEqual(m["mime"], mime)
        return r, m

    def test_png_roundtrip_and_facts(self):
        key = self.srv.key("media-png")
        data = png_bytes(33, 21)
        _, m = self.check_roundtrip(key, data, "image/png", "png", "a.png", "image/png")
        self.assertEqual((m["width"], m["height"]), (33, 21))

    @unittest.skipUnless(HAVE_VIPS, "vips CLI not installed")
    def test_jpeg_gif_webp_roundtrip(self):
        key = self.srv.key("media-img")
        for ext, mime in (("jpg", "image/jpeg"), ("gif", "image/gif"), ("webp", "image/webp")):
            data = vips_convert(png_bytes(40, 30), ext)
            _, m = self.check_roundtrip(key, data, mime, ext, "pic." + ext, mime)
            self.assertEqual((m["width"], m["height"]), (40, 30), ext)

    @unittest.skipUnless(HAVE_VIPS, "vips CLI not installed")
    def test_tiff_avif_bmp_roundtrip(self):
        key = self.srv.key("media-more")
        for ext, mime in (("tif", "image/tiff"), ("avif", "image/avif"), ("bmp", "image/bmp")):
            data = vips_convert(png_bytes(40, 30), ext)
            _, m = self.check_roundtrip(key, data, mime, {"tif": "tiff"}.get(ext, ext), "pic." + ext, mime)
            self.assertEqual((m["width"], m["height"]), (40, 30), ext)

    def test_mp4_roundtrip_duration(self):
        key = self.srv.key("media-mp4")
        data = mp4_bytes(5250, 640, 360)
        _, m = self.check_roundtrip(key, data, "video/mp4", "mp4", "clip.mp4", "video/mp4")
        self.assertEqual(m["durationMs"], 5250)
        self.assertEqual((m["width"], m["height"]), (640, 360))

    def test_native_route_shape(self):
        key = self.srv.key("media-native")
        data = png_bytes()
        st, _, r = self.upload("Bearer " + key, data, filename="n.png", route="/v1/media")
        self.assertEqual(st, 201, r)
        for k in ("id", "url", "mime", "bytes", "sha256", "width", "height", "name", "createdAt"):
            self.assertIn(k, r)
        self.assertEqual(r["mime"], "image/png")
        self.assertTrue(r["url"].startswith(self.srv.url + "/uploads/") and r["url"].endswith(".png"))

    def test_declared_type_and_name_not_trusted(self):
        key = self.srv.key("media-lie")
        data = png_bytes()
        st, _, r = self.upload(key, data, filename="photo.jpg", ctype="image/jpeg")
        self.assertEqual(st, 201, r)
        self.assertTrue(r["path"].endswith(".png"), r["path"])
        st, hd, _ = raw_get(self.srv, self.local_path(r["path"]))
        self.assertEqual(hd["content-type"], "image/png")

    def test_unsupported_types_refused(self):
        key = self.srv.key("media-415")
        for data, fname in ((b"<html><script>alert(1)</script></html>", "x.png"),
                            (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "x.jpg"),
                            (b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "broken.png")):
            st, _, r = self.upload(key, data, filename=fname, ctype="image/png")
            self.assertEqual(st, 415, (fname, r))
            self.assertEqual(r["error"]["code"], "unsupported_media_type")
        st, _, r = self.srv.request("GET", "/v1/media", key="Bearer " + key)
        self.assertEqual(r["data"], [])

    def test_malformed_and_missing(self):
        key = self.srv.key("media-400")
        st, _, r = self.srv.request("POST", "/public/v1/upload", key=key, raw=b"abc",
                                  headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        self.assertEqual(st, 400, r)
        st, _, r = self.srv.request("POST", "/public/v1/upload", key=key, body={"file": "x"})
        self.assertEqual(st, 400, r)
        body, ct = multipart([("other", None, None, b"value")])
        st, _, r = self.srv.request("POST", "/public/v1/upload", key=key, raw=body,
                                  headers={"Content-Type": ct})
        self.assertEqual(st, 400, r)
        self.assertIn("No file provided", r["msg"])
        # the file part cut before the closing boundary
        body, ct = multipart([("file", "a.png", "image/png", png_bytes())])
        st, _, r = self.srv.request("POST", "/public/v1/upload", key=key, raw=body[:-40],
                                  headers={"Content-Type": ct})
        self.assertEqual(st, 400, r)
        st, _, r = self.upload(None, png_bytes())
        self.assertEqual(st, 401)

    def test_image_over_10mb_refused(self):
        key = self.srv.key("media-big")
        w, h = 2000, 1800  # stored PNG (zlib level 0): > 10 MB
        rows = b"".join(b"\0" + os.urandom(w * 3) for _ in range(h))

        def chunk(t, d):
            return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
        data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b""))
        self.assertGreater(len(data), 10 * 1024 * 1024)
        st, _, r = self.upload(key, data, filename="big.png", ctype="image/png")
        self.assertEqual(st, 413, r)
        self.assertEqual(r["error"]["code"], "payload_too_large")

    def test_serving_range_etag_traversal(self):
        key = self.srv.key("media-serve")
        data = mp4_bytes()
        st, _, r = self.upload(key, data, filename="v.mp4")
        path = self.local_path(r["path"])
        st, hd, got = raw_get(self.srv, path, {"Range": "bytes=0-9"})
        self.assertEqual(st, 206)
        self.assertEqual(got, data[:10])
        self.assertEqual(hd["content-range"], "bytes 0-9/%d" % len(data))
        st, hd, got = raw_get(self.srv, path, {"Range": "bytes=-7"})
        self.assertEqual((st, got), (206, data[-7:]))
        st, hd, got = raw_get(self.srv, path, {"Range": "bytes=100-"})
        self.assertEqual((st, got), (206, data[100:]))
        st, hd, got = raw_get(self.srv, path, {"Range": "bytes=%d-" % len(data)})
        self.assertEqual(st, 416)
        self.assertEqual(hd["content-range"], "bytes */%d" % len(data))
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=15)
        conn.request("HEAD", path)
        resp = conn.getresponse()
        self.assertEqual((resp.status, resp.getheader("Content-Length"), resp.read()),
                         (200, str(len(data)), b""))
        self.assertEqual(resp.getheader("Content-Type"), "video/mp4")
        conn.close()
        st, hd, _ = raw_get(self.srv, path)
        etag = hd["etag"]
        self.assertEqual(hd["accept-ranges"], "bytes")
        st, _, got = raw_get(self.srv, path, {"If-None-Match": etag})
        self.assertEqual((st, got), (304, b""))
        st, _, got = raw_get(self.srv, path, {"Range": "bytes=0-3", "If-Range": '"other"'})
        self.assertEqual((st, got), (200, data))
        for bad in ("/uploads/..%2f..%2fetc%2fpasswd", "/uploads/%2e%2e", "/uploads/.tmp",
                    "/uploads/" + r["name"].upper(), "/uploads/" + r["name"] + "%00.png",
                    "/uploads/" + r["name"][:26] + ".b1m.jpg", "/uploads/../data/herald.db"):
            st, _, _ = raw_get(self.srv, bad)
            self.assertIn(st, (400, 404), bad)


class _SeededHerald(Herald):
    """A server whose data dir holds leftovers of a crashed process."""

    def _start(self, timeout):
        up = os.path.join(self.data_dir, "uploads")
        os.makedirs(os.path.join(up, ".tmp"))
        self.seeded = {"old": os.path.join(up, ".tmp", "up-old"), "new": os.path.join(up, ".tmp", "up-new"),
                       "part": os.path.join(up, "01m826h716bavvxs5pwd17m6pp.png.part-abc123"),
                       "keep": os.path.join(up, "01m826h716bavvxs5pwd17m6pp.png")}
        for name, p in self.seeded.items():
            with open(p, "wb") as f:
                f.write(b"x")
            if name != "new":
                os.utime(p, (time.time() - 7200, time.time() - 7200))
        super()._start(timeout)


class StartupSweepTest(unittest.TestCase):
    def test_stale_temporaries_removed_at_start(self):
        h = _SeededHerald()
        try:
            exists = {k: os.path.exists(p) for k, p in h.seeded.items()}
        finally:
            h.stop()
        self.assertEqual(exists, {"old": False, "new": True, "part": False, "keep": True})


class LibraryTest(MediaBase):
    def test_list_get_delete_and_conflict(self):
        key = self.srv.key("media-lib")
        bk = "Bearer " + key
        ids = []
        for i in range(5):
            st, _, r = self.upload(key, png_bytes(8, 8, seed=i), filename="p%d.png" % i)
            self.assertEqual(st, 201, r)
            ids.append(r["id"])
        seen, cursor = [], None
        while True:
            q = "/v1/media?limit=2" + ("&cursor=" + cursor if cursor else "")
            st, _, r = self.srv.request("GET", q, key=bk)
            self.assertEqual(st, 200, r)
            seen += [m["id"] for m in r["data"]]
            cursor = r["nextCursor"]
            if not cursor:
                break
        self.assertEqual(seen, list(reversed(ids)))
        st, _, r = self.srv.request("GET", "/v1/media?limit=0", key=bk)
        self.assertEqual(st, 400)

        # a queued post referencing ids[0] (Postiz image {id, path}) blocks its delete
        ch = self.srv.channel("media-lib", "hook")
        st, _, m0 = self.srv.request("GET", "/v1/media/" + ids[0], key=bk)
        img = {"id": ids[0], "path": m0["url"]}
        st, _, r = self.srv.request("POST", "/public/v1/posts", key=key,
                                  body=create_body("schedule", [entry(ch, item("hi", image=[img]))]))
        self.assertEqual(st, 201, r)
        st, _, r = self.srv.request("DELETE", "/v1/media/" + ids[0], key=bk)
        self.assertEqual(st, 409, r)
        self.assertEqual(r["error"]["code"], "invalid_state")
        # an unreferenced one goes, with its file
        st, _, r = self.srv.request("DELETE", "/v1/media/" + ids[1], key=bk)
        self.assertEqual(st, 200, r)
        st, _, _ = raw_get(self.srv, self.local_path(r["url"]))
        self.assertEqual(st, 404)
        st, _, r = self.srv.request("GET", "/v1/media/" + ids[1], key=bk)
        self.assertEqual(st, 404)
        st, _, r = self.srv.request("DELETE", "/v1/media/" + ids[1], key=bk)
        self.assertEqual(st, 404)
        self.assertFalse(os.path.exists(os.path.join(self.srv.data_dir, "uploads", r.get("name", "x"))))

    def test_idempotent_upload_ignores_the_boundary(self):
        key = self.srv.key("media-idem")
        data = png_bytes(9, 9, seed=7)
        got = []
        for boundary in ("----one", "----two"):
            body, ct = multipart([("file", "i.png", "image/png", data)], boundary=boundary)
            st, hd, r = self.srv.request("POST", "/v1/media", key="Bearer " + key, raw=body,
                                         headers={"Content-Type": ct, "Idempotency-Key": "up-1"})
            self.assertEqual(st, 201, r)
            got.append((r["id"], hd.get("idempotency-replayed")))
        self.assertEqual(got[1], (got[0][0], "true"))
        body, ct = multipart([("file", "i.png", "image/png", png_bytes(9, 9, seed=8))])
        st, _, r = self.srv.request("POST", "/v1/media", key="Bearer " + key, raw=body,
                                    headers={"Content-Type": ct, "Idempotency-Key": "up-1"})
        self.assertEqual((st, r["error"]["code"]), (409, "idempotency_conflict"))
        st, _, r = self.srv.request("GET", "/v1/media", key="Bearer " + key)
        self.assertEqual(len(r["data"]), 1)

    def test_openapi_describes_uploads(self):
        st, _, doc = self.srv.request("GET", "/openapi.json")
        self.assertEqual(st, 200)
        for path in ("/v1/media", "/public/v1/upload"):
            body = doc["paths"][path]["post"]["requestBody"]["content"]
            self.assertEqual(list(body), ["multipart/form-data"], path)
            self.assertEqual(body["multipart/form-data"]["schema"]["properties"]["file"]["format"], "binary")
        for path in ("/v1/media/from-url", "/public/v1/upload-from-url", "/v1/media/{id}", "/uploads/{name}"):
            self.assertIn(path, doc["paths"])

    def test_tenancy(self):
        ka, kb = self.srv.key("media-a"), self.srv.key("media-b")
        st, _, r = self.upload(ka, png_bytes(), filename="a.png")
        mid = r["id"]
        st, _, r = self.srv.request("GET", "/v1/media/" + mid, key="Bearer " + kb)
        self.assertEqual(st, 404)
        st, _, r = self.srv.request("DELETE", "/v1/media/" + mid, key="Bearer " + kb)
        self.assertEqual(st, 404)
        st, _, r = self.srv.request("GET", "/v1/media", key="Bearer " + kb)
        self.assertEqual(r["data"], [])
        st, _, r = self.srv.request("GET", "/v1/media/" + mid, key="Bearer " + ka)
        self.assertEqual(st, 200)


class UploadCapTest(MediaBase):
    server_env = {"HERALD_MAX_UPLOAD": "200000", "HERALD_MAX_BODY": "4096"}

    def test_upload_cap_413_and_large_body_ok(self):
        key = self.srv.key("media-cap")
        # over HERALD_MAX_BODY but under HERALD_MAX_UPLOAD: accepted (upload route)
        big = png_bytes(120, 120, noise=True)
        self.assertGreater(len(big), 4096)
        st, _, r = self.upload(key, big, filename="b.png")
        self.assertEqual(st, 201, r)
        st, hd, got = raw_get(self.srv, self.local_path(r["path"]))
        self.assertEqual(got, big)
        # over HERALD_MAX_UPLOAD: 413
        st, _, r = self.upload(key, b"\0" * 250000, filename="z.bin")
        self.assertEqual(st, 413, r)
        # other routes keep HERALD_MAX_BODY
        st, _, r = self.srv.request("POST", "/public/v1/posts", key=key, raw=b"{" + b" " * 5000 + b"}")
        self.assertEqual(st, 413, r)


if __name__ == "__main__":
    unittest.main()


# ---- upload from URL ----

import http.server
import socketserver
import threading
import time


class _Origin:
    """A local HTTP server: routes path -> (status, headers, body) or a callable."""

    def __init__(self):
        self.routes = {}
        self.hits = []
        origin = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                origin.hits.append(self.path)
                r = origin.routes.get(self.path, (404, {}, b"nope"))
                if callable(r):
                    return r(self)
                st, hd, body = r
                self.send_response(st)
                for k, v in hd.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class FromUrlAllowedTest(MediaBase):
    """HERALD_FETCH_ALLOW_PRIVATE=1: the loopback origin is reachable."""
    server_env = {"HERALD_FETCH_ALLOW_PRIVATE": "1", "HERALD_MAX_UPLOAD": "300000",
                  "HERALD_FETCH_TIMEOUT": "2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.o = _Origin()
        cls.addClassCleanup(cls.o.close)

    def fetch(self, key, url, route="/public/v1/upload-from-url"):
        return self.srv.request("POST", route, key=key, body={"url": url}, timeout=30)

    def test_fetch_redirects_and_sniffing(self):
        key = self.srv.key("fetch-ok")
        data = png_bytes(20, 10)
        self.o.routes["/img/real.png"] = (200, {"Content-Type": "text/html"}, data)
        self.o.routes["/r1"] = (302, {"Location": "/r2"}, b"")
        self.o.routes["/r2"] = (301, {"Location": self.o.url + "/img/real.png"}, b"")
        st, _, r = self.fetch(key, self.o.url + "/r1")
        self.assertEqual(st, 201, r)
        self.assertEqual(sorted(r.keys()), ["alt", "id", "name", "originalName", "path", "thumbnail"])
        self.assertTrue(r["path"].endswith(".png"))
        st, hd, got = raw_get(self.srv, self.local_path(r["path"]))
        self.assertEqual((st, got, hd["content-type"]), (200, data, "image/png"))
        st, _, m = self.srv.request("GET", "/v1/media/" + r["id"], key="Bearer " + key)
        self.assertEqual((m["width"], m["height"]), (20, 10))
        self.assertEqual(m["sourceUrl"], self.o.url + "/r1")
        # native route
        st, _, r = self.fetch("Bearer " + key, self.o.url + "/img/real.png", route="/v1/media/from-url")
        self.assertEqual(st, 201, r)
        self.assertEqual(r["sha256"], hashlib.sha256(data).hexdigest())

    def test_fetch_refusals(self):
        key = self.srv.key("fetch-bad")
        self.o.routes["/page.png"] = (200, {"Content-Type": "image/png"}, b"<html>not an image</html>")
        self.o.routes["/big.png"] = (200, {}, b"\x89PNG" + b"\0" * 400000)
        self.o.routes["/loop"] = (302, {"Location": "/loop"}, b"")
        self.o.routes["/ftp"] = (302, {"Location": "ftp://127.0.0.1/x.png"}, b"")

        def slow(h):
            h.send_response(200)
            h.send_header("Content-Length", "100000")
            h.end_headers()
            for _ in range(50):
                try:
                    h.wfile.write(b"\0" * 10)
                    h.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)
        self.o.routes["/slow"] = slow
        cases = [("/page.png", 415, "unsupported_media_type"), ("/big.png", 413, "payload_too_large"),
                 ("/missing.png", 400, "validation_failed"), ("/loop", 400, "validation_failed"),
                 ("/ftp", 400, "validation_failed"), ("/slow", 400, "validation_failed")]
        for path, want, code in cases:
            st, _, r = self.fetch(key, self.o.url + path)
            self.assertEqual(st, want, (path, r))
            self.assertEqual(r["error"]["code"], code, path)
        for bad in ("ftp://127.0.0.1/x.png", "file:///etc/passwd", "gopher://127.0.0.1/", "not a url",
                    "http://", 42):
            st, _, r = self.srv.request("POST", "/public/v1/upload-from-url", key=key, body={"url": bad})
            self.assertEqual(st, 400, bad)
        st, _, r = self.srv.request("GET", "/v1/media", key="Bearer " + key)
        self.assertEqual(r["data"], [])
        self.assertEqual(os.listdir(os.path.join(self.srv.data_dir, "uploads", ".tmp")), [])


class FromUrlGuardTest(MediaBase):
    """HERALD_FETCH_ALLOW_PRIVATE unset.  Only 127.0.0.1/32 is excepted
    (HERALD_FETCH_ALLOW_CIDRS) so that the origin can answer with redirects
    into ranges that stay refused."""
    server_env = {"HERALD_FETCH_ALLOW_CIDRS": "127.0.0.1/32"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.o = _Origin()
        cls.addClassCleanup(cls.o.close)

    def test_private_addresses_refused(self):
        key = self.srv.key("guard")
        for url in ("http://127.0.0.2:%d/x.png" % self.o.port,
                    "http://[::1]:%d/x.png" % self.o.port, "http://169.254.169.254/latest/meta-data/",
                    "http://10.0.0.1/x.png", "http://192.168.1.1/x.png", "http://172.16.0.1/x.png",
                    "http://100.64.0.1/x.png", "http://100.100.100.200/x.png", "http://224.0.0.1/x.png",
                    "http://0.0.0.0:%d/x.png" % self.o.port, "http://[fd00:ec2::254]/x.png",
                    "http://[::ffff:169.254.169.254]/x.png", "http://[fe80::1]/x.png",
                    "http://2130706434:%d/x.png" % self.o.port):
            st, _, r = self.srv.request("POST", "/public/v1/upload-from-url", key=key, body={"url": url},
                                        timeout=30)
            self.assertEqual(st, 400, (url, r))
            self.assertIn("private", r["error"]["message"], url)

    def test_redirects_into_private_refused(self):
        key = self.srv.key("guard-redirect")
        self.o.hits.clear()
        for i, target in enumerate(("http://169.254.169.254/latest/meta-data/iam",
                                    "http://127.0.0.2:%d/x.png" % self.o.port,
                                    "http://[::1]:%d/x.png" % self.o.port,
                                    "http://10.1.2.3/x.png")):
            self.o.routes["/redir%d" % i] = (302, {"Location": target}, b"")
            st, _, r = self.srv.request("POST", "/v1/media/from-url", key="Bearer " + key,
                                        body={"url": self.o.url + "/redir%d" % i}, timeout=30)
            self.assertEqual(st, 400, (target, r))
            self.assertIn("private", r["error"]["message"], target)
        # the excepted address itself works, so the refusals above came from the redirect hop
        self.o.routes["/ok.png"] = (200, {}, png_bytes())
        st, _, r = self.srv.request("POST", "/v1/media/from-url", key="Bearer " + key,
                                    body={"url": self.o.url + "/ok.png"})
        self.assertEqual(st, 201, r)
        self.assertNotIn("/x.png", self.o.hits)


class FromUrlDefaultTest(MediaBase):
    """Defaults: no exception at all, loopback by name or number is refused."""

    def test_loopback_refused(self):
        o = _Origin()
        self.addCleanup(o.close)
        o.routes["/x.png"] = (200, {}, png_bytes())
        key = self.srv.key("guard-default")
        for url in (o.url + "/x.png", "http://localhost:%d/x.png" % o.port):
            st, _, r = self.srv.request("POST", "/public/v1/upload-from-url", key=key, body={"url": url})
            self.assertEqual(st, 400, (url, r))
            self.assertIn("private", r["error"]["message"])
        self.assertEqual(o.hits, [])


# ---- providers publish herald-hosted media from storage ----

import sys  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_platform import FakePlatform  # noqa: E402

MEDIA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "providers", "media")


def big_photo_jpeg(w=2400, h=1800):
    """A photo-like JPEG of several MB: gradients plus grain, quality 97."""
    rows = []
    for y in range(h):
        noise = os.urandom(w * 3)
        row = bytearray(w * 3)
        for x in range(0, w * 3, 3):
            row[x] = (x // 3 * 255 // w + noise[x] // 3) & 0xff
            row[x + 1] = (y * 255 // h + noise[x + 1] // 3) & 0xff
            row[x + 2] = (128 + noise[x + 2] // 3) & 0xff
        rows.append(b"\0" + bytes(row))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + chunk(b"IEND", b""))
    return vips_convert(png, "jpg", "[Q=97]")


def blob_reply(n):
    return {"json": {"blob": {"$type": "blob", "ref": {"$link": "bafkreib%051d" % n},
                              "mimeType": "image/jpeg", "size": 1}}}


@unittest.skipUnless(HAVE_VIPS, "vips CLI not installed")
class BlueskyHostedMediaTest(MediaBase):
    # the fake also serves "elsewhere" media, from loopback
    server_env = {"HERALD_RETRY_BASE_MS": "100", "HERALD_FETCH_ALLOW_CIDRS": "127.0.0.0/8"}

    def connect(self, key, fake):
        st, _, acct = self.srv.request("POST", "/v1/accounts", key=key, body={
            "provider": "bluesky", "name": "bsky", "verify": False,
            "credentials": {"service": fake.url, "identifier": "alice.bsky.social",
                            "password": "abcd-efgh-ijkl-mnop"}})
        self.assertEqual(st, 201, acct)
        return acct["id"]

    def publish(self, key, channel, images):
        body = {"type": "now", "date": "2020-01-01T00:00:00Z", "shortLink": False, "tags": [],
                "posts": [{"integration": {"id": channel},
                           "value": [{"content": "<p>photo</p>", "image": images}], "settings": {}}]}
        st, _, created = self.srv.request("POST", "/public/v1/posts", key=key, body=body)
        self.assertEqual(st, 201, created)
        pid = created[0]["postId"]
        deadline = time.monotonic() + 30
        while True:
            st, _, got = self.srv.request("GET", "/public/v1/posts/" + pid, key=key)
            if got.get("status") in ("published", "failed", "unconfirmed") or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def test_large_photo_arrives_under_blob_cap(self):
        key = self.srv.key("bsky-media")
        photo = big_photo_jpeg()
        self.assertGreater(len(photo), 2_000_000)
        small = png_bytes(30, 20)
        st, _, up1 = self.upload(key, photo, filename="photo.jpg", ctype="image/jpeg")
        self.assertEqual(st, 201, up1)
        st, _, up2 = self.upload(key, small, filename="s.png", ctype="image/png")
        self.assertEqual(st, 201, up2)
        fake = FakePlatform(MEDIA_DIR).start()
        self.addCleanup(fake.stop)
        session = {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession"},
                   "reply": {"json": {"accessJwt": "acc-1", "refreshJwt": "ref-1",
                                      "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
                                      "handle": "alice.bsky.social", "active": True}}}
        fake.load([
            session,
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.uploadBlob",
                        "headers": {"content-type": "image/jpeg"}}, "reply": blob_reply(1)},
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.uploadBlob",
                        "headers": {"content-type": "image/png"}}, "reply": blob_reply(2)},
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.createRecord",
                        "json_subset": {"record": {"text": "photo"}}},
             "reply": {"json": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kx",
                                "cid": "bafyreig1"}}},
        ])
        ch = self.connect(key, fake)
        got = self.publish(key, ch, [{"id": up1["id"], "path": up1["path"], "alt": "big"},
                                     {"id": up2["id"], "path": up2["path"]}])
        self.assertEqual(got.get("status"), "published", json.dumps(got)[:3000] + fake.transcript())
        self.assertEqual(fake.problems(), [])
        blob1 = fake.records[1]["body"]
        self.assertLessEqual(len(blob1), 1_000_000)
        self.assertGreater(len(blob1), 10_000)
        self.assertEqual(blob1[:3], b"\xff\xd8\xff")
        self.assertEqual(fake.records[2]["body"], small)  # fits already: the original bytes
        rec = json.loads(fake.records[3]["body"])
        ar = rec["record"]["embed"]["images"][0]["aspectRatio"]
        self.assertLessEqual(max(ar["width"], ar["height"]), 2000)
        self.assertAlmostEqual(ar["width"] / ar["height"], 2400 / 1800, places=1)
        self.assertEqual(fake.media_gets, [])
        # the original is untouched
        st, _, back = raw_get(self.srv, self.local_path(up1["path"]))
        self.assertEqual(back, photo)

    def test_large_photo_from_elsewhere_fitted(self):
        """An image given by URL (not uploaded to herald) over Bluesky's blob
        cap gets the same fitted JPEG copy, made after the fetch."""
        key = self.srv.key("bsky-media-url")
        photo = big_photo_jpeg()
        self.assertGreater(len(photo), 2_000_000)
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "photo.jpg"), "wb") as f:
            f.write(photo)
        fake = FakePlatform(d).start()
        self.addCleanup(fake.stop)
        fake.load([
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession"},
             "reply": {"json": {"accessJwt": "acc-1", "refreshJwt": "ref-1",
                                "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
                                "handle": "alice.bsky.social", "active": True}}},
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.uploadBlob",
                        "headers": {"content-type": "image/jpeg"}}, "reply": blob_reply(7)},
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.createRecord",
                        "json_subset": {"record": {"text": "photo"}}},
             "reply": {"json": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kz",
                                "cid": "bafyreig7"}}},
        ])
        ch = self.connect(key, fake)
        got = self.publish(key, ch, [{"id": "ext1", "path": fake.url + "/media/photo.jpg"}])
        self.assertEqual(got.get("status"), "published", json.dumps(got)[:3000] + fake.transcript())
        self.assertEqual(fake.problems(), [])
        self.assertEqual(len(fake.media_gets), 1)
        blob = fake.records[1]["body"]
        self.assertLessEqual(len(blob), 1_000_000)
        self.assertGreater(len(blob), 10_000)
        self.assertEqual(blob[:3], b"\xff\xd8\xff")
        rec = json.loads(fake.records[2]["body"])
        ar = rec["record"]["embed"]["images"][0]["aspectRatio"]
        self.assertLessEqual(max(ar["width"], ar["height"]), 2000)
        self.assertAlmostEqual(ar["width"] / ar["height"], 2400 / 1800, places=1)

    def test_hosted_video_goes_as_uploaded(self):
        """A video herald hosts is never fitted like an image: over the
        Bluesky fit's caps (1,000,000 bytes, 2000 px) the uploadBlob body
        is the original bytes, sent as video/mp4 in a video embed."""
        key = self.srv.key("bsky-video")
        video = mp4_bytes(4000, 3840, 2160, mdat_len=1_500_000)
        st, _, up = self.upload(key, video, filename="clip.mp4", ctype="video/mp4")
        self.assertEqual(st, 201, up)
        fake = FakePlatform(MEDIA_DIR).start()
        self.addCleanup(fake.stop)
        blob = {"$type": "blob", "ref": {"$link": "bafkreivid1"}, "mimeType": "video/mp4",
                "size": len(video)}
        fake.load([
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession"},
             "reply": {"json": {"accessJwt": "acc-1", "refreshJwt": "ref-1",
                                "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
                                "handle": "alice.bsky.social", "active": True}}},
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.uploadBlob",
                        "headers": {"content-type": "video/mp4"}}, "reply": {"json": {"blob": blob}}},
            {"expect": {"method": "POST", "path": "/xrpc/com.atproto.repo.createRecord",
                        "json_at": {"record.embed": {"$type": "app.bsky.embed.video", "video": blob,
                                                     "aspectRatio": {"width": 3840, "height": 2160}}}},
             "reply": {"json": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kv",
                                "cid": "bafyreiv1"}}},
        ])
        ch = self.connect(key, fake)
        got = self.publish(key, ch, [{"id": up["id"], "path": up["path"]}])
        self.assertEqual(got.get("status"), "published", json.dumps(got)[:3000] + fake.transcript())
        self.assertEqual(fake.problems(), [])
        self.assertEqual(fake.records[1]["body"], video)
        self.assertEqual(fake.media_gets, [])
        st, _, back = raw_get(self.srv, self.local_path(up["path"]))
        self.assertEqual(back, video)

    def test_other_org_media_not_published(self):
        ka, kb = self.srv.key("bsky-owner"), self.srv.key("bsky-thief")
        st, _, up = self.upload(ka, png_bytes(), filename="mine.png")
        fake = FakePlatform(MEDIA_DIR).start()
        self.addCleanup(fake.stop)
        fake.load([{"expect": {"method": "POST", "path": "/xrpc/com.atproto.server.createSession"},
                    "reply": {"json": {"accessJwt": "acc-1", "refreshJwt": "ref-1",
                                       "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
                                       "handle": "alice.bsky.social", "active": True}}}])
        ch = self.connect(kb, fake)
        got = self.publish(kb, ch, [{"id": up["id"], "path": up["path"]}])
        self.assertEqual(got.get("status"), "failed", got)
        self.assertIn("404", got.get("error") or json.dumps(got))
        self.assertEqual(len(fake.records), 1, fake.transcript())


class PreflightFactsTest(MediaBase):
    """Preflight judges herald-hosted media by its stored facts, not by a URL's
    extension or what the client declares."""

    def validate(self, key, body):
        return self.srv.request("POST", "/v1/posts/validate", key="Bearer " + key, body=body)

    def rules(self, d):
        return sorted(v["rule"] for v in d["violations"])

    def test_video_facts_reach_preflight(self):
        key = self.srv.key("pf-facts")
        st, _, up = self.upload(key, mp4_bytes(2000, 320, 240), filename="short.mp4")
        self.assertEqual(st, 201, up)
        for media in ([{"mediaId": up["id"]}], [up["path"]],
                      [{"url": up["path"], "mime": "image/png", "duration": 100}]):
            st, _, d = self.validate(key, {"text": "clip", "media": media,
                                           "targets": [{"platform": "tiktok"}]})
            self.assertEqual(st, 200, d)
            rules = self.rules(d)
            self.assertTrue(any(r.endswith("video.min_duration") for r in rules), (media, rules))
            self.assertTrue(any(r.endswith("video.min_short_edge") for r in rules), (media, rules))
        # another organization's id does not exist for it
        other = self.srv.key("pf-facts-other")
        st, _, d = self.validate(other, {"text": "clip", "media": [{"mediaId": up["id"]}],
                                         "targets": [{"platform": "tiktok"}]})
        self.assertEqual(st, 400, d)
        self.assertEqual((d["error"]["code"], d["error"]["field"]), ("validation_failed", "media[0].mediaId"))

    def test_native_post_with_media_id(self):
        key = self.srv.key("native-media")
        bk = "Bearer " + key
        st, _, up = self.upload(bk, png_bytes(), filename="n.png", route="/v1/media")
        self.assertEqual(st, 201, up)
        ch = self.srv.channel("native-media", "hook")
        st, _, post = self.srv.request("POST", "/v1/posts", key=bk, body={
            "text": "with media", "media": [{"mediaId": up["id"], "alt": "a"}],
            "targets": [{"accountId": ch}], "draft": True})
        self.assertIn(st, (200, 201, 202), post)
        # the draft uses it: DELETE refused, then allowed once the draft is canceled
        st, _, r = self.srv.request("DELETE", "/v1/media/" + up["id"], key=bk)
        self.assertEqual(st, 409, r)
        st, _, r = self.srv.request("DELETE", "/v1/posts/" + post["id"], key=bk)
        self.assertEqual(st, 200, r)
        st, _, r = self.srv.request("DELETE", "/v1/media/" + up["id"], key=bk)
        self.assertEqual(st, 200, r)

    def test_bluesky_image_over_cap_is_fine_when_hosted(self):
        key = self.srv.key("pf-bsky")
        data = png_bytes(1000, 400, noise=True)
        self.assertGreater(len(data), 1_000_000)
        st, _, up = self.upload(key, data, filename="big.png")
        self.assertEqual(st, 201, up)
        st, _, d = self.validate(key, {"text": "big", "media": [{"mediaId": up["id"]}],
                                       "targets": [{"platform": "bluesky"}, {"platform": "x"}]})
        self.assertEqual(d["violations"], [], d)
        # an external image of the same size cannot be shrunk: refused
        st, _, d = self.validate(key, {"text": "big", "media": [{"url": "https://cdn.example/a.png",
                                                                   "bytes": len(data)}],
                                       "targets": [{"platform": "bluesky"}]})
        self.assertIn("bluesky.image.max_bytes", self.rules(d))


# ---- S3-compatible object storage ----

import hmac  # noqa: E402
import re  # noqa: E402
import urllib.parse  # noqa: E402


class FakeS3:
    """Path-style S3 (PUT/GET/HEAD/DELETE /bucket/key) that recomputes every
    request's AWS Signature V4 and refuses (403) a wrong one, and refuses a
    PUT whose x-amz-content-sha256 is not the body's hash."""

    AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                         r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")

    def __init__(self, access, secret, region, bucket):
        self.access, self.secret, self.region, self.bucket = access, secret, region, bucket
        self.objects = {}
        self.log = []
        self.problems = []
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _go(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                st, out, hd = fake.handle(self, body)
                self.send_response(st)
                for k, v in hd.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)
            do_GET = do_PUT = do_HEAD = do_DELETE = _go

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        self.srv = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def check_sig(self, h, body):
        auth = h.headers.get("Authorization", "")
        m = self.AUTH_RE.match(auth)
        if not m:
            return "bad Authorization shape: %r" % auth
        ak, date, region, signed, sig = m.groups()
        if ak != self.access or region != self.region:
            return "wrong credential scope %s/%s" % (ak, region)
        amz_date = h.headers.get("x-amz-date", "")
        if not amz_date.startswith(date):
            return "x-amz-date %r does not match the scope date" % amz_date
        payload = h.headers.get("x-amz-content-sha256")
        if payload is None:
            return "no x-amz-content-sha256"
        if payload != hashlib.sha256(body).hexdigest():
            return "x-amz-content-sha256 is not the body's hash"
        names = signed.split(";")
        for need in ("host", "x-amz-date", "x-amz-content-sha256"):
            if need not in names:
                return "%s not signed" % need
        split = urllib.parse.urlsplit(h.path)
        canon_headers = "".join("%s:%s\n" % (n, " ".join((h.headers.get(n) or "").split())) for n in names)
        q = "&".join(sorted(split.query.split("&"))) if split.query else ""
        creq = "\n".join([h.command, split.path, q, canon_headers, signed, payload])
        scope = "%s/%s/s3/aws4_request" % (date, region)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (date, region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(want, sig) else "signature mismatch"

    def handle(self, h, body):
        path = urllib.parse.urlsplit(h.path).path
        self.log.append((h.command, path))
        why = self.check_sig(h, body)
        if why:
            self.problems.append("%s %s: %s" % (h.command, path, why))
            return 403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", {}
        prefix = "/" + self.bucket + "/"
        if not path.startswith(prefix):
            return 404, b"<Error><Code>NoSuchBucket</Code></Error>", {}
        key = path[len(prefix):]
        if h.command == "PUT":
            self.objects[key] = (body, h.headers.get("Content-Type"))
            return 200, b"", {"ETag": '"%s"' % hashlib.md5(body).hexdigest()}
        if key not in self.objects:
            return 404, b"<Error><Code>NoSuchKey</Code></Error>", {}
        if h.command == "DELETE":
            del self.objects[key]
            return 204, b"", {}
        data, ctype = self.objects[key]
        return 200, data, {"Content-Type": ctype or "application/octet-stream"}


class S3StorageTest(MediaBase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = FakeS3("AKIDHERALDTEST", "s3cr3t/key+value", "eu-west-3", "herald-media")
        cls.server_env = {"HERALD_STORAGE": "s3", "HERALD_S3_ENDPOINT": cls.s3.url,
                          "HERALD_S3_BUCKET": "herald-media", "HERALD_S3_REGION": "eu-west-3",
                          "HERALD_S3_ACCESS_KEY": "AKIDHERALDTEST",
                          "HERALD_S3_SECRET_KEY": "s3cr3t/key+value"}
        super().setUpClass()
        cls.addClassCleanup(cls.s3.close)

    def test_objects_live_in_the_bucket(self):
        key = self.srv.key("s3")
        data = png_bytes(24, 18)
        st, _, r = self.upload(key, data, filename="s.png")
        self.assertEqual(st, 201, r)
        self.assertEqual(self.s3.problems, [])
        self.assertEqual(self.s3.objects[r["name"]], (data, "image/png"))
        # the local copy is only a cache: drop it and the file is served from the bucket
        os.unlink(os.path.join(self.srv.data_dir, "uploads", r["name"]))
        st, hd, got = raw_get(self.srv, self.local_path(r["path"]), {"Range": "bytes=0-7"})
        self.assertEqual((st, got), (206, data[:8]))
        self.assertIn(("GET", "/herald-media/" + r["name"]), self.s3.log)
        st, _, d = self.srv.request("DELETE", "/v1/media/" + r["id"], key="Bearer " + key)
        self.assertEqual(st, 200, d)
        self.assertNotIn(r["name"], self.s3.objects)
        self.assertEqual(self.s3.problems, [])

    def test_bad_config_refused_at_start(self):
        with self.assertRaises(AssertionError):
            Herald(env={"HERALD_STORAGE": "s3", "HERALD_S3_ENDPOINT": self.s3.url}, start_timeout=5)


class S3CacheTest(MediaBase):
    """The local copy of the bucket is bounded by HERALD_S3_CACHE_MAX: the
    least recently used files leave it (they stay in the bucket)."""
    @classmethod
    def setUpClass(cls):
        cls.s3 = FakeS3("AKIDHERALDTEST", "s3cr3t/key+value", "eu-west-3", "herald-media")
        cls.server_env = {"HERALD_STORAGE": "s3", "HERALD_S3_ENDPOINT": cls.s3.url,
                          "HERALD_S3_BUCKET": "herald-media", "HERALD_S3_REGION": "eu-west-3",
                          "HERALD_S3_ACCESS_KEY": "AKIDHERALDTEST",
                          "HERALD_S3_SECRET_KEY": "s3cr3t/key+value",
                          "HERALD_S3_CACHE_MAX": "1048576"}
        super().setUpClass()
        cls.addClassCleanup(cls.s3.close)

    def cached(self, name):
        return os.path.exists(os.path.join(self.srv.data_dir, "uploads", name))

    def test_least_recently_used_leave_first(self):
        key = self.srv.key("s3cache")
        files, ups = [], []
        for i in range(3):
            data = mp4_bytes(1000 + i, mdat_len=400_000)
            st, _, r = self.upload(key, data, filename="v%d.mp4" % i)
            self.assertEqual(st, 201, r)
            files.append(data)
            ups.append(r)
            time.sleep(0.05)
        # 1.2 MB written, 1 MiB allowed: trimmed to 80%, the oldest went
        self.assertFalse(self.cached(ups[0]["name"]))
        self.assertTrue(self.cached(ups[1]["name"]) and self.cached(ups[2]["name"]))
        time.sleep(0.05)
        st, _, got = raw_get(self.srv, self.local_path(ups[1]["path"]))  # read: now the newest
        self.assertEqual((st, got), (200, files[1]))
        time.sleep(0.05)
        data = mp4_bytes(2000, mdat_len=400_000)
        st, _, r = self.upload(key, data, filename="v3.mp4")
        self.assertEqual(st, 201, r)
        files.append(data)
        ups.append(r)
        self.assertFalse(self.cached(ups[2]["name"]))  # least recently used
        self.assertTrue(self.cached(ups[1]["name"]) and self.cached(ups[3]["name"]))
        total = sum(os.path.getsize(os.path.join(self.srv.data_dir, "uploads", n))
                    for n in os.listdir(os.path.join(self.srv.data_dir, "uploads")) if not n.startswith("."))
        self.assertLessEqual(total, 1048576)
        # every file is still served, byte for byte, from the bucket when not cached
        for up, data in zip(ups, files):
            st, _, got = raw_get(self.srv, self.local_path(up["path"]))
            self.assertEqual((st, got), (200, data), up["name"])
        self.assertIn(("GET", "/herald-media/" + ups[0]["name"]), self.s3.log)
        self.assertEqual(self.s3.problems, [])


# ---- every provider case with images, the images uploaded to herald first ----

import test_provider_cases as tpc  # noqa: E402  (a module: its TestCase is not collected here)


def _rewrite(v, urls, names):
    """Media URLs of the fake -> herald /uploads URLs; expected file names and
    titles follow (the name is now herald's); body_file and file still name the
    fixture whose bytes must arrive."""
    if isinstance(v, str):
        if v in names:
            return names[v]
        for old, new in urls.items():
            v = v.replace(old, new)
        return v
    if isinstance(v, list):
        return [_rewrite(x, urls, names) for x in v]
    if isinstance(v, dict):
        return {k: (x if k in ("body_file", "file") and isinstance(x, str) else _rewrite(x, urls, names))
                for k, x in v.items()}
    return v


class HostedMediaProviderCases(unittest.TestCase):
    """The image cases of tests/providers (Bluesky, Mastodon, Telegram,
    Discord, Slack) again, with the images uploaded to herald and the post
    pointing at HERALD_PUBLIC_URL/uploads/...: the same bytes must reach the
    platform, read from storage (the fake's /media/ is never asked)."""

    def test_image_cases(self):
        ran = []
        for platform, path in tpc.discover():
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
            files = sorted(set(re.findall(r"%FAKE%/media/([\w.-]+)", json.dumps(raw.get("post", {})))))
            if not files or not all(os.path.isfile(os.path.join(tpc.MEDIA, n)) for n in files):
                continue
            if "pad_to=" in json.dumps(raw.get("post", {})):
                continue  # a size cap of a remote fetch: the fake pads the file, storage cannot
            if "HERALD_FETCH_ALLOW_CIDRS" in raw.get("env", {}):
                continue  # the guard of remote fetches: hosted media is never fetched
            with self.subTest(case=os.path.basename(path), platform=platform):
                self.run_hosted(raw, files, path)
                ran.append(platform)
        self.assertGreaterEqual(set(ran), {"bluesky", "mastodon", "telegram", "discord", "slack"})

    def run_hosted(self, raw, files, path):
        fake = FakePlatform(tpc.MEDIA).start()
        srv = None
        try:
            case = tpc.substitute(raw, fake.url)
            srv = Herald(env=case.get("env") or {})
            org = "cases_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
            key = srv.key(org)
            urls, names = {}, {}
            for n in files:
                with open(os.path.join(tpc.MEDIA, n), "rb") as f:
                    data = f.read()
                body, ct = multipart([("file", n, None, data)])
                st, _, r = srv.request("POST", "/public/v1/upload", key=key, raw=body,
                                       headers={"Content-Type": ct})
                self.assertEqual(st, 201, r)
                urls[fake.url + "/media/" + n] = r["path"]
                names[n] = r["name"]
            case["post"] = _rewrite(case.get("post", {}), urls, names)
            case["exchanges"] = _rewrite(case.get("exchanges", []), {}, names)
            fake.load(case["exchanges"])
            pc = tpc.ProviderCases("run_case")
            pc._drive(case, fake, srv, path)
            self.assertEqual(fake.media_gets, [], "media was fetched from the fake, not storage")
        finally:
            fake.stop()
            if srv is not None:
                srv.stop()


import test_postiz_clients as tpz  # noqa: E402  (a module: its TestCases are not collected here)


@unittest.skipUnless(tpz.POSTIZ_CLI, "the postiz CLI is not installed")
class RealPostizCliUploadTest(MediaBase):
    """`postiz upload FILE` (the real Postiz CLI) against herald."""

    def test_cli_upload(self):
        key = self.srv.key("pz-upload")
        d = tempfile.mkdtemp(prefix="herald-it-pzu-")
        try:
            data = png_bytes(17, 9)
            fp = os.path.join(d, "shot.png")
            with open(fp, "wb") as f:
                f.write(data)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTIZ_", "HERALD_"))}
            env.update(POSTIZ_API_URL=self.srv.url, POSTIZ_API_KEY=key, HOME=d)
            p = subprocess.run([tpz.POSTIZ_CLI, "upload", fp], env=env, capture_output=True, text=True,
                               timeout=60)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = tpz.RealPostizCliTest.json_of(p.stdout)
        self.assertTrue(out["path"].endswith(".png"), out)
        self.assertEqual(out["originalName"], "shot.png")
        st, hd, got = raw_get(self.srv, self.local_path(out["path"]))
        self.assertEqual((st, got), (200, data))
