#!/usr/bin/env python3
"""Crash-loop benchmark of the delivery engine (SPEC 7: "survives restarts and
crashes (kill -9 at any instant) and is published once").

    python3 bench/engine_crashloop.py [--n 10000] [--window 20] [--kills 20] [--bin build/herald]

Creates N one-item webhook posts due uniformly over `window` seconds, then
kills `herald serve` with SIGKILL at random moments (`kills` times, spread
over the window and a few seconds around it), restarting it each time on the
same data dir at once, then lets the last one run until every post is in a
terminal state (or --timeout).  The fake receiver (tests/integration/
fake_receiver.py, its own process) logs every delivery.  Prints one JSON object:

  kills, restart_ready_ms {avg, max}, received_requests,
  never_delivered   posts the receiver never saw (lost unless failed with a reason)
  not_terminal      posts still queued/publishing at the end (lost in limbo)
  lost              never delivered and not failed/unconfirmed with a reason
  items_with_two_ids  an item delivered under two different webhook-ids (a silent
                    duplicate a deduping receiver cannot catch)
  delivered_not_published  delivered (answered 200) but the final state says
                    otherwise (a duplicate in the making: a retry would resend it)
  published_not_delivered  published per herald, never seen by the receiver
  redelivered_same_id  extra deliveries under the same webhook-id (at-least-once
                    around a kill; harmless to a receiver that dedupes)
  states            final status counts
  ok                lost == items_with_two_ids == delivered_not_published == 0
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

from engine_burst import Receivers, connect_channels, create_posts, start_herald  # noqa: E402


def final_states(node, key, t_from, t_to):
    from engine_util import iso_ms
    st, h, b = node.request("GET", "/public/v1/posts?startDate=%s&endDate=%s"
                            % (iso_ms(t_from), iso_ms(t_to)), key=key, timeout=120)
    if st != 200:
        raise SystemExit("list posts: %s %r" % (st, str(b)[:300]))
    return {p["id"]: p for p in b["posts"]}


def run(args):
    from engine_util import Node, new_secret
    if args.bin:
        os.environ["HERALD_BIN"] = os.path.abspath(args.bin)
    rnd = random.Random(args.seed)
    node = Node(sanitizer_env=False, keep_dir=args.keep)
    secret = new_secret()
    logdir = tempfile.mkdtemp(prefix="herald-crash-rx-")
    rx = Receivers(1, logdir, delay=args.delay, secret=secret)
    out = {"n": args.n, "window_s": args.window, "kills_planned": args.kills,
           "bin": os.environ.get("HERALD_BIN"), "seed": args.seed,
           "receiver_delay_s": args.delay}
    ready = []
    kills = 0
    try:
        start_herald(node, extra={"HERALD_RETRY_BASE_MS": args.retry_base_ms})
        key = node.key("crash")
        chans = connect_channels(node, key, rx.urls, args.channels, secret)
        lead = args.lead
        T = round(time.time() + lead)
        dues = [round(T + i * args.window / args.n, 3) for i in range(args.n)]
        # group into batches of equal dues is impossible (all differ): round
        # to 10 ms steps so that a create request carries several posts
        dues = [round(d, 2) for d in dues]
        posts, took = create_posts(node, key, chans, dues, args.batch, args.conns)
        out["created_in_s"] = round(took, 2)
        out["creation_overran"] = time.time() > T
        # kill moments: from 1 s before the first due time to 5 s after the last
        lo, hi = T - 1.0, T + args.window + 5.0
        moments = sorted(rnd.uniform(lo, hi) for _ in range(args.kills))
        for m in moments:
            now = time.time()
            if m > now:
                time.sleep(m - now)
            node.proc.kill9()
            kills += 1
            t0 = time.monotonic()
            node.start()
            ready.append((time.monotonic() - t0) * 1000)
        # let the last one finish everything
        deadline = time.time() + args.timeout
        states = {}
        while time.time() < deadline:
            states = final_states(node, key, T - 1, T + args.window + 1)
            pending = sum(1 for p in states.values() if p["status"] in ("queued", "publishing"))
            if pending == 0 and len(states) >= args.n:
                break
            time.sleep(1.0)
        rc, _ = node.proc.term()
        out["herald_last_exit"] = rc
    finally:
        rx.stop()
        try:
            node.close()
        except AssertionError as e:
            out["herald_close_error"] = str(e)[:500]
    ids_of_item = defaultdict(set)
    ok_deliveries = Counter()
    deliveries = Counter()
    nreq = 0
    for r in rx.records():
        nreq += 1
        item = r.get("id")
        if not item:
            continue
        ids_of_item[item].add(r.get("webhook_id"))
        deliveries[item] += 1
        if r.get("status") == 200:
            ok_deliveries[item] += 1
    pids = [pid for pid, _ in posts]
    status = {pid: (states.get(pid) or {}).get("status", "missing") for pid in pids}
    never = [p for p in pids if deliveries[p] == 0]
    not_terminal = [p for p in pids if status[p] in ("queued", "publishing", "missing")]
    lost = [p for p in never if status[p] not in ("failed", "unconfirmed", "canceled")
            or not (states.get(p) or {}).get("error")]
    two_ids = [p for p in pids if len(ids_of_item[p]) > 1]
    deliv_not_pub = [p for p in pids if ok_deliveries[p] and status[p] != "published"]
    pub_not_deliv = [p for p in pids if status[p] == "published" and not ok_deliveries[p]]
    out.update({
        "kills": kills,
        "restart_ready_ms": {"avg": round(sum(ready) / len(ready), 1) if ready else None,
                             "max": round(max(ready), 1) if ready else None},
        "received_requests": nreq,
        "never_delivered": len(never),
        "not_terminal": len(not_terminal),
        "lost": len(lost),
        "items_with_two_ids": len(two_ids),
        "delivered_not_published": len(deliv_not_pub),
        "published_not_delivered": len(pub_not_deliv),
        "redelivered_same_id": sum(c - 1 for c in deliveries.values() if c > 1),
        "states": dict(Counter(status.values())),
        "examples": {"lost": lost[:3], "two_ids": two_ids[:3],
                     "delivered_not_published": [(p, status[p], (states.get(p) or {}).get("error"))
                                                 for p in deliv_not_pub[:3]]},
    })
    out["ok"] = not lost and not two_ids and not deliv_not_pub and not not_terminal
    if args.keep:
        out["data_dir"] = node.tmp
        out["receiver_logs"] = logdir
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--window", type=float, default=20.0, help="due times spread over seconds")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "herald"))
    ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--lead", type=float, default=15.0,
                    help="seconds from now to the first due time (creation must fit)")
    ap.add_argument("--delay", type=float, default=0.02,
                    help="receiver hold time per request (widens the in-flight window)")
    ap.add_argument("--retry-base-ms", type=int, default=200, help="HERALD_RETRY_BASE_MS")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds after the last restart to wait for terminal states")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    if a.seed is None:
        a.seed = random.randrange(1 << 30)
    out = run(a)
    print(json.dumps(out, indent=1 if sys.stdout.isatty() else None), flush=True)
    return 0 if out.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
