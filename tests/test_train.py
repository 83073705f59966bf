"""utils.train: every public function, every error path, exactness against the book's loop
(one fold at a time and all folds stacked), the divergence guard, the explorer, and the book's
k-fold result on the real data."""
import math
import random
import re

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon, nd
from mxnet.gluon import nn

from utils import data
from utils.course import bench
from utils import train as T

TOL = 1e-5  # the bound on any per-epoch score of the fast loop vs the book loop


@pytest.fixture(scope="module")
def synthetic():
    """(X, y) NDArrays: 150 preprocessed synthetic rows, so batch 16 leaves a last batch of 6."""
    train_df, test_df = data.synthetic_house_frames(n_train=150, n_test=10, seed=1)
    X_df, X_test_df = data.preprocess(train_df, test_df)
    X, y, _ = data.to_ndarrays(X_df, train_df[data.LABEL], X_test_df)
    return X, y


def split(X, y, n_valid=30):
    return X[n_valid:], y[n_valid:], X[:n_valid], y[:n_valid]


def initialized_net(hidden=0, ctx=None):
    net = bench.book_net(hidden)  # nn.Sequential as in the book, initialized on the CPU
    if ctx is not None:
        net.collect_params().reset_ctx(ctx)
    return net


CONFIG = dict(num_epochs=4, learning_rate=0.5, batch_size=16)


# ------------------------------------------------------------------------------ small helpers

def test_seed_everything_repeats_python_numpy_and_mxnet_draws():
    def draws():
        return (random.random(), np.random.rand(), nd.random.uniform(shape=(3,)).asnumpy())
    T.seed_everything(7)
    first = draws()
    T.seed_everything(7)
    again = draws()
    T.seed_everything(8)
    other = draws()
    assert first[0] == again[0] and first[1] == again[1]
    np.testing.assert_array_equal(first[2], again[2])
    assert first[0] != other[0] and first[1] != other[1]
    assert not np.array_equal(first[2], other[2])


def test_log_rmse_clips_predictions_below_one():
    # log(max(p, 1)) - log(y): [0 - 0, 1 - 0] -> sqrt(mean([0, 1]))
    assert T.log_rmse(np.array([0.5, math.e]), np.array([1.0, 1.0])) == pytest.approx(
        math.sqrt(0.5), rel=1e-12)
    # negative predictions are clipped too, and NDArrays of shape (n, 1) work
    preds, labels = nd.array([[-5.0], [100.0]]), nd.array([[10.0], [100.0]])
    assert T.log_rmse(preds, labels) == pytest.approx(math.sqrt(math.log(10) ** 2 / 2), rel=1e-6)


@pytest.mark.parametrize("preds, labels, message", [
    ([1.0, 2.0], [1.0], "2 predictions for 1 labels"),
    ([], [], "no rows"),
    ([1.0, 2.0], [3.0, 0.0], "positive labels"),
])
def test_log_rmse_rejects_bad_input(preds, labels, message):
    with pytest.raises(ValueError, match=message):
        T.log_rmse(np.array(preds), np.array(labels))


def test_history_final_scores():
    h = T.History(metric="log_rmse", train=[3.0, 2.0], valid=[4.0, 2.5])
    assert (h.final_train, h.final_valid) == (2.0, 2.5)
    assert T.History(metric="loss", train=[1.0]).final_valid is None


# ---------------------------------------------------------------------------------- k-fold

def test_k_fold_indices_cut_contiguous_folds_like_the_book():
    folds = T.k_fold_indices(10, 3)
    assert [v.tolist() for _, v in folds] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert folds[1][0].tolist() == [0, 1, 2, 6, 7, 8]
    # fold_size = 10 // 3 = 3: row 9 is in no fold, as in the book's get_k_fold_data
    assert all(9 not in t and 9 not in v for t, v in folds)


