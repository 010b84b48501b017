"""`kura fsck` finds what it promises to find: each kind of damage is made by hand in a stopped
server's data, and fsck names it (exit 1); on sound data it says so (exit 0)."""

import os
import sqlite3
import subprocess

import pytest

from helpers import make_image, push_blob, unique
from plain_server import KURA_BIN, Server


def fsck(data, *flags):
    r = subprocess.run([KURA_BIN, "fsck", "--data", data] + list(flags), capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture
def stored(tmp_path):
    """Data of a stopped server, damaged by each test (so not one of server_factory's, whose
    data must pass fsck)."""
    s = Server(tmp_path)
    s.start()
    repo = unique("fsck")
    body, mt, digest, blobs = make_image(s.registry, repo, tag="v1", layers=2)
    lonely = push_blob(s.registry, repo, b"a blob of its own")
    s.stop()
    return dict(server=s, repo=repo, manifest=digest, blobs=list(blobs), lonely=lonely)


def blob_file(data, digest):
    h = digest.split(":", 1)[1]
    return os.path.join(data, "blobs", "sha256", h[:2], h)


def db(data):
    return sqlite3.connect(os.path.join(data, "kura.db"))


def test_sound_data_passes(stored):
    code, out, err = fsck(stored["server"].data)
    assert code == 0, out + err
    assert "1 tags, 1 manifests, 4 blob links (4 blobs hashed), 0 upload sessions: no problems" \
        in out


def test_a_blob_whose_bytes_changed(stored):
    path = blob_file(stored["server"].data, stored["lonely"])
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")
    code, out, _ = fsck(stored["server"].data)
    assert code == 1
    assert "blob %s does not hash to its digest" % stored["lonely"] in out
    assert fsck(stored["server"].data, "--no-hash")[0] == 0


def test_a_blob_that_is_gone(stored):
    os.unlink(blob_file(stored["server"].data, stored["blobs"][0]))
    code, out, _ = fsck(stored["server"].data)
    assert code == 1
    assert "links blob %s, which is not stored" % stored["blobs"][0] in out


def test_a_tag_to_nowhere_and_a_manifest_missing_its_blob(stored):
    with db(stored["server"].data) as c:
        c.execute("UPDATE tags SET digest = ?", ("sha256:" + "1" * 64,))
        c.execute("DELETE FROM repository_blobs WHERE digest = ?", (stored["blobs"][1],))
    code, out, _ = fsck(stored["server"].data)
    assert code == 1
    assert "tag v1 points at sha256:%s, which the repository does not hold" % ("1" * 64) in out
    assert "needs blob %s, which the repository does not link" % stored["blobs"][1] in out


def test_rows_of_an_instance_that_is_gone(stored):
    with db(stored["server"].data) as c:
        c.execute("INSERT INTO tags(instance, repo, tag, digest) VALUES('ghost', 'r', 't', ?)",
                  (stored["manifest"],))
    code, out, _ = fsck(stored["server"].data)
    assert code == 1
    assert "tags of instance ghost, which no longer exists, are still stored" in out


def test_an_upload_that_lost_its_bytes(stored):
    with db(stored["server"].data) as c:
        c.execute("INSERT INTO uploads(id, instance, repo, offset) "
                  "SELECT 'u-1', instance, repo, 100 FROM tags LIMIT 1")
    code, out, _ = fsck(stored["server"].data)
    assert code == 1
    assert "upload u-1 counts 100 bytes, which the blob store does not hold" in out


def test_no_data_is_a_clear_error(tmp_path):
    code, out, err = fsck(str(tmp_path / "nothing"))
    assert code == 2
    assert err.strip().startswith("kura fsck: no registry data in")
