"""GPU benchmarks of ``loopnet.cuda``, for a machine with an NVIDIA GPU.

    python benchmarks/gpu_bench.py [--json PATH] [--smoke]

1. The gradient of a [1024, 1024, 1024, 10] sigmoid network with the quadratic
   cost over a batch of 256, in float32 and float64: the CPU loop kernels
   (``Network.gradient(method="loop")``), ``loopnet.cuda.gradient`` from host arrays
   (copies of parameters, data and gradient included), ``DeviceNetwork.gradient``
   with everything resident, and PyTorch autograd on the same GPU (resident).
   Then the tiled kernels one by one against ``torch.mm`` (cuBLAS) on the same
   shapes, in GPU time.
2. One epoch of the seeds' MNIST setup, [784, 30, 10], sigmoid, quadratic cost,
   batch 10, lr 3.0, on 60000 synthetic examples: ``loopnet.cuda.Trainer`` (fused
   and per layer) against PyTorch's eager loop (nn.Linear + sigmoid + the same cost
   + optim.SGD, data resident on the GPU), and the CPU ``Network.fit`` where it
   exists; then fused against per-layer steps on larger networks.

Times are wall-clock medians with the GPU synchronized, compilation excluded
(warm-up calls first). ``--smoke`` runs tiny sizes once, on the simulator too, to
check the script itself.
"""

import argparse
import itertools
import json
import statistics
import sys
import time

import numpy as np

import loopnet as ln
import loopnet.cuda as lc
from loopnet.cuda._backend import simulator

try:
    import torch
except ImportError:
    torch = None


def median_time(fn, repeat, sync, warmup=1):
    """Median wall-clock seconds of ``fn()`` followed by ``sync()``."""
    for _ in range(warmup):
        fn()
        sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def show(label, seconds, unit="ms"):
    scale = {"ms": 1e3, "us": 1e6, "s": 1}[unit]
    print(f"  {label:58s} {seconds * scale:10.3f} {unit}")


def show_rate(label, seconds, flops):
    rate = flops / seconds / 1e12
    print(f"  {label:58s} {seconds * 1e6:10.1f} us {rate:6.2f} TFLOP/s")


def ratio(label, value):
    print(f"  {label:58s} {value:10.1f} x")


def torch_mlp(net, device):
    """Copy the network into a torch nn.Sequential on ``device``."""
    layers = []
    for W, bias in zip(net.weights, net.biases, strict=True):
        linear = torch.nn.Linear(
            W.shape[1], W.shape[0], dtype=getattr(torch, net.dtype.name)
        )
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(bias))
        layers += [linear, torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers).to(device)


def quadratic_cost(output, target):
    """Mean over examples of 1/2 ||a - y||^2: ``Network.cost`` with reduction "mean"."""
    return 0.5 * ((output - target) ** 2).sum() / output.shape[0]


