"""Data-parallel training on a Dask cluster: ``loopnet.distributed.fit``.

Needs the ``distributed`` extra (``pip install -e ".[distributed]"``, which
installs ``dask[distributed]``); ``import loopnet`` never imports Dask.

- ``fit(net, X, Y, client, mode="sync")``: synchronous data-parallel SGD, the
  same sums and steps as ``Network.fit`` (its bits, on workers of the driver's
  CPU), for networks and batches whose step is long against Dask's per-task
  cost.
- ``fit(..., mode="local_sgd", sync_every=...)``: each shard of rows trains its
  own copy by ``fit``'s compiled loop, and the copies are averaged every
  ``sync_every`` mini-batches; for small networks.
- ``configure(client)``: the worker plugin ``fit`` registers (one Numba and one
  BLAS thread per worker process, kernels loaded from the cache before the
  first step), and what it did on each worker.

docs/distributed.md has the design, the faults it survives and the measured
cost of a step.
"""

from loopnet._extras import missing_extra

try:
    import distributed as _distributed  # noqa: F401
except ImportError as error:
    raise missing_extra(
        "loopnet.distributed", "dask[distributed]", "distributed", error
    ) from error

from loopnet.distributed.fitting import (
    MODES,
    OPTIMIZERS,
    DistributedHistory,
    WorkerLostError,
    configure,
    fit,
)
from loopnet.distributed.worker import LoopnetWorkerPlugin

__all__ = [
    "MODES",
    "OPTIMIZERS",
    "DistributedHistory",
    "LoopnetWorkerPlugin",
    "WorkerLostError",
    "configure",
    "fit",
]
