"""Fault injection for utils.train: bad numbers and bad shapes are refused before training with
one line naming the array, rows or both shapes; divergence is reported only for a loss that
started finite; a run that ends far worse than it started ends with a warning."""
import warnings

import mxnet as mx
import numpy as np
import pandas as pd
import pytest
from mxnet import nd
from mxnet.gluon import nn

from utils import data
from utils.course import bench
from utils import train as T

CONFIG = dict(num_epochs=3, learning_rate=0.5, batch_size=16)


@pytest.fixture(scope="module")
def synthetic():
    """(X, y) as numpy float32: 150 preprocessed synthetic rows (X has 9 columns)."""
    train_df, test_df = data.synthetic_house_frames(n_train=150, n_test=10, seed=1)
    X_df, X_test_df = data.preprocess(train_df, test_df)
    X, y, _ = data.to_ndarrays(X_df, train_df[data.LABEL], X_test_df)
    return X.asnumpy(), y.asnumpy()


def one_line(err):
    message = str(err)
    assert "\n" not in message, message
    return message


def weights(net):
    return {name: p.data().asnumpy().copy() for name, p in net.collect_params().items()}


def initialized(units_in=None):
    net = nn.Sequential()
    net.add(nn.Dense(1, in_units=units_in or 0))
    net.initialize()
    return net


def refused(call, match_all):
    with pytest.raises(ValueError) as err:
        call()
    message = one_line(err.value)
    for part in match_all:
        assert part in message, message
    assert not isinstance(err.value, T.TrainingDiverged)
    return message


# ---------------------------------------------------------- non-finite values in X or y

def with_bad(array, rows, value, column=0):
    bad = array.copy()
    bad[rows, column] = value
    return bad


@pytest.mark.parametrize("which, value, kind", [
    ("X_train", np.nan, "NaN values"), ("X_train", np.inf, "infinite values"),
    ("y_train", np.nan, "NaN values"), ("y_train", -np.inf, "infinite values"),
    ("X_valid", np.nan, "NaN values"), ("y_valid", np.inf, "infinite values"),
])
def test_non_finite_values_are_refused_before_training(synthetic, which, value, kind):
    X, y = synthetic
    arrays = dict(X_train=X[30:], y_train=y[30:], X_valid=X[:30], y_valid=y[:30])
    arrays[which] = with_bad(arrays[which], [4, 17], value)
    net = initialized(X.shape[1])
    before = weights(net)
    message = refused(lambda: T.train(net, arrays["X_train"], arrays["y_train"],
                                      arrays["X_valid"], arrays["y_valid"], **CONFIG),
                      [f"{which} has {kind}", "in rows [4, 17]", "counting rows from 0"])
    assert ("every label must be a finite number" in message if which[0] == "y"
            else "fill or drop them" in message)
    after = weights(net)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing was trained


def test_non_finite_in_ndarray_and_dataframe_inputs_names_rows_and_columns(synthetic):
    X, y = synthetic
    frame = pd.DataFrame(with_bad(X, [7], np.nan, column=2),
                         columns=[f"f{i}" for i in range(X.shape[1])])
    refused(lambda: T.train(initialized(), frame, y, **CONFIG),
            ["X_train has NaN values in rows [7] (columns ['f2'])"])
    refused(lambda: T.train(initialized(), nd.array(X), nd.array(with_bad(y, [3], np.nan)),
                            **CONFIG),
            ["y_train has NaN values in rows [3]"])


def test_values_too_large_for_float32_are_refused(synthetic):
    X, y = synthetic
    huge = with_bad(X.astype(np.float64), [9], 1e39, column=1)
    refused(lambda: T.train(initialized(), huge, y, **CONFIG),
            ["X_train has infinite values (or values beyond float32's 3.4e38) in rows [9]"])


def test_many_bad_rows_are_summarized(synthetic):
    X, y = synthetic
    refused(lambda: T.train(initialized(), X, with_bad(y, list(range(20, 40)), np.nan),
                            **CONFIG),
            ["rows [20, 21, 22, 23, 24] and 15 more"])


def test_k_fold_counts_rows_in_the_whole_data_not_in_a_fold(synthetic):
    X, y = synthetic
    refused(lambda: T.k_fold(initialized, with_bad(X, [140], np.nan), y, 5, **CONFIG),
            ["X has NaN values in rows [140]"])
    refused(lambda: T.k_fold(initialized, X, with_bad(y, [0], np.inf), 5, **CONFIG),
            ["y has infinite values", "in rows [0]"])


