"""Device type, browser and OS from a ``User-Agent`` header, for the web SDK's ``pageView``.

``deviceType`` takes Infobip's values: unknown, mobile, tablet, desktop, spider, TV, console.

Parsing is ua-parser (uap-python 1.x, over the uap-core regexes). Browsers send a handful of
distinct strings, so results are cached per string; the first parse loads the regexes.
"""

import re
from functools import lru_cache

import ua_parser

MAX_LENGTH = 512
UNKNOWN, MOBILE, TABLET, DESKTOP, SPIDER, TV, CONSOLE = (
    "unknown",
    "mobile",
    "tablet",
    "desktop",
    "spider",
    "TV",
    "console",
)
DEVICE_TYPES = (UNKNOWN, MOBILE, TABLET, DESKTOP, SPIDER, TV, CONSOLE)
# Smart TVs and set-top boxes: Samsung (SMART-TV, Tizen TV), LG (Web0S / webOS TV), HbbTV sets,
# Apple TV, Android TV and Sony BRAVIA, Google TV, Chromecast, Roku, Fire TV sticks (AFTxx).
TV_PATTERN = re.compile(
    r"smart-?tv|hbbtv|tizen[^;)]*\btv\b|web0s|webos[^;)]*\btv\b|apple ?tv|android ?tv|bravia|"
    r"google ?tv|crkey|roku|\baft[a-z]{1,4}\b|netcast|\bviera\b|philipstv",
    re.IGNORECASE,
)
CONSOLE_PATTERN = re.compile(r"playstation|xbox|nintendo", re.IGNORECASE)
BOT_WORDS = ("bot", "spider", "crawl", "slurp")
TABLET_WORDS = ("ipad", "tablet", "kindle", "playbook", "nexus 7", "nexus 9", "nexus 10")
# Checked in the raw string too; "tablet" is not, as old Windows desktops say "Tablet PC".
RAW_TABLET_WORDS = ("ipad", "kindle", "silk/", "playbook")
MOBILE_OS = frozenset(
    {
        "iOS",
        "Android",
        "Windows Phone",
        "BlackBerry OS",
        "KaiOS",
        "Tizen",
        "Firefox OS",
        "Symbian OS",
        "webOS",
        "HarmonyOS",
    }
)
DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "Fedora",
        "Debian",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
        "Red Hat",
        "SUSE",
        "Mint",
        "Arch Linux",
        "Gentoo",
        "ChromeOS",
    }
)


def _version(part) -> str:
    numbers = [getattr(part, name) for name in ("major", "minor", "patch", "patch_minor")]
    return ".".join(n for n in numbers if n not in (None, ""))


def _device_type(ua: str, browser: str, os_family: str, device, brand: str) -> str:
    lowered = ua.lower()
    if device == "Spider" or any(word in browser.lower() for word in BOT_WORDS):
        return SPIDER
    if CONSOLE_PATTERN.search(ua):
        return CONSOLE
    if TV_PATTERN.search(ua) or TV_PATTERN.search(device):
        return TV
    names = f"{device} {brand}".lower()
    if any(word in names for word in TABLET_WORDS) or any(w in lowered for w in RAW_TABLET_WORDS):
        return TABLET
    # Android tablets leave "Mobile" out of the string; phones carry it.
    if os_family == "Android":
        return MOBILE if "mobile" in lowered else TABLET
    if os_family in MOBILE_OS or "mobi" in lowered:
        return MOBILE
    if os_family in DESKTOP_OS or os_family.startswith("Windows") or device == "Mac":
        return DESKTOP
    return UNKNOWN


@lru_cache(maxsize=2048)
def _parse(ua: str) -> tuple[tuple[str, str], ...]:
    result = ua_parser.parse(ua)
    agent, system, device = result.user_agent, result.os, result.device
    browser = agent.family if agent else ""
    os_family = system.family if system else ""
    device_family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    values = {
        "deviceType": _device_type(ua, browser, os_family, device_family, brand),
        "browserName": browser,
        "browserVersion": _version(agent) if agent else "",
        "browserOS": os_family,
    }
    return tuple((key, value) for key, value in values.items() if value)


def user_agent_properties(ua: str | None) -> dict[str, str]:
    """Return ``deviceType``, ``browserName``, ``browserVersion`` and ``browserOS`` for ``ua``
    (only the ones it reveals; nothing for an empty header)."""
    ua = (ua or "").strip()[:MAX_LENGTH]
    if not ua:
        return {}
    return dict(_parse(ua))
