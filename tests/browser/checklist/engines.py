"""One thin adapter per browser engine, so the checklist (test_checklist.py) is written once.

- chromium: Playwright driving Debian's /usr/bin/chromium, headless (as the other browser tests).
- firefox: Selenium + geckodriver driving Debian's firefox-esr, headless.
- webkit: Selenium + WebKitGTK's WebKitWebDriver driving MiniBrowser (Safari's engine) on a
  private Xvfb display: MiniBrowser's headless mode hangs here, a virtual X display works.

Each adapter answers the same small set of questions (go to a URL, run a JS function, click,
type, hide the page, take a screenshot). Reads go through `call` (JavaScript in the page), so
"the text of X" means textContent in every engine, not each driver's idea of visible text.

The browsers must not reach the network: everything they load is on 127.0.0.1, and each is
told to send any other address to a dead loopback proxy (127.0.0.1:9), with its background
services (updates, telemetry, safe browsing) switched off.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Protocol

ENGINES = ("chromium", "firefox", "webkit")
CHROMIUM = "/usr/bin/chromium"
FIREFOX = "/usr/bin/firefox-esr"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
XVFB = "/usr/bin/Xvfb"
DEAD_PROXY = "127.0.0.1:9"  # the discard port: nothing listens, so nothing leaves the machine
VIEWPORT = (1280, 800)


def geckodriver_path() -> str | None:
    """Where scripts/setup installs geckodriver (built once per machine with cargo:
    $VPO_GECKODRIVER_ROOT, by default ~/.cache/vpo/geckodriver), else the PATH."""
    root = os.environ.get("VPO_GECKODRIVER_ROOT") or Path.home() / ".cache/vpo/geckodriver"
    candidates = [str(Path(root) / "bin" / "geckodriver"), shutil.which("geckodriver") or ""]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def missing_parts(engine: str) -> list[str]:
    """What this machine lacks to run `engine` (empty when it can run)."""
    needed: dict[str, list[str | None]] = {
        "chromium": [CHROMIUM],
        "firefox": [FIREFOX, geckodriver_path() or "geckodriver"],
        "webkit": [MINIBROWSER, WEBKIT_DRIVER, XVFB],
    }
    missing = [str(p) for p in needed[engine] if not p or not os.access(p, os.X_OK)]
    if engine != "chromium":
        try:
            import selenium  # noqa: F401
        except ImportError:
            missing.append("selenium (Python package)")
    return missing


class EnginePage(Protocol):
    """What the checklist may do to a page, in any engine."""

    engine: str
    version: str
    #: How `set_hidden` hides the page: "real" (the engine itself reports hidden) or
    #: "simulated" (document.hidden overridden and visibilitychange dispatched).
    hiding: str

    def goto(self, url: str) -> None: ...
    def call(self, function: str, *args: Any) -> Any: ...
    def click(self, selector: str) -> None: ...
    def type_text(self, selector: str, text: str) -> None: ...
    def set_viewport(self, width: int, height: int) -> None: ...
    def set_hidden(self, hidden: bool) -> None: ...
    def screenshot(self, path: Path) -> None: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


# Overrides what the page's scripts read about visibility and tells them, exactly as a real tab
# switch would be seen by the page's listener; used where the engine cannot hide a page itself.
SIMULATE_VISIBILITY = """(hidden) => {
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
    Object.defineProperty(document, 'visibilityState', {
        configurable: true, get: () => (hidden ? 'hidden' : 'visible')});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


class ChromiumPage:
    """Playwright and Debian's Chromium, headless. Headless Chromium keeps every page visible
    (no window to minimise, no CDP command for page visibility), so hiding is simulated."""

    engine = "chromium"
    hiding = "simulated"

    def __init__(self, playwright: Any) -> None:
        self._browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                f"--proxy-server={DEAD_PROXY}",
            ],
        )
        self.version = self._browser.version
        self._context = None
        self._page = None
        self.reset()

    def reset(self) -> None:
        if self._context is not None:
            self._context.close()
        self._context = self._browser.new_context(
            viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}
        )
        self._page = self._context.new_page()

    def goto(self, url: str) -> None:
        self._page.goto(url)

    def call(self, function: str, *args: Any) -> Any:
        return self._page.evaluate(f"(args) => ({function})(...args)", list(args))

    def click(self, selector: str) -> None:
        self._page.click(selector)

    def type_text(self, selector: str, text: str) -> None:
        self._page.fill(selector, "")
        self._page.type(selector, text)

    def set_viewport(self, width: int, height: int) -> None:
        self._page.set_viewport_size({"width": width, "height": height})

    def set_hidden(self, hidden: bool) -> None:
        self.call(SIMULATE_VISIBILITY, hidden)

    def screenshot(self, path: Path) -> None:
        self._page.screenshot(path=str(path))

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
        self._browser.close()