def test_k_fold_indices_shuffle_is_seeded_and_leaves_global_rng_alone():
    np.random.seed(0)
    expected_next = np.random.rand()
    np.random.seed(0)
    a = T.k_fold_indices(20, 4, shuffle=True, seed=3)
    assert np.random.rand() == expected_next  # the batch order's RNG was not consumed
    b = T.k_fold_indices(20, 4, shuffle=True, seed=3)
    c = T.k_fold_indices(20, 4, shuffle=True, seed=4)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))
    assert sorted(np.concatenate([v for _, v in a]).tolist()) == list(range(20))
    assert a[0][1].tolist() != [0, 1, 2, 3, 4]


@pytest.mark.parametrize("n, k, message", [
    (10, 1, "k must be an integer >= 2"),
    (10, 2.0, "k must be an integer >= 2"),
    (3, 4, "k=4 folds need at least k rows"),
    (0, 2, "n must be an integer >= 1"),
])
def test_k_fold_indices_rejects_bad_k(n, k, message):
    with pytest.raises(ValueError, match=message):
        T.k_fold_indices(n, k)


def test_get_k_fold_data_matches_the_books_slicing(synthetic):
    X, y = synthetic
    for i in range(4):
        ours = T.get_k_fold_data(4, i, X, y)
        book = bench.book_k_fold_data(4, i, X, y)
        for a, b in zip(ours, book):
            np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    X_np, y_np = X.asnumpy(), y.asnumpy()
    X_train, y_train, X_valid, y_valid = T.get_k_fold_data(3, 2, X_np, y_np, shuffle=True,
                                                            seed=0)
    train_idx, valid_idx = T.k_fold_indices(150, 3, shuffle=True, seed=0)[2]
    np.testing.assert_array_equal(X_valid, X_np[valid_idx])
    np.testing.assert_array_equal(y_train, y_np[train_idx])


@pytest.mark.parametrize("k, i, n_labels, message", [
    (1, 0, 150, "k must be an integer >= 2"),
    (151, 0, 150, "need at least k rows"),
    (5, 5, 150, r"fold index i must be in 0..4"),
    (5, -1, 150, r"fold index i must be in 0..4"),
    (5, 0, 149, "X_data has 150 rows but y_data has 149"),
])
def test_get_k_fold_data_rejects_bad_arguments(synthetic, k, i, n_labels, message):
    X, y = synthetic
    with pytest.raises(ValueError, match=message):
        T.get_k_fold_data(k, i, X, y[:n_labels])


def test_k_fold_returns_per_fold_histories_and_means(synthetic):
    X, y = synthetic
    T.seed_everything(0)
    result = T.k_fold(initialized_net, X, y, k=3, **CONFIG)
    assert len(result.folds) == 3 and all(len(h.train) == len(h.valid) == 4
                                          for h in result.folds)
    assert result.valid_scores == [h.valid[-1] for h in result.folds]
    assert result.mean_valid == pytest.approx(np.mean(result.valid_scores))
    assert result.mean_train == pytest.approx(np.mean(result.train_scores))
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        T.k_fold(initialized_net, X, y, k=1, **CONFIG)


# --------------------------------------------------------------------- train: argument checks

@pytest.mark.parametrize("change, message", [
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(num_epochs=0), "num_epochs must be an integer >= 1"),
    (dict(learning_rate=0.0), "learning_rate must be a positive number"),
    (dict(learning_rate=float("nan")), "learning_rate must be a positive number"),
    (dict(weight_decay=-1.0), "weight_decay must be a number >= 0"),
    (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'; use one of sgd, adam"),
])
def test_train_rejects_bad_hyperparameters(synthetic, change, message):
    X, y = synthetic
    with pytest.raises(ValueError, match=re.escape(message)):
        T.train(initialized_net(), X, y, **dict(CONFIG, **change))


