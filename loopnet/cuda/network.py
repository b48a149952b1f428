"""A ``Network`` on the GPU: its flat parameters resident there, and its gradient.

``DeviceNetwork`` copies a network's ``params`` to the GPU once and views them per
layer, like ``Network.weights`` and ``Network.biases``; its work buffers (z^l, a^l
and delta^l of every layer, for a batch) are allocated once and reused.
``gradient_checked`` is the CUDA backend's gradient (``Network.gradient(...,
method="cuda")``): parameters and data go to the GPU, the gradient comes back, and
nothing else crosses.
"""

import numpy as np

from loopnet.cuda._backend import numba_cuda, require_gpu
from loopnet.cuda.kernels.errors import launch_hidden_error, launch_output_error
from loopnet.cuda.kernels.forward import launch_forward_layer
from loopnet.cuda.kernels.gradients import launch_bias_gradient, launch_weight_gradient
from loopnet.layout import check_reduction

cuda = numba_cuda()


class DeviceNetwork:
    """A network's parameters on the GPU, viewed per layer, with reusable work buffers.

    Parameters
    ----------
    net : Network
        The network; its ``params`` are copied to the GPU now (``push`` copies
        them again after host edits, ``pull`` copies the device's back).

    Attributes
    ----------
    params : device array, shape (n_params,)
        The flat parameters, in ``Network.params``'s layout.
    weights, biases : tuple of device arrays
        Views of ``params`` per layer, shaped as ``net.weights`` and
        ``net.biases``; without biases each bias is a view of a zero vector.
    """

    def __init__(self, net):
        self._setup(net.layout, net.params)

    @classmethod
    def from_layout(cls, layout, params):
        """A ``DeviceNetwork`` of flat host ``params`` laid out by ``layout``.

        What a backend has instead of a ``Network``; ``pull`` writes into
        ``params``.
        """
        device = cls.__new__(cls)
        device._setup(layout, params)
        return device

    def _setup(self, layout, params):
        require_gpu()
        layout.check_params(params)
        self.layout = layout
        self.host_params = params
        self.dtype = params.dtype
        self.sizes = tuple(int(n) for n in layout.sizes)
        self.codes = tuple(int(code) for code in layout.activations)
        self.cost = int(layout.cost)
        self._zeros = cuda.to_device(np.zeros(max(self.sizes), dtype=self.dtype))
        self.params = cuda.to_device(params)
        self.weights, self.biases = self.views(self.params)
        self.grad = None
        self._buffers = None

    @property
    def n_layers(self):
        """Layers after the input, L."""
        return len(self.sizes) - 1

    def views(self, flat):
        """Per-layer views of a flat device array in the parameter layout.

        Parameters
        ----------
        flat : device array, shape (n_params,)

        Returns
        -------
        weights, biases : tuple of device arrays
            ``weights[layer]`` of shape (n_l, n_prev), ``biases[layer]`` of shape
            (n_l,) (a view of zeros for a network without biases).
        """
        weights, biases = self.layout.views(flat, zeros=self._zeros)
        return tuple(weights), tuple(biases)

    def push(self):
        """Copy ``net.params`` to the device (after editing them on the host).

        Raises ValueError, leaving the device's copy as it was, when they hold
        NaN or infinite values.
        """
        self.layout.check_params(self.host_params)
        self.params.copy_to_device(self.host_params)

    def pull(self):
        """Copy the device's parameters into ``net.params``."""
        self.params.copy_to_host(self.host_params)

    def buffers(self, n_batch):
        """Work buffers Z, A and delta for at least ``n_batch`` examples, reused.

        Returns
        -------
        Zs, As, Ds : tuple of device arrays
            One ``(capacity, n_l)`` array per layer l = 1..L.
        """
        if self._buffers is None or self._buffers[0][0].shape[0] < n_batch:
            self._buffers = tuple(
                tuple(
                    cuda.device_array((n_batch, n_l), dtype=self.dtype)
                    for n_l in self.sizes[1:]
                )
                for _ in range(3)
            )
        return self._buffers

    def forward(self, X, n_batch, Zs, As):
        """Launch the forward pass of ``X[:n_batch]`` into ``Zs`` and ``As``."""
        A_prev = X
        for layer in range(self.n_layers):
            launch_forward_layer(
                self.weights[layer],
                self.biases[layer],
                A_prev,
                self.codes[layer],
                n_batch,
                Zs[layer],
                As[layer],
            )
            A_prev = As[layer]

    def _data(self, X, Y):
        """``X``, ``Y`` on the device: host arrays are checked and copied."""
        if cuda.devicearray.is_cuda_ndarray(X) and cuda.devicearray.is_cuda_ndarray(Y):
            sizes = self.sizes
            for name, array, n_columns in (("X", X, sizes[0]), ("Y", Y, sizes[-1])):
                if (
                    array.ndim != 2
                    or array.shape[1] != n_columns
                    or array.dtype != self.dtype
                ):
                    raise ValueError(
                        f"{name} must be a 2-D {self.dtype} device array with"
                        f" {n_columns} columns; got shape {array.shape},"
                        f" dtype {array.dtype}"
                    )
            if X.shape[0] != Y.shape[0] or X.shape[0] == 0:
                raise ValueError(
                    "X and Y must have the same number (>= 1) of rows; got"
                    f" {X.shape[0]} and {Y.shape[0]}"
                )
            return X, Y
        X, Y = self.layout.check_examples(X, Y, self.dtype)
        return cuda.to_device(X), cuda.to_device(Y)

    def gradient(self, X, Y, reduction="mean", l2=0.0):
        """Gradient of ``net.cost(X, Y, reduction, l2)`` at the device's parameters.

        Parameters
        ----------
        X, Y : ndarray or device array
            Inputs (n_examples, sizes[0]) and targets (n_examples, sizes[-1]).
            Host arrays are checked as by ``Network.gradient`` and copied; Numba
            device arrays (``numba.cuda.to_device``, of the network's dtype) are
            used in place, their values unchecked.
        reduction : {"mean", "sum"}
            Gradient of the mean or of the summed cost.
        l2 : float
            L2 strength, >= 0.

        Returns
        -------
        device array, shape (n_params,)
            dC/dparams in the parameter layout. It is this object's buffer,
            overwritten by the next call: copy it to keep it.

        Notes
        -----
        The launches of ``loopnet.kernels.backprop._network_gradient``, layer by
        layer over the batch: forward; output error; then for l = L, ..., 1 the
        weight and bias gradients (scaled, with L2) and the error of layer l-1.
        """
        X, Y = self._data(X, Y)
        scale, l2 = check_reduction(reduction, l2, self.dtype, X.shape[0])
        return self.gradient_checked(X, Y, scale, l2)

    def gradient_checked(self, X, Y, scale, l2):
        """``gradient`` of checked device arrays, ``scale`` and ``l2`` in the dtype.

        For the CUDA backend, whose caller has checked everything once.
        """
        n_batch = X.shape[0]
        if self.grad is None:
            self.grad = cuda.device_array_like(self.params)
            self._grad_views = self.views(self.grad)
        dWs, dbiases = self._grad_views
        Zs, As, Ds = self.buffers(n_batch)
        self.forward(X, n_batch, Zs, As)
        last = self.n_layers - 1
        launch_output_error(
            Zs[last], As[last], Y, self.codes[last], self.cost, n_batch, Ds[last]
        )
        for layer in range(last, -1, -1):
            A_prev = X if layer == 0 else As[layer - 1]
            launch_weight_gradient(
                Ds[layer], A_prev, self.weights[layer], scale, l2, n_batch, dWs[layer]
            )
            if self.layout.bias:
                launch_bias_gradient(Ds[layer], scale, n_batch, dbiases[layer])
            if layer > 0:
                launch_hidden_error(
                    Ds[layer],
                    self.weights[layer],
                    Zs[layer - 1],
                    self.codes[layer - 1],
                    n_batch,
                    Ds[layer - 1],
                )
        return self.grad


def gradient_checked(layout, params, X, Y, scale, l2):
    """The CUDA backend's gradient: checked host arrays in, a host array out."""
    device = DeviceNetwork.from_layout(layout, params)
    return device.gradient_checked(
        cuda.to_device(X), cuda.to_device(Y), scale, l2
    ).copy_to_host()