class SeleniumPage:
    """What Firefox and WebKit share: both speak classic WebDriver through Selenium. In both,
    minimising the window really hides the page (document.hidden turns true and
    visibilitychange fires, even in headless Firefox), and restoring its size shows it again, so
    hiding is real, as when a user minimises the browser."""

    engine = ""
    hiding = "real"

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.common.by import By

        self._by = By
        self.driver = driver
        self.version = str(driver.capabilities.get("browserVersion", "?"))
        self.set_viewport(*VIEWPORT)

    def reset(self) -> None:
        self.driver.get("about:blank")
        self.driver.delete_all_cookies()
        self.set_viewport(*VIEWPORT)

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def call(self, function: str, *args: Any) -> Any:
        return self.driver.execute_script(f"return ({function}).apply(null, arguments);", *args)

    def click(self, selector: str) -> None:
        self.driver.find_element(self._by.CSS_SELECTOR, selector).click()

    def type_text(self, selector: str, text: str) -> None:
        element = self.driver.find_element(self._by.CSS_SELECTOR, selector)
        element.clear()
        element.send_keys(text)

    def set_viewport(self, width: int, height: int) -> None:
        """Size the window so the page's viewport (innerWidth/innerHeight) is width x height."""
        self.driver.set_window_size(width, height)
        inner = self.call("() => [window.innerWidth, window.innerHeight]")
        self.driver.set_window_size(width + (width - inner[0]), height + (height - inner[1]))

    def set_hidden(self, hidden: bool) -> None:
        if hidden:
            self.driver.minimize_window()
        else:
            self.set_viewport(*VIEWPORT)  # restores the window

    def screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))

    def close(self) -> None:
        self.driver.quit()


class FirefoxPage(SeleniumPage):
    """Selenium + geckodriver + firefox-esr, headless."""

    engine = "firefox"

    def __init__(self, log_dir: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.firefox.options import Options
        from selenium.webdriver.firefox.service import Service

        options = Options()
        options.binary_location = FIREFOX
        options.add_argument("-headless")
        host, port = DEAD_PROXY.split(":")
        prefs: dict[str, Any] = {
            # Anything that is not loopback goes to a dead proxy: no traffic leaves the machine.
            "network.proxy.type": 1,
            "network.proxy.http": host,
            "network.proxy.http_port": int(port),
            "network.proxy.ssl": host,
            "network.proxy.ssl_port": int(port),
            "network.proxy.no_proxies_on": "127.0.0.1,localhost",
            "network.proxy.allow_hijacking_localhost": False,
            "app.update.enabled": False,
            "browser.safebrowsing.malware.enabled": False,
            "browser.safebrowsing.phishing.enabled": False,
            "datareporting.healthreport.uploadEnabled": False,
            "datareporting.policy.dataSubmissionEnabled": False,
            "toolkit.telemetry.enabled": False,
            "network.captive-portal-service.enabled": False,
            "network.connectivity-service.enabled": False,
            "extensions.update.enabled": False,
            "browser.search.update": False,
            "dom.push.enabled": False,
        }
        for name, value in prefs.items():
            options.set_preference(name, value)
        service = Service(
            executable_path=geckodriver_path(), log_output=str(log_dir / "geckodriver.log")
        )
        super().__init__(webdriver.Firefox(options=options, service=service))


class WebKitPage(SeleniumPage):
    """Selenium + WebKitWebDriver + MiniBrowser on a private Xvfb display."""

    engine = "webkit"

    def __init__(self, log_dir: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.remote.command import Command
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        self._xvfb, display = start_xvfb(log_dir)
        options = Options()
        options.binary_location = MINIBROWSER
        options.add_argument("--automation")
        options.add_argument(f"--proxy=http://{DEAD_PROXY}")
        options.add_argument("--ignore-host=127.0.0.1")
        service = Service(
            executable_path=WEBKIT_DRIVER,
            log_output=str(log_dir / "webkitwebdriver.log"),
            env={**os.environ, "DISPLAY": display},
        )
        try:
            super().__init__(webdriver.WebKitGTK(options=options, service=service))
            # WebKit arms its script timeout with the page's own setTimeout, so under the
            # harness's fake clock a jump of more than 30 s of page time "timed out" the very
            # script that made the jump. No script timeout for WebKit; pytest-timeout still
            # ends a test that hangs.
            self.driver.execute(Command.SET_TIMEOUTS, {"script": None})
        except BaseException:
            stop_xvfb(self._xvfb)
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            stop_xvfb(self._xvfb)


def start_xvfb(log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private X display for MiniBrowser; Xvfb picks a free display number and writes it to
    the pipe given with -displayfd once it accepts connections."""
    read_end, write_end = os.pipe()
    log = open(log_dir / "xvfb.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [XVFB, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    log.close()
    if not number:
        stop_xvfb(process)
        raise RuntimeError(f"Xvfb did not start: see {log_dir / 'xvfb.log'}")
    return process, f":{number}"


def stop_xvfb(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_engine(engine: str, log_dir: Path, playwright: Any = None) -> EnginePage:
    """Start `engine` with a fresh profile, its driver's logs in `log_dir`. Chromium is
    launched from the caller's running Playwright."""
    if engine == "chromium":
        return ChromiumPage(playwright)
    if engine == "firefox":
        return FirefoxPage(log_dir)
    if engine == "webkit":
        return WebKitPage(log_dir)
    raise ValueError(f"unknown engine {engine!r}")
