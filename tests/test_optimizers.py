"""Nesterov and Adam: kernels against their NumPy twins, on flat blocks, bad input.

Where PyTorch is installed, several steps of each are also checked against
``torch.optim.SGD(nesterov=True)`` and ``torch.optim.Adam``.
"""

import numpy as np
import pytest
from numba import njit

import loopnet as ln
from loopnet import kernels, reference
from loopnet._jit import JIT
from loopnet.kernels.optimizers import _adam_step, _nesterov_step
from tests.helpers import DTYPES, NO_JIT, TOL

SHAPES = [(1,), (7,), (3, 5), (30, 784)]
NESTEROV_RATES = [(0.0, 0.0), (0.0, 0.9), (0.01, 0.5), (0.01, 0.9)]  # decay, mu
ADAM_RATES = [(0.9, 0.999), (0.0, 0.5), (0.5, 0.0)]  # beta1, beta2
STEPS = [1, 2, 10, 10_000]  # t; at 10 000, 0.9^t has underflowed to 0


def _state(rng, shape, dtype, given):
    """An optimizer's state: random (squares, so a valid v too) or None."""
    return rng.standard_normal(shape).astype(dtype) ** 2 if given else None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decay, momentum", NESTEROV_RATES)
@pytest.mark.parametrize("with_velocity", [False, True])
def test_nesterov_step_matches_reference(
    rng, dtype, shape, decay, momentum, with_velocity
):
    W = rng.standard_normal(shape).astype(dtype)
    dW = rng.standard_normal(shape).astype(dtype)
    velocity = _state(rng, shape, dtype, with_velocity)
    before = [x.copy() for x in (W, dW, velocity) if x is not None]
    loop = kernels.nesterov_step(W, dW, 0.3, decay, momentum, velocity)
    ref = reference.nesterov_step(W, dW, 0.3, decay, momentum, velocity)
    for got, want in zip(loop, ref, strict=True):
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_allclose(got, want, **TOL[dtype])
    # inputs are never modified
    for x, x_before in zip((W, dW, velocity), before, strict=False):
        np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("beta1, beta2", ADAM_RATES)
@pytest.mark.parametrize("decay", [0.0, 0.01])
@pytest.mark.parametrize("t", STEPS)
def test_adam_step_matches_reference(rng, dtype, shape, beta1, beta2, decay, t):
    W = rng.standard_normal(shape).astype(dtype)
    dW = rng.standard_normal(shape).astype(dtype)
    # step 1 starts from zeros; later steps from the moments of earlier ones
    m = None if t == 1 else rng.standard_normal(shape).astype(dtype)
    v = _state(rng, shape, dtype, t > 1)
    before = [x.copy() for x in (W, dW, m, v) if x is not None]
    loop = kernels.adam_step(W, dW, 0.01, decay, beta1, beta2, 1e-8, m, v, t)
    ref = reference.adam_step(W, dW, 0.01, decay, beta1, beta2, 1e-8, m, v, t)
    for got, want in zip(loop, ref, strict=True):
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_allclose(got, want, **TOL[dtype])
    for x, x_before in zip((W, dW, m, v), before, strict=False):
        np.testing.assert_array_equal(x, x_before)


def test_nesterov_step_by_hand():
    W, dW = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    lr, decay, mu = 0.1, 0.2, 0.9
    v = np.array([1.0, -1.0])
    W_new, v_new = kernels.nesterov_step(W, dW, lr, decay, mu, v)
    g = [0.5 + 0.2 * 1.0, 0.25 + 0.2 * -2.0]  # [0.7, -0.15]
    np.testing.assert_allclose(v_new, [0.9 + 0.7, -0.9 - 0.15])
    np.testing.assert_allclose(W_new, W - lr * (np.array(g) + mu * v_new))


def test_nesterov_without_momentum_is_sgd(rng):
    W, dW = rng.standard_normal(50), rng.standard_normal(50)
    nesterov, velocity = kernels.nesterov_step(W, dW, 0.3, decay=0.01, momentum=0.0)
    sgd, _ = kernels.sgd_step(W, dW, 0.3, decay=0.01)
    np.testing.assert_array_equal(nesterov, sgd)
    np.testing.assert_array_equal(velocity, dW + 0.01 * W)