def test_train_rejects_mismatched_or_missing_data(synthetic):
    X, y = synthetic
    with pytest.raises(ValueError, match="X_train has 150 rows but y_train has 149"):
        T.train(initialized_net(), X, y[:149], **CONFIG)
    with pytest.raises(ValueError, match="X_valid has 30 rows but y_valid has 29"):
        T.train(initialized_net(), X, y, X[:30], y[:29], **CONFIG)
    with pytest.raises(ValueError, match="pass both X_valid and y_valid"):
        T.train(initialized_net(), X, y, X[:30], **CONFIG)
    with pytest.raises(ValueError, match="X_train has no rows"):
        T.train(initialized_net(), X[:0], y[:0], **CONFIG)
    with pytest.raises(TypeError, match="one row per example"):
        T.train(initialized_net(), 3.0, y, **CONFIG)


def test_train_rejects_an_uninitialized_net_or_one_without_parameters(synthetic):
    X, y = synthetic
    net = nn.Sequential()
    net.add(nn.Dense(1))
    with pytest.raises(ValueError, match=r"call net.initialize\(\)"):
        T.train(net, X, y, **CONFIG)
    with pytest.raises(ValueError, match="net has no parameters to train"):
        T.train(nn.Sequential(), X, y, **CONFIG)


# ------------------------------------------------------------ train: exactness vs the book loop

def book_curves(X, y, hidden=0, optimizer="adam", weight_decay=0.0, seed=0, **config):
    T.seed_everything(seed)
    return bench.book_train(bench.book_net(hidden), *split(X, y), config["num_epochs"],
                            config["learning_rate"], weight_decay, config["batch_size"],
                            optimizer)


def fast_curves(X, y, hidden=0, optimizer="adam", weight_decay=0.0, seed=0, **config):
    T.seed_everything(seed)
    h = T.train(bench.book_net(hidden), *split(X, y), optimizer=optimizer,
                weight_decay=weight_decay, **config)
    return h.train, h.valid


@pytest.mark.parametrize("optimizer, weight_decay, hidden", [
    ("adam", 0.0, 0),    # the book's case: per-parameter adam_update, as Trainer.step
    ("adam", 0.1, 8),    # Adam with weight decay: per-parameter adam_update, 4 parameters
    ("sgd", 0.01, 0),    # fused multi_sgd_update
])
def test_train_reproduces_the_book_loop(synthetic, optimizer, weight_decay, hidden):
    X, y = synthetic
    lr = 0.01 if optimizer == "sgd" else 0.5
    config = dict(CONFIG, learning_rate=lr)
    book = book_curves(X, y, hidden, optimizer, weight_decay, **config)
    ours = fast_curves(X, y, hidden, optimizer, weight_decay, **config)
    assert len(ours[0]) == len(ours[1]) == 4
    # The reference scores with its own float32 NDArray log RMSE; ours is float64 on the host.
    np.testing.assert_allclose(ours, book, rtol=0, atol=TOL)
    # ...and the curves really depend on the batches: another seed gives other numbers.
    other = fast_curves(X, y, hidden, optimizer, weight_decay, seed=1, **config)
    assert np.max(np.abs(np.array(other) - np.array(book))) > 100 * TOL


def batchnorm_net(freeze_first_layer):
    # No bias before BatchNorm: its gradient would be rounding noise that Adam's m/sqrt(v)
    # blows up to +-lr, so any two implementations would part ways (and it is useless anyway).
    net = nn.HybridSequential()
    net.add(nn.Dense(8, use_bias=False), nn.BatchNorm(), nn.Dense(1))
    net.initialize()
    if freeze_first_layer:
        net[0].collect_params().setattr("grad_req", "null")
    return net


