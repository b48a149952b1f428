"""scikit-learn estimators: ``LoopNetClassifier`` and ``LoopNetRegressor``.

Each trains a ``loopnet.Network`` by ``Network.fit`` (the compiled loop) and
keeps it as ``network_``. The output layer and cost follow the target:

    binary classes        one sigmoid unit, cross-entropy    P(class 1) = a^L
    multiclass (K > 2)    K softmax units, log-likelihood    P(class j) = a^L_j
    regression (any y)    identity units, quadratic cost     y_hat = a^L

Both mean C_b over the training set plus l2/(2N) sum W^2, scikit-learn's
``alpha`` term of ``MLPClassifier`` and ``MLPRegressor``. There is no
``sample_weight``: the compiled loop averages every example's gradient
equally, so ``fit`` has no such parameter and scikit-learn's checks treat the
estimators as unweighted. docs/estimators.md has the API, the formulas and a
comparison with ``MLPClassifier``. Needs scikit-learn (the ``examples`` extra);
without it, importing this module raises ImportError saying what to install.
"""

import numbers

import numpy as np

from loopnet._extras import missing_extra

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as error:
    raise missing_extra(
        "loopnet.sklearn", "scikit-learn >= 1.6", "examples", error
    ) from error

from loopnet import _validation as check
from loopnet import schedules
from loopnet.network import Network

__all__ = ["LoopNetClassifier", "LoopNetRegressor"]

_SEEDS = 2**31 - 1
"""Seeds drawn from ``random_state`` lie in [0, _SEEDS)."""


def _check_hidden(hidden):
    """``hidden`` as a tuple of layer sizes, each an int >= 1 (may be empty)."""
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, tuple | list):
        raise TypeError(f"hidden must be a tuple of layer sizes, got {hidden!r}")
    return tuple(check.check_count(n, "hidden") for n in hidden)


def _shifted(lr, offset):
    """``lr`` as a schedule whose epoch 0 is epoch ``offset`` of ``lr``."""
    schedule = schedules.as_schedule(lr)
    if offset == 0 or isinstance(schedule, schedules.Constant):
        return lr
    return schedules.FromFunction(lambda epoch: schedule(epoch + offset))


