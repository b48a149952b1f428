"""Tests of loopnet.datasets: the IDX reader, the digits split, one_hot."""

import gzip
import sys

import numpy as np
import pytest

from loopnet import datasets
from tests.helpers import needs_sklearn

IDX_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}
SHAPES = [(5,), (0,), (3, 4), (2, 0, 3), (2, 3, 4), (1, 1, 1)]


def idx_bytes(array):
    """Encode ``array`` as IDX: magic, big-endian uint32 sizes, big-endian data."""
    header = bytes([0, 0, IDX_CODES[array.dtype.type], array.ndim])
    header += b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, content, compress=False):
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def sample(rng, dtype, shape):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return (rng.standard_normal(shape) * 1e3).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


@pytest.fixture(scope="module")
def split():
    return datasets.digits()


# load_idx: round trips


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", list(IDX_CODES), ids=lambda t: t.__name__)
def test_load_idx_round_trip(tmp_path, rng, dtype, shape, compress):
    expected = sample(rng, dtype, shape)
    path = write(tmp_path / "data.idx", idx_bytes(expected), compress)
    loaded = datasets.load_idx(path)
    assert loaded.shape == expected.shape
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, expected)
    assert loaded.flags.writeable and loaded.flags.c_contiguous


def test_load_idx_known_bytes(tmp_path):
    # int16 -2 and 258 written out by hand, big-endian.
    content = bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x02])
    loaded = datasets.load_idx(write(tmp_path / "known", content))
    np.testing.assert_array_equal(loaded, np.array([[-2, 258]], dtype=np.int16))


def test_load_idx_accepts_str_path(tmp_path):
    path = write(
        tmp_path / "labels.idx1-ubyte", idx_bytes(np.arange(4, dtype=np.uint8))
    )
    np.testing.assert_array_equal(datasets.load_idx(str(path)), np.arange(4))


def test_load_idx_detects_gzip_by_content_not_name(tmp_path):
    expected = np.arange(6, dtype=np.int32).reshape(2, 3)
    gz_named_plain = write(tmp_path / "a.gz", idx_bytes(expected))
    plain_named_gz = write(tmp_path / "b.idx", idx_bytes(expected), compress=True)
    np.testing.assert_array_equal(datasets.load_idx(gz_named_plain), expected)
    np.testing.assert_array_equal(datasets.load_idx(plain_named_gz), expected)


# load_idx: errors

GOOD = idx_bytes(np.arange(12, dtype=np.int16).reshape(3, 4))


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"truncated header: expected 4 bytes.*found 0"),
        (b"\x00\x00\x08", r"truncated header: expected 4 bytes.*found 3"),
        (b"\x00\x01\x08\x01" + bytes(5), r"bad magic.*00 00, found 00 01"),
        (b"PK\x03\x04", r"bad magic.*found 50 4b"),
        (b"\x00\x00\x07\x01" + bytes(5), r"unknown dtype code 0x07.*0x08"),
        (b"\x00\x00\x08\x00", r"ndim is 0; expected at least 1"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", r"ndim=2 needs 8 bytes.*found 4"),
        (GOOD[:-1], r"truncated data: shape \(3, 4\) of int16 needs 24.*found 23"),
        (GOOD[:12], r"truncated data: .*needs 24 data bytes, found 0"),
        (GOOD + b"\x00", r"trailing bytes: shape \(3, 4\) of int16 needs 24"),
    ],
    ids=[
        "empty",
        "short-magic",
        "bad-magic",
        "zip-file",
        "dtype-code",
        "ndim-0",
        "short-sizes",
        "one-byte-short",
        "no-data",
        "one-byte-extra",
    ],
)
def test_load_idx_rejects_malformed(tmp_path, content, match, compress):
    path = write(tmp_path / "bad.idx", content, compress)
    with pytest.raises(ValueError, match=match) as info:
        datasets.load_idx(path)
    assert "bad.idx" in str(info.value)


def test_load_idx_exact_count_of_trailing_bytes_in_plain_file(tmp_path):
    path = write(tmp_path / "extra.idx", GOOD + bytes(5))
    with pytest.raises(ValueError, match="needs 24 data bytes, found 29"):
        datasets.load_idx(path)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_load_idx_hostile_sizes_do_not_allocate(tmp_path, compress):
    # 3 x (2**32 - 1) float64: about 6e29 bytes claimed, 8 present.
    content = b"\x00\x00\x0e\x03" + b"\xff" * 12 + bytes(8)
    path = write(tmp_path / "hostile.idx", content, compress)
    with pytest.raises(ValueError, match=r"truncated data: .*found 8"):
        datasets.load_idx(path)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda gz: gz[: len(gz) // 2],  # stream cut before its end marker
        lambda gz: gz[:-8] + bytes(8),  # CRC and length zeroed
        lambda gz: gz[:10] + b"\xff" * (len(gz) - 10),  # deflate data garbled
        lambda gz: b"\x1f\x8b" + b"\x00" * 20,  # not gzip after the magic bytes
        lambda gz: gz + b"garbage!",  # junk after the gzip member
    ],
    ids=["cut", "crc", "garbled", "bad-header", "junk-after"],
)
def test_load_idx_rejects_corrupt_gzip(tmp_path, mangle):
    content = idx_bytes(np.arange(1000, dtype=np.float64))
    path = tmp_path / "corrupt.idx.gz"
    path.write_bytes(mangle(gzip.compress(content)))
    with pytest.raises(ValueError, match=r"corrupt\.idx\.gz.*corrupt gzip stream"):
        datasets.load_idx(path)


def test_load_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        datasets.load_idx(tmp_path / "missing.idx")


