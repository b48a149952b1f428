"""Start-up: import loopnet and compute a first gradient, in a fresh interpreter."""

FIRST_GRADIENT = """
import numpy as np
import loopnet as ln
net = ln.Network([784, 30, 10], seed=0)
X = np.random.default_rng(1).random((10, 784))
net.gradient(X, np.eye(10))
"""

FRESH_CACHE = """
import atexit, os, shutil, tempfile
cache = tempfile.mkdtemp(prefix="loopnet-cold-cache-")
atexit.register(shutil.rmtree, cache, True)
os.environ["NUMBA_CACHE_DIR"] = cache
"""


class ImportAndFirstGradient:
    """Import, build Nielsen's [784, 30, 10] network, one gradient of 10 examples."""

    number = 1
    warmup_time = 0

    def setup(self):
        import numpy as np

        import loopnet as ln

        # Fills Numba's on-disk cache, which the warm benchmark's process reads.
        ln.Network([784, 30, 10], seed=0).gradient(np.zeros((10, 784)), np.eye(10))

    def timeraw_warm_cache(self):
        return FIRST_GRADIENT

    timeraw_warm_cache.repeat = 10

    def timeraw_cold_cache(self):
        """Every kernel compiled from scratch: NUMBA_CACHE_DIR is a new folder."""
        return FIRST_GRADIENT, FRESH_CACHE

    timeraw_cold_cache.repeat = 3
    timeraw_cold_cache.timeout = 600