@pytest.mark.parametrize("freeze_first_layer", [False, True])
def test_train_handles_running_statistics_and_frozen_parameters(synthetic, freeze_first_layer):
    """BatchNorm's running mean/var are auxiliary states the compiled step must update (the
    predictions use them); a frozen layer must stay as initialized."""
    X, y = synthetic
    T.seed_everything(0)
    ref_net = batchnorm_net(freeze_first_layer)
    book = bench.book_train(ref_net, *split(X, y), 4, 0.5, 0.0, 16)
    T.seed_everything(0)
    net = batchnorm_net(freeze_first_layer)
    history = T.train(net, *split(X, y), **CONFIG)
    np.testing.assert_allclose((history.train, history.valid), book, rtol=0, atol=TOL)
    ours, theirs = net.collect_params(), ref_net.collect_params()
    for (name, p), q in zip(ours.items(), theirs.values()):
        np.testing.assert_allclose(p.data().asnumpy(), q.data().asnumpy(), rtol=1e-4,
                                   atol=1e-4, err_msg=name)
    running_mean = net[1].running_mean.data().asnumpy()
    assert np.abs(running_mean).max() > 0  # updated from its initial zeros
    if freeze_first_layer:
        T.seed_everything(0)
        untouched = batchnorm_net(True)
        untouched(X[:1])
        np.testing.assert_array_equal(net[0].weight.data().asnumpy(),
                                      untouched[0].weight.data().asnumpy())


def test_train_accepts_a_block_that_cannot_be_hybridized(synthetic):
    class Imperative(gluon.Block):  # Python control flow: stays imperative
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(1)

        def forward(self, X):
            out = self.dense(X)
            return out if out.shape[0] > 0 else out * 0

    X, y = synthetic
    T.seed_everything(0)
    book = bench.book_train(bench.book_net(), *split(X, y), 3, 0.5, 0.0, 16)
    T.seed_everything(0)
    net = Imperative()
    net.initialize()
    history = T.train(net, *split(X, y), num_epochs=3, learning_rate=0.5, batch_size=16)
    np.testing.assert_allclose((history.train, history.valid), book, rtol=0, atol=TOL)


def test_metric_none_reports_the_mean_loss(synthetic):
    X, y = synthetic
    X_train, y_train, X_valid, y_valid = split(X, y)
    net = initialized_net()
    history = T.train(net, X_train, y_train, X_valid, y_valid, metric=None, **CONFIG)
    assert history.metric == "loss" and len(history.train) == 4
    expected = gluon.loss.L2Loss()(net(X_valid), y_valid).mean().asscalar()
    assert history.valid[-1] == pytest.approx(float(expected), rel=1e-6)
    assert history.train[0] > history.train[-1]  # the loss went down


def test_train_without_validation_and_with_numpy_inputs(synthetic):
    X, y = synthetic
    history = T.train(initialized_net(), X.asnumpy(), y.asnumpy(), **CONFIG)
    assert len(history.train) == 4 and history.valid == [] and history.final_valid is None


def test_train_moves_parameters_to_the_requested_context(synthetic):
    X, y = synthetic
    net = initialized_net()
    T.train(net, X, y, ctx=mx.cpu(1), **dict(CONFIG, num_epochs=1))
    assert all(p.list_ctx() == [mx.cpu(1)] for p in net.collect_params().values())


def test_several_devices_are_refused_in_one_line(synthetic):
    X, y = synthetic
    with pytest.raises(ValueError, match=r"^ctx names 2 devices \(cpu\(0\), cpu\(1\)\); "
                                         r"training here runs on one"):
        T.train(initialized_net(), X, y, ctx=[mx.cpu(0), mx.cpu(1)], **CONFIG)
    with pytest.raises(ValueError, match="names 2 devices"):
        T.k_fold(initialized_net, X, y, 3, ctx=[mx.cpu(0), mx.cpu(1)], **CONFIG)


# ------------------------------------------------------------------- all folds at once

def fold_by_fold(make_net, X, y, k, seed=0, **config):
    """Reference: each fold trained on its own with `train`, one after another."""
    T.seed_everything(seed)
    curves = []
    for i in range(k):
        h = T.train(make_net(), *T.get_k_fold_data(k, i, X, y), **config)
        curves.append((h.train, h.valid))
    return curves, np.random.get_state()[1]


def decay_spared_mlp():
    """An MLP whose biases have wd_mult 0 (house.spare_biases): bias and weight not fused."""
    net = bench.book_net(8)
    net.collect_params(".*bias").setattr("wd_mult", 0)
    return net