def test_adam_first_step_is_lr_against_the_sign(rng):
    """At t = 1, m_hat = g and v_hat = g^2: each entry moves lr |g| / (|g| + eps)."""
    W, dW = rng.standard_normal(100), rng.standard_normal(100)
    lr, eps = 0.01, 1e-8
    W_new, m, v = kernels.adam_step(W, dW, lr, eps=eps)
    np.testing.assert_allclose(W - W_new, lr * dW / (np.abs(dW) + eps), rtol=1e-12)
    np.testing.assert_allclose(m, 0.1 * dW, rtol=1e-12)
    np.testing.assert_allclose(v, 0.001 * dW**2, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_several_steps_match_reference(rng, dtype):
    """State handed from step to step: t counts 1, 2, ...; moments carry over."""
    W = rng.standard_normal((5, 9)).astype(dtype)
    grads = rng.standard_normal((6, 5, 9)).astype(dtype)
    loop_adam = ref_adam = (W, None, None)
    loop_nesterov = ref_nesterov = (W, None)
    for t, dW in enumerate(grads, start=1):
        loop_adam = kernels.adam_step(
            loop_adam[0], dW, 0.05, 0.1, m=loop_adam[1], v=loop_adam[2], t=t
        )
        ref_adam = reference.adam_step(
            ref_adam[0], dW, 0.05, 0.1, m=ref_adam[1], v=ref_adam[2], t=t
        )
        loop_nesterov = kernels.nesterov_step(
            loop_nesterov[0], dW, 0.05, 0.1, velocity=loop_nesterov[1]
        )
        ref_nesterov = reference.nesterov_step(
            ref_nesterov[0], dW, 0.05, 0.1, velocity=ref_nesterov[1]
        )
    for got, want in zip(
        loop_adam + loop_nesterov, ref_adam + ref_nesterov, strict=True
    ):
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_steps_on_blocks_of_the_flat_params(rng, dtype):
    """Called as the training loop calls ``_sgd_step``: block by block, in place.

    The gradient is a sum over m examples (scale 1/m); weights decay, biases not.
    """
    net = ln.Network([4, 3, 2], dtype=dtype, seed=0)
    grad = rng.standard_normal(net.n_params).astype(dtype)
    moments = [rng.standard_normal(net.n_params).astype(dtype) ** 2 for _ in "uvw"]
    to = np.dtype(dtype).type
    lr, scale, decay, mu = to(0.5), to(0.25), to(0.1), to(0.9)
    betas, eps, t = (to(0.9), to(0.999)), to(1e-8), 3
    nesterov = [net.params.copy(), moments[0].copy()]
    adam = [net.params.copy(), moments[1].copy(), moments[2].copy()]
    for where, d in _blocks(net.layout, decay):
        p, velocity = (x[where] for x in nesterov)
        _nesterov_step(p, grad[where], velocity, lr, scale, d, mu)
        p, m, v = (x[where] for x in adam)
        _adam_step(p, grad[where], m, v, lr, scale, d, *betas, eps, t)
    for where, d in _blocks(net.layout, decay):
        p, g = net.params[where], scale * grad[where]
        velocity, m, v = (x[where] for x in moments)
        want = [
            *reference.nesterov_step(p, g, lr, d, mu, velocity),
            *reference.adam_step(p, g, lr, d, *betas, eps, m, v, t),
        ]
        got = [x[where] for x in nesterov + adam]
        for got_block, want_block in zip(got, want, strict=True):
            assert got_block.dtype == dtype
            np.testing.assert_allclose(got_block, want_block, **TOL[dtype])


def _blocks(layout, decay):
    """(slice, decay) of each block of the flat params: W with decay, bias without."""
    for layer in range(layout.n_layers):
        yield layout.weight_slice(layer), decay
        yield layout.bias_slice(layer), decay.dtype.type(0)


def _float32_arguments(rng, kernel):
    """Arguments of a float32 call: the 1-D arrays, then the constants and t."""
    n_arrays, constants = {
        _nesterov_step: (3, (0.01, 1, 0.1, 0.9)),
        _adam_step: (4, (0.01, 1, 0.1, 0.9, 0.999, 1e-8)),
    }[kernel]
    arrays = [
        np.abs(rng.standard_normal(6)).astype(np.float32) for _ in range(n_arrays)
    ]
    steps = [3] if kernel is _adam_step else []
    return [*arrays, *(np.float32(c) for c in constants), *steps]


def _float64_values(py_func, arguments):
    """The values typed float64 when ``py_func`` is compiled for ``arguments``."""
    fresh = njit(**{**JIT, "cache": False})(py_func)  # typed here, not from cache
    fresh(*arguments)
    (signature,) = fresh.signatures
    types = fresh.overloads[signature].type_annotation.typemap
    return {name: str(ty) for name, ty in types.items() if "float64" in str(ty)}


@pytest.mark.skipif(NO_JIT, reason="no compiled types without the JIT")
@pytest.mark.parametrize("kernel", [_nesterov_step, _adam_step])
def test_float32_steps_compute_in_float32(rng, kernel):
    """No value of the float32 compile is float64 (NUMBA-NOTES: dtype drift)."""
    drift = _float64_values(kernel.py_func, _float32_arguments(rng, kernel))
    assert not drift, drift


def _drifting_step(param, lr):
    for i in range(param.shape[0]):
        param[i] -= lr * 0.5 * param[i]  # 0.5 is a float64 constant


@pytest.mark.skipif(NO_JIT, reason="no compiled types without the JIT")
def test_the_float32_check_sees_a_float64_constant():
    arguments = [np.ones(3, dtype=np.float32), np.float32(0.1)]
    assert _float64_values(_drifting_step, arguments)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dW": np.zeros(3)}, ValueError, "dW has shape"),
        ({"dW": np.zeros(2, dtype=np.float32)}, TypeError, "dW is float32"),
        ({"dW": [np.nan, 0.0]}, ValueError, "dW must be finite"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"lr": np.inf}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"decay": -0.1}, ValueError, "decay"),
        ({"decay": np.nan}, ValueError, "decay"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"momentum": -0.1}, ValueError, "momentum"),
        ({"momentum": True}, TypeError, "momentum"),
        ({"velocity": np.zeros(3)}, ValueError, "velocity has shape"),
        ({"velocity": [np.inf, 0.0]}, ValueError, "velocity must be finite"),
        ({"W": np.array([1, 2])}, TypeError, "W must be a float32 or float64"),
        ({"W": np.array([np.inf, 0.0])}, ValueError, "W must be finite"),
    ],
)
def test_nesterov_step_rejects_bad_input(kwargs, error, match):
    arguments = {"W": np.zeros(2), "dW": np.zeros(2), "lr": 0.1} | kwargs
    with pytest.raises(error, match=match):
        kernels.nesterov_step(**arguments)


