#!/usr/bin/env python3
"""The web dashboard against a real `tuttid dev`.

  api:     its JSON API over HTTP: tokens, refusals by role, paging, the event stream.
  browser: headless Chromium (Selenium): log in by the link `tutti dashboard`
           prints, see a service appear after `tutti apply`, watch a killed
           replica come back, scale from the page and see the count in `tutti get`,
           and a viewer's scale refused. Screenshots go to --artifacts.

Exits 77 (a skip for CTest) with the reason when no browser can start.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)  # -- allowed: the polling interval of a deadline wait


class Daemon:
    """A `tuttid dev` of its own: temp data dir, free ports, replicas stopped at exit."""

    def __init__(self, tuttid, tutti):
        self.tutti_bin = tutti
        self.dir = tempfile.mkdtemp(prefix="tutti-dashboard-")
        self.api = f"127.0.0.1:{free_port('127.0.0.1')}"
        self.ui = f"127.0.0.1:{free_port('127.0.0.1')}"
        self.log = open(os.path.join(self.dir, "tuttid.log"), "w")
        self.pids = set()
        self.proc = subprocess.Popen(
            [tuttid, "dev", "--data-dir", os.path.join(self.dir, "data"), "--api", self.api,
             "--metrics", f"127.0.0.1:{free_port('127.0.0.1')}", "--ui", self.ui,
             "--no-docker", "--no-containerd", "--stop-replicas-on-exit",
             "--port-range", f"{40000 + os.getpid() % 2000 * 10}-{40009 + os.getpid() % 2000 * 10}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.token_file = os.path.join(self.dir, "data", "admin.token")
        wait_until("tuttid to answer", lambda: self.tutti("version", check=False).returncode == 0)

    def tutti(self, *args, check=True, token_file=None):
        env = dict(os.environ, TUTTI_TOKEN_FILE=token_file or self.token_file, TUTTI_API=self.api)
        r = subprocess.run([self.tutti_bin, "--api", self.api, *args], env=env,
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"tutti {' '.join(args)} failed: {r.stderr}")
        return r

    def json(self, *args):
        return json.loads(self.tutti(*args, "-o", "json").stdout)

    def replicas(self, service=None):
        xs = self.json("get", "replicas", *([service] if service else []))
        self.pids.update(int(r["pid"]) for r in xs if r.get("pid"))
        return xs

    def close(self):
        if self.log.closed:
            return
        if self.proc.poll() is None:
            try:
                self.replicas()  # every pid, for the kill below
            except Exception:
                pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.pids:  # replicas it left behind (it stops them on exit)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        with open(os.path.join(self.dir, "tuttid.log")) as f:
            self.final_log = f.read()

    def tail(self):
        with open(os.path.join(self.dir, "tuttid.log")) as f:
            return f.read()[-4000:]


def http(daemon, method, path, token=None, body=None):
    req = urllib.request.Request(f"http://{daemon.ui}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


SLEEPER = "kind: Service\nname: {name}\nreplicas: {n}\ncommand: [/bin/sleep, \"300\"]\n" \
          "restart: {{policy: always, backoff: {{initial: 50ms, max: 200ms}}}}\n"


def apply(daemon, name, n):
    path = os.path.join(daemon.dir, name + ".yaml")
    with open(path, "w") as f:
        f.write(SLEEPER.format(name=name, n=n))
    daemon.tutti("apply", "-f", path)


def apply_objects(daemon):
    path = os.path.join(daemon.dir, "objects.yaml")
    with open(path, "w") as f:
        f.write("kind: Config\nname: site\ndata: hello\n---\n"
                "kind: Secret\nname: pw\ndata: s3cret-dashboard\n")
    daemon.tutti("apply", "-f", path)


def admin_of(daemon):
    return open(daemon.token_file).read().strip()


def viewer_token(daemon):
    return daemon.json("token", "create", "looker", "--role", "viewer")["token"]


def check_api(daemon):
    admin = open(daemon.token_file).read().strip()
    status, body, _ = http(daemon, "GET", "/api/v1/overview")
    assert status == 401 and "no token" in body, (status, body)
    status, body, _ = http(daemon, "GET", "/api/v1/overview", token="tutti_wrong")
    assert status == 401, (status, body)
    status, body, _ = http(daemon, "GET", "/api/v1/stream", token="tutti_wrong")
    assert status == 401, ("a stream with a bad token is refused, not opened", status, body)
    status, body, _ = http(daemon, "POST", "/api/v1/nodes/x/state", token=admin_of(daemon),
                           body={"state": 1})
    assert status == 400, ("a state that is not a string", status, body)
    status, body, _ = http(daemon, "POST", "/api/v1/services/x/scale", token=admin_of(daemon),
                           body={"pad": "x" * 70000})
    assert status == 413, ("a body over 64 KiB", status, body)
    apply(daemon, "api", 3)
    wait_until("3 replicas running",
               lambda: len([r for r in daemon.replicas("api") if r["state"] == "running"]) == 3)
    status, body, _ = http(daemon, "GET", "/api/v1/overview", token=admin)
    assert status == 200, (status, body)
    overview = json.loads(body)
    assert [s["name"] for s in overview["services"]] == ["api"], overview
    assert overview["nodes"] and overview["events"], overview
    status, body, _ = http(daemon, "GET", "/api/v1/replicas?service=api&limit=2&offset=1",
                           token=admin)
    page = json.loads(body)
    assert status == 200 and page["total"] == 3 and len(page["replicas"]) == 2, page
    status, body, _ = http(daemon, "GET", "/api/v1/replicas?q=api-2", token=admin)
    assert json.loads(body)["total"] == 1, body
    viewer = viewer_token(daemon)
    status, body, _ = http(daemon, "POST", "/api/v1/services/api/scale", token=viewer,
                           body={"replicas": 1})
    assert status == 403 and "may not scale" in body, (status, body)
    status, body, _ = http(daemon, "POST", "/api/v1/services/api/scale", token=admin,
                           body={"replicas": "many"})
    assert status == 400 and "whole number" in body, (status, body)
    status, body, _ = http(daemon, "POST", "/api/v1/services/nope/scale", token=admin,
                           body={"replicas": 1})
    assert status == 404, (status, body)
    status, body, _ = http(daemon, "POST", "/api/v1/nodes/x/state", token=admin, body={"state": "up"})
    assert status == 400 and "ready, cordoned or draining" in body, (status, body)
    status, body, _ = http(daemon, "GET", "/api/v1/nothing", token=admin)
    assert status == 404, (status, body)
    status, body, headers = http(daemon, "GET", "/ui/app.js")
    assert status == 200 and "javascript" in headers["Content-Type"], (status, headers)
    assert "default-src 'self'" in headers["Content-Security-Policy"], headers
    status, body, _ = http(daemon, "GET", "/ui/../admin.token")
    assert status == 404, (status, body)
    # The event stream: connected at once, then what is committed after.
    with socket.create_connection(tuple_of(daemon.ui), timeout=10) as s:
        s.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\r\n"
                  .encode())
        got = read_until(s, b": connected")
        assert b"text/event-stream" in got, got
        status, body, _ = http(daemon, "POST", "/api/v1/services/api/scale", token=admin,
                               body={"replicas": 2})
        assert status == 200 and json.loads(body)["revision"], (status, body)
        got = read_until(s, b"revision 2 applied")
        assert b"event: events" in got, got
    # Configs and secrets: versions, sizes and users, never a secret's data.
    apply_objects(daemon)
    status, body, _ = http(daemon, "GET", "/api/v1/secrets", token=admin)
    assert status == 200 and json.loads(body)["objects"][0]["name"] == "pw", (status, body)
    assert "s3cret" not in body, body
    status, body, _ = http(daemon, "GET", "/api/v1/configs", token=viewer)
    assert status == 200 and json.loads(body)["objects"][0]["version"] in (1, "1"), (status, body)
    audit = daemon.tutti("audit", "-n", "50").stdout
    assert "dashboard" in audit and "scale" in audit, audit
    print("dashboard api: ok")


def tuple_of(address):
    host, port = address.rsplit(":", 1)
    return host, int(port)


def read_until(sock, marker, timeout=10.0):
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} in the stream within {timeout} s: {data[-500:]!r}")
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the stream ended before {marker!r}: {data[-500:]!r}")
        data += chunk
    return data


def browser(profile):
    """A headless Chromium with its profile in the folder `profile` (removed with
    the test's own), or a reason why there is none."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "python3-selenium is not installed"
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        return None, "chromium and chromium-driver are not installed"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--user-data-dir=" + profile):
        options.add_argument(arg)
    try:
        return webdriver.Chrome(service=Service(driver), options=options), None
    except Exception as e:  # a browser that cannot start is a skip with the reason
        return None, f"chromium did not start: {e}"


def check_browser(daemon, artifacts):
    web, why = browser(os.path.join(daemon.dir, "chromium"))
    if web is None:
        print(f"dashboard browser: skipped: {why}")
        return SKIP
    from selenium.common.exceptions import (ElementNotInteractableException,
                                            StaleElementReferenceException)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    os.makedirs(artifacts, exist_ok=True)
    shot = lambda name: web.save_screenshot(os.path.join(artifacts, name + ".png"))
    wait = lambda what, check: WebDriverWait(web, 15, 0.05).until(
        lambda _: check(), message=f"waiting for {what}")

    def text_of(css):
        try:
            return " ".join(e.text for e in web.find_elements(By.CSS_SELECTOR, css))
        except StaleElementReferenceException:
            return ""

    # An element found while the page renders again may be replaced (stale) or
    # not laid out yet (not interactable): both pass once the render ends.
    def attempt(action):
        try:
            action()
            return True
        except (StaleElementReferenceException, ElementNotInteractableException):
            return False

    # The page renders itself again on every event: an element found may be
    # replaced before it is used, and is then found again.
    def retry(what, action):
        wait(what, lambda: attempt(action))

    def scale_to(n):
        def action():
            box = web.find_element(By.ID, "scale-web")
            box.clear()
            box.send_keys(str(n))
            web.find_element(By.CSS_SELECTOR, "button[aria-label='Scale web']").click()
        retry("the scale form", action)
        wait("the confirmation", lambda: web.find_element(By.ID, "confirm").get_attribute("open") is not None)
    try:
        link = daemon.json("dashboard")["link"]
        web.get(link)
        wait("the admin's name", lambda: "admin (admin)" in text_of("#who"))
        assert "token=" not in web.current_url, web.current_url
        shot("1-overview-empty")
        web.execute_script("window.stayed = true")

        apply(daemon, "web", 2)
        wait("web in the services table", lambda: "web" in text_of("table[aria-label=services] a"))
        shot("2-service-appeared")

        retry("the link to web", lambda: web.find_element(By.LINK_TEXT, "web").click())
        wait("two running replicas",
             lambda: text_of("table[aria-label=replicas] tbody").count("running") == 2)
        victim = wait_until("a running replica with its pid", lambda: next(
            (r for r in daemon.replicas("web") if r["state"] == "running" and int(r.get("pid") or 0) > 1),
            None))
        os.kill(int(victim["pid"]), signal.SIGKILL)
        wait("the killed replica back with a restart",
             lambda: any(r["id"] == victim["id"] and r["state"] == "running" and r["restarts"] >= 1
                         for r in daemon.replicas("web"))
             and str(victim["pid"]) not in text_of("table[aria-label=replicas] tbody")
             and text_of("table[aria-label=replicas] tbody").count("running") == 2)
        shot("3-replica-restarted")

        scale_to(3)
        shot("4-confirm-scale")
        web.find_element(By.ID, "confirm-ok").click()
        wait("3 desired in tutti get",
             lambda: [s["desired"] for s in daemon.json("get", "services") if s["name"] == "web"] == [3])
        wait("3 replicas on the page",
             lambda: text_of("table[aria-label=replicas] tbody").count("running") == 3)
        assert web.execute_script("return window.stayed === true"), "the page reloaded"
        shot("5-scaled")

        viewer = viewer_token(daemon)
        web.find_element(By.ID, "logout").click()
        wait("the login form", lambda: web.find_elements(By.ID, "token"))
        def log_in():
            box = web.find_element(By.ID, "token")
            box.clear()
            box.send_keys(viewer)
            web.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        retry("the login form", log_in)
        wait("the viewer's name", lambda: "looker (viewer)" in text_of("#who"))
        web.get(web.current_url.split("#")[0] + "#/service/web")
        wait("the service page", lambda: web.find_elements(By.ID, "scale-web"))
        scale_to(1)
        web.find_element(By.ID, "confirm-ok").click()
        wait("the refusal", lambda: "may not scale" in text_of("#alert"))
        shot("6-viewer-refused")
        assert [s["desired"] for s in daemon.json("get", "services") if s["name"] == "web"] == [3]
        web.set_window_size(390, 844)  # a phone
        shot("7-phone")
        web.set_window_size(1280, 900)
        apply_objects(daemon)
        web.get(web.current_url.split("#")[0] + "#/objects")
        wait("the configs and secrets", lambda: "pw" in text_of("table[aria-label=secrets] tbody")
             and "site" in text_of("table[aria-label=configs] tbody"))
        assert "s3cret" not in web.page_source
        shot("8-configs-and-secrets")
        web.get(web.current_url.split("#")[0] + "#/charts")
        wait("the charts", lambda: web.find_elements(By.CSS_SELECTOR, "svg[role=img]"))
        started = web.find_element(By.CSS_SELECTOR, "svg[role=img]").get_attribute("aria-label")
        assert started.startswith("Replicas started") and any(int(n) > 0 for n in
            started.split(": ")[1].split(" per")[0].split(", ")), started
        shot("9-charts")
        print("dashboard browser: ok; screenshots in", artifacts)
        return 0
    except Exception:
        shot("failed")
        raise
    finally:
        web.quit()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tuttid", required=True)
    ap.add_argument("--tutti", required=True)
    ap.add_argument("--only", choices=["api", "browser"], required=True)
    ap.add_argument("--artifacts", default="dashboard-artifacts")
    args = ap.parse_args()
    daemon = Daemon(args.tuttid, args.tutti)
    try:
        result = check_api(daemon) if args.only == "api" else check_browser(daemon, args.artifacts)
        daemon.close()
        # SIGTERM ends tuttid cleanly, also with the dashboard's streams open.
        if daemon.proc.returncode != 0:
            raise AssertionError(f"tuttid ended with {daemon.proc.returncode} on SIGTERM")
        return result or 0
    except Exception:
        daemon.close()
        print("----- tuttid log -----\n" + daemon.final_log[-4000:], file=sys.stderr)
        raise
    finally:
        shutil.rmtree(daemon.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
