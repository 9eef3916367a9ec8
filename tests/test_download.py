"""The download path, exercised against a file server on 127.0.0.1 (no internet here)."""
import functools
import http.server
import os
import socket
import tarfile
import threading

import pytest

from gluon_aug import UsageError
from gluon_aug.data.cifar import sha1_of
from gluon_aug.data.download import ensure_cifar10
from conftest import make_cifar_folder


@pytest.fixture
def served(tmp_path):
    """A tar.gz laid out like the original archive, served over HTTP on loopback."""
    src = tmp_path / 'src' / 'cifar-10-batches-bin'
    make_cifar_folder(str(src), n_train=(10, 10), n_test=5)
    www = tmp_path / 'www'
    www.mkdir()
    archive = www / 'cifar-10-binary.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(src, arcname='cifar-10-batches-bin')
    checksums = {n: sha1_of(str(src / n)) for n in os.listdir(src)}
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f'http://127.0.0.1:{server.server_address[1]}/cifar-10-binary.tar.gz'
    yield url, sha1_of(str(archive)), checksums
    server.shutdown()
    server.server_close()


def closed_port_url():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return f'http://127.0.0.1:{port}/cifar-10-binary.tar.gz'


def test_falls_back_to_the_second_source_and_verifies_files(served, tmp_path):
    url, archive_sha1, checksums = served
    root = str(tmp_path / 'data')
    got = ensure_cifar10(root, sources=[(closed_port_url(), None), (url, archive_sha1)],
                         checksums=checksums, timeout=5)
    assert got == root
    assert sorted(os.listdir(root)) == sorted(checksums)  # flattened, no temp files left
    assert all(sha1_of(os.path.join(root, n)) == s for n, s in checksums.items())


def test_complete_folder_is_not_downloaded_again(served, tmp_path):
    url, archive_sha1, checksums = served
    root = str(tmp_path / 'data')
    ensure_cifar10(root, sources=[(url, archive_sha1)], checksums=checksums)
    # No reachable source now, yet the verified folder is accepted as is.
    assert ensure_cifar10(root, sources=[(closed_port_url(), None)], checksums=checksums) == root


def test_archive_with_wrong_checksum_is_rejected(served, tmp_path):
    url, _, checksums = served
    root = str(tmp_path / 'data')
    with pytest.raises(UsageError, match='wrong SHA-1'):
        ensure_cifar10(root, sources=[(url, '0' * 40)], checksums=checksums)
    assert [n for n in os.listdir(root) if n.endswith('.bin')] == []


def test_extracted_file_with_wrong_checksum_is_rejected(served, tmp_path):
    url, archive_sha1, checksums = served
    bad = dict(checksums, **{'test_batch.bin': 'f' * 40})
    with pytest.raises(UsageError, match='test_batch.bin has the wrong SHA-1'):
        ensure_cifar10(str(tmp_path / 'data'), sources=[(url, archive_sha1)], checksums=bad)


def test_offline_without_data_says_how_to_pass_a_folder(tmp_path):
    with pytest.raises(UsageError) as info:
        ensure_cifar10(str(tmp_path / 'data'), sources=[(closed_port_url(), None)], timeout=5)
    msg = str(info.value)
    assert 'could not be downloaded' in msg and '--data DIR' in msg and '\n' not in msg


def test_gluon_repo_variable_redirects_the_first_source(monkeypatch):
    from gluon_aug.data.download import ORIGINAL_URL, default_sources
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://mirror.example/')
    (first, _), (second, sha) = default_sources()
    assert first == 'http://mirror.example/gluon/dataset/cifar10/cifar-10-binary.tar.gz'
    assert second == ORIGINAL_URL and sha is None


def test_a_data_root_that_cannot_be_written_is_one_usage_error(tmp_path, monkeypatch):
    """A read-only MXNET_HOME (root writes anywhere, so the write itself is refused)."""
    from gluon_aug.data import download
    from gluon_aug.errors import UsageError

    def denied(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')
    monkeypatch.setattr(download.tempfile, 'mkstemp', denied)
    with pytest.raises(UsageError, match='cannot be written .Permission denied.; set MXNET_HOME'):
        download.ensure_cifar10(root=str(tmp_path / 'cifar10'), sources=[('file:///nowhere', None)])
