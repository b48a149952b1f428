"""loopnet.sklearn: scikit-learn's estimator checks, pipelines, partial_fit, errors."""

import copy

import numpy as np
import pytest

sklearn = pytest.importorskip(
    "sklearn", reason='scikit-learn is not installed: pip install -e ".[test]"'
)

from sklearn.datasets import load_digits, make_blobs  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from loopnet.sklearn import LoopNetClassifier, LoopNetRegressor  # noqa: E402

# Small networks and few epochs: each check fits a few times on ~100 examples.
CHECKED = [
    LoopNetClassifier(hidden=(16,), epochs=30, lr=0.01, batch_size=32),
    LoopNetRegressor(hidden=(16,), epochs=50, lr=0.01, batch_size=32),
]


@pytest.mark.heavy  # ~100 fits: seconds compiled, minutes as Python
@parametrize_with_checks(CHECKED)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=90, centers=3, n_features=4, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs):
    return _classifier(epochs=2).fit(*blobs)


def _classifier(**options):
    defaults = {"hidden": (8,), "epochs": 20, "lr": 0.02, "batch_size": 16}
    return LoopNetClassifier(**(defaults | {"random_state": 0} | options))


# --- targets, outputs and costs ---------------------------------------------------


def test_binary_is_one_sigmoid_unit_with_cross_entropy(blobs):
    X, y = blobs
    labels = np.where(y[y < 2] == 0, "cat", "dog")
    model = _classifier().fit(X[y < 2], labels)
    net = model.network_
    assert (net.sizes[-1], net.output, net.cost_name) == (1, "sigmoid", "cross_entropy")
    assert model.classes_.tolist() == ["cat", "dog"]
    proba = model.predict_proba(X[y < 2])
    np.testing.assert_allclose(proba[:, 1], net.forward(X[y < 2])[:, 0])
    assert model.score(X[y < 2], labels) > 0.9


def test_multiclass_is_softmax_with_log_likelihood(blobs):
    X, y = blobs
    model = _classifier().fit(X, y + 10)
    net = model.network_
    assert (net.sizes[-1], net.output, net.cost_name) == (
        3,
        "softmax",
        "log_likelihood",
    )
    np.testing.assert_array_equal(model.classes_, [10, 11, 12])
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)
    assert model.score(X, y + 10) > 0.9
    assert model.n_features_in_ == 4 and model.n_iter_ == 20
    assert len(model.loss_curve_) == 20 and model.best_loss_ == min(model.loss_curve_)
    assert model.validation_scores_ is None


def test_regressor_is_identity_with_quadratic_cost(rng):
    X = rng.standard_normal((60, 3))
    Y = np.column_stack([X @ [1.0, -2.0, 0.5], X[:, 0] - X[:, 1]])
    model = LoopNetRegressor(hidden=(), lr=0.05, epochs=100, batch_size=10)
    model.fit(X, Y)
    net = model.network_
    assert (net.output, net.cost_name, model.n_outputs_) == (
        "identity",
        "quadratic",
        2,
    )
    assert model.predict(X).shape == (60, 2)
    assert model.score(X, Y) > 0.99
    assert model.fit(X, Y[:, 0]).predict(X).shape == (60,)


def test_feature_names_in_from_a_dataframe(blobs):
    pandas = pytest.importorskip(
        "pandas", reason="pandas is not installed; feature_names_in_ needs it"
    )
    X, y = blobs
    frame = pandas.DataFrame(X, columns=["a", "b", "c", "d"])
    model = _classifier().fit(frame, y)
    assert model.feature_names_in_.tolist() == ["a", "b", "c", "d"]


# --- in scikit-learn's tools ------------------------------------------------------


def test_in_a_pipeline_and_a_grid_search(blobs):
    X, y = blobs
    pipeline = make_pipeline(StandardScaler(), _classifier())
    assert pipeline.fit(X, y).score(X, y) > 0.9
    search = GridSearchCV(
        _classifier(), {"hidden": [(4,), (8,)], "optimizer": ["adam", "nesterov"]}, cv=2
    )
    search.fit(X, y)
    assert set(search.best_params_) == {"hidden", "optimizer"}
    assert search.best_score_ > 0.8


@pytest.mark.heavy  # the digits end to end, twice
def test_digits_against_mlp_classifier():
    """Same architecture, epochs, optimizer and rate: loopnet within 3 points."""
    X, y = load_digits(return_X_y=True)
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
    options = {"batch_size": 32, "random_state": 0}
    ours = make_pipeline(
        StandardScaler(),
        LoopNetClassifier(hidden=(32,), epochs=20, lr=0.001, l2=1e-4, **options),
    ).fit(X_train, y_train)
    theirs = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            (32,), max_iter=20, n_iter_no_change=20, tol=0, alpha=1e-4, **options
        ),
    )
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        theirs.fit(X_train, y_train)
    assert ours.score(X_test, y_test) > theirs.score(X_test, y_test) - 0.03


