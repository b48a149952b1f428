"""Network.save / Network.load: round trips, atomic writes, and every bad file."""

import os
import pathlib
import stat

import numpy as np
import pytest

import loopnet as ln
from loopnet import saving

ARCHITECTURES = [
    {"sizes": [3, 4, 2], "activation": "tanh", "output": "softmax"},
    {"sizes": [2, 3, 1], "bias": False, "cost": "log_likelihood"},
    {"sizes": [5, 2], "output": "identity", "dtype": "float32"},
    {"sizes": [4, 6, 5, 3], "activation": "relu", "dtype": "float32"},
]


def _saved_fields(tmp_path, **changes):
    """Return the arrays of a saved [3, 4, 2] network, with ``changes`` applied."""
    path = tmp_path / "good.npz"
    ln.Network([3, 4, 2], seed=0).save(path)
    with np.load(path) as data:
        fields = dict(data)
    for key, value in changes.items():
        if value is None:
            del fields[key]
        else:
            fields[key] = value
    return fields


def _write(tmp_path, fields, name="bad.npz"):
    path = tmp_path / name
    with open(path, "wb") as f:
        np.savez(f, **fields)
    return path


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_round_trip(tmp_path, rng, architecture):
    net = ln.Network(seed=3, **architecture)
    net.params[:] += rng.standard_normal(net.n_params).astype(net.dtype)
    path = tmp_path / "model.npz"
    net.save(path)
    same = ln.Network.load(path)
    assert repr(same) == repr(net) and same.activations == net.activations
    assert same.params.dtype == net.dtype
    np.testing.assert_array_equal(same.params, net.params)
    X = rng.random((3, net.sizes[0]))
    np.testing.assert_array_equal(same.forward(X), net.forward(X))


def test_file_layout(tmp_path):
    net = ln.Network([3, 4, 2], output="softmax", cost="log_likelihood", seed=0)
    path = tmp_path / "model"  # used as given: no extension is added
    net.save(str(path))
    assert os.listdir(tmp_path) == ["model"]
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(
            [
                "format",
                "format_version",
                "sizes",
                "activation",
                "output",
                "cost",
                "bias",
                "dtype",
                "params",
            ]
        )
        assert str(data["format"]) == "loopnet" and int(data["format_version"]) == 1
        assert data["sizes"].tolist() == [3, 4, 2] and data["sizes"].dtype == np.int64
        assert (str(data["activation"]), str(data["output"])) == ("sigmoid", "softmax")
        assert str(data["cost"]) == "log_likelihood" and str(data["dtype"]) == "float64"
        assert data["bias"].dtype == np.bool_ and bool(data["bias"])
        assert all(data[key].dtype != object for key in data.files)
        np.testing.assert_array_equal(data["params"], net.params)


