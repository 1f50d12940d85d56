"""The per-user secret that signs stored figure states (see state.py).

The key is 32 random bytes in ``<jupyter data dir>/nbagg/state.key`` (or the file
``NBAGG_STATE_KEY_FILE`` names), mode 0600 in a folder only this user can write. Whoever
can read it can make states this user's kernels restore, and whoever can write it or its
folder can swap it; so a key that others could read or replace is refused, not repaired:
the user is told what to fix. Anything that goes wrong surfaces as KeyUnavailable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

KEY_FILE = "state.key"
KEY_BYTES = 32

# POSIX only: Windows has no uids or mode bits to check, and no O_NOFOLLOW.
_POSIX = hasattr(os, "geteuid")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as the key must not hang a kernel
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation

_told: set[str] = set()


class KeyUnavailable(Exception):
    """No usable key; the message says what is wrong and how to fix it."""


def warn_once(message: str) -> None:
    """Tell the user on stderr, once per process for each distinct message."""
    if message in _told:
        return
    _told.add(message)
    print(f"nbagg: {message}", file=sys.stderr, flush=True)


def key_path() -> Path:
    override = os.environ.get("NBAGG_STATE_KEY_FILE")
    if override:
        return Path(override)
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "nbagg" / KEY_FILE


def load_key(create: bool = True) -> bytes:
    """This user's key, created on first use unless ``create`` is False.

    A key file shorter than KEY_BYTES (left by an interrupted write) is replaced, so
    states signed with it no longer verify.
    """
    path = key_path()
    try:
        return _load(path, create)
    except KeyUnavailable as err:
        warn_once(str(err))
        raise
    except (OSError, ValueError) as err:  # ValueError: a NUL in NBAGG_STATE_KEY_FILE
        message = _os_error(err, path)
        warn_once(message)
        raise KeyUnavailable(message) from err


def _load(path: Path, create: bool) -> bytes:
    key = _read(path)
    if key is not None and len(key) >= KEY_BYTES:
        return key
    if not create:
        raise KeyUnavailable(
            f"no key: this state was not made by this user's kernels ({path} "
            + ("does not exist" if key is None else "is too short to be a key")
            + "); re-run the cell that made the figure."
        )
    if key is None:
        key = _create(path)
        if key is not None:
            return key
    return _replace_short(path)


def _read(path: Path) -> bytes | None:
    """The key file's bytes, or None if there is none; refuses one others could touch."""
    if not _check_folder(path.parent):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK | _BINARY)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise KeyUnavailable(
                f"the key file {path} is a symbolic link, which nbagg does not follow; "
                f"replace it with the file itself, or set NBAGG_STATE_KEY_FILE to the real path."
            ) from err
        raise
    try:
        _check_file(path, os.fstat(fd))
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _check_folder(folder: Path) -> bool:
    """Whether the folder exists; refuses one that another user owns or can write."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return False
    except NotADirectoryError as err:
        raise KeyUnavailable(_not_a_folder(folder)) from err
    if not stat.S_ISDIR(st.st_mode):
        raise KeyUnavailable(_not_a_folder(folder))
    if _POSIX and st.st_uid != os.geteuid():
        raise KeyUnavailable(
            f"the key folder {folder} belongs to another user (uid {st.st_uid}), who could replace the key; "
            f"set NBAGG_STATE_KEY_FILE to a path in a folder of your own."
        )
    if _POSIX and st.st_mode & 0o022:
        raise KeyUnavailable(
            f"the key folder {folder} can be written by other users (mode {stat.S_IMODE(st.st_mode):04o}), "
            f"who could replace the key; run `chmod go-w {folder}`, or set NBAGG_STATE_KEY_FILE elsewhere."
        )
    return True


def _check_file(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise KeyUnavailable(f"the key file {path} is not a regular file; remove it and nbagg will make a new key.")
    if _POSIX and st.st_uid != os.geteuid():
        raise KeyUnavailable(
            f"the key file {path} belongs to another user (uid {st.st_uid}); "
            f"remove it and nbagg will make a new key, or set NBAGG_STATE_KEY_FILE to a file of your own."
        )
    if _POSIX and st.st_mode & 0o077:
        raise KeyUnavailable(
            f"the key file {path} is open to other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run `chmod 600 {path}`, or set NBAGG_STATE_KEY_FILE to another file."
        )


def _not_a_folder(folder: Path) -> str:
    return (
        f"the key folder {folder} cannot be made because part of that path is a file; "
        f"remove that file, or set NBAGG_STATE_KEY_FILE to a path in a folder of your own."
    )


def _os_error(err: OSError | ValueError, path: Path) -> str:
    reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
    if isinstance(err, NotADirectoryError):
        return _not_a_folder(path.parent)
    return (
        f"the key file {path} cannot be read or created ({reason}); make its folder writable "
        f"and check the disk has room, or set NBAGG_STATE_KEY_FILE to another path."
    )


def _create(path: Path) -> bytes | None:
    """A new key put in place with link (never over an existing file); if another kernel
    won the race, its key; None if the file that won is too short to be a key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_folder(path.parent)  # an existing folder may be someone else's
    key = secrets.token_bytes(KEY_BYTES)
    with _temp_key(path, key) as temp:
        try:
            os.link(temp, path)
        except FileExistsError:
            theirs = _read(path)
            return theirs if theirs is not None and len(theirs) >= KEY_BYTES else None
    _fsync_folder(path.parent)
    return key


def _replace_short(path: Path) -> bytes:
    """Replace a too-short key file, unless another kernel has just put a good key there."""
    key = secrets.token_bytes(KEY_BYTES)
    with _temp_key(path, key) as temp, _folder_lock(path.parent):
        current = _read(path)
        if current is not None and len(current) >= KEY_BYTES:
            return current
        os.replace(temp, path)
    _fsync_folder(path.parent)
    warn_once(
        f"replaced the key file {path}, which was too short to be a key ({len(current or b'')} bytes, "
        f"from an interrupted write); figures stored with it must be re-run to restore."
    )
    return key


@contextlib.contextmanager
def _temp_key(path: Path, key: bytes) -> Iterator[Path]:
    """The key, written and synced to a private temporary file next to ``path``; the
    temporary name is always removed afterwards, so a failed write leaves no key."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY, 0o600)
        try:
            view = memoryview(key)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        yield temp
    finally:
        with contextlib.suppress(OSError):  # already moved into place, or never made
            os.unlink(temp)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder while a key is replaced, where flock works;
    without one (Windows, some network file systems) the re-check narrows the race."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    except (ImportError, OSError):
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _fsync_folder(folder: Path) -> None:
    """Make the new name durable, so a crash cannot lose the key; best effort."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
