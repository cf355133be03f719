#!/usr/bin/env python3
"""Engine burst and lateness benchmark (SPEC 11: "100,000 posts due in the same
minute all handed to a local fake platform within 60 s of their time; p99
lateness under 1 s for ordinary load").

    python3 bench/engine_burst.py [--n 100000] [--spread 0] [--bin build/herald]

Starts fake receiver process(es) (tests/integration/fake_receiver.py) and
`herald serve` on a fresh data dir, connects webhook channels pointing at the
receivers, creates N one-item posts through POST /public/v1/posts (100 posts[]
entries per request, several connections, HERALD_API_LIMIT raised) all due at
T (or spread uniformly over [T, T + spread) with --spread), where T leaves
enough time to create them (measured with a pilot batch), then waits until
every post has been received.  Prints one JSON object:

  n, spread_s, created_in_s, create_rate_per_s, lead_s (T - start of creation),
  creation_overran (creation finished after T), received, distinct,
  redelivered, last_after_T_s (last receive time - T; for a spread: - the last
  due time), lateness_s {p50, p90, p99, max, min} (receive time - that post's
  due time), on_time_1s (share handed over within 1 s), herald_vm_hwm_kb
  (peak RSS, /proc/PID/status VmHWM), herald_rss_kb_end, states (sample of
  GET /public/v1/posts/{id}), ok (every post received once or more).

Modes:
  burst (a):           --n 100000            (all due at T)
  ordinary load (c):   --n 1000 --spread 60  (due times spread over a minute)
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

RECEIVER = os.path.join(ROOT, "tests", "integration", "fake_receiver.py")


def cpu_s(pid):
    """utime + stime of a process in seconds (0 when gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def pct(sorted_v, p):
    if not sorted_v:
        return None
    k = min(len(sorted_v) - 1, max(0, int(round(p / 100.0 * (len(sorted_v) - 1)))))
    return sorted_v[k]


class Receivers:
    """K standalone fake receiver processes, each logging JSON lines."""

    def __init__(self, k, tmp, delay=0.0, secret=None, fast=True):
        self.procs, self.urls, self.logs = [], [], []
        for i in range(k):
            log = os.path.join(tmp, "receiver.%d.jsonl" % i)
            args = [sys.executable, RECEIVER, "--port", "0", "--log", log, "--quiet"]
            if delay:
                args += ["--delay", str(delay)]
            if secret:
                args += ["--secret", secret]
            if fast:
                args += ["--fast"]
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
            line = p.stdout.readline().strip()
            if "listening on " not in line:
                raise SystemExit("fake receiver did not start: %r" % line)
            self.procs.append(p)
            self.urls.append(line.split("listening on ", 1)[1])
            self.logs.append(log)

    def stats(self):
        tot = {"requests": 0, "distinct_ids": 0, "duplicates": 0}
        for u in self.urls:
            with urllib.request.urlopen(u + "/__stats", timeout=10) as r:
                s = json.loads(r.read())
            for k in tot:
                tot[k] += s[k]
        return tot

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()

    def records(self):
        out = []
        for log in self.logs:
            try:
                with open(log) as f:
                    for line in f:
                        line = line.strip()
                        if line:
                            out.append(json.loads(line))
            except OSError:
                pass
        return out


def start_herald(node, threads=None, extra=None):
    env = {"HERALD_API_LIMIT": 100000000, "HERALD_RATE_LIMIT": 100000000,
           "HERALD_ACCESS_LOG": 0, "HERALD_LOG_LEVEL": "warn", "HERALD_MAX_BODY": 16 << 20}
    if threads:
        env["HERALD_THREADS"] = threads
    if extra:
        env.update(extra)
    node.extra_env.update({k: str(v) for k, v in env.items()})
    return node.start()


def connect_channels(node, key, urls, n_channels, secret):
    chans = []
    for i in range(n_channels):
        url = urls[i % len(urls)] + "/hook/%d" % i
        ch, _ = node.webhook_channel(key, url, secret=secret, name="bench-%d" % i)
        chans.append(ch)
    return chans


def create_posts(node, key, chans, dues, batch=100, conns=4, tag="b"):
    """Create len(dues) one-item posts (due times in unix seconds) in batches
    of `batch` posts[] entries over `conns` parallel connections.  Returns the
    list of (post id, due) and the seconds it took."""
    import http.client
    from engine_util import iso_ms
    jobs = [(i, min(i + batch, len(dues))) for i in range(0, len(dues), batch)]
    lock = threading.Lock()
    results = [None] * len(dues)
    errors = []
    it = iter(jobs)

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", node.proc.port, timeout=120)
        while True:
            with lock:
                job = next(it, None)
            if job is None or errors:
                break
            a, b = job
            # one request has one date: group consecutive equal dues
            i = a
            while i < b:
                j = i
                while j < b and dues[j] == dues[i]:
                    j += 1
                posts = [{"integration": {"id": chans[k % len(chans)]},
                          "value": [{"content": "%s post %d" % (tag, k), "image": []}],
                          "settings": {}} for k in range(i, j)]
                body = json.dumps({"type": "schedule", "date": iso_ms(dues[i]),
                                   "shortLink": False, "tags": [], "posts": posts}).encode()
                for attempt in range(5):
                    try:
                        conn.request("POST", "/public/v1/posts", body=body,
                                     headers={"Authorization": key,
                                              "Content-Type": "application/json"})
                        r = conn.getresponse()
                        data = r.read()
                        break
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", node.proc.port,
                                                          timeout=120)
                        if attempt == 4:
                            raise
                        time.sleep(0.2)
                if r.status != 201:
                    errors.append("%d %s" % (r.status, data[:500]))
                    break
                got = json.loads(data)
                for k, g in zip(range(i, j), got):
                    results[k] = (g["postId"], dues[k])
                i = j
        conn.close()

    t0 = time.time()
    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit("create failed: " + errors[0])
    return results, time.time() - t0