F32 = np.zeros(2, dtype=np.float32)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dW": np.zeros(3)}, ValueError, "dW has shape"),
        ({"dW": F32}, TypeError, "dW is float32"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": np.nan}, ValueError, "lr"),
        ({"lr": 1e300, "W": F32, "dW": F32}, ValueError, "lr=1e.300 overflows"),
        ({"decay": -1.0}, ValueError, "decay"),
        ({"beta1": 1.0}, ValueError, "beta1"),
        ({"beta1": -0.1}, ValueError, "beta1"),
        ({"beta2": 1.0}, ValueError, "beta2"),
        ({"beta2": np.nan}, ValueError, "beta2"),
        ({"beta2": 1 - 1e-9, "W": F32, "dW": F32}, ValueError, "beta2=.* rounds to 1"),
        ({"beta1": "0.9"}, TypeError, "beta1"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1e-8}, ValueError, "eps"),
        ({"eps": 1e-50, "W": F32, "dW": F32}, ValueError, "eps=1e-50 rounds to 0"),
        ({"t": 0}, ValueError, "t must be >= 1"),
        ({"t": 1.0}, TypeError, "t must be an integer"),
        ({"t": True}, TypeError, "t must be an integer"),
        ({"m": np.zeros(3)}, ValueError, "m has shape"),
        ({"m": F32}, TypeError, "m is float32"),
        ({"v": np.zeros((2, 1))}, ValueError, "v must be 1-D"),
        ({"v": [0.0, -1.0]}, ValueError, "v must be >= 0"),
        ({"v": [0.0, np.nan]}, ValueError, "v must be finite"),
        ({"W": ["a", "b"]}, TypeError, "W must hold numbers"),
    ],
)
def test_adam_step_rejects_bad_input(kwargs, error, match):
    arguments = {"W": np.zeros(2), "dW": np.zeros(2)} | kwargs
    with pytest.raises(error, match=match):
        kernels.adam_step(**arguments)