class _LoopNetEstimator(BaseEstimator):
    """What both estimators share: parameters, fitting, prediction's checks.

    Subclasses define ``_targets`` (checked targets -> the network's output,
    cost, target matrix and what ``_set_encoding`` records) and ``_score_rows``
    (an epoch's validation score).
    """

    def __init__(
        self,
        hidden=(100,),
        activation="relu",
        optimizer="adam",
        lr=0.001,
        batch_size=200,
        epochs=200,
        l2=1e-4,
        momentum=0.9,
        early_stopping=False,
        validation_fraction=0.1,
        patience=10,
        tol=1e-4,
        init="glorot_uniform",
        dtype="float64",
        random_state=None,
        warm_start=False,
        progress=False,
    ):
        self.hidden = hidden
        self.activation = activation
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.l2 = l2
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.init = init
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.progress = progress

    # --- fitting -------------------------------------------------------------

    def _fit(self, X, y, incremental, classes=None):
        """Train on ``X``, ``y``: from scratch, or one more epoch (``incremental``).

        A call that raises leaves a fitted estimator as it was: the network is
        replaced only after its training, and what ``validate_data`` records
        (``n_features_in_``, ``feature_names_in_``) and the random state are
        put back.
        """
        kept = {
            name: self.__dict__[name]
            for name in ("n_features_in_", "feature_names_in_")
            if name in self.__dict__
        }
        rng = getattr(self, "_random_state", None)
        rng_state = None if rng is None else rng.get_state()
        try:
            return self._train(X, y, incremental, classes)
        except BaseException:
            for name in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(name, None)
            self.__dict__.update(kept)
            if rng is not None:
                rng.set_state(rng_state)
            raise

    def _train(self, X, y, incremental, classes):
        """``_fit``'s work, which may leave attributes half set when it raises."""
        dtype = check.resolve_dtype(self.dtype)
        hidden = _check_hidden(self.hidden)
        if not isinstance(self.warm_start, bool | np.bool_):
            raise TypeError(
                f"warm_start must be True or False, got {self.warm_start!r}"
            )
        continuing = (incremental or self.warm_start) and hasattr(self, "network_")
        X, y = validate_data(
            self,
            X,
            y,
            reset=not continuing,
            dtype=dtype,
            multi_output=True,
            y_numeric=self._y_numeric,
        )
        output, cost, Y, encoding = self._targets(y, continuing, incremental, classes)
        rng = (
            self._random_state if continuing else check_random_state(self.random_state)
        )
        if continuing:
            net = self.network_
            if net.sizes[-1] != Y.shape[1]:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs but the fitted network has"
                    f" {net.sizes[-1]}; fit again without warm_start"
                )
        else:
            net = Network(
                [X.shape[1], *hidden, Y.shape[1]],
                self.activation,
                output,
                cost,
                dtype=dtype,
                seed=int(rng.randint(_SEEDS)),
                init=self.init,
            )
        epochs, early = (
            (1, False) if incremental else (self.epochs, self.early_stopping)
        )
        validation, scores = None, []
        if early:
            check.check_real(
                self.validation_fraction,
                "validation_fraction",
                0.0,
                1.0,
                low_open=True,
            )
            X, Y, y, validation = self._split(X, Y, y, rng)
        offset = self.n_iter_ if continuing else 0
        history = net.fit(
            X,
            Y,
            epochs=epochs,
            batch_size=self.batch_size,
            lr=_shifted(self.lr, offset),
            l2=self.l2,
            momentum=0.0 if self.optimizer == "adam" else self.momentum,
            seed=int(rng.randint(_SEEDS)),
            validation=None if validation is None else validation[:2],
            progress=self.progress,
            optimizer=self.optimizer,
            early_stopping=early,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            tol=self.tol,
            callback=None
            if validation is None
            else lambda row: scores.append(self._score_rows(net, row, validation)),
            warm_start=continuing,
        )
        self._set_fitted(net, history, encoding, continuing, rng, scores)
        return self

    def _split(self, X, Y, y, rng):
        """Training rows and a held-out (X_val, Y_val, y_val), stratified if it can."""
        stratify = y if self._stratify else None
        seed = int(rng.randint(_SEEDS))
        try:
            parts = train_test_split(
                X,
                Y,
                y,
                test_size=self.validation_fraction,
                random_state=seed,
                stratify=stratify,
            )
        except ValueError:  # too few of a class to stratify: split at random
            try:
                parts = train_test_split(
                    X, Y, y, test_size=self.validation_fraction, random_state=seed
                )
            except ValueError as error:
                raise ValueError(
                    f"early_stopping cannot hold out validation_fraction="
                    f"{self.validation_fraction!r} of {X.shape[0]} examples: {error}"
                ) from error
        X_train, X_val, Y_train, Y_val, y_train, y_val = parts
        return X_train, Y_train, y_train, (X_val, Y_val, y_val)

    def _set_fitted(self, net, history, encoding, continuing, rng, scores):
        """The fitted attributes, from a completed ``Network.fit``."""
        self.network_ = net
        self._random_state = rng
        self._set_encoding(encoding)
        if continuing:
            self.n_iter_ += history.epochs
            self.loss_curve_ = self.loss_curve_ + list(history.cost)
        else:
            self.n_iter_ = history.epochs
            self.loss_curve_ = list(history.cost)
        if history.best_epoch is None:
            self.validation_scores_ = None
            self.best_loss_ = min(self.loss_curve_)
        else:
            self.validation_scores_ = scores
            self.best_loss_ = history.val_cost[history.best_epoch - 1]

    def _set_encoding(self, encoding):
        """Record what ``_targets`` found (``classes_``, output shape)."""

    # --- prediction ----------------------------------------------------------

    def _network_outputs(self, X):
        """a^L of checked ``X``, after checking the estimator is fitted."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.network_.dtype)
        return self.network_.forward(X)

    def __sklearn_tags__(self):
        """Tags: no NaN in X (the kernels refuse it), no sparse input."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class LoopNetClassifier(ClassifierMixin, _LoopNetEstimator):
    """A fully-connected classifier trained by loopnet's compiled loops.

    Two classes: one sigmoid output unit, the cross-entropy cost. More: one
    softmax unit per class, the log-likelihood cost. Labels may be any sortable
    values (strings, integers); ``classes_`` holds them sorted.

    Parameters
    ----------
    hidden : tuple of int
        Units of each hidden layer (``()``: none).
    activation : {"relu", "sigmoid", "tanh", "identity"}
        The hidden layers' activation.
    optimizer : {"adam", "sgd", "nesterov"}
        ``Network.fit``'s optimizer.
    lr : float, loopnet.schedules.Schedule or callable
        Learning rate, or a schedule of the epoch (counted across
        ``partial_fit`` and ``warm_start`` calls).
    batch_size : int
        Examples per mini-batch (``min(batch_size, N)``).
    epochs : int
        Epochs of ``fit`` (``partial_fit`` runs one).
    l2 : float
        L2 strength: l2/(2N) sum W^2 is added to the mean cost.
    momentum : float
        mu of ``"sgd"`` and ``"nesterov"``; unused by ``"adam"``.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training set (stratified) and
        stop when its cost has not improved by ``tol`` for ``patience`` epochs;
        the best epoch's parameters are kept.
    validation_fraction : float
        In (0, 1).
    patience : int
        Epochs without improvement before stopping.
    tol : float
        The improvement of the validation cost that counts.
    init : str
        ``Network``'s ``init``: ``"glorot_uniform"`` (default, scikit-learn's
        MLP's choice), ``"nielsen"``, ``"large"``, ``"glorot_normal"``,
        ``"he_uniform"`` or ``"he_normal"``.
    dtype : {"float64", "float32"}
        Precision of the network.
    random_state : None, int or numpy.random.RandomState
        Seeds the initialization, the shuffles and the validation split.
    warm_start : bool
        Whether ``fit`` continues the fitted network and its optimizer state.
    progress : bool
        ``Network.fit``'s progress bar.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.
    n_features_in_ : int
        Features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    n_iter_ : int
        Epochs trained so far.
    loss_curve_ : list of float
        Training cost (mean C_b, without the L2 term) of each epoch.
    validation_scores_ : list of float or None
        With ``early_stopping``: accuracy on the held-out set after each epoch.
    best_loss_ : float
        The lowest training cost; with ``early_stopping``, the validation cost
        of the best epoch.
    network_ : loopnet.Network
        The trained network (its ``optimizer_state`` is what ``partial_fit``
        continues).

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.sklearn import LoopNetClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 8)
    >>> y = np.array(["no", "yes", "yes", "no"] * 8)
    >>> model = LoopNetClassifier(hidden=(8,), activation="tanh", lr=0.05,
    ...                           epochs=200, batch_size=4, random_state=0)
    >>> model = model.fit(X, y)
    >>> model.predict(X[:4]).tolist(), model.score(X, y)
    (['no', 'yes', 'yes', 'no'], 1.0)
    """

    _stratify, _y_numeric = True, False

    def fit(self, X, y):
        """Train a new network on ``X``, ``y`` (continue it with ``warm_start``).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,)
            Class labels.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch on ``X``, ``y``, continuing the network and optimizer state.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,)
        classes : array_like, optional
            Every class label; required on the first call, and if given later
            equal to ``classes_``.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def _targets(self, y, continuing, incremental, classes):
        """The output, cost, target matrix and classes of labels ``y``."""
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if continuing and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} differs from classes_ ="
                    f" {self.classes_.tolist()} of the earlier partial_fit"
                )
        elif continuing:
            classes = self.classes_
        elif incremental:
            raise ValueError(
                "classes must be given on the first call to partial_fit: every"
                " label the estimator will see"
            )
        else:
            classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                f"a classifier needs at least 2 classes; y has one class only,"
                f" {classes[0]!r}"
            )
        index = np.searchsorted(classes, y)
        unknown = (index >= classes.shape[0]) | (
            classes[np.minimum(index, classes.shape[0] - 1)] != y
        )
        if unknown.any():
            raise ValueError(
                f"y has labels not in classes: {np.unique(y[unknown]).tolist()}"
            )
        dtype = check.resolve_dtype(self.dtype)
        if classes.shape[0] == 2:
            return "sigmoid", "cross_entropy", index[:, None].astype(dtype), classes
        Y = np.zeros((y.shape[0], classes.shape[0]), dtype=dtype)
        Y[np.arange(y.shape[0]), index] = 1
        return "softmax", "log_likelihood", Y, classes

    def _set_encoding(self, encoding):
        self.classes_ = encoding

    @staticmethod
    def _score_rows(net, row, validation):
        """The held-out accuracy of the epoch just ended."""
        return row["val_accuracy"]

    def predict_proba(self, X):
        """P(class) of each example, one column per ``classes_`` entry.

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
            Rows sum to 1: [1 - a, a] of the sigmoid unit for two classes, the
            softmax outputs otherwise.
        """
        A = self._network_outputs(X)
        if self.classes_.shape[0] == 2:
            return np.column_stack([1 - A[:, 0], A[:, 0]])
        return A

    def predict(self, X):
        """The most probable class of each example (the first on a tie).

        Returns
        -------
        ndarray, shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)  # checks that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]