def sample_states(node, key, posts, k=200):
    from collections import Counter
    c = Counter()
    for pid, _ in random.sample(posts, min(k, len(posts))):
        st, h, b = node.request("GET", "/public/v1/posts/" + pid, key=key)
        c[b.get("status") if st == 200 else "http_%d" % st] += 1
    return dict(c)


def run(args):
    from engine_util import Node, new_secret
    if args.bin:
        os.environ["HERALD_BIN"] = os.path.abspath(args.bin)
    node = Node(sanitizer_env=False, keep_dir=args.keep)
    secret = new_secret()
    logdir = tempfile.mkdtemp(prefix="herald-bench-rx-")
    rx = Receivers(args.receivers, logdir, delay=args.delay,
                   secret=secret if args.verify else None, fast=not args.threaded_receiver)
    out = {"n": args.n, "spread_s": args.spread, "bin": os.environ.get("HERALD_BIN"),
           "receivers": args.receivers, "receiver_mode":
           "threaded" if args.threaded_receiver else "fast", "channels": args.channels,
           "herald_threads": args.threads or "default (one per core)"}
    try:
        start_herald(node, threads=args.threads)
        key = node.key("bench")
        chans = connect_channels(node, key, rx.urls, args.channels, secret)
        # pilot: measure the create rate on posts due in a year (then removed)
        pilot_n = min(2000, max(100, args.n // 20))
        far = time.time() + 365 * 86400
        pilot, pt = create_posts(node, key, chans[:1], [far] * pilot_n, args.batch, args.conns,
                                 tag="pilot")
        rate = pilot_n / pt
        node.request("DELETE", "/public/v1/integrations/" + chans[0], key=key)
        chans = chans[1:] or connect_channels(node, key, rx.urls, 1, secret)
        lead = args.lead if args.lead else max(5.0, 1.5 * args.n / rate + 3.0)
        t_create = time.time()
        T = round(t_create + lead)  # a whole second, like a calendar would
        if args.spread > 0:
            # every post its own due time (one post per create request)
            dues = [round(T + i * args.spread / args.n, 3) for i in range(args.n)]
        else:
            dues = [float(T)] * args.n
        posts, took = create_posts(node, key, chans, dues, args.batch, args.conns)
        out.update({"created_in_s": round(took, 2), "create_rate_per_s": round(args.n / took),
                    "pilot_rate_per_s": round(rate), "lead_s": round(T - t_create, 2),
                    "creation_overran": time.time() > T})
        last_due = max(dues)
        deadline = last_due + args.timeout
        seen = 0
        while time.time() < T:
            time.sleep(0.01)
        cpu0 = (cpu_s(node.proc.pid), sum(cpu_s(p.pid) for p in rx.procs))
        while time.time() < deadline:
            s = rx.stats()
            seen = s["distinct_ids"]
            if seen >= args.n:
                break
            time.sleep(0.25)
        out["cpu_s_during_delivery"] = {
            "herald": round(cpu_s(node.proc.pid) - cpu0[0], 2),
            "receivers": round(sum(cpu_s(p.pid) for p in rx.procs) - cpu0[1], 2)}
        out["herald_vm_hwm_kb"] = node.proc.vm_hwm_kb()
        with open("/proc/%d/status" % node.proc.pid) as f:
            out["herald_rss_kb_end"] = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
        out["states_sample"] = sample_states(node, key, posts)
        rc, _ = node.proc.term()
        out["herald_exit"] = rc
    finally:
        rx.stop()
        try:
            node.close()
        except AssertionError as e:
            out["herald_close_error"] = str(e)[:500]
    due_of = {"msg_" + pid: due for pid, due in posts}
    first = {}
    count = {}
    bad_sig = 0
    for r in rx.records():
        wid = r.get("webhook_id")
        if wid not in due_of:
            continue
        count[wid] = count.get(wid, 0) + 1
        if wid not in first or r["t"] < first[wid]:
            first[wid] = r["t"]
        if r.get("sig_ok") is False:
            bad_sig += 1
    late = sorted(first[w] - due_of[w] for w in first)
    out.update({
        "received": len(first),
        "missing": args.n - len(first),
        "redelivered": sum(c - 1 for c in count.values()),
        "bad_signatures": bad_sig if args.verify else None,
        "last_after_T_s": round(max(first.values()) - max(dues), 3) if first else None,
        "lateness_s": {k: (round(v, 4) if v is not None else None) for k, v in (
            ("min", late[0] if late else None), ("p50", pct(late, 50)), ("p90", pct(late, 90)),
            ("p99", pct(late, 99)), ("max", late[-1] if late else None))},
        "on_time_1s": round(sum(1 for x in late if x < 1.0) / args.n, 4) if args.n else None,
        "ok": len(first) == args.n,
    })
    if args.keep:
        out["data_dir"] = node.tmp
        out["receiver_logs"] = logdir
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100000, help="posts (default 100000)")
    ap.add_argument("--spread", type=float, default=0.0,
                    help="spread the due times over this many seconds (0: all at T)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "herald"))
    ap.add_argument("--threads", type=int, default=0, help="HERALD_THREADS (0: herald's default)")
    ap.add_argument("--receivers", type=int, default=1, help="fake receiver processes")
    ap.add_argument("--threaded-receiver", action="store_true",
                    help="thread-per-connection receivers (~1.4k req/s each) instead of "
                         "--fast asyncio ones (~15k req/s)")
    ap.add_argument("--channels", type=int, default=20, help="webhook channels")
    ap.add_argument("--batch", type=int, default=100, help="posts[] per create request")
    ap.add_argument("--conns", type=int, default=4, help="parallel create connections")
    ap.add_argument("--lead", type=float, default=0.0,
                    help="seconds from the start of creation to T (0: from a pilot)")
    ap.add_argument("--delay", type=float, default=0.0, help="receiver hold time per request")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="give up this long after the last due time")
    ap.add_argument("--verify", action="store_true", help="receivers verify signatures")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    a = ap.parse_args(argv)
    out = run(a)
    print(json.dumps(out, indent=1 if sys.stdout.isatty() else None), flush=True)
    return 0 if out.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