def test_saved_file_gets_usual_permissions(tmp_path):
    net = ln.Network([2, 1], seed=0)
    path = tmp_path / "model.npz"
    net.save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    os.chmod(path, 0o600)
    net.save(path)  # overwriting keeps the old file's permissions
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_save_refuses_non_finite_params(tmp_path):
    net = ln.Network([2, 1], seed=0)
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("failing", ["savez", "replace"])
def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "model.npz"
    old = ln.Network([3, 4, 2], seed=0)
    old.save(path)
    original_savez = np.savez

    def savez_then_fail(file, **arrays):
        original_savez(file, **arrays)  # half of a real write, then the disk fills
        raise OSError(28, "No space left on device")

    def replace_fails(src, dst):
        raise OSError(5, "Input/output error")

    if failing == "savez":
        monkeypatch.setattr(np, "savez", savez_then_fail)
    else:
        monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(OSError):
        ln.Network([3, 4, 2], seed=1).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(ln.Network.load(path).params, old.params)


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    ln.Network([2, 1], seed=0).save(path)
    before = path.read_bytes()

    def interrupted(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ln.Network([2, 1], seed=1).save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        ln.Network([2, 1], seed=0).save(tmp_path / "no" / "model.npz")


# --- bad files ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        ln.Network.load(tmp_path / "absent.npz")


def test_path_type():
    with pytest.raises(TypeError, match="path"):
        ln.Network.load(3)


def test_truncated_files(tmp_path):
    path = tmp_path / "model.npz"
    ln.Network([3, 4, 2], seed=0).save(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in (0, 1, 10, 100, len(data) // 2, len(data) - 1):
        cut.write_bytes(data[:n])
        with pytest.raises(ValueError, match="not a valid loopnet model file"):
            ln.Network.load(cut)


def test_corrupt_bytes_inside(tmp_path):
    path = tmp_path / "model.npz"
    ln.Network([3, 4, 2], seed=0).save(path)
    data = bytearray(path.read_bytes())
    data[200:220] = b"\xff" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a valid loopnet model file"):
        ln.Network.load(path)


def test_random_bytes(tmp_path, rng):
    path = tmp_path / "random.npz"
    for _ in range(5):
        path.write_bytes(rng.bytes(500))
        with pytest.raises(ValueError, match="not a valid loopnet model file"):
            ln.Network.load(path)
    path.write_bytes(b"PK\x03\x04" + rng.bytes(500))  # looks like a zip at first
    with pytest.raises(ValueError, match="not a valid loopnet model file"):
        ln.Network.load(path)


def test_a_single_npy_array(tmp_path):
    path = tmp_path / "params.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="one .npy array"):
        ln.Network.load(path)


UNPICKLED = []


class _Payload:
    def __reduce__(self):
        return UNPICKLED.append, ("unpickled!",)


def test_never_unpickles(tmp_path):
    fields = _saved_fields(tmp_path, params=np.array([_Payload()], dtype=object))
    with pytest.raises(ValueError, match="not a valid loopnet model file"):
        ln.Network.load(_write(tmp_path, fields))
    assert UNPICKLED == []


def test_not_a_loopnet_file(tmp_path):
    path = _write(tmp_path, {"weights": np.zeros(3)})
    with pytest.raises(ValueError, match="'format' = 'loopnet'"):
        ln.Network.load(path)


@pytest.mark.parametrize("version", [0, 2])
def test_wrong_version(tmp_path, version):
    fields = _saved_fields(tmp_path, format_version=np.array(version))
    with pytest.raises(ValueError, match=f"format version {version}.*reads version 1"):
        ln.Network.load(_write(tmp_path, fields))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"format_version": np.array("1")}, "format_version must be an integer"),
        ({"params": None}, "missing field.*params"),
        ({"cost": None, "bias": None}, "missing field.*bias.*cost"),
        ({"params": np.zeros(25)}, "params has 25 entries but sizes \\[3, 4, 2\\]"),
        ({"params": np.zeros(26, dtype=np.float32)}, "params must be a 1-D float64"),
        ({"params": np.zeros((2, 13))}, "params must be a 1-D float64"),
        ({"params": np.full(26, np.inf)}, "NaN or infinite"),
        ({"bias": np.array(False)}, "params has 26 entries but .* bias=False need 20"),
        ({"bias": np.array(1)}, "bias must be a bool"),
        ({"sizes": np.array([3, 0, 2])}, "sizes must be positive integers"),
        ({"sizes": np.array([3.0, 4.0, 2.0])}, "sizes must be positive integers"),
        ({"sizes": np.array([26])}, "at least two layers"),
        ({"activation": np.array("swish")}, "activation must be one of"),
        ({"output": np.array(3)}, "'output' must be a string"),
        ({"cost": np.array("hinge")}, "cost must be one of"),
        ({"dtype": np.array("int32")}, "dtype must be 'float32' or 'float64'"),
    ],
)
def test_inconsistent_files(tmp_path, changes, match):
    path = _write(tmp_path, _saved_fields(tmp_path, **changes))
    with pytest.raises(ValueError, match=match) as error:
        ln.Network.load(path)
    assert "bad.npz" in str(error.value)  # every message names the file


def test_incompatible_pairing(tmp_path):
    fields = _saved_fields(
        tmp_path, output=np.array("tanh"), cost=np.array("cross_entropy")
    )
    with pytest.raises(ValueError, match="needs outputs in \\(0, 1\\)"):
        ln.Network.load(_write(tmp_path, fields))


def test_pathlib_and_str_paths(tmp_path):
    net = ln.Network([2, 2], seed=0)
    net.save(str(tmp_path / "a.npz"))
    net.save(pathlib.Path(tmp_path) / "b.npz")
    for name in ("a.npz", "b.npz"):
        np.testing.assert_array_equal(
            ln.Network.load(str(tmp_path / name)).params, net.params
        )
    assert saving.FORMAT_VERSION == 1
