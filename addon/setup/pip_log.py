"""Reading pip's output: how far an install is, and what a failure means for the user.

pip prints one ``Collecting``/``Processing`` line per package it resolves, then
``Installing collected packages: ...``; that is enough for a progress bar. A failure is
turned into one sentence that says what failed and what to do.
"""

from __future__ import annotations

import re

#: About how many packages the worker requirements resolve to (torch, fastapi and deps).
EXPECTED_PACKAGES = 26
#: Share of the pip step spent resolving/downloading; the rest is unpacking (torch).
RESOLVE_SHARE = 0.6

_RESOLVING = re.compile(r"^(Collecting|Processing|Requirement already satisfied:)\s+(\S+)")
_INSTALLING = re.compile(r"^Installing collected packages:\s*(.*)")
_DOWNLOADING = re.compile(r"^\s*Downloading\s+(\S+)(?:\s+\((.+)\))?")


def _package(token: str) -> str:
    """``torch 2.13.0`` from a wheel path or URL; a requirement like ``pillow==13.0.0`` as is."""
    name = token.rstrip(",").split("/")[-1]
    if name.endswith(".whl"):
        parts = name.split("-")
        return f"{parts[0]} {parts[1]}" if len(parts) > 1 else name
    return name


class PipProgress:
    """Feed pip's lines in; ``fraction`` (0-1 of the pip step) and ``message`` come out."""

    def __init__(self) -> None:
        self.fraction = 0.0
        self.message = "Resolving packages"
        self.resolved = 0

    def feed(self, line: str) -> bool:
        """Take one output line; True when the progress or the message changed."""
        if match := _RESOLVING.match(line):
            self.resolved += 1
            name = _package(match.group(2))
            self.fraction = RESOLVE_SHARE * min(self.resolved / EXPECTED_PACKAGES, 0.95)
            self.message = f"Getting {name}"
            return True
        if match := _DOWNLOADING.match(line):
            size = f" ({match.group(2)})" if match.group(2) else ""
            self.message = f"Downloading {_package(match.group(1))}{size}"
            return True
        if match := _INSTALLING.match(line):
            count = len([p for p in match.group(1).split(",") if p.strip()])
            self.fraction = RESOLVE_SHARE
            self.message = f"Installing {count} packages (torch takes a minute)"
            return True
        return False


#: (pattern in pip's output, what it means and what to do); first match wins.
_DIAGNOSES = (
    (r"No space left on device|\[Errno 28\]",
     "there is not enough free disk space for the worker environment: free about {need} on "
     "the drive of {env} and press Repair."),
    (r"ProxyError|407 Proxy Authentication|Tunnel connection failed",
     "pip could not get through the network proxy: set HTTPS_PROXY (or 'proxy' in pip.conf) "
     "and press Repair, or install from a wheel folder."),
    (r"CERTIFICATE_VERIFY_FAILED|SSLError",
     "the secure connection to the package index failed (a proxy that inspects HTTPS?): give "
     "pip the proxy's certificate ('cert' in pip.conf or PIP_CERT), or install from a wheel "
     "folder."),
    (r"Failed to establish a new connection|Temporary failure in name resolution|"
     r"Name or service not known|Network is unreachable|NewConnectionError|ConnectTimeout|"
     r"Read timed out|getaddrinfo failed",
     "pip could not reach the package index (no internet connection?): connect and press "
     "Repair, or install from a wheel folder made by scripts/download_wheels.py."),
    (r"No module named pip|ensurepip is disabled|No module named ensurepip",
     "this Python has no pip and cannot install it with ensurepip: use a Blender from "
     "blender.org, whose bundled Python includes ensurepip."),
    (r"BadZipFile|is not a valid wheel|invalid wheel|Wheel .* is invalid",
     "a wheel file is damaged: download the wheel folder again with "
     "scripts/download_wheels.py."),
    (r"THESE PACKAGES DO NOT MATCH THE HASHES",
     "a downloaded package does not match its expected hash: clear pip's cache "
     "(pip cache purge) and press Repair."),
)
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


def explain(log_text: str, wheel_dir: str | None, env_dir: str, need: str,
            python: str, platform: str) -> str:
    """One sentence for the user: what pip's failure means and what to do about it."""
    if match := _NO_MATCH.search(log_text):
        req = match.group(1)
        if wheel_dir:
            return (f"the wheel folder {wheel_dir} has no {req} for Python {python} on "
                    f"{platform}: make the folder with scripts/download_wheels.py for this "
                    "Python and platform (see README).")
        return (f"pip found no {req} for Python {python} on {platform}: check the internet "
                "connection and pip's index settings, or install from a wheel folder.")
    for pattern, advice in _DIAGNOSES:
        if re.search(pattern, log_text):
            return advice.format(need=need, env=env_dir)
    errors = [line.strip() for line in log_text.splitlines() if line.startswith("ERROR:")]
    lines = errors or [line.strip() for line in log_text.splitlines() if line.strip()]
    return lines[-1] if lines else "the command failed without output."