@pytest.mark.parametrize("make_net, optimizer, weight_decay, metric, batch_size", [
    (bench.book_net, "adam", 0.0, T.log_rmse, 16),           # the book's model
    (lambda: bench.book_net(8), "adam", 0.1, T.log_rmse, 16),  # the MLP, weight decay
    (decay_spared_mlp, "adam", 0.1, T.log_rmse, 16),         # biases spared from decay
    (lambda: bench.book_net(8), "sgd", 0.01, None, 16),      # SGD, the mean loss as metric
    (bench.book_net, "adam", 0.0, T.log_rmse, 200),          # one (smaller) batch per epoch
])
def test_k_fold_stacks_the_folds_with_the_curves_of_fold_by_fold(synthetic, make_net, optimizer,
                                                                weight_decay, metric,
                                                                batch_size):
    X, y = synthetic
    X, y = X[:149], y[:149]  # 4 folds of 37 rows (1 row unused): 111 training rows per fold
    lr = 1e-6 if optimizer == "sgd" else 0.5  # SGD on raw prices: tiny steps or it diverges
    config = dict(num_epochs=4, learning_rate=lr, batch_size=batch_size,
                  optimizer=optimizer, weight_decay=weight_decay, metric=metric)
    reference, rng_after = fold_by_fold(make_net, X, y, 4, **config)
    T.seed_everything(0)
    result = T.k_fold(make_net, X, y, 4, **config)
    assert result.stacked, result.why_not_stacked
    np.testing.assert_allclose([(h.train, h.valid) for h in result.folds], reference,
                               rtol=0 if metric else 1e-6, atol=TOL if metric else 0)
    np.testing.assert_array_equal(np.random.get_state()[1], rng_after)  # same draws used


def test_k_fold_writes_the_trained_weights_back_into_each_network(synthetic):
    X, y = synthetic
    nets = []

    def make_net():
        nets.append(bench.book_net(8))
        return nets[-1]

    T.seed_everything(0)
    result = T.k_fold(make_net, X, y, 3, **CONFIG)
    assert result.stacked and len(nets) == 3
    for net, (_, _, X_valid, y_valid), history in zip(nets, (T.get_k_fold_data(3, i, X, y)
                                                              for i in range(3)), result.folds):
        assert T.log_rmse(net(X_valid), y_valid) == pytest.approx(history.final_valid, abs=TOL)


def dropout_net():
    net = nn.Sequential()
    net.add(nn.Dense(8, activation="relu"), nn.Dropout(0.3), nn.Dense(1))
    net.initialize()
    return net


def test_k_fold_trains_what_cannot_be_stacked_fold_by_fold_and_says_why(synthetic):
    X, y = synthetic
    config = dict(CONFIG, num_epochs=2)
    reference, _ = fold_by_fold(dropout_net, X, y, 3, **config)
    T.seed_everything(0)
    result = T.k_fold(dropout_net, X, y, 3, **config)
    assert not result.stacked and "Dropout" in result.why_not_stacked
    np.testing.assert_array_equal([(h.train, h.valid) for h in result.folds], reference)


def test_k_fold_refuses_networks_that_differ_between_folds(synthetic):
    X, y = synthetic
    widths = iter([8, 4, 8])
    with pytest.raises(ValueError, match="for fold 2 but .* for fold 1; return the same"):
        T.k_fold(lambda: bench.book_net(next(widths)), X, y, 3, **CONFIG)


