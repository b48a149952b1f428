"""The seeds' 2-3-1 worked example, loop form and matrix form side by side.

Seed 001 (Welch Labs' "Backpropagation Guided Notes") derives the gradients of a
network with 2 inputs, 3 sigmoid hidden neurons and 1 sigmoid output, no biases,
every weight 1, and the summed quadratic cost J = sum_b 1/2 (y_b - yhat_b)^2. It
asks for dJ/dW^(2) with the single example X = [0.3, 1.0], y = 0.75 (question 11),
then with three examples X = [[0.3, 1.0], [0.5, 0.2], [1.0, 0.4]] (question 16),
for which it gives no targets: this script uses y = [0.75, 0.82, 0.93].

Every quantity is computed twice: by loopnet's compiled per-index loop kernels
(``loopnet.kernels``: the per-example kernels for one example, the batched ones
for three) and by the NumPy matrix form (``loopnet.reference``). loopnet writes
W[j, k] with shape (n_l, n_prev), so the seed's W^(1) (2 x 3, used as X @ W) is
loopnet's W^1 transposed; the gradients are printed in both layouts.

    python examples/worked_example.py
"""

import numpy as np

import loopnet as ln
from loopnet import kernels, reference

np.set_printoptions(precision=6, suppress=True, floatmode="fixed")
SIGMOID, QUADRATIC = "sigmoid", "quadratic"


def show(name, equation, loop, matrix):
    """Print one quantity: loop value, matrix value, their largest difference."""
    loop, matrix = np.asarray(loop), np.asarray(matrix)
    gap = np.max(np.abs(loop - matrix))
    print(f"{name:9s} {equation}")
    print(f"{'':9s}   loop   {np.array2string(loop, prefix=' ' * 19)}")
    print(f"{'':9s}   matrix {np.array2string(matrix, prefix=' ' * 19)}")
    print(f"{'':9s}   max |loop - matrix| = {gap:.1e}")
    return gap


def one_example(W1, W2, x, y):
    """Question 11: one example, by the per-example kernels and the matrix form."""
    gaps = []
    z2, a2 = kernels.forward_layer_example(W1, x)
    z2_m, a2_m = reference.forward_layer_example(W1, x)
    gaps.append(show("z^2", "z^2_j = sum_k W^1[j, k] x_k", z2, z2_m))
    gaps.append(show("a^2", "a^2_j = sigma(z^2_j)", a2, a2_m))
    z3, a3 = kernels.forward_layer_example(W2, a2)
    z3_m, a3_m = reference.forward_layer_example(W2, a2_m)
    gaps.append(show("z^3", "z^3_j = sum_k W^2[j, k] a^2_k", z3, z3_m))
    gaps.append(show("yhat", "yhat = a^3 = sigma(z^3)", a3, a3_m))
    print(f"{'J':9s} 1/2 (y - yhat)^2 = {0.5 * (y[0] - a3[0]) ** 2:.6f}")
    delta3 = kernels.output_error_example(z3, a3, y, SIGMOID, QUADRATIC)
    delta3_m = reference.output_error_example(z3_m, a3_m, y, SIGMOID, QUADRATIC)
    gaps.append(show("delta^3", "-(y - yhat) sigma'(z^3)", delta3, delta3_m))
    delta2 = kernels.hidden_error_example(delta3, W2, z2, SIGMOID)
    delta2_m = reference.hidden_error_example(delta3_m, W2, z2_m, SIGMOID)
    eq = "delta^2_j = sigma'(z^2_j) sum_m delta^3_m W^2[m, j]"
    gaps.append(show("delta^2", eq, delta2, delta2_m))
    dW2 = kernels.weight_gradient_example(delta3, a2)
    dW2_m = reference.weight_gradient_example(delta3_m, a2_m)
    gaps.append(show("dJ/dW^2", "dJ/dW^2[j, k] = delta^3_j a^2_k", dW2, dW2_m))
    dW1 = kernels.weight_gradient_example(delta2, x)
    dW1_m = reference.weight_gradient_example(delta2_m, x)
    gaps.append(show("dJ/dW^1", "dJ/dW^1[j, k] = delta^2_j x_k", dW1, dW1_m))
    print(f"in the seed's layout: dJ/dW^(2) = {dW2.T.ravel()} (3 x 1),")
    print(f"dJ/dW^(1) =\n{dW1.T} (2 x 3)")
    return max(gaps)