def test_log_rmse_names_non_finite_labels():
    with pytest.raises(ValueError) as err:
        T.log_rmse(np.ones(4), np.array([1.0, np.nan, np.inf, 2.0]))
    assert "2 of 4 are not" in one_line(err.value) and "rows [1, 2]" in str(err.value)


# ------------------------------------------------------------ not finite at the start

def test_nan_parameter_is_not_reported_as_divergence(synthetic):
    X, y = synthetic
    net = initialized(X.shape[1])
    net[0].weight.set_data(nd.full(net[0].weight.shape, np.nan))
    refused(lambda: T.train(net, X, y, **CONFIG),
            ["the untrained network already gives loss nan on X_train",
             f"parameter {net[0].weight.name} holds NaN or inf",
             "net.initialize(force_reinit=True)"])


def test_loss_overflowing_before_the_first_step_is_not_divergence(synthetic):
    X, y = synthetic
    refused(lambda: T.train(initialized(), X * 1e37, y, **CONFIG),
            ["the loss is already inf before the first step (not a divergence)",
             "largest |feature| in X_train", "scale them"])


def test_a_finite_start_that_blows_up_is_divergence(synthetic):
    X, y = synthetic
    with pytest.raises(T.TrainingDiverged) as err:
        T.train(initialized(), X, y, num_epochs=30, learning_rate=1e6, batch_size=16,
                optimizer="sgd")
    message = one_line(err.value)
    assert "after starting finite" in message and "lower the learning rate" in message


# ------------------------------------------------------------------------ shape mismatches

def test_labels_with_two_columns(synthetic):
    X, y = synthetic
    two = np.hstack([y, y])
    refused(lambda: T.train(initialized(), X, two, **CONFIG),
            ["y_train has shape (150, 2) but the network predicts shape (1,) per row "
             "(output (150, 1))", "e.g. shape (150, 1)"])
    refused(lambda: T.train(initialized(), X[30:], y[30:], X[:30], two[:30], **CONFIG),
            ["y_valid has shape (30, 2) but y_train has (120, 1)"])


def test_features_not_matching_a_fixed_in_units(synthetic):
    X, y = synthetic
    refused(lambda: T.train(initialized(5), X, y, **CONFIG),
            [f"X_train has {X.shape[1]} features (shape {X.shape})",
             "first layer dense", "takes 5 (its weight has shape (1, 5))",
             "without in_units"])


def test_features_not_matching_a_network_initialized_on_other_data(synthetic):
    X, y = synthetic
    net = initialized()
    net(nd.array(X[:2, :4]))  # deferred initialization fixed the input size to 4
    refused(lambda: T.train(net, X, y, **CONFIG),
            [f"X_train has {X.shape[1]} features", "takes 4 (its weight has shape (1, 4))"])


def test_validation_features_with_other_columns(synthetic):
    X, y = synthetic
    refused(lambda: T.train(initialized(), X[30:], y[30:], X[:30, :5], y[:30], **CONFIG),
            [f"X_valid has shape (30, 5) but X_train has (120, {X.shape[1]})"])


def test_other_shape_errors_are_explained_not_raw(synthetic):
    X, y = synthetic
    conv = nn.Sequential()
    conv.add(nn.Conv2D(2, kernel_size=3), nn.Dense(1))
    conv.initialize()
    message = refused(lambda: T.train(conv, X, y, **CONFIG),
                      [f"the network cannot take X_train of shape {X.shape}",
                       "Input data should be 4D"])
    assert "Traceback" not in message and ".cc:" not in message


def test_a_loss_that_broadcasts_labels_against_predictions(synthetic):
    X, y = synthetic
    refused(lambda: T.train(initialized(), X, y.ravel(), loss=lambda p, t: (p - t) ** 2,
                            **CONFIG),
            ["y_train has shape (150,)", "on a batch of 16 rows the loss broadcast "
             "predictions (16, 1) and labels (16,) to (16, 16)"])
    # the built-in L2Loss reshapes (n,) labels to the predictions' shape: accepted
    T.train(initialized(), X, y.ravel(), **CONFIG)


# ----------------------------------------------------------- ending far worse than started

def history(scores):
    return T.History(metric="log_rmse", train=list(scores))


@pytest.mark.parametrize("scores, expected", [
    ([2.0, 1.0, 2.6], "worse than it started: train log_rmse 2.6 after epoch 3 is 1.3x its "
                      "value after epoch 1 (2)"),
    ([2.0, 0.1, 0.5], "worse than its best epoch: train log_rmse 0.5 after epoch 3 is 5.0x "
                      "its best (0.1, epoch 2)"),
    ([2.0, 1.0, 2.4], None),        # 1.2x the start: not far worse
    ([2.0, 0.2, 0.7], None),        # 3.5x the best: noisy, not far worse
    ([3.5, 2.0, 0.17], None),       # a healthy run
])
def test_got_worse_thresholds(scores, expected):
    warning = T._got_worse(history(scores), len(scores), 5.0)
    if expected is None:
        assert warning is None
    else:
        assert expected in warning and "lower the learning rate (now 5), e.g. to 0.5" in warning


