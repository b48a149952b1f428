"""One hidden layer, as per-index loops and as matrix one-liners, side by side.

Prints the plain loop kernels of a hidden layer l (forward, error, weight
gradient: the equations as triple loops) next to the NumPy lines they compute,
then checks that the compiled kernels give the same numbers and times them at a
small and a large size, both forms on one thread (Numba's pool and BLAS's
pinned, ``loopnet.compare.pinned_threads``):

    z[b, j]     = sum_k W[j, k] a_prev[b, k] + bias[j]        Z = A_prev @ W.T + bias
    delta[b, j] = sigma'(z[b, j]) sum_m delta_next[b, m] W_next[m, j]
                                               delta = (delta_next @ W_next) * sigma'(Z)
    dW[j, k]    = sum_b delta[b, j] a_prev[b, k]              dW = delta.T @ A_prev

After ``pip install -e .``: ``python examples/loop_vs_matrix.py``.
"""

import ast
import inspect
import textwrap
import timeit

import numpy as np

from loopnet import kernels, reference
from loopnet.compare import load_warning, machine_load, pinned_threads, threads_in_use
from loopnet.kernels.errors import _hidden_error_plain
from loopnet.kernels.forward import _forward_layer_plain
from loopnet.kernels.gradients import _weight_gradient_plain

# (step, plain loop kernel, matrix twin); the timed kernels (kernels.forward_layer,
# ...) compute the same sums in register tiles (loopnet/kernels/_tiles.py)
PAIRS = [
    ("forward", _forward_layer_plain, reference.forward_layer),
    ("hidden error", _hidden_error_plain, reference.hidden_error),
    ("weight gradient", _weight_gradient_plain, reference.weight_gradient),
]

# (n_prev, n_l, n_next, n_batch): units below, in and above layer l; examples
SIZES = [(30, 20, 10, 8), (784, 256, 10, 128)]
# threads of each form: unpinned, on 2 cores, Numba's and BLAS's pools took the
# cores from each other and the matrix timings came out many times too slow
THREADS = 1


def code_without_docstring(function):
    """Return the source of ``function`` (a Numba kernel or a plain function) as lines.

    The decorator and the docstring are left out: what remains is the signature
    and the statements.
    """
    function = getattr(function, "py_func", function)
    source = textwrap.dedent(inspect.getsource(function))
    definition = ast.parse(source).body[0]
    lines = source.splitlines()
    first_statement = definition.body[1] if len(definition.body) > 1 else None
    signature = lines[definition.lineno - 1 : definition.body[0].lineno - 1]
    if first_statement is None:
        return signature
    return signature + lines[first_statement.lineno - 1 : definition.end_lineno]


def side_by_side(left, right, left_title, right_title):
    """Print two lists of lines as two columns."""
    width = max(len(line) for line in [*left, left_title]) + 4
    print(f"{left_title:<{width}}{right_title}")
    print(f"{'-' * (width - 4):<{width}}{'-' * len(right_title)}")
    for i in range(max(len(left), len(right))):
        left_line = left[i] if i < len(left) else ""
        right_line = right[i] if i < len(right) else ""
        print(f"{left_line:<{width}}{right_line}".rstrip())


def duration(seconds):
    """Format seconds as us or ms, 3 significant digits."""
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def median_seconds(call, number):
    """Median over 5 rounds of the time of one call, each round ``number`` calls."""
    return float(np.median(timeit.repeat(call, number=number, repeat=5))) / number


def layer_data(n_prev, n_l, n_next, n_batch, rng):
    """Seeded weights and activations around one hidden layer."""
    return {
        "W": rng.standard_normal((n_l, n_prev)) / np.sqrt(n_prev),
        "bias": rng.standard_normal(n_l),
        "A_prev": rng.random((n_batch, n_prev)),
        "W_next": rng.standard_normal((n_next, n_l)) / np.sqrt(n_l),
        "delta_next": rng.standard_normal((n_batch, n_next)),
    }


def compare_layer(data):
    """Yield (step, loop seconds, matrix seconds, max |loop - matrix|) per step."""
    W, bias, A_prev = data["W"], data["bias"], data["A_prev"]
    Z, _ = reference.forward_layer(W, A_prev, bias, "sigmoid")
    delta = reference.hidden_error(data["delta_next"], data["W_next"], Z, "sigmoid")
    calls = {
        "forward": (
            lambda: kernels.forward_layer(W, A_prev, bias, "sigmoid")[1],
            lambda: reference.forward_layer(W, A_prev, bias, "sigmoid")[1],
        ),
        "hidden error": (
            lambda: kernels.hidden_error(data["delta_next"], data["W_next"], Z),
            lambda: reference.hidden_error(data["delta_next"], data["W_next"], Z),
        ),
        "weight gradient": (
            lambda: kernels.weight_gradient(delta, A_prev),
            lambda: reference.weight_gradient(delta, A_prev),
        ),
    }
    for step, (loop, matrix) in calls.items():
        difference = float(np.max(np.abs(loop() - matrix())))
        number = max(1, int(2e5 // (W.size * A_prev.shape[0])))
        yield (
            step,
            median_seconds(loop, number),
            median_seconds(matrix, number),
            difference,
        )


def main():
    """Print the three pairs of code, then agreement and timing at two sizes."""
    for step, loop, matrix in PAIRS:
        print(f"\n=== {step} ===")
        kernel = getattr(loop, "py_func", loop)  # a plain function without the JIT
        side_by_side(
            code_without_docstring(loop),
            code_without_docstring(matrix),
            f"loop form: {kernel.__module__}.{kernel.__name__}",
            f"matrix form: {matrix.__module__}.{matrix.__name__}",
        )
    print(
        "\nThe compiled kernels Network runs compute these sums in register tiles"
        " (loopnet/kernels/_tiles.py); tests/test_plain.py checks them against"
        " the plain loops above."
    )
    rng = np.random.default_rng(0)
    load = machine_load()
    print(f"\n{threads_in_use(THREADS, load)}")
    warning = load_warning(load, THREADS)
    if warning is not None:
        print(f"warning: {warning}")
    for n_prev, n_l, n_next, n_batch in SIZES:
        data = layer_data(n_prev, n_l, n_next, n_batch, rng)
        print(
            f"\nHidden layer of {n_l} sigmoid units between {n_prev} and {n_next},"
            f" batch of {n_batch} (float64):"
        )
        header = f"{'step':<16}{'loop':>10}{'matrix':>10}{'loop/matrix':>13}"
        print(f"  {header}  max |loop - matrix|")
        with pinned_threads(THREADS):
            rows = list(compare_layer(data))
        for step, loop_s, matrix_s, difference in rows:
            print(
                f"  {step:<16}{duration(loop_s):>10}{duration(matrix_s):>10}"
                f"{loop_s / matrix_s:>13.2f}  {difference:.1e}"
            )


if __name__ == "__main__":
    main()