# --- partial_fit, warm_start, early stopping ---------------------------------------


def test_partial_fit_continues_the_optimizer_state(blobs):
    X, y = blobs
    model = _classifier(batch_size=30)
    with pytest.raises(ValueError, match="classes must be given"):
        model.partial_fit(X, y)
    assert not hasattr(model, "network_")
    model.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    state = model.network_.optimizer_state
    assert state.optimizer == "adam" and state.state.t[0] == 2
    model.partial_fit(X[60:], y[60:])
    assert model.network_.optimizer_state.state.t[0] == 3  # t went on from 2
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    with pytest.raises(ValueError, match="differs from classes_"):
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels not in classes: \[7\]"):
        model.partial_fit(X[:2], [0, 7])


def test_partial_fit_runs_the_schedule_on(blobs):
    """Each call is one more epoch of the schedule, and so is a warm fit."""
    X, y = blobs
    asked = []
    model = _classifier(lr=lambda epoch: asked.append(epoch) or 0.01)
    for _ in range(3):
        model.partial_fit(X, y, classes=[0, 1, 2])
    model.set_params(warm_start=True, epochs=2).fit(X, y)
    assert asked == [0, 1, 2, 3, 4] and model.n_iter_ == 5


def test_warm_start_keeps_the_network(blobs):
    X, y = blobs
    model = _classifier(warm_start=True).fit(X, y)
    net = model.network_
    t = net.optimizer_state.state.t[0]
    model.fit(X, y)
    assert model.network_ is net and net.optimizer_state.state.t[0] == 2 * t
    assert model.n_iter_ == 40 and len(model.loss_curve_) == 40
    model.set_params(warm_start=False).fit(X, y)
    assert model.network_ is not net and model.n_iter_ == 20


@pytest.mark.parametrize("estimator", [_classifier, LoopNetRegressor])
def test_early_stopping_records_validation_scores(blobs, estimator):
    X, y = blobs
    model = estimator(early_stopping=True, patience=3, tol=0.0, epochs=200)
    model.set_params(hidden=(8,), lr=0.05, random_state=0).fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_ < 200
    assert all(-np.inf < score <= 1.0 for score in model.validation_scores_)
    assert np.isfinite(model.best_loss_)


# --- bad input -----------------------------------------------------------------------


def test_unfitted_predict_raises_not_fitted(blobs):
    X, _ = blobs
    for model in (LoopNetClassifier(), LoopNetRegressor()):
        with pytest.raises(NotFittedError):
            model.predict(X)
    with pytest.raises(NotFittedError):
        LoopNetClassifier().predict_proba(X)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"hidden": (0,)}, ValueError, "hidden"),
        ({"hidden": "8"}, TypeError, "hidden"),
        ({"activation": "logistic"}, ValueError, "activation"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"lr": "fast"}, TypeError, "lr"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"l2": -1.0}, ValueError, "l2"),
        ({"momentum": 1.0, "optimizer": "sgd"}, ValueError, "momentum"),
        ({"early_stopping": "yes"}, TypeError, "early_stopping"),
        ({"early_stopping": True, "validation_fraction": 1.0}, ValueError, "fraction"),
        ({"patience": 0}, ValueError, "patience"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"init": "zeros"}, ValueError, "init"),
        ({"dtype": "float16"}, ValueError, "dtype"),
        ({"warm_start": "yes"}, TypeError, "warm_start"),
        ({"progress": 1}, TypeError, "progress"),
    ],
)
def test_bad_parameters_raise_and_change_nothing(fitted, blobs, options, error, match):
    X, y = blobs
    model = copy.deepcopy(fitted)
    net, params = model.network_, model.network_.params.copy()
    model.set_params(**options)  # scikit-learn's rule: set_params never checks
    with pytest.raises(error, match=match):
        model.fit(X, y)
    assert model.network_ is net and model.n_iter_ == 2
    np.testing.assert_array_equal(net.params, params)


def test_one_class_is_refused(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="at least 2 classes"):
        _classifier().fit(X, np.zeros(X.shape[0]))


def test_a_failed_refit_keeps_what_the_fitted_model_recorded(fitted, blobs):
    X, y = blobs
    model = copy.deepcopy(fitted)
    model.set_params(lr=-1.0)
    with pytest.raises(ValueError, match="lr"):
        model.fit(X[:, :3], y)  # validate_data saw 3 features before fit refused lr
    assert model.n_features_in_ == 4
    assert model.predict(X).shape == (90,)


def test_early_stopping_on_too_few_examples_names_the_fraction(blobs):
    X, y = blobs
    rows = [np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0]]
    model = _classifier(early_stopping=True, validation_fraction=0.9)
    with pytest.raises(ValueError, match="validation_fraction=0.9 of 2 examples"):
        model.fit(X[rows], y[rows])