def test_a_run_that_ends_worse_than_it_started_warns(synthetic):
    X, y = synthetic
    T.seed_everything(2)  # Adam lr 1e6 with this seed: 2.31 after epoch 1, 7.61 after 30
    with pytest.warns(T.TrainingGotWorse) as caught:
        h = T.train(bench.book_net(), X, y, num_epochs=30, learning_rate=1e6, batch_size=16)
    ours = [w for w in caught if w.category is T.TrainingGotWorse]
    assert len(ours) == 1
    message = one_line(ours[0].message)
    assert message == h.warning and h.final_train > 1.25 * h.train[0]
    assert message.startswith("training ended far worse than it started: train log_rmse")
    assert "lower the learning rate (now 1e+06), e.g. to 100000" in message


def test_k_fold_names_the_folds_in_one_warning(synthetic):
    X, y = synthetic
    T.seed_everything(2)
    with pytest.warns(T.TrainingGotWorse) as caught:
        result = T.k_fold(bench.book_net, X, y, 5, num_epochs=30, learning_rate=1e6,
                          batch_size=16)
    ours = [w for w in caught if w.category is T.TrainingGotWorse]
    assert len(ours) == 1
    worse = [i + 1 for i, h in enumerate(result.folds) if h.warning]
    message = one_line(ours[0].message)
    assert message.startswith(f"{len(worse)} of 5 folds ({', '.join(map(str, worse))}) "
                              "got far worse while training; fold ")


def test_a_healthy_run_does_not_warn(synthetic):
    X, y = synthetic
    with warnings.catch_warnings():
        warnings.simplefilter("error", T.TrainingGotWorse)
        h = T.train(initialized(), X, y, **dict(CONFIG, num_epochs=10))
    assert h.warning is None


def test_adam_lr_1e6_on_the_books_model_warns(house_dir):
    """The issue's case: the book's Dense(1) on the real data, Adam lr 1e6, 100 epochs."""
    train_df, test_df = data.load_house_data(house_dir, download=False)
    X_df, X_test_df = data.preprocess(train_df, test_df)
    X, y, _ = data.to_ndarrays(X_df, train_df[data.LABEL], X_test_df)
    T.seed_everything(0)
    with pytest.warns(T.TrainingGotWorse, match="training ended far worse than it started"):
        h = T.train(bench.book_net(), X, y, num_epochs=100, learning_rate=1e6, batch_size=64)
    assert h.final_train > 2.0  # no NaN, just a useless model


# ------------------------------------------------------------------- devices

@pytest.mark.parametrize("ctx, words", [
    ([mx.cpu(0), mx.cpu(0)], "ctx names 2 devices"),
    ([], "ctx is empty; pass a device"),
    (["cpu"], "ctx holds 'cpu', not an MXNet device"),
])
def test_devices_that_cannot_train_are_refused_before_the_first_step(synthetic, ctx, words):
    X, y = synthetic
    net = initialized(X.shape[1])
    before = weights(net)
    refused(lambda: T.train(net, X, y, num_epochs=1, learning_rate=0.1, batch_size=32,
                            ctx=ctx), [words])
    assert all((before[k] == v).all() for k, v in weights(net).items())


# ------------------------------------------------------- features and labels paired by index

def test_pandas_features_and_labels_with_different_indexes_are_refused(synthetic):
    X, y = synthetic
    X_df = pd.DataFrame(X)
    y_sorted = pd.Series(y.ravel()).sort_values()  # index no longer 0, 1, 2, ...
    net = initialized(X.shape[1])
    refused(lambda: T.train(net, X_df, y_sorted, num_epochs=1, learning_rate=0.1,
                            batch_size=32), ["X_train and y_train have different row labels",
                                             "align them"])
    T.train(net, X_df, pd.Series(y.ravel()), num_epochs=1, learning_rate=0.1, batch_size=32)
    train_df, test_df = data.synthetic_house_frames(n_train=30, n_test=5, seed=0)
    X_tr, X_te = data.preprocess(train_df, test_df)
    with pytest.raises(data.DataError, match="different row labels"):
        data.to_ndarrays(X_tr, train_df[data.LABEL].sort_values(), X_te)
    data.to_ndarrays(X_tr, train_df[data.LABEL], X_te)  # as the notebook calls it