class LoopNetRegressor(RegressorMixin, _LoopNetEstimator):
    """A fully-connected regressor trained by loopnet's compiled loops.

    Identity output units, one per target column, and the quadratic cost
    C_b = (1/2) sum_j (a^L_j - y_j)^2. The parameters are
    ``LoopNetClassifier``'s; ``validation_scores_`` holds R^2 of the held-out
    set after each epoch.

    Attributes
    ----------
    n_features_in_ : int
        Features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    n_outputs_ : int
        Target columns.
    n_iter_, loss_curve_, validation_scores_, best_loss_, network_
        As ``LoopNetClassifier``'s (R^2 for the scores).

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.sklearn import LoopNetRegressor
    >>> X = np.linspace(-1, 1, 32)[:, None]
    >>> y = 2 * X[:, 0] + 1
    >>> model = LoopNetRegressor(hidden=(), lr=0.05, epochs=50, batch_size=8,
    ...                          random_state=0)
    >>> model.fit(X, y).score(X, y) > 0.999
    True
    """

    _stratify, _y_numeric = False, True

    def fit(self, X, y):
        """Train a new network on ``X``, ``y`` (continue it with ``warm_start``).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch on ``X``, ``y``, continuing the network and optimizer state.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True)

    def _targets(self, y, continuing, incremental, classes):
        """The output, cost, target matrix and whether ``y`` was 1-D."""
        dtype = check.resolve_dtype(self.dtype)
        one_column = y.ndim == 1
        Y = np.asarray(y, dtype=dtype).reshape(y.shape[0], -1)
        return "identity", "quadratic", Y, one_column

    def _set_encoding(self, encoding):
        self._one_column = encoding
        self.n_outputs_ = self.network_.sizes[-1]

    @staticmethod
    def _score_rows(net, row, validation):
        """R^2 of the held-out set after the epoch just ended."""
        X_val, _, y_val = validation
        return float(r2_score(y_val, net.forward(X_val).reshape(y_val.shape)))

    def predict(self, X):
        """a^L of each example: shape (n_samples,) when ``y`` was 1-D."""
        A = self._network_outputs(X)
        return A[:, 0] if self._one_column else A

    def __sklearn_tags__(self):
        """Tags: several target columns are fine."""
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
