"""Train the seeds' [784, 30, 10] network on MNIST, read from its IDX files.

The network and setup of the seeds (Nielsen's): sigmoid layers, quadratic cost,
mini-batches of 10, learning rate 3.0, 30 epochs, trained on the first 50,000 of
the 60,000 training images and tested on the 10,000 test images after every
epoch. (Nielsen's book, whose update rule the seeds follow, reports about 95%
test accuracy for this setup.)

Download the four files (gzip or unpacked) into one folder, from
https://ossci-datasets.s3.amazonaws.com/mnist/ (a mirror of
http://yann.lecun.com/exdb/mnist/):

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

then run

    python examples/mnist.py FOLDER [--epochs 30] [--save mnist-net.npz]
"""

import argparse
import os
import sys

import numpy as np

import loopnet as ln

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Download the four MNIST files from {MIRROR}",
    )
    parser.add_argument("folder", help="folder holding the four MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=30, help="default 30")
    parser.add_argument("--batch-size", type=int, default=10, help="default 10")
    parser.add_argument("--lr", type=float, default=3.0, help="default 3.0")
    parser.add_argument(
        "--train-size", type=int, default=50_000, help="training images used (50000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="initialization, shuffling")
    parser.add_argument("--save", metavar="PATH", help="save the trained network here")
    parser.add_argument("--fast", action="store_true", help="one epoch (for tests)")
    return parser.parse_args(argv)


def find(folder, name):
    """Return the path of ``name.gz`` or ``name`` in ``folder``, or None."""
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def load(folder, train_size):
    """Read the four files: inputs in [0, 1], one 784-pixel row per image, one-hot Y."""
    arrays = {}
    for key, name in FILES.items():
        path = find(folder, name)
        if path is None:
            raise FileNotFoundError(
                f"{name}(.gz) is not in {folder!r}; download the four MNIST files"
                f" from {MIRROR} (or http://yann.lecun.com/exdb/mnist/)"
            )
        arrays[key] = ln.datasets.load_idx(path)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{part} images {images.shape} do not match {part} labels"
                f" {labels.shape}"
            )
        arrays[f"{part}_images"] = images.reshape(images.shape[0], -1) / 255.0
    n = min(train_size, arrays["train_images"].shape[0])
    return (
        arrays["train_images"][:n],
        ln.datasets.one_hot(arrays["train_labels"][:n], n_classes=10),
        arrays["test_images"],
        ln.datasets.one_hot(arrays["test_labels"], n_classes=10),
    )


def main(argv=None):
    args = parse_args(argv)
    try:
        X_train, Y_train, X_test, Y_test = load(args.folder, args.train_size)
    except (FileNotFoundError, ValueError) as error:
        print(f"mnist.py: {error}", file=sys.stderr)
        return 2
    epochs = 1 if args.fast else args.epochs
    net = ln.Network([X_train.shape[1], 30, 10], seed=args.seed)
    print(
        f"{net}: {X_train.shape[0]} training and {X_test.shape[0]} test images;"
        f" {epochs} epochs, batch {args.batch_size}, lr {args.lr}"
    )
    history = net.fit(
        X_train,
        Y_train,
        epochs=epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        validation=(X_test, Y_test),
    )
    n_test = X_test.shape[0]
    for epoch, (accuracy, seconds) in enumerate(
        zip(history.val_accuracy, history.seconds, strict=True), start=1
    ):
        correct = int(np.rint(accuracy * n_test))
        print(f"epoch {epoch:2d}: {correct} / {n_test} test images  ({seconds:.2f} s)")
    print(
        f"test accuracy {history.val_accuracy[-1]:.4f};"
        f" {sum(history.seconds) / epochs:.2f} s per epoch"
    )
    if args.save:
        net.save(args.save)
        print(f"saved the network to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
