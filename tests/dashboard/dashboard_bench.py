#!/usr/bin/env python3
"""Figures of the web dashboard in headless Chromium (run by hand; docs/benchmarks.md).

A `tuttid dev` runs sim replicas (REPLICAS in services of at most 10,000); the
browser opens the login link and the figures are taken from the page's own
clock: the first render of the overview after navigation starts, the render
of a service page of 10,000 (or all) replicas, and the time from `tutti scale`
until the overview shows the new count (the event stream, then a new render).

  /usr/bin/python3 tests/dashboard/dashboard_bench.py --tuttid build/tools/tuttid/tuttid \\
      --tutti build/tools/tutti/tutti --replicas 100000

With --attach API,UI,TOKEN_FILE it measures a tuttid that runs already (say a
`tuttid control` that `tutti-bench sim-nodes` joined with 5,000 nodes), whose
services s0, s1, ... it finds there.
"""

import argparse
import os
import shutil
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_test as t  # noqa: E402


class Attached:
    """A tuttid that runs already: the calls of t.Daemon, nothing started or ended."""

    def __init__(self, tutti, api, ui, token_file):
        self.tutti_bin, self.api, self.ui, self.token_file = tutti, api, ui, token_file
        self.dir = os.path.dirname(os.path.abspath(token_file))

    tutti = t.Daemon.tutti
    json = t.Daemon.json

    def close(self):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tuttid", required=True)
    ap.add_argument("--tutti", required=True)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--attach", help="API,UI,TOKEN_FILE of a tuttid that runs already")
    args = ap.parse_args()
    daemon = Attached(args.tutti, *args.attach.split(",")) if args.attach else t.Daemon(args.tuttid, args.tutti)
    web, why = t.browser(os.path.join(daemon.dir, "chromium"))
    if web is None:
        print("dashboard-bench: no browser:", why)
        daemon.close()
        return t.SKIP
    try:
        per_service = min(args.replicas, 10000)
        services = (args.replicas + per_service - 1) // per_service
        if args.attach:
            running = daemon.json("get", "services")
            services, per_service = len(running), max(x["desired"] for x in running)
        else:
            path = os.path.join(daemon.dir, "sim.yaml")
            with open(path, "w") as f:
                for i in range(services):
                    f.write(f"kind: Service\nname: s{i}\nreplicas: {per_service}\ndriver: sim\ncommand: [x]\n---\n")
            daemon.tutti("apply", "-f", path)
        print(f"dashboard-bench: {services} services of {per_service} sim replicas", flush=True)
        t.wait_until("every replica running", lambda: sum(s["running"] for s in daemon.json("get", "services"))
                     == services * per_service, timeout=300)
        link = daemon.json("dashboard")["link"]
        size = sum(len(urllib.request.urlopen(f"http://{daemon.ui}/ui/{name}").read())
                   for name in ("index.html", "app.js", "style.css"))
        first, service_page, update = [], [], []
        for run in range(args.runs):
            web.get("about:blank")
            web.get(link)
            t.wait_until("the overview", lambda: web.execute_script(
                "return document.getElementById('main').dataset.rendered"), timeout=60)
            first.append(web.execute_script(
                "return Number(document.getElementById('main').dataset.rendered) - performance.timeOrigin"))
            began = web.execute_script("window.mark = Date.now(); location.hash = '#/service/s0'; return window.mark")
            t.wait_until("the service page", lambda: web.execute_script(
                "return Number(document.getElementById('main').dataset.rendered) > window.mark"
                " && document.querySelector('table[aria-label=replicas] tbody tr') !== null"), timeout=60)
            service_page.append(web.execute_script(
                "return Number(document.getElementById('main').dataset.rendered)") - began)
            web.execute_script("location.hash = '#/'")
            t.wait_until("the overview again", lambda: "s0" in web.find_element("css selector", "main").text)
            target = per_service - 1 - run
            began = web.execute_script("return Date.now()")
            daemon.tutti("scale", f"s0={target}")
            t.wait_until("the new count on the page", lambda: web.execute_script(
                f"const r = [...document.querySelectorAll('table[aria-label=services] tbody tr')]"
                f".find((x) => x.cells[0].textContent === 's0');"
                f" return r && r.cells[2].textContent === '{target}'"), timeout=60)
            update.append(web.execute_script("return Date.now()") - began)
        med = lambda xs: round(statistics.median(xs))
        nodes = daemon.json("get", "nodes")
        print(f"nodes={len(nodes)} replicas={services * per_service} files_bytes={size} first_render_ms={med(first)} "
              f"service_page_ms={med(service_page)} update_ms={med(update)} runs={args.runs}")
        return 0
    finally:
        web.quit()
        daemon.close()
        if not args.attach:
            shutil.rmtree(daemon.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
