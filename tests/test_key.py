"""The per-user key: made atomically and privately, refused when others could touch it."""

import errno
import multiprocessing
import os
import stat
import threading

import pytest

from nbagg import key

POSIX = hasattr(os, "geteuid")
posix_only = pytest.mark.skipif(not POSIX, reason="uids and mode bits are POSIX")
ROUNDS = 20


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test starts with nothing told yet."""
    monkeypatch.setattr(key, "_told", set())


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    path = tmp_path / "jupyter" / "nbagg" / "state.key"
    monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(path))
    return path


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def write_key(path, data: bytes, file_mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(data)
    os.chmod(path, file_mode)


def leftovers(folder) -> list[str]:
    """Temporary files a key write left behind."""
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def refused(capsys, match: str) -> str:
    """The KeyUnavailable message of load_key(), checked to be a plain sentence told once."""
    with pytest.raises(key.KeyUnavailable, match=match) as info:
        key.load_key()
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    assert capsys.readouterr().err == f"nbagg: {message}\n"
    return message


# Where the key lives


def test_path_is_in_the_jupyter_data_dir_unless_overridden(tmp_path, monkeypatch):
    monkeypatch.delenv("NBAGG_STATE_KEY_FILE", raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    assert key.key_path() == tmp_path / "data" / "nbagg" / "state.key"
    monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(tmp_path / "elsewhere.key"))
    assert key.key_path() == tmp_path / "elsewhere.key"


# Making and reusing a key


@posix_only
def test_a_fresh_key_is_random_private_and_stable(key_file, capsys):
    first = key.load_key()
    assert len(first) == key.KEY_BYTES == 32
    assert key_file.read_bytes() == first
    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    assert key.load_key() == first
    assert key.load_key(create=False) == first
    assert leftovers(key_file.parent) == []
    assert capsys.readouterr().err == ""  # nothing to tell when all is well


def test_an_existing_key_is_used_as_it_is(key_file):
    write_key(key_file, b"k" * 48)  # longer keys (made by hand) are fine
    assert key.load_key() == b"k" * 48


def test_each_user_gets_their_own_random_key(tmp_path, monkeypatch):
    keys = set()
    for i in range(3):
        monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(tmp_path / str(i) / "state.key"))
        keys.add(key.load_key())
    assert len(keys) == 3


def test_no_key_and_create_false_is_refused_and_makes_nothing(key_file, capsys):
    with pytest.raises(key.KeyUnavailable, match="^no key: this state was not made by this user's kernels"):
        key.load_key(create=False)
    assert not key_file.parent.exists()
    assert "nbagg: no key:" in capsys.readouterr().err


# A key file cut short (an interrupted write, a full disk)


@pytest.mark.parametrize("content", [b"", b"short", b"x" * 31], ids=["empty", "short", "31-bytes"])
def test_a_short_key_is_replaced_and_the_user_told_once(key_file, capsys, content):
    write_key(key_file, content)
    new = key.load_key()
    assert len(new) == 32 and new != content
    assert key_file.read_bytes() == new
    if POSIX:
        assert mode(key_file) == 0o600
    assert leftovers(key_file.parent) == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"nbagg: replaced the key file {key_file}, which was too short")
    assert key.load_key() == new
    assert capsys.readouterr().err == ""


def test_a_short_key_is_not_replaced_when_only_verifying(key_file):
    write_key(key_file, b"short")
    with pytest.raises(key.KeyUnavailable, match="^no key: .*too short"):
        key.load_key(create=False)
    assert key_file.read_bytes() == b"short"


def test_a_good_key_written_meanwhile_is_kept_not_replaced(key_file, monkeypatch):
    """Another kernel fixes the short key between our read and our replace: theirs wins."""
    write_key(key_file, b"")
    theirs = b"t" * 32
    real_read = key._read
    calls = []

    def read(path):
        calls.append(path)
        if len(calls) == 2:  # the re-check just before replacing
            write_key(key_file, theirs)
        return real_read(path)

    monkeypatch.setattr(key, "_read", read)
    assert key.load_key() == theirs
    assert key_file.read_bytes() == theirs
    assert leftovers(key_file.parent) == []


# Racing kernels


def _race_threads(path, workers: int) -> list[bytes]:
    barrier = threading.Barrier(workers)
    results: list[bytes] = []

    def run():
        barrier.wait()
        results.append(key.load_key())

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("start", [None, b"", b"short"], ids=["no-key", "empty-key", "short-key"])
def test_racing_threads_all_end_with_the_same_key(tmp_path, monkeypatch, start):
    for i in range(ROUNDS):
        path = tmp_path / str(i) / "state.key"
        monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(path))
        if start is not None:
            write_key(path, start)
        results = _race_threads(path, workers=6)
        assert len(results) == 6
        assert len(set(results)) == 1, f"round {i}: the kernels disagree on the key"
        assert len(results[0]) >= 32 and path.read_bytes() == results[0]
        assert leftovers(path.parent) == []


def _load_in_child(barrier, queue):
    barrier.wait()
    queue.put(key.load_key())


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_racing_processes_all_end_with_the_same_key(tmp_path, monkeypatch):
    ctx = multiprocessing.get_context("fork")
    workers = 4
    for i in range(ROUNDS // 2):
        path = tmp_path / str(i) / "state.key"
        monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(path))
        if i % 2:
            write_key(path, b"")
        barrier, queue = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_load_in_child, args=(barrier, queue)) for _ in range(workers)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0
        assert len(set(results)) == 1, f"round {i}: the kernels disagree on the key"
        assert path.read_bytes() == results[0] and len(results[0]) == 32
        assert leftovers(path.parent) == []


# Writes that fail


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_sync_leaves_no_key_and_no_temporary_file(key_file, monkeypatch, capsys):
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", _no_space)
    refused(capsys, "No space left on device")
    assert not key_file.exists()
    assert leftovers(key_file.parent) == []
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert len(key.load_key()) == 32  # once there is room again


def test_a_partial_write_leaves_no_key(key_file, monkeypatch, capsys):
    real_write = os.write
    calls = []

    def write(fd, data):
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(data[:5]))  # a short write, then the disk is full
        _no_space()

    monkeypatch.setattr(os, "write", write)
    refused(capsys, "No space left on device")
    assert not key_file.exists()
    assert leftovers(key_file.parent) == []


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temporary(key_file, monkeypatch, capsys):
    write_key(key_file, b"")
    monkeypatch.setattr(os, "replace", _no_space)
    refused(capsys, "No space left on device")
    assert key_file.read_bytes() == b""
    assert leftovers(key_file.parent) == []


def test_a_folder_that_cannot_be_written_is_reported(key_file, monkeypatch, capsys):
    """What a read-only folder does (simulated: root ignores mode bits)."""
    key_file.parent.mkdir(parents=True, mode=0o700)
    real_open = os.open

    def open_(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    message = refused(capsys, "Permission denied")
    assert "make its folder writable" in message and "NBAGG_STATE_KEY_FILE" in message
    assert not key_file.exists()


def test_a_file_in_place_of_the_folder_is_reported(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "jupyter"
    blocker.write_text("not a folder")
    for path in (blocker / "state.key", blocker / "nbagg" / "state.key"):
        monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(path))
        message = refused(capsys, "part of that path is a file")
        assert "NBAGG_STATE_KEY_FILE" in message
    assert blocker.read_text() == "not a folder"


def test_an_unreadable_key_is_reported(key_file, monkeypatch, capsys):
    write_key(key_file, b"k" * 32)
    monkeypatch.setattr(os, "read", lambda fd, n: _raise(errno.EIO))
    refused(capsys, "Input/output error")
    assert key_file.read_bytes() == b"k" * 32


def _raise(code: int):
    raise OSError(code, os.strerror(code))


@pytest.mark.parametrize("code", [errno.EACCES, errno.EIO, errno.ENAMETOOLONG, errno.EROFS])
def test_any_os_error_becomes_key_unavailable(key_file, monkeypatch, code):
    monkeypatch.setattr(os, "stat", lambda *a, **k: _raise(code))
    with pytest.raises(key.KeyUnavailable, match=os.strerror(code)):
        key.load_key()


def test_a_path_the_os_cannot_take_becomes_key_unavailable(tmp_path, monkeypatch):
    monkeypatch.setattr(key, "key_path", lambda: tmp_path / "nbagg\x00state.key")  # ValueError in os
    with pytest.raises(key.KeyUnavailable, match="NBAGG_STATE_KEY_FILE"):
        key.load_key()


# Keys others could read or replace are refused, never repaired


@posix_only
@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o620, 0o601])
def test_a_key_open_to_others_is_refused_and_left_alone(key_file, capsys, file_mode):
    write_key(key_file, b"k" * 32, file_mode)
    message = refused(capsys, f"open to other users \\(mode 0{file_mode:o}\\)")
    assert f"chmod 600 {key_file}" in message
    assert mode(key_file) == file_mode and key_file.read_bytes() == b"k" * 32  # no silent chmod
    with pytest.raises(key.KeyUnavailable):
        key.load_key(create=False)


@posix_only
@pytest.mark.parametrize("folder_mode", [0o757, 0o770, 0o702, 0o1777])
def test_a_folder_others_can_write_is_refused(key_file, capsys, folder_mode):
    write_key(key_file, b"k" * 32)
    os.chmod(key_file.parent, folder_mode)
    message = refused(capsys, "can be written by other users")
    assert f"chmod go-w {key_file.parent}" in message
    assert mode(key_file.parent) == folder_mode


@posix_only
def test_no_key_is_made_in_a_folder_others_can_write(key_file, capsys):
    key_file.parent.mkdir(parents=True)
    os.chmod(key_file.parent, 0o777)
    refused(capsys, "can be written by other users")
    assert not key_file.exists()


@posix_only
def test_a_group_readable_folder_is_fine(key_file):
    key_file.parent.mkdir(parents=True)
    os.chmod(key_file.parent, 0o755)  # as ~/.local/share/jupyter often is: others cannot swap the key
    assert len(key.load_key()) == 32


@pytest.mark.skipif(not POSIX or os.geteuid() != 0, reason="changing owners needs root")
def test_a_key_or_folder_owned_by_someone_else_is_refused(key_file, capsys):
    write_key(key_file, b"k" * 32)
    os.chown(key_file, 12345, -1)
    assert "remove it" in refused(capsys, "belongs to another user \\(uid 12345\\)")
    os.chown(key_file, os.geteuid(), -1)
    os.chown(key_file.parent, 12345, -1)
    assert "NBAGG_STATE_KEY_FILE" in refused(capsys, "key folder .* belongs to another user")


@posix_only
def test_a_symlinked_key_is_refused_and_not_followed(key_file, tmp_path, capsys):
    real = tmp_path / "real.key"
    real.write_bytes(b"r" * 32)
    os.chmod(real, 0o600)
    key_file.parent.mkdir(parents=True, mode=0o700)
    key_file.symlink_to(real)
    refused(capsys, "is a symbolic link")
    assert real.read_bytes() == b"r" * 32


@posix_only
def test_a_dangling_symlink_is_not_written_through(key_file, tmp_path, capsys):
    target = tmp_path / "planted.key"
    key_file.parent.mkdir(parents=True, mode=0o700)
    key_file.symlink_to(target)
    refused(capsys, "is a symbolic link")
    assert not target.exists()


@posix_only
def test_a_fifo_or_folder_in_place_of_the_key_is_refused_without_hanging(key_file, capsys):
    key_file.parent.mkdir(parents=True, mode=0o700)
    os.mkfifo(key_file, 0o600)
    refused(capsys, "not a regular file")
    key_file.unlink()
    key_file.mkdir(mode=0o700)
    key._told.clear()  # the same message again: tell it again
    refused(capsys, "not a regular file")


# Telling the user


def test_each_problem_is_told_once_per_process(key_file, capsys):
    for _ in range(3):
        with pytest.raises(key.KeyUnavailable):
            key.load_key(create=False)
    first = capsys.readouterr().err
    assert first.count("nbagg: no key:") == 1
    key.warn_once("another problem")
    key.warn_once("another problem")
    assert capsys.readouterr().err == "nbagg: another problem\n"


def test_warn_once_writes_one_line_to_stderr_only(capsys):
    key.warn_once("hello")
    assert capsys.readouterr() == ("", "nbagg: hello\n")