def test_explorer_redraws_when_a_slider_moves(synthetic):
    X, y = synthetic
    T.seed_everything(0)
    reference = ("book", T.k_fold(bench.book_net, X, y, 3, **CONFIG))
    made = []

    def make_net():  # counts the folds trained: each redraw re-runs k-fold
        made.append(bench.book_net())
        return made[-1]

    box = T.k_fold_explorer(make_net, X, y, reference=reference, k=3, num_epochs=10,
                            learning_rate=0.5, batch_size=16)
    assert set(box.controls) == {"learning_rate", "num_epochs", "weight_decay", "batch_size"}
    assert len(made) == 3
    box.controls["num_epochs"].value = 20
    assert len(made) == 6
    first = T.explorer_view(make_net, X, y, reference=reference, k=3, num_epochs=10,
                            learning_rate=0.5, weight_decay=0.0, batch_size=16)
    assert len(made) == 9
    box = T.k_fold_explorer(make_net, X, y, reference=reference, k=3, num_epochs=10,
                            learning_rate=0.5, batch_size=16, first_view=first)
    assert len(made) == 9  # the starting view given is shown, not trained again
    box.controls["batch_size"].value = 32
    assert len(made) == 12


def test_explorer_view_is_k_fold_from_the_seed_drawn_beside_the_reference(synthetic):
    """The static default view a notebook shows headless is the view the sliders start at."""
    from matplotlib import pyplot as plt
    X, y = synthetic
    settings = dict(num_epochs=6, learning_rate=0.5, weight_decay=0.0, batch_size=16)
    T.seed_everything(3)
    direct = T.k_fold(bench.book_net, X, y, 3, **settings)
    reference = ("book", direct)
    fig, result, seconds = T.explorer_view(bench.book_net, X, y, reference=reference, k=3,
                                           seed=3, **settings)
    try:
        assert [f.valid for f in result.folds] == [f.valid for f in direct.folds]
        assert seconds > 0
        assert [ax.get_title() for ax in fig.axes] == ["book", "lr 0.5, wd 0, batch 16"]
    finally:
        plt.close(fig)
    fig, error, _ = T.explorer_view(bench.book_net, X, y, reference=reference, k=3, seed=3,
                                    **{**settings, "learning_rate": 1e6, "optimizer": "sgd"})
    assert fig is None and isinstance(error, T.TrainingDiverged)


# -------------------------------------------------------------------------- divergence guard

def test_divergence_guard_names_the_epoch_and_suggests_a_lower_rate(synthetic):
    X, y = synthetic
    with pytest.raises(T.TrainingDiverged,
                       match=r"diverged in epoch \d+ of 50.*lower the learning rate "
                             r"\(now 1e\+06\), e\.g\. to 100000"):
        T.train(initialized_net(), X, y, num_epochs=50, learning_rate=1e6, batch_size=16,
                optimizer="sgd")


# -------------------------------------------------------------- the book's configuration

@pytest.fixture(scope="module")
def kaggle(house_dir):
    """(X, y) of the 1460 real training rows, preprocessed as the book does."""
    train_df, test_df = data.load_house_data(house_dir, download=False)
    X_df, X_test_df = data.preprocess(train_df, test_df)
    X, y, _ = data.to_ndarrays(X_df, train_df[data.LABEL], X_test_df)
    return X, y


BOOK = dict(learning_rate=5.0, weight_decay=0.0, batch_size=64, optimizer="adam")


def test_fast_k_fold_reproduces_the_book_loop_on_the_real_data(kaggle):
    """The book's configuration, cut to 3 epochs: every per-epoch score of every fold."""
    X, y = kaggle
    T.seed_everything(0)
    book = bench.book_k_fold(5, X, y, num_epochs=3, **BOOK)
    T.seed_everything(0)
    ours = bench.project_k_fold(5, X, y, num_epochs=3, **BOOK)
    assert bench.max_abs_difference(book, ours) <= TOL


def test_book_configuration_reproduces_the_books_k_fold_score(kaggle):
    """Dense(1), L2 loss, Adam lr 5, wd 0, batch 64, 5 folds x 100 epochs: the book reports a
    mean validation log RMSE of about 0.17."""
    X, y = kaggle
    T.seed_everything(0)
    result = T.k_fold(bench.book_net, X, y, k=5, num_epochs=100, **BOOK)
    assert 0.16 <= result.mean_valid <= 0.18, result.valid_scores
    assert result.mean_train < result.mean_valid + 0.02  # no gross overfitting either
