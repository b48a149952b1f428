"""The training data on the workers: shards of rows, placed once, found again.

A shard is a block of consecutive rows of ``X`` and ``Y``: for NumPy arrays,
one per worker (``numpy.array_split`` of the rows), scattered once from the
driver; for a ``dask.array``, one per chunk of rows, prepared on the worker that
holds the chunk and never gathered to the driver. Row r of the data set is row
``r - starts[s]`` of the shard s whose rows contain it.

A scattered shard lost with its worker is scattered again from the driver's
arrays (``refresh``); a shard of a ``dask.array`` is a task's result, which Dask
computes again from its chunks by itself.
"""

import time

import numpy as np

from loopnet.distributed import worker


def _is_dask_array(array):
    """Whether ``array`` is a ``dask.array.Array`` (without importing dask.array)."""
    return type(array).__module__.startswith("dask.array")


class Shards:
    """The futures of the shards, their first rows, and how to replace them.

    Attributes
    ----------
    futures : list of distributed.Future
        Each shard's prepared ``(X, Y)``, C-contiguous in the network's dtype.
    starts : ndarray of int64, shape (n_shards + 1,)
        First row of each shard in the data set; the last entry is N.
    """

    def __init__(self, client, futures, starts, arrays):
        self.client, self.futures, self.starts = client, futures, starts
        self._arrays = arrays  # the driver's (X, Y) to scatter again, or None

    @property
    def n_examples(self):
        """N, the number of training examples."""
        return int(self.starts[-1])

    def __len__(self):
        """The number of shards."""
        return len(self.futures)

    @classmethod
    def place(cls, client, net, X, Y):
        """Check ``X``, ``Y`` and put them on the workers; raise before any change.

        NumPy inputs are checked here (``Layout.check_examples``) and scattered
        in one block per worker; ``dask.array`` inputs (both, or ``X`` with
        ``Y`` a NumPy array, cut to ``X``'s chunks) are checked by shape here
        and by value on the workers.
        """
        layout, dtype = net.layout, net.dtype
        if not (_is_dask_array(X) or _is_dask_array(Y)):
            X, Y = layout.check_examples(X, Y, dtype)
            workers = _workers(client)
            blocks = np.array_split(np.arange(X.shape[0]), len(workers))
            starts = np.array([0] + [int(b[-1]) + 1 for b in blocks if b.size])
            shards = cls(client, [None] * (starts.size - 1), starts, (X, Y))
            shards.refresh()
            return shards
        return cls._place_dask(client, layout, dtype, X, Y)

    @classmethod
    def _place_dask(cls, client, layout, dtype, X, Y):
        """Shards of ``dask.array`` inputs: one per chunk of rows."""
        import dask.array as da

        for name, array, n_columns in (
            ("X", X, int(layout.sizes[0])),
            ("Y", Y, int(layout.sizes[-1])),
        ):
            if array.ndim != 2 or array.shape[1] != n_columns:
                raise ValueError(
                    f"{name} must have shape (n_examples, {n_columns}), got"
                    f" {array.shape}"
                )
            if np.dtype(array.dtype).kind not in "biuf":
                raise TypeError(f"{name} must hold real numbers, got {array.dtype}")
        if not _is_dask_array(X):
            raise TypeError(
                "X must be a dask.array when Y is one (its chunks place the rows);"
                f" got {type(X).__name__}"
            )
        if any(np.isnan(X.chunks[0])):
            raise ValueError(
                "X has chunks of unknown size; call X.compute_chunk_sizes() first"
            )
        if Y.shape[0] != X.shape[0]:
            raise ValueError(
                f"Y has {Y.shape[0]} rows but X has {X.shape[0]}: one target row per"
                " example"
            )
        X = X.rechunk({1: -1})  # whole rows in every chunk
        Y = da.asarray(Y).rechunk((X.chunks[0], -1))
        x_chunks = client.compute(list(X.to_delayed()[:, 0]))
        y_chunks = client.compute(list(Y.to_delayed()[:, 0]))
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
        futures = [
            client.submit(
                worker.prepare_shard, x, y, layout, dtype, int(first), pure=False
            )
            for x, y, first in zip(x_chunks, y_chunks, starts[:-1], strict=True)
        ]
        # each shard checked on its worker: a bad value raises here, naming its rows
        client.gather([client.submit(worker.shard_rows, f) for f in futures])
        return cls(client, futures, starts, None)

    def refresh(self):
        """Scatter again every shard of NumPy inputs whose worker has gone.

        Round-robin over the workers there are now; a no-op for ``dask.array``
        inputs and for shards still held.
        """
        if self._arrays is None:
            return
        lost = [
            s
            for s, future in enumerate(self.futures)
            if future is None or future.status != "finished"
        ]
        if not lost:  # the client may not have heard yet: ask the scheduler
            holders = self.client.who_has(self.futures)
            lost = [s for s, f in enumerate(self.futures) if not holders.get(f.key)]
        if not lost:
            return
        workers = _workers(self.client)
        X, Y = self._arrays
        for i, s in enumerate(lost):
            rows = slice(self.starts[s], self.starts[s + 1])
            (self.futures[s],) = self.client.scatter(
                [(X[rows], Y[rows])],  # in a list: one future for the pair
                workers=[workers[i % len(workers)]],
                hash=False,
            )

    def split(self, batch):
        """The rows of ``batch`` (data-set rows) that each shard holds, in order.

        Returns
        -------
        list of (int, ndarray of int64, ndarray of int64)
            ``(shard, rows within the shard, their places in batch)`` for each
            shard holding any, in shard order; each shard's rows keep their
            order in ``batch``.
        """
        owner = np.searchsorted(self.starts, batch, side="right") - 1
        return [
            (s, batch[places] - self.starts[s], places)
            for s in range(len(self.futures))
            if (places := np.flatnonzero(owner == s)).size
        ]

    def release(self):
        """Let the workers forget the shards."""
        self.client.cancel([f for f in self.futures if f is not None])


def _workers(client, timeout=60):
    """The addresses of the cluster's workers, sorted; waits for one if none.

    Asks the scheduler directly (``Client.nthreads``): ``scheduler_info()``
    returns a cache that the client's periodic refresh, which carries no
    workers, can overwrite between the fetch and the return.
    """
    deadline = time.monotonic() + timeout
    while not (workers := sorted(client.nthreads())):
        # the one worker wait_for_workers saw may be gone again: wait anew
        client.wait_for_workers(1, timeout=max(deadline - time.monotonic(), 1e-3))
    return workers