def bench_gradient(results, sizes, n_batch, dtype, repeat, cuda, smoke):
    print(f"\nGradient, sizes {sizes}, batch {n_batch}, {dtype}")
    rng = np.random.default_rng(0)
    net = ln.Network(sizes, dtype=dtype, seed=0)
    X = rng.random((n_batch, sizes[0])).astype(dtype)
    Y = rng.random((n_batch, sizes[-1])).astype(dtype)
    row = results.setdefault("gradient", {}).setdefault(dtype, {})

    def nothing():
        return None

    row["cpu_loop_s"] = median_time(
        lambda: net.gradient(X, Y, method="loop"), max(1, repeat // 10), nothing
    )
    show("CPU loop kernels (Network.gradient, method='loop')", row["cpu_loop_s"])
    row["gpu_host_s"] = median_time(
        lambda: lc.gradient(net, X, Y), repeat, cuda.synchronize
    )
    show("loopnet.cuda.gradient (host arrays in and out)", row["gpu_host_s"])
    device = lc.DeviceNetwork(net)
    X_device, Y_device = cuda.to_device(X), cuda.to_device(Y)
    row["gpu_resident_s"] = median_time(
        lambda: device.gradient(X_device, Y_device), repeat, cuda.synchronize
    )
    show("DeviceNetwork.gradient (resident)", row["gpu_resident_s"])
    ratio("CPU loop / GPU resident", row["cpu_loop_s"] / row["gpu_resident_s"])
    ratio("CPU loop / GPU host", row["cpu_loop_s"] / row["gpu_host_s"])
    ours = device.gradient(X_device, Y_device).copy_to_host()
    reference = net.gradient(X, Y, method="matrix").flat
    row["max_abs_diff_vs_matrix"] = float(np.max(np.abs(ours - reference)))
    print(f"  max |GPU - matrix form| = {row['max_abs_diff_vs_matrix']:.3g}")
    if torch is None or smoke:
        return
    gpu = torch.device("cuda")
    model = torch_mlp(net, gpu)
    params = list(model.parameters())
    X_torch, Y_torch = torch.from_numpy(X).to(gpu), torch.from_numpy(Y).to(gpu)

    def torch_gradient():
        return torch.autograd.grad(quadratic_cost(model(X_torch), Y_torch), params)

    row["torch_s"] = median_time(torch_gradient, repeat, torch.cuda.synchronize)
    show("PyTorch autograd (resident)", row["torch_s"])
    ratio("GPU resident / PyTorch", row["gpu_resident_s"] / row["torch_s"])
    grads = torch_gradient()
    # model.parameters() lists W then bias per layer: the params layout
    torch_flat = np.concatenate([g.cpu().numpy().ravel() for g in grads])
    row["max_abs_diff_vs_torch"] = float(np.max(np.abs(ours - torch_flat)))
    print(f"  max |GPU - PyTorch| = {row['max_abs_diff_vs_torch']:.3g}")


def bench_tiles(results, n_batch, n, dtype, cuda):
    """Time each tiled kernel at one layer of the big network, and cuBLAS (GPU time)."""
    from loopnet.cuda.kernels.errors import launch_hidden_error
    from loopnet.cuda.kernels.forward import launch_forward_layer
    from loopnet.cuda.kernels.gradients import launch_weight_gradient

    print(f"\nKernels at one {n}x{n} layer, batch {n_batch}, {dtype} (GPU time)")
    rng = np.random.default_rng(1)
    W = cuda.to_device(rng.standard_normal((n, n)).astype(dtype))
    bias = cuda.to_device(np.zeros(n, dtype=dtype))
    A_prev = cuda.to_device(rng.random((n_batch, n)).astype(dtype))
    Z = cuda.device_array((n_batch, n), dtype=dtype)
    A = cuda.device_array((n_batch, n), dtype=dtype)
    dW = cuda.device_array((n, n), dtype=dtype)
    one, zero = np.dtype(dtype).type(1), np.dtype(dtype).type(0)
    launches = {
        "forward_layer (Z = A_prev W^T + bias, sigmoid)": lambda: launch_forward_layer(
            W, bias, A_prev, 0, n_batch, Z, A
        ),
        "hidden_error (delta = (delta_next W_next) sigma'(Z))": lambda: (
            launch_hidden_error(A_prev, W, Z, 0, n_batch, A)
        ),
        "weight_gradient (dW = delta^T A_prev)": lambda: launch_weight_gradient(
            A_prev, A, W, one, zero, n_batch, dW
        ),
    }
    flops = 2 * n_batch * n * n
    row = results.setdefault("kernels", {}).setdefault(dtype, {})
    for label, launch in launches.items():
        launch()
        start, end = cuda.event(), cuda.event()
        start.record()
        for _ in range(20):
            launch()
        end.record()
        end.synchronize()
        seconds = cuda.event_elapsed_time(start, end) / 1e3 / 20
        row[label] = seconds
        show_rate(label, seconds, flops)
    if torch is None:
        return
    P = torch.rand((n_batch, n), device="cuda", dtype=getattr(torch, dtype))
    Q = torch.rand((n, n), device="cuda", dtype=getattr(torch, dtype))
    for label, fn in [
        ("torch.mm (n_batch x n) @ (n x n)^T", lambda: P @ Q.T),
        ("torch.mm (n x n_batch) @ (n_batch x n)", lambda: P.T @ P),
    ]:
        fn()
        start, end = (
            torch.cuda.Event(enable_timing=True),
            torch.cuda.Event(enable_timing=True),
        )
        start.record()
        for _ in range(20):
            fn()
        end.record()
        end.synchronize()
        seconds = start.elapsed_time(end) / 1e3 / 20
        row[label] = seconds
        show_rate(label, seconds, flops)


def mnist_like(n_examples, sizes, dtype, rng):
    X = rng.random((n_examples, sizes[0])).astype(dtype)
    Y = np.zeros((n_examples, sizes[-1]), dtype=dtype)
    Y[np.arange(n_examples), rng.integers(0, sizes[-1], n_examples)] = 1
    return X, Y


def bench_epoch(results, sizes, n_examples, dtype, repeat, cuda, smoke):
    batch_size, lr = 10, 3.0
    print(f"\nOne epoch, sizes {sizes}, batch {batch_size}, N {n_examples}, {dtype}")
    rng = np.random.default_rng(2)
    X, Y = mnist_like(n_examples, sizes, dtype, rng)
    row = results.setdefault("epoch", {}).setdefault(dtype, {})
    for fused in (True, False):
        net = ln.Network(sizes, dtype=dtype, seed=0)
        trainer = lc.Trainer(net, X, Y, batch_size, lr, fused=fused)
        trainer.run(rng.permutation(n_examples), 0, 2)  # compile
        cuda.synchronize()
        key = "gpu_fused_s" if fused else "gpu_per_layer_s"
        row[key] = median_time(
            lambda trainer=trainer: trainer.run(rng.permutation(n_examples)),
            repeat if fused else 1,
            cuda.synchronize,
            warmup=0,
        )
        show(
            f"loopnet.cuda.Trainer, {'fused' if fused else 'per layer'}", row[key], "s"
        )
    fit = getattr(ln.Network, "fit", None)
    if fit is not None:
        net = ln.Network(sizes, dtype=dtype, seed=0)
        net.fit(X[:20], Y[:20], epochs=1, batch_size=batch_size, lr=lr, progress=False)
        row["cpu_fit_s"] = median_time(
            lambda: net.fit(
                X, Y, epochs=1, batch_size=batch_size, lr=lr, progress=False
            ),
            1,
            lambda: None,
            warmup=0,
        )
        show("CPU Network.fit", row["cpu_fit_s"], "s")
        ratio("CPU fit / GPU fused", row["cpu_fit_s"] / row["gpu_fused_s"])
    if torch is None or smoke:
        return
    gpu = torch.device("cuda")
    model = torch_mlp(ln.Network(sizes, dtype=dtype, seed=0), gpu)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    X_torch, Y_torch = torch.from_numpy(X).to(gpu), torch.from_numpy(Y).to(gpu)

    def torch_epoch(n_steps=None):
        order = torch.randperm(n_examples, device=gpu)
        stop = n_examples if n_steps is None else n_steps * batch_size
        for start in range(0, stop, batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            quadratic_cost(model(X_torch[batch]), Y_torch[batch]).backward()
            optimizer.step()

    torch_epoch(20)
    row["torch_eager_s"] = median_time(
        torch_epoch, max(1, repeat // 2), torch.cuda.synchronize, warmup=0
    )
    show("PyTorch eager loop (optim.SGD)", row["torch_eager_s"], "s")
    ratio("PyTorch eager / GPU fused", row["torch_eager_s"] / row["gpu_fused_s"])


def bench_paths(results, n_examples, cuda):
    """Fused against per-layer steps as the work per minibatch grows."""
    print(f"\nFused vs per-layer epochs, {n_examples} examples, float32 (s)")
    rng = np.random.default_rng(3)
    for sizes, batch_size in [
        ([784, 30, 10], 10),
        ([784, 64, 10], 16),
        ([784, 100, 10], 64),
    ]:
        X, Y = mnist_like(n_examples, sizes, "float32", rng)
        n_weights = sum(a * b for a, b in itertools.pairwise(sizes))
        times = []
        for fused in (True, False):
            trainer = lc.Trainer(
                ln.Network(sizes, dtype="float32"), X, Y, batch_size, 0.1, fused=fused
            )
            trainer.run(rng.permutation(n_examples), 0, 2)
            times.append(
                median_time(
                    lambda trainer=trainer: trainer.run(rng.permutation(n_examples)),
                    1,
                    cuda.synchronize,
                    warmup=0,
                )
            )
        label = f"{sizes} b{batch_size} (work {batch_size * n_weights:.2e})"
        results.setdefault("paths", {})[label] = {
            "fused_s": times[0],
            "per_layer_s": times[1],
        }
        print(f"  {label:58s} fused {times[0]:8.3f}  per layer {times[1]:8.3f}")


def bench_launch(results, cuda):
    from loopnet.cuda.kernels.gradients import launch_bias_gradient

    delta = cuda.to_device(np.ones((1, 1), dtype=np.float32))
    dbias = cuda.device_array(1, dtype=np.float32)
    one = np.float32(1)

    def launches():
        for _ in range(1000):
            launch_bias_gradient(delta, one, 1, dbias)

    seconds = median_time(launches, 3, cuda.synchronize) / 1000
    results["launch_s"] = seconds
    print("\nKernel launch from Python")
    show("one launch of a tiny kernel (CPU side)", seconds, "us")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the measurements to this file")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, to test the script"
    )
    args = parser.parse_args()
    if not lc.is_available():
        sys.exit("No CUDA GPU (or numba-cuda missing): these benchmarks need one.")
    from numba import cuda

    results = {"device": "simulator"}
    if not args.smoke:
        if simulator():
            sys.exit("Run without NUMBA_ENABLE_CUDASIM (or use --smoke).")
        name = cuda.get_current_device().name
        results["device"] = name.decode() if isinstance(name, bytes) else name
    results["torch"] = None if torch is None else torch.__version__
    print(f"device: {results['device']}; PyTorch {results['torch']}")
    if args.smoke:
        bench_gradient(results, [5, 4, 3], 3, "float32", 1, cuda, smoke=True)
        bench_epoch(results, [5, 4, 3], 25, "float32", 1, cuda, smoke=True)
    else:
        for dtype in ("float32", "float64"):
            bench_gradient(
                results, [1024, 1024, 1024, 10], 256, dtype, 50, cuda, smoke=False
            )
        for dtype in ("float32", "float64"):
            bench_tiles(results, 256, 1024, dtype, cuda)
        bench_launch(results, cuda)
        for dtype in ("float32", "float64"):
            bench_epoch(results, [784, 30, 10], 60000, dtype, 5, cuda, smoke=False)
        bench_paths(results, 60000, cuda)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
