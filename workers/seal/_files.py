"""Private file helpers: create a file with its whole content at once, only if it does not exist yet."""

import os
import secrets
from pathlib import Path

__all__ = ["create_exclusive", "ensure_private_dir", "fsync_dir"]


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` (and parents) if missing; a directory this call creates gets mode 0700."""
    if directory.is_dir():
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # mkdir's mode is reduced by the umask


def fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_exclusive(path: Path, data: bytes, *, mode: int = 0o600) -> bool:
    """Write ``data`` to ``path`` unless it exists; True when this call created it.

    The content goes to a temporary file in the same directory first (opened with ``mode``, so it is never
    more readable than that), which is then hard-linked to ``path``. A link, unlike a rename, fails when
    ``path`` already exists, so concurrent writers never replace each other's file and readers never see
    a partial one. The file system must support hard links (local disks and Docker volumes do).
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        fsync_dir(path.parent)
        return True
    finally:
        temp.unlink(missing_ok=True)
