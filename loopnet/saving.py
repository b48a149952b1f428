"""A network's file: ``.npz`` arrays, written atomically and read without pickle.

Format version 1 holds these arrays, every one a plain NumPy array (strings are
fixed-width unicode, so nothing needs pickle to be read back):

    format          "loopnet"             marks the file as a loopnet model
    format_version  1                     int64; bumped when the layout changes
    sizes           (n_0, ..., n_L)       int64
    activation      hidden activation     e.g. "sigmoid"
    output          output activation     e.g. "softmax"
    cost            cost name             e.g. "log_likelihood"
    bias            whether layers have biases   bool
    dtype           "float32" or "float64"
    params          the flat parameters   of that dtype; ``Network.params`` layout
"""

import contextlib
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from loopnet._validation import read_at_most

FORMAT = "loopnet"
FORMAT_VERSION = 1
_STRINGS = ("activation", "output", "cost", "dtype")


def _check_path(path):
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must name a file as a str, got {type(path).__name__}")
    if not path:
        raise ValueError("path must not be empty")
    return path


def _fsync_directory(folder):
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _new_file_mode(path):
    """Permissions the saved file gets: the old file's, else 0o666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)  # the only portable way to read the umask
        os.umask(umask)
        return 0o666 & ~umask


def write_model(path, arrays):
    """Write ``arrays`` as an ``.npz`` at exactly ``path``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; no extension is added. An existing file is replaced.
    arrays : dict of str to ndarray
        The file's contents.

    Notes
    -----
    The arrays go to a temporary file in the destination's folder (same file
    system, so the rename is atomic), which is flushed and fsynced before
    ``os.replace`` puts it in place. A failure at any point leaves the old file,
    if any, untouched, and removes the temporary file.
    """
    _write_atomically(path, lambda f: np.savez(f, **arrays))


def write_text(path, text):
    """Write ``text`` as UTF-8 at exactly ``path``, atomically, as ``write_model``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. An existing file is replaced.
    text : str
        The file's contents.
    """
    _write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def _write_atomically(path, write):
    """Call ``write`` on a temporary binary file, then rename it to ``path``."""
    path = _check_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_directory(folder)


def _corrupt(path, problem):
    return ValueError(f"{path!r} is not a valid loopnet model file: {problem}")


_NPY_HEADERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _read_member(archive, info):
    """The array in one ``.npy`` member of a zip archive, its size checked first.

    ``np.load`` allocates the shape a ``.npy`` header claims before reading the
    data, so a few hostile bytes claiming a shape of 10^13 entries would raise
    MemoryError (or allocate that much). Here the claimed size is compared with
    the member's size in the archive first, the data is read in bounded chunks,
    and object arrays (pickles) are refused.
    """
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version not in _NPY_HEADERS:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran_order, dtype = _NPY_HEADERS[version](stream)
        if dtype.hasobject:
            raise ValueError("it holds an object array (a pickle), never loaded")
        # Python ints: a hostile shape cannot overflow the product.
        n_bytes = math.prod(shape) * dtype.itemsize
        available = info.file_size - stream.tell()
        if n_bytes > available:
            raise ValueError(
                f"its header claims {n_bytes} bytes of data; the archive holds"
                f" {available}"
            )
        # One byte past the end also makes zipfile check the member's CRC.
        data = read_at_most(stream, n_bytes + 1)
    if len(data) != n_bytes:
        raise ValueError(f"it holds {len(data)} bytes of data, not {n_bytes}")
    order = "F" if fortran_order else "C"
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order)


def _read_archive(path):
    """Every ``.npy`` member of the ``.npz`` at ``path``, by name without ``.npy``."""
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename[: -len(".npy")]: _read_member(archive, info)
            for info in archive.infolist()
            if info.filename.endswith(".npy")
        }


def _string(value, key, path):
    if value.dtype.kind != "U" or value.ndim != 0:
        raise _corrupt(
            path, f"{key!r} must be a string, found {value.dtype} {value.shape}"
        )
    return str(value)


def read_model(path):
    """Read and check the fields of a model file written by ``write_model``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    dict
        ``sizes`` (tuple of int), ``activation``, ``output``, ``cost``,
        ``dtype`` (str), ``bias`` (bool) and ``params`` (1-D float array of that
        dtype, of the length ``sizes`` and ``bias`` imply, finite).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not an ``.npz`` (random bytes, truncated, a pickle), lacks
        a field, has another format version, or its fields disagree (params
        length or dtype); the message names the file and the problem. Names of
        activations and costs are checked by ``Network`` itself.
    """
    path = _check_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a folder, not a model file")
    with open(path, "rb") as f:  # the system's errors (permissions) propagate
        magic = f.read(len(np.lib.format.MAGIC_PREFIX))
    if magic == np.lib.format.MAGIC_PREFIX:
        raise _corrupt(path, "it holds one .npy array, not an .npz archive")
    try:
        fields = _read_archive(path)
    except (
        EOFError,
        ValueError,
        OSError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,  # a compression method zipfile does not know
        RuntimeError,  # an encrypted member
    ) as error:
        if isinstance(error, PermissionError):
            raise
        raise _corrupt(path, f"{type(error).__name__}: {error}") from error
    missing = [key for key in ("format", "format_version") if key not in fields]
    if missing or fields["format"].dtype.kind != "U" or str(fields["format"]) != FORMAT:
        raise _corrupt(
            path, "it has no 'format' = 'loopnet' entry (not written by save)"
        )
    version = fields["format_version"]
    if version.ndim != 0 or version.dtype.kind not in "iu":
        raise _corrupt(path, f"format_version must be an integer, found {version!r}")
    if int(version) != FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has format version {int(version)}; this loopnet reads version"
            f" {FORMAT_VERSION} (save it again with a matching loopnet)"
        )
    missing = [
        key for key in ("sizes", "bias", "params", *_STRINGS) if key not in fields
    ]
    if missing:
        raise _corrupt(path, f"missing field(s) {', '.join(missing)}")
    model = {key: _string(fields[key], key, path) for key in _STRINGS}
    sizes, bias, params = fields["sizes"], fields["bias"], fields["params"]
    if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or (sizes < 1).any():
        raise _corrupt(path, f"sizes must be positive integers, found {sizes!r}")
    if sizes.shape[0] < 2:
        raise _corrupt(path, f"sizes must list at least two layers, found {sizes!r}")
    if bias.ndim != 0 or bias.dtype != np.bool_:
        raise _corrupt(path, f"bias must be a bool, found {bias!r}")
    if model["dtype"] not in ("float32", "float64"):
        raise _corrupt(
            path, f"dtype must be 'float32' or 'float64', found {model['dtype']!r}"
        )
    if params.ndim != 1 or params.dtype.newbyteorder("=") != np.dtype(model["dtype"]):
        raise _corrupt(
            path,
            f"params must be a 1-D {model['dtype']} array (the file's dtype), found"
            f" {params.dtype} of shape {params.shape}",
        )
    model["sizes"] = tuple(int(n) for n in sizes)
    model["bias"] = bool(bias)
    # Python ints: a hostile header cannot overflow the count.
    expected = sum(
        n_l * (n_prev + model["bias"])
        for n_prev, n_l in zip(model["sizes"][:-1], model["sizes"][1:], strict=False)
    )
    if params.shape[0] != expected:
        raise _corrupt(
            path,
            f"params has {params.shape[0]} entries but sizes {list(model['sizes'])}"
            f" with bias={model['bias']} need {expected}",
        )
    if not np.all(np.isfinite(params)):
        raise _corrupt(path, "params holds NaN or infinite values")
    model["params"] = params
    return model
