"""routes: where the proxy sent each request, from the routing feed."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.proxy.litellm.routes import RouteEvent, load_feed
from naptha_tui.tui.format import ROUTE_HEADER, ms, route_cells, short_error, table

ERROR_WIDTH = 60
DEPLOYMENT_HEADER = ("DEPLOYMENT", "MODEL GROUP", "REQS", "ERRORS", "IN FLIGHT", "P50 MS", "P95 MS")
FOLLOW_SECONDS = 0.5


def routes(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    feed = ProxyManager(paths, settings).feed_file
    stats, reader = load_feed(feed)

    def emit(events: Sequence[RouteEvent], header: bool) -> None:
        if args.json:  # one object per request; its shape is what scripts read
            for e in events:
                print(json.dumps(e.to_json()), flush=True)
        elif events:
            rows = [[*route_cells(e), short_error(e.error, ERROR_WIDTH)] for e in events]
            text = table(rows, (*ROUTE_HEADER, "ERROR"))
            print(text if header else "\n".join(text.splitlines()[1:]), flush=True)

    last = list(stats.recent)[-args.lines :] if args.lines else []
    emit(last, True)
    if args.follow:
        try:
            while True:
                time.sleep(FOLLOW_SECONDS)
                emit(stats.add_lines(reader.read_new()), not last)
        except KeyboardInterrupt:
            return 0
    if not args.json:
        rows = [
            (
                r.deployment,
                r.model_group or "-",
                r.requests,
                r.errors,
                r.in_flight,
                ms(r.p50_ms),
                ms(r.p95_ms),
            )
            for r in stats.rows()
        ]
        print("\n" + (table(rows, DEPLOYMENT_HEADER) if rows else f"no requests in {feed}"))
    if stats.bad_lines:
        print(f"skipped {stats.bad_lines} malformed feed line(s) in {feed}", file=sys.stderr)
    return 0