def test_results_that_overflow_are_refused():
    big = np.full(2, 1e38, dtype=np.float32)
    with pytest.raises(ValueError, match="W_new is not finite"):
        kernels.nesterov_step(big, big, lr=100.0)
    with pytest.raises(ValueError, match="v_new is not finite: it overflows float32"):
        kernels.adam_step(np.zeros(2, dtype=np.float32), big)  # g^2 > 3.4e38


# PyTorch computes the same expressions in other orders: it lerps m, divides
# sqrt(v) by sqrt(1 - beta2^t) and folds lr / (1 - beta1^t) into one factor, the
# last two in double precision whatever the dtype, where the kernels compute
# every constant in the parameters' dtype. Over a few steps the two then differ by
# a few ulps of the values, O(1) here: about 1e-15 in float64, 1e-6 in float32
# (float32's ulp at 4 is 4.8e-7). Hence float64's tight TOL, and float32's,
# looser by that dtype's epsilon (1.2e-7 against 2.2e-16).


def _torch():
    return pytest.importorskip(
        "torch",
        reason="PyTorch is not installed; the comparison with torch.optim is"
        " optional (pip install torch)",
    )


def _torch_steps(torch, make_optimizer, W, grads):
    """The parameters and optimizer state after one torch step per gradient."""
    p = torch.nn.Parameter(torch.from_numpy(W.copy()))
    optimizer = make_optimizer([p])
    for dW in grads:
        p.grad = torch.from_numpy(dW.copy())
        optimizer.step()
    state = optimizer.state[p]
    return p.detach().numpy(), {k: x.numpy() for k, x in state.items() if x.ndim}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_adam_equals_torch(rng, dtype, decay):
    torch = _torch()
    W = rng.standard_normal((30, 784)).astype(dtype)
    grads = rng.standard_normal((8, 30, 784)).astype(dtype)
    lr, betas, eps = 0.01, (0.9, 0.999), 1e-8
    W_new, m, v = W, None, None
    for t, dW in enumerate(grads, start=1):
        W_new, m, v = kernels.adam_step(W_new, dW, lr, decay, *betas, eps, m, v, t)
    want, state = _torch_steps(
        torch,
        lambda p: torch.optim.Adam(
            p, lr=lr, betas=betas, eps=eps, weight_decay=decay, foreach=False
        ),
        W,
        grads,
    )
    for got, expected in [
        (W_new, want),
        (m, state["exp_avg"]),
        (v, state["exp_avg_sq"]),
    ]:
        assert got.dtype == expected.dtype == dtype
        np.testing.assert_allclose(got, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_nesterov_equals_torch(rng, dtype, decay):
    torch = _torch()
    W = rng.standard_normal((30, 784)).astype(dtype)
    grads = rng.standard_normal((8, 30, 784)).astype(dtype)
    lr, mu = 0.05, 0.9
    W_new, velocity = W, None
    for dW in grads:
        W_new, velocity = kernels.nesterov_step(W_new, dW, lr, decay, mu, velocity)
    want, state = _torch_steps(
        torch,
        lambda p: torch.optim.SGD(
            p, lr=lr, momentum=mu, nesterov=True, weight_decay=decay, foreach=False
        ),
        W,
        grads,
    )
    for got, expected in [(W_new, want), (velocity, state["momentum_buffer"])]:
        assert got.dtype == expected.dtype == dtype
        np.testing.assert_allclose(got, expected, **TOL[dtype])