def three_examples(W1, W2, X, Y):
    """Question 16: a batch of three, by the batched kernels and the matrix form."""
    gaps = []
    Z2, A2 = kernels.forward_layer(W1, X)
    Z2_m, A2_m = reference.forward_layer(W1, X)
    gaps.append(show("A^2", "row b: a^2 of example b", A2, A2_m))
    Z3, A3 = kernels.forward_layer(W2, A2)
    Z3_m, A3_m = reference.forward_layer(W2, A2_m)
    gaps.append(show("yhat", "row b: yhat of example b", A3, A3_m))
    J = 0.5 * np.sum((Y - A3) ** 2)
    print(f"{'J':9s} sum_b 1/2 (y_b - yhat_b)^2 = {J:.6f}")
    delta3 = kernels.output_error(Z3, A3, Y, SIGMOID, QUADRATIC)
    delta3_m = reference.output_error(Z3_m, A3_m, Y, SIGMOID, QUADRATIC)
    gaps.append(
        show("delta^3", "row b: -(y_b - yhat_b) sigma'(z^3_b)", delta3, delta3_m)
    )
    delta2 = kernels.hidden_error(delta3, W2, Z2, SIGMOID)
    delta2_m = reference.hidden_error(delta3_m, W2, Z2_m, SIGMOID)
    gaps.append(show("delta^2", "(delta^3 W^2) * sigma'(Z^2)", delta2, delta2_m))
    dW2 = kernels.weight_gradient(delta3, A2)
    dW2_m = reference.weight_gradient(delta3_m, A2_m)
    eq = "dJ/dW^2[j, k] = sum_b delta^3[b, j] A^2[b, k]  (delta^3.T @ A^2)"
    gaps.append(show("dJ/dW^2", eq, dW2, dW2_m))
    dW1 = kernels.weight_gradient(delta2, X)
    dW1_m = reference.weight_gradient(delta2_m, X)
    eq = "dJ/dW^1[j, k] = sum_b delta^2[b, j] X[b, k]  (delta^2.T @ X)"
    gaps.append(show("dJ/dW^1", eq, dW1, dW1_m))
    print(f"in the seed's layout: dJ/dW^(2) = (a^(2))^T delta^(3) = {dW2.T.ravel()}")
    return max(gaps), dW1, dW2


def main():
    net = ln.Network(
        [2, 3, 1], activation=SIGMOID, output=SIGMOID, cost=QUADRATIC, bias=False
    )
    for W in net.weights:
        W[...] = 1.0
    W1, W2 = net.weights
    print(f"{net}, every weight 1\n")

    print("== one example: x = [0.3, 1.0], y = 0.75 (seed 001, question 11) ==")
    x, y = np.array([0.3, 1.0]), np.array([0.75])
    gap_one = one_example(W1, W2, x, y)
    print(
        "(The seed's handwritten notes write sigma(1.3) = 0.74, z^(3) = 2.37,"
        " yhat = 0.92 and J = 0.015, and answer question 11 with (a^(2))^T, which"
        " is dz^(3)/dW^(2): times delta^(3) it is the dJ/dW^(2) above.)\n"
    )

    print("== three examples, y = [0.75, 0.82, 0.93] (seed 001, question 16) ==")
    X = np.array([[0.3, 1.0], [0.5, 0.2], [1.0, 0.4]])
    Y = np.array([[0.75], [0.82], [0.93]])
    gap_three, dW1, dW2 = three_examples(W1, W2, X, Y)

    loop = net.gradient(X, Y, reduction="sum", method="loop")
    matrix = net.gradient(X, Y, reduction="sum", method="matrix")
    whole = np.max(np.abs(loop.flat - matrix.flat))
    same = np.array_equal(loop.weights[0], dW1) and np.array_equal(loop.weights[1], dW2)
    print(
        f"\nNetwork.gradient(X, Y, reduction='sum'): loop and matrix differ by at"
        f" most {whole:.1e}; the loop one equals the kernels' above bit for bit: {same}"
    )
    print(
        f"largest loop/matrix difference anywhere: {max(gap_one, gap_three, whole):.1e}"
    )


if __name__ == "__main__":
    main()
