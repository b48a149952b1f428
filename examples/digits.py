"""Train the seeds' [64, 30, 10] sigmoid network on scikit-learn's 8x8 digits.

The setup of the seeds' MNIST network (sigmoid layers, quadratic cost, mini-batches
of 10, learning rate 3.0, 30 epochs), on the 1797 digits that ship with
scikit-learn: nothing to download. Prints the test accuracy after every epoch,
the final accuracy and the time per epoch, and saves the cost and accuracy
curves as a PNG.

    python examples/digits.py                   # 30 epochs, writes digits.png
    python examples/digits.py --plot curve.png --save digits-net.npz
"""

import argparse
import sys
import time

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt

import loopnet as ln


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="default 30")
    parser.add_argument("--batch-size", type=int, default=10, help="default 10")
    parser.add_argument("--lr", type=float, default=3.0, help="default 3.0")
    parser.add_argument(
        "--seed", type=int, default=0, help="initialization and shuffling"
    )
    parser.add_argument(
        "--plot", default="digits.png", help="PNG of the curves (default digits.png)"
    )
    parser.add_argument("--save", metavar="PATH", help="save the trained network here")
    return parser.parse_args(argv)


def plot(history, path):
    """Save training cost and test accuracy per epoch as a two-panel PNG."""
    epochs = range(1, history.epochs + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), constrained_layout=True)
    left.plot(epochs, history.cost, label="training (running)")
    left.plot(epochs, history.val_cost, label="test")
    left.set(xlabel="epoch", ylabel="mean quadratic cost", yscale="log")
    left.legend()
    right.plot(epochs, history.val_accuracy, color="C2")
    right.axhline(0.95, color="grey", lw=0.8, ls="--")
    right.set(xlabel="epoch", ylabel="test accuracy")
    right.set_ylim(top=1.0)
    fig.suptitle("[64, 30, 10] sigmoid network on the 8x8 digits")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    epochs = args.epochs
    data = ln.datasets.digits(seed=args.seed)
    net = ln.Network(
        [64, 30, 10],
        activation="sigmoid",
        output="sigmoid",
        cost="quadratic",
        seed=args.seed,
    )
    print(
        f"{net}: {data.X_train.shape[0]} training and {data.X_test.shape[0]} test"
        f" digits; {epochs} epochs, batch {args.batch_size}, lr {args.lr}"
    )
    started = time.perf_counter()
    history = net.fit(
        data.X_train,
        data.Y_train,
        epochs=epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        validation=(data.X_test, data.Y_test),
    )
    wall = time.perf_counter() - started
    for epoch, (cost, accuracy) in enumerate(
        zip(history.cost, history.val_accuracy, strict=True), start=1
    ):
        print(f"epoch {epoch:2d}  cost {cost:.4f}  test accuracy {accuracy:.4f}")
    seconds = sum(history.seconds) / history.epochs
    accuracy = net.score(data.X_test, data.labels_test)
    print(
        f"test accuracy {accuracy:.4f} after {epochs} epochs;"
        f" {seconds * 1e3:.1f} ms per epoch, {wall:.2f} s in all"
        f" (compile/cache load {history.compile_seconds:.2f} s)"
    )
    plot(history, args.plot)
    print(f"saved the curves to {args.plot}")
    if args.save:
        net.save(args.save)
        print(f"saved the network to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
