"""Turn the refs in a job body into checked local files, before the job is queued.

A ref is an upload id or an absolute local path. Paths are a way into the worker's
file system, so they are accepted only from a loopback client and only when the
real path (symlinks and ``..`` resolved) lies under a root the worker was told to
allow. Cheap image checks (exists, readable header, pixel count) run here so a
client gets a 4xx at once instead of a failed job minutes later.
"""

from __future__ import annotations

import ipaddress
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..inference.imageio import MAX_PIXELS, PILLOW_FORMATS

_EXR_MAGIC = b"\x76\x2f\x31\x01"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class RefError(Exception):
    """A ref the client must fix; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CheckedImage:
    """A client's input image, checked: its ref, the file it resolved to and its size.

    Sizes come from the header only; the pixels are read later as an
    ``imageio.SourceFile``.
    """

    ref: str
    path: Path
    width: int
    height: int


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost' (test clients may report that name)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def is_upload_id(ref: str) -> bool:
    """True when ``ref`` has the form of an upload id (32 hex digits)."""
    return bool(_UPLOAD_ID.match(ref))


class RefResolver:
    """Resolves refs for one worker: its upload folder, allowed roots, and whether paths go.

    ``local_paths=False`` (``serve --no-local-paths``) refuses every path, for a worker
    behind a same-host proxy where every remote client looks like loopback.
    """

    def __init__(self, uploads_dir: Path, allowed_roots: list[Path],
                 local_paths: bool = True) -> None:
        self.uploads_dir = uploads_dir
        self.allowed_roots = [Path(os.path.realpath(root)) for root in allowed_roots]
        self.local_paths = local_paths

    def upload_path(self, upload_id: str) -> Path:
        """The stored file of an upload id; 404 when there is none."""
        folder = self.uploads_dir / upload_id
        files = sorted(folder.iterdir()) if folder.is_dir() else []
        if not _UPLOAD_ID.match(upload_id) or not files:
            raise RefError(404, f"Unknown upload id '{upload_id}': upload the file again.")
        return files[0]

    def local_path(self, ref: str, client_host: str | None) -> Path:
        """Check a local path ref against the client's address and the allowed roots."""
        if not self.local_paths:
            raise RefError(
                403,
                f"Local path '{ref}' refused: this worker was started with --no-local-paths; "
                "upload the file with POST /uploads and pass its id.",
            )
        if not is_loopback(client_host):
            raise RefError(
                403,
                f"Local path '{ref}' refused: paths are accepted only from the worker's own "
                "machine; upload the file with POST /uploads and pass its id.",
            )
        if not os.path.isabs(ref):
            raise RefError(422, f"'{ref}' is neither an absolute path nor an upload id.")
        real = Path(os.path.realpath(ref))
        if not any(real.is_relative_to(root) for root in self.allowed_roots):
            raise RefError(
                403,
                f"Path '{ref}' (really '{real}') is outside the folders this worker may read; "
                "start the worker with --allow-root for its folder or upload the file.",
            )
        return real

    def path(self, ref: str, client_host: str | None) -> Path:
        """The local file a ref names (upload id or allowed path)."""
        if _UPLOAD_ID.match(ref):
            return self.upload_path(ref)
        return self.local_path(ref, client_host)

    def image(self, ref: str, client_host: str | None) -> CheckedImage:
        """Resolve and probe an image ref; 4xx naming the file when it cannot be used."""
        path = self.path(ref, client_host)
        if not path.is_file():
            raise RefError(422, f"Image '{ref}' does not exist or is not a file.")
        label = f"'{path.name}' (upload {ref})" if _UPLOAD_ID.match(ref) else f"'{ref}'"
        width, height = probe_image(path, label)
        return CheckedImage(ref=ref, path=path, width=width, height=height)


def probe_image(path: Path, label: str) -> tuple[int, int]:
    """Read an image's size from its header only; raise RefError for junk and bombs.

    ``label`` names the image in messages, quoted, as the user knows it.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise RefError(422, f"Image {label} cannot be read: {error.strerror}.") from error
    if magic == _EXR_MAGIC:
        width, height = _exr_size(path, label)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path, formats=PILLOW_FORMATS) as image:
                    width, height = image.size
        except Image.DecompressionBombError as error:
            raise RefError(422, _bomb_message(label, str(error))) from error
        except (OSError, SyntaxError, ValueError) as error:
            raise RefError(
                422, f"Image {label} is not a readable image (corrupt or unsupported format)."
            ) from error
    if width < 1 or height < 1:
        raise RefError(422, f"Image {label} has no pixels ({width}x{height}).")
    if width * height > MAX_PIXELS:
        raise RefError(422, _bomb_message(label, f"{width}x{height} pixels"))
    return width, height


def _exr_size(path: Path, label: str) -> tuple[int, int]:
    """Size of an OpenEXR image from its data window."""
    import OpenEXR

    try:
        low, high = OpenEXR.File(str(path), header_only=True).header()["dataWindow"]
    except Exception as error:
        raise RefError(422, f"Image {label} is not a readable OpenEXR file.") from error
    return int(high[0] - low[0] + 1), int(high[1] - low[1] + 1)


def _bomb_message(label: str, size: str) -> str:
    """The decompression-bomb refusal, with the limit so the user knows what to do."""
    return (
        f"Image {label} is too large ({size}); the limit is {MAX_PIXELS:,} pixels "
        "(16384 x 16384). Scale it down first."
    )