@pytest.mark.parametrize("path", [None, 3, b"data.idx", ["data.idx"]])
def test_load_idx_rejects_non_path(path):
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
        datasets.load_idx(path)


def test_load_idx_accepts_custom_pathlike(tmp_path):
    class Where:
        def __init__(self, path):
            self.path = path

        def __fspath__(self):
            return str(self.path)

    path = write(tmp_path / "x.idx", idx_bytes(np.arange(3, dtype=np.uint8)))
    np.testing.assert_array_equal(datasets.load_idx(Where(path)), [0, 1, 2])


# one_hot


def test_one_hot_round_trip(rng):
    labels = rng.integers(0, 10, size=50)
    Y = datasets.one_hot(labels, n_classes=10)
    assert Y.shape == (50, 10) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y.sum(axis=1), np.ones(50))
    np.testing.assert_array_equal(Y.argmax(axis=1), labels)
    assert set(np.unique(Y)) <= {0.0, 1.0}


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32, np.uint64])
def test_one_hot_integer_dtypes_and_inferred_n_classes(dtype):
    Y = datasets.one_hot(np.array([3, 0, 1], dtype=dtype), dtype="float32")
    expected = np.array([[0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32)
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(Y, expected)


def test_one_hot_empty_labels_with_n_classes():
    Y = datasets.one_hot(np.array([], dtype=np.int64), n_classes=3)
    assert Y.shape == (0, 3)


@pytest.mark.parametrize(
    "labels, kwargs, error, match",
    [
        ([0.0, 1.0], {}, ValueError, "labels must have an integer dtype, got float64"),
        ([True, False], {}, ValueError, "labels must have an integer dtype, got bool"),
        (["a", "b"], {}, TypeError, "labels must be numeric"),
        ([[0, 1]], {}, ValueError, r"labels must be 1-D.*got shape \(1, 2\)"),
        (3, {}, ValueError, r"labels must be 1-D.*got shape \(\)"),
        ([0, -1, 2], {}, ValueError, "non-negative; found -1 at index 1"),
        ([0, 10, 2], {"n_classes": 10}, ValueError, "< n_classes=10; found 10 at"),
        ([0], {"n_classes": 0}, ValueError, "n_classes must be at least 1, got 0"),
        (np.array([], dtype=int), {}, ValueError, "labels is empty; pass n_classes"),
        ([0], {"n_classes": 2.5}, TypeError, "integer"),
    ],
    ids=[
        "float",
        "bool",
        "str",
        "2-D",
        "scalar",
        "negative",
        "too-large",
        "n_classes-0",
        "empty",
        "n_classes-float",
    ],
)
def test_one_hot_rejects_bad_input(labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.one_hot(labels, **kwargs)


# digits


@needs_sklearn
def test_digits_shapes_and_dtypes(split):
    assert isinstance(split, datasets.Split)
    assert split.X_train.shape == (1437, 64) and split.X_test.shape == (360, 64)
    assert split.Y_train.shape == (1437, 10) and split.Y_test.shape == (360, 10)
    assert split.labels_train.shape == (1437,) and split.labels_test.shape == (360,)
    for X, Y in [(split.X_train, split.Y_train), (split.X_test, split.Y_test)]:
        assert X.dtype == np.float64 and Y.dtype == np.float64
    assert np.issubdtype(split.labels_train.dtype, np.integer)


@needs_sklearn
def test_digits_values(split):
    X = np.vstack([split.X_train, split.X_test])
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))  # 17 grey levels
    for Y, labels in [
        (split.Y_train, split.labels_train),
        (split.Y_test, split.labels_test),
    ]:
        np.testing.assert_array_equal(Y.sum(axis=1), 1.0)
        np.testing.assert_array_equal(Y.argmax(axis=1), labels)
    assert set(np.unique(split.labels_train)) == set(range(10))


@needs_sklearn
def test_digits_train_and_test_partition_all_samples(split):
    X = np.vstack([split.X_train, split.X_test])
    assert X.shape[0] == 1797
    # Compared as multisets of rows: no sample is lost or repeated by the split.
    from sklearn.datasets import load_digits

    original = load_digits().data / 16.0
    rows = sorted(map(bytes, X))
    assert rows == sorted(map(bytes, original))


@needs_sklearn
def test_digits_same_seed_same_split(split):
    again = datasets.digits(seed=0)
    for a, b in zip(split, again, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_sklearn
def test_digits_different_seeds_differ(split):
    other = datasets.digits(seed=1)
    assert not np.array_equal(split.labels_test, other.labels_test)
    assert not np.array_equal(split.X_train, other.X_train)


@needs_sklearn
def test_digits_test_size():
    small = datasets.digits(test_size=0.1)
    assert small.X_test.shape == (180, 64) and small.X_train.shape == (1617, 64)


# 0.99999999 is in (0, 1) but leaves no training example: found only after loading
@pytest.mark.parametrize(
    "test_size",
    [0, 1, -0.2, 1.5, float("nan"), pytest.param(0.99999999, marks=needs_sklearn)],
)
def test_digits_rejects_test_size_out_of_range(test_size):
    with pytest.raises(ValueError, match="test_size"):
        datasets.digits(test_size=test_size)


@pytest.mark.parametrize("test_size", ["0.2", None, True])
def test_digits_rejects_non_number_test_size(test_size):
    with pytest.raises(TypeError, match="test_size"):
        datasets.digits(test_size=test_size)


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[examples\]"'):
        datasets.digits()


def test_module_exports():
    assert set(datasets.__all__) == {"Split", "digits", "load_idx", "one_hot"}
