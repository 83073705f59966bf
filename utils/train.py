"""Training loops for the notebooks: one fast `train`, k-fold cross-validation, and the metric.

`train` gives the same numbers as the book's loop (DataLoader + `gluon.Trainer`), several times
faster, because readers re-run k-fold after every hyperparameter change. The speed comes from
three things (see `python -m utils.course.bench kfold`):

1. one `take` of a shuffled index per epoch into a fixed buffer, instead of a DataLoader that
   indexes and stacks every sample;
2. network + loss as one graph, bound once per batch position as an MXNet executor on its
   slice of that buffer: a step is `forward()` + `backward()` with no per-step graph work
   (autograd would re-derive the backward graph at every step);
3. the optimizer's update ops called directly (the fused multi-tensor op for SGD; for Adam
   the Trainer's own `adam_update`, bit-exact) instead of `Trainer.step`'s bookkeeping.

A network that cannot be hybridized (Python control flow) or a loss that is a plain function
keeps 1 and 3 and runs forward/backward imperatively under `autograd.record()`.

Exactness: batches come from `np.arange` + `np.random.shuffle` with numpy's global RNG, exactly
what the DataLoader's RandomSampler does; the last, smaller batch is kept and its gradient is
still divided by the configured batch size (the book calls `trainer.step(batch_size)`); Adam's
bias correction is folded into the learning rate as MXNet's optimizer does. With the same seed
the per-epoch curves match the book loop to ~1e-6.

`k_fold` goes further: the K fold models of a chain of Dense layers train together as one
stacked model (see `_StackedFolds`), the same curves again at a fraction of the dispatches.
Training runs on one device: the notebooks never use more, and the loops above assume one copy
of each parameter.
"""
import math
import numbers
import os
import random
import re
import time
import warnings
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn

# Binding an executor logs "Subgraph backend MKLDNN is activated" once per bind: noise in a
# notebook that binds two per k-fold fold. Read when the first executor is bound.
os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")

OPTIMIZERS = ("sgd", "adam")
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # MXNet's Adam defaults, used by the book
# MXNet's multi-tensor update ops take at most ~50 tensors (60 segfaults in 1.9.1): chunk below.
MAX_FUSED_TENSORS = 45


# A run "got worse" when its final training score is this many times its epoch-1 score, or
# this many times its best one. Measured on the house data (book's model, 5 folds x 100
# epochs): Adam lr 5-1000 and SGD lr 1e-3-3e-2 end at 0.04-0.73x their epoch-1 score and
# within 2.4x their best (a metric that is not the loss drifts up while the loss still
# falls: SGD lr 1e-3), so neither fires; Adam lr 1e6 (no NaN) ends up to 1.56x its epoch-1
# score and 5.4x its best.
WORSE_THAN_START = 1.25
WORSE_THAN_BEST = 4.0


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite after starting finite: the steps are too large."""


class TrainingGotWorse(UserWarning):
    """Training ended far worse than it started or than its best epoch (without NaN)."""


def seed_everything(seed):
    """Seed Python, numpy (batch order) and MXNet (initialization) so runs repeat exactly."""
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)




def _as_numpy(values):
    return values.asnumpy() if isinstance(values, nd.NDArray) else np.asarray(values)


def log_rmse(preds, labels):
    """Kaggle's house-price score: RMSE between log(prediction) and log(price).

    Predictions below 1 are clipped to 1 first (the log of a non-positive price is undefined,
    and such a prediction is just very wrong). Computed in float64 on the host.
    """
    p = _as_numpy(preds).astype(np.float64).ravel()
    y = _as_numpy(labels).astype(np.float64).ravel()
    if p.size != y.size:
        raise ValueError(f"log_rmse got {p.size} predictions for {y.size} labels; "
                         "pass the predictions of exactly the labelled rows")
    if y.size == 0:
        raise ValueError("log_rmse got no rows")
    bad = ~(np.isfinite(y) & (y > 0))
    if bad.any():
        raise ValueError(f"log_rmse needs finite positive labels (prices), but {int(bad.sum())} "
                         f"of {y.size} are not, e.g. {y[bad][:3].tolist()} at rows "
                         f"{np.flatnonzero(bad)[:5].tolist()}: fix or drop those rows")
    return float(np.sqrt(np.mean((np.log(np.maximum(p, 1.0)) - np.log(y)) ** 2)))


@dataclass
class History:
    """Per-epoch scores: `train[e]`, `valid[e]` (empty without validation data)."""
    metric: str
    train: list = field(default_factory=list)
    valid: list = field(default_factory=list)
    warning: str = None    # set when training ended far worse than it started (also warned)

    @property
    def final_train(self):
        return self.train[-1]

    @property
    def final_valid(self):
        return self.valid[-1] if self.valid else None


# ----------------------------------------------------------------------------- argument checks

def _num_rows(array, what):
    try:
        return len(array)
    except TypeError:
        raise TypeError(f"{what} must be an array with one row per example, "
                        f"got {type(array).__name__}") from None


def _check_pair(X, y, what):
    nx, ny = _num_rows(X, f"X_{what}"), _num_rows(y, f"y_{what}")
    if nx != ny:
        raise ValueError(f"X_{what} has {nx} rows but y_{what} has {ny}; "
                         "features and labels must describe the same examples")
    if nx == 0:
        raise ValueError(f"X_{what} has no rows")
    _check_same_index(X, y, f"X_{what}", f"y_{what}")
    return nx


def _check_same_index(X, y, x_name, y_name):
    """pandas features and labels whose indexes differ (one sorted, shuffled or filtered) would
    be paired by position, each house with another's price: refused, naming the first row."""
    x_index, y_index = getattr(X, "index", None), getattr(y, "index", None)
    if x_index is None or y_index is None or not hasattr(x_index, "equals"):
        return
    if not x_index.equals(y_index):
        first = next((i for i, (a, b) in enumerate(zip(x_index, y_index)) if a != b), 0)
        raise ValueError(f"{x_name} and {y_name} have different row labels (index) from row "
                         f"{first} on ({x_index[first]!r} vs {y_index[first]!r}), so rows "
                         f"would pair features with another example's label; align them "
                         f"({y_name} = {y_name}.loc[{x_name}.index]) or pass numpy arrays")


def _host_float32(array, what):
    """`array` as a float32 numpy array (what training computes in), or a TypeError naming it."""
    if isinstance(array, nd.NDArray):
        return array.astype("float32", copy=False).asnumpy()
    try:
        return np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must be numeric (an NDArray, numpy array or numeric "
                        f"DataFrame): {err}") from None


def _check_finite(array, what, values=None):
    """Refuse NaN/inf (also values too large for float32) before training, naming the rows.

    Without this, a NaN feature surfaces epochs later as "training diverged" and a NaN label
    as a puzzling metric error, both pointing at the learning rate instead of the data.
    """
    values = _host_float32(array, what) if values is None else values
    finite = np.isfinite(values)
    if finite.all():
        return
    kinds = [kind for kind, found in (("NaN values", np.isnan(values).any()),
                                      ("infinite values (or values beyond float32's 3.4e38)",
                                       np.isinf(values).any())) if found]
    bad_rows = np.flatnonzero(~finite.reshape(len(values), -1).all(axis=1))
    where = f"rows {bad_rows[:5].tolist()}" + (f" and {len(bad_rows) - 5} more"
                                                 if len(bad_rows) > 5 else "")
    if values.ndim == 2 and values.shape[1] > 1:
        bad_cols = np.flatnonzero(~finite.all(axis=0))
        names = (list(array.columns[bad_cols[:5]]) if hasattr(array, "columns")
                 else bad_cols[:5].tolist())
        where += f" (columns {names}{' ...' if len(bad_cols) > 5 else ''})"
    fix = ("fix or drop those rows: every label must be a finite number" if what[0] == "y"
           else "fill or drop them first (utils.data.preprocess fills missing values with 0)")
    raise ValueError(f"{what} has {' and '.join(kinds)} in {where}, counting rows "
                     f"from 0; {fix}")


def _per_row(shape):
    return int(np.prod(shape[1:], dtype=np.int64))


def _check_positive_int(value, name, hint):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}; {hint}")
    return int(value)


def _check_k(k, n):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2 (k folds, each validated once), got {k!r}")
    if k > n:
        raise ValueError(f"k={k} folds need at least k rows, but there are only {n}; "
                         f"use k <= {n}")
    return int(k)


# ------------------------------------------------------------------------------------ k-fold

def k_fold_indices(n, k, shuffle=False, seed=None):
    """[(train_idx, valid_idx)] for each of k folds, as the book cuts them.

    Fold j is rows j*fold_size ... (j+1)*fold_size - 1 with fold_size = n // k; the training
    part is the other folds in order. Like the book, the last n % k rows belong to no fold and
    are never used (0 rows for 1460 and k=5). shuffle=True permutes the rows first with its own
    RandomState(seed), leaving numpy's global RNG (the batch order) untouched.
    """
    n = _check_positive_int(n, "n", "pass the number of rows")
    k = _check_k(k, n)
    order = np.random.RandomState(seed).permutation(n) if shuffle else np.arange(n)
    size = n // k
    folds = [order[j * size:(j + 1) * size] for j in range(k)]
    return [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i])
            for i in range(k)]


def _take_rows(array, idx):
    if isinstance(array, nd.NDArray):
        return array.take(nd.array(idx, ctx=array.context, dtype="int64"))
    if hasattr(array, "iloc"):  # pandas
        return array.iloc[idx]
    return np.asarray(array)[idx]


def get_k_fold_data(k, i, X, y, shuffle=False, seed=None):
    """(X_train, y_train, X_valid, y_valid) for fold i of k (see `k_fold_indices`)."""
    n = _check_pair(X, y, "data")
    k = _check_k(k, n)
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < k:
        raise ValueError(f"fold index i must be in 0..{k - 1}, got {i!r}")
    train_idx, valid_idx = k_fold_indices(n, k, shuffle, seed)[i]
    return (_take_rows(X, train_idx), _take_rows(y, train_idx),
            _take_rows(X, valid_idx), _take_rows(y, valid_idx))


@dataclass
class KFoldResult:
    """One History per fold, the final-epoch scores per fold, and their means."""
    folds: list
    train_scores: list
    valid_scores: list
    stacked: bool = False        # True: all folds trained at once (see k_fold)
    why_not_stacked: str = None  # else the reason, e.g. "... Dropout ..."

    @property
    def mean_train(self):
        return float(np.mean(self.train_scores))

    @property
    def mean_valid(self):
        return float(np.mean(self.valid_scores))


def k_fold(make_net, X, y, k=5, *, shuffle=False, seed=None, **train_kwargs):
    """Train a fresh `make_net()` on each of k folds and validate on the held-out fold.

    `make_net()` must return an initialized network; `train_kwargs` go to `train`.
    A chain of Dense layers (ReLU or no activation) with the L2 loss, scored by log_rmse or the
    loss, trains all k folds at once (`_StackedFolds`), with the curves `train` gives fold by
    fold; anything else (Dropout, Python control flow, another loss or metric) trains the folds
    one after another with `train`. `KFoldResult.stacked` says which ran.
    NaN/inf in X or y is refused before any fold trains, with rows counted in X and y (not
    in a fold); folds that end far worse than they started (see `train`) are named in one
    warning.
    """
    n = _check_pair(X, y, "data")
    k = _check_k(k, n)
    _check_finite(X, "X")
    _check_finite(y, "y")
    splits = k_fold_indices(n, k, shuffle, seed)
    first = make_net()
    reason = _stack_reason(first, train_kwargs.get("loss"), train_kwargs.get("metric", log_rmse),
                           train_kwargs.get("ctx"))
    if reason is None:
        folds = _k_fold_stacked([first], make_net, X, y, splits, **train_kwargs)
    else:
        folds = []
        for i, (train_idx, valid_idx) in enumerate(splits):
            folds.append(_fit(first if i == 0 else make_net(),
                              _take_rows(X, train_idx), _take_rows(y, train_idx),
                              _take_rows(X, valid_idx), _take_rows(y, valid_idx), **train_kwargs))
    worse = [i + 1 for i, h in enumerate(folds) if h.warning]
    if worse:
        first_warning = folds[worse[0] - 1].warning
        warnings.warn(f"{len(worse)} of {k} folds ({', '.join(map(str, worse))}) got far "
                      f"worse while training; fold {worse[0]}: {first_warning}",
                      TrainingGotWorse, stacklevel=2)
    return KFoldResult(folds, [h.final_train for h in folds], [h.final_valid for h in folds],
                       stacked=reason is None, why_not_stacked=reason)


# ------------------------------------------------------------------- all folds at once

def _dense_chain(net):
    """The Dense layers of `net` in order when it is nothing but Dense layers (no activation or
    ReLU) that take 2-D input, else None: what `_StackedFolds` knows the gradient of."""
    layers = [net] if type(net) is nn.Dense else (
        list(net) if type(net) in (nn.Sequential, nn.HybridSequential) else None)
    if not layers or any(type(layer) is not nn.Dense or not layer._flatten for layer in layers):
        return None
    if any(layer.act is not None and layer.act._act_type != "relu" for layer in layers):
        return None
    return layers


def _plain_l2(loss):
    return loss is None or (type(loss) is gluon.loss.L2Loss and loss._batch_axis == 0
                            and loss._weight is not None)


def _stack_reason(net, loss, metric, ctx):
    """Why the folds of `net` cannot train stacked (None: they can)."""
    if ctx is not None and not isinstance(ctx, mx.Context):
        return "ctx is not one device"
    if _dense_chain(net) is None:
        return (f"{type(net).__name__} is not a chain of Dense layers (with ReLU or no "
                f"activation), e.g. it has Dropout or Python control flow")
    if not _plain_l2(loss):
        return "the loss is not gluon.loss.L2Loss"
    if metric not in (log_rmse, None):
        return "the metric is neither log_rmse nor None"
    if any(p.grad_req != "write" for p in net.collect_params().values()):
        return "some parameters are frozen (grad_req)"
    return None


class _StackedFolds:
    """The K fold models of one Dense chain as one model of (K, ...) tensors, trained together.

    Why: for the book's 330x1 model a step is microseconds of arithmetic and tens of
    microseconds of MXNet dispatch per operator, and K models trained one after another pay the
    dispatch K times. Stacked, layer l of fold k is `W[l][k]` (in_units x units, the Gluon
    weight transposed); a step is batched `linalg.gemm` over the K per-fold batches, the
    backward pass written out (ReLU, L2Loss) and one `adam_update`/`sgd_update` per tensor,
    whose elementwise arithmetic is each fold's own. The first layer's bias rides in its weight
    as one more row, against a column of ones in the data (when bias and weight share lr_mult
    and wd_mult), and the output layer computes prediction - label in one gemm: the book's
    model takes 3 operators per step for all K folds. Every fold has the same number of
    training rows ((k-1) * (n//k) with the book's cut), so batches stack without padding; the
    last, smaller batch of an epoch is its own (K, r, d) block, as the book's DataLoader keeps it.
    The data is on the device once: the folds' batches are gathered from it, and the epoch's
    predictions of all K models take one product over its rows (the folds share them), which
    reads the data once instead of K times.
    """

    def __init__(self, nets, X, y, train_rows, eval_rows, *, learning_rate, batch_size,
                 weight_decay, optimizer, loss):
        self.nets = nets
        chains = [_dense_chain(net) for net in nets]
        first = chains[0][0]
        self.fused = first.bias is not None and (first.bias.lr_mult, first.bias.wd_mult) == (
            first.weight.lr_mult, first.weight.wd_mult)
        self.relu = [layer.act is not None for layer in chains[0]]
        self.W, self.B, params = [], [], []
        for l, layer in enumerate(chains[0]):
            weights = [c[l].weight.data().T for c in chains]
            if l == 0 and self.fused:
                weights = [nd.concat(w, c[0].bias.data().reshape(1, -1), dim=0)
                           for w, c in zip(weights, chains)]
            self.W.append(nd.stack(*weights))
            params.append((self.W[-1], layer.weight))
            separate_bias = layer.bias is not None and not (l == 0 and self.fused)
            self.B.append(nd.stack(*[c[l].bias.data().reshape(1, -1) for c in chains])
                          if separate_bias else None)
            if separate_bias:
                params.append((self.B[-1], layer.bias))
        self.tensors = [t for t, _ in params]
        self.lrs = [learning_rate * p.lr_mult for _, p in params]
        self.wds = [weight_decay * p.wd_mult for _, p in params]
        self.states = [(nd.zeros_like(t), nd.zeros_like(t)) for t in self.tensors]
        self.optimizer, self.batch_size, self.rescale = optimizer, batch_size, 1.0 / batch_size
        self.scale = loss._weight / y.shape[-1]  # d loss / d prediction = scale * (p - y)
        if self.fused:
            X = nd.concat(X, nd.ones((X.shape[0], 1), ctx=X.context), dim=1)
        self.X, self.y = X, y  # (rows, d), (rows, m): every row once
        self.train_rows, self.eval_rows = train_rows, eval_rows  # (K, n), (K, n + n_valid)
        self.steps = 0
        k, n = train_rows.shape
        self.k = k
        self.full, self.rest = divmod(n, batch_size)
        self.shuffled_X = nd.zeros((k * n, X.shape[1]), ctx=X.context)
        self.shuffled_y = nd.zeros((k * n, y.shape[1]), ctx=X.context)
        cut = self.full * k * batch_size
        self.batches = []
        if self.full:  # (a batch larger than a fold's rows leaves only the smaller one)
            X_full = self.shuffled_X[:cut].reshape((self.full, k, batch_size, -1))
            y_full = self.shuffled_y[:cut].reshape((self.full, k, batch_size, -1))
            self.batches = [(X_full[s], y_full[s]) for s in range(self.full)]
        if self.rest:
            self.batches.append((self.shuffled_X[cut:].reshape((k, self.rest, -1)),
                                 self.shuffled_y[cut:].reshape((k, self.rest, -1))))

    def _outputs(self, X, y=None, first=0):
        """Every layer's output from layer `first` on; the last is prediction - y when y is
        given."""
        outs = [X]
        last = len(self.W) - 1
        for l, (W, B) in enumerate(zip(self.W, self.B)):
            if l < first:
                continue
            if l == last and y is not None and B is None:
                outs.append(nd.linalg.gemm(outs[-1], W, y, alpha=1.0, beta=-1.0))
                break
            z = nd.linalg.gemm2(outs[-1], W)
            if B is not None:
                z = nd.broadcast_add(z, B)
            if l == last and y is not None:
                z = z - y
            outs.append(nd.relu(z) if self.relu[l] else z)
        return outs

    def step(self, X, y):
        outs = self._outputs(X, y)
        delta = outs[-1] if self.scale == 1 else outs[-1] * self.scale
        grads = []
        for l in reversed(range(len(self.W))):
            if self.relu[l]:
                delta = delta * (outs[l + 1] > 0)
            if self.B[l] is not None:
                grads.append((self.B[l], delta.sum(axis=1, keepdims=True)))
            grads.append((self.W[l], nd.linalg.gemm2(outs[l], delta, transpose_a=True)))
            if l:
                delta = nd.linalg.gemm2(delta, self.W[l], transpose_b=True)
        grads = dict((id(t), g) for t, g in grads)
        self.steps += 1
        t = self.steps
        correction = math.sqrt(1. - BETA2 ** t) / (1. - BETA1 ** t)
        for w, (m, v), lr, wd in zip(self.tensors, self.states, self.lrs, self.wds):
            if self.optimizer == "sgd":
                nd.sgd_update(w, grads[id(w)], out=w, lr=lr, wd=wd, rescale_grad=self.rescale)
            else:
                nd.adam_update(w, grads[id(w)], m, v, out=w, lr=lr * correction, wd=wd,
                               beta1=BETA1, beta2=BETA2, epsilon=EPSILON,
                               rescale_grad=self.rescale)
        return outs[-1]

    def run_epoch(self, orders):
        """One epoch; orders[k] is fold k's shuffled row order. Returns the last batch's loss
        per fold (host float64)."""
        rows = np.take_along_axis(self.train_rows, orders, axis=1)
        cut = self.full * self.batch_size
        full = rows[:, :cut].reshape(self.k, self.full, self.batch_size)
        index = np.concatenate([full.transpose(1, 0, 2).ravel(), rows[:, cut:].ravel()])
        index = nd.array(index, ctx=self.X.context, dtype="int64")
        nd.take(self.X, index, out=self.shuffled_X)
        nd.take(self.y, index, out=self.shuffled_y)
        for X, y in self.batches:
            residual = self.step(X, y)
        residual = residual.asnumpy().astype(np.float64)
        return self.scale / 2 * (residual ** 2).reshape(self.k, -1).sum(axis=1)

    def predict(self):
        """(K, n_train + n_valid, m) predictions of every fold's model, on the host: the first
        layer of all K models is one product over the data's rows."""
        W = self.W[0]
        k, d, units = W.shape
        rows = self.X.shape[0]
        Z = nd.linalg.gemm2(self.X, nd.transpose(W, axes=(1, 0, 2)).reshape((d, k * units)))
        Z = nd.transpose(Z.reshape((rows, k, units)), axes=(1, 0, 2))  # (K, rows, units)
        if self.B[0] is not None:
            Z = nd.broadcast_add(Z, self.B[0])
        if self.relu[0]:
            Z = nd.relu(Z)
        P = self._outputs(Z, first=1)[-1].asnumpy()
        return np.take_along_axis(P, self.eval_rows[:, :, None], axis=1)

    def write_back(self):
        """Each fold's trained weights into its own Gluon network."""
        for k, net in enumerate(self.nets):
            for l, layer in enumerate(_dense_chain(net)):
                W = self.W[l][k]
                if l == 0 and self.fused:
                    layer.bias.set_data(W[-1])
                    W = W[:-1]
                layer.weight.set_data(W.T)
                if self.B[l] is not None:
                    layer.bias.set_data(self.B[l][k].reshape(-1))


def _fold_scores(P, Y, metric, loss_weight):
    """Per-fold scores of predictions P (K, rows, m) against labels Y (float64), as `_fit`
    scores one fold: log_rmse (clip at 1, float64 on the host) or the mean L2 loss."""
    P = P.astype(np.float64).reshape(len(P), -1)
    Y = Y.reshape(len(Y), -1)
    if metric is None:
        return loss_weight / 2 * np.mean((P - Y) ** 2, axis=1)
    return np.sqrt(np.mean((np.log(np.maximum(P, 1.0)) - np.log(Y)) ** 2, axis=1))


def _k_fold_stacked(nets, make_net, X, y, splits, *, num_epochs, learning_rate, batch_size,
                    weight_decay=0.0, optimizer="adam", loss=None, metric=log_rmse, ctx=None):
    """k_fold for a Dense chain: every fold's curves as its own `train` run would give them.

    The random draws are those of the fold-after-fold loop: each fold's network is made and
    initialized in fold order (MXNet's RNG), and fold i's epoch shuffles continue numpy's
    global RNG where fold i-1's last shuffle left it (replayed from saved states, so the
    global RNG ends where the fold-after-fold loop leaves it).
    """
    optimizer = _check_hyperparameters(num_epochs, learning_rate, batch_size, weight_decay,
                                       optimizer)
    loss_block = gluon.loss.L2Loss() if loss is None else loss
    X_host = _host_float32(X, "X")
    y_host = _host_float32(y, "y").reshape(len(X_host), -1)
    states, train_rows, eval_rows, labels_train, labels_valid = [], [], [], [], []
    shapes = None
    for i, (train_idx, valid_idx) in enumerate(splits):
        if i == len(nets):
            nets.append(make_net())
            reason = _stack_reason(nets[i], loss, metric, ctx)
            if reason:
                raise ValueError(f"make_net() returned a different kind of network for fold "
                                 f"{i + 1} than for fold 1 ({reason}); return the same "
                                 f"architecture every time")
        _, device = _parameters_device(nets[i], ctx)
        train_rows.append(train_idx)
        eval_rows.append(np.concatenate([train_idx, valid_idx]))
        labels_train.append(y_host[train_idx])
        labels_valid.append(y_host[valid_idx])
        X_first = nd.array(X_host[train_idx[:batch_size]], ctx=device)
        y_first = nd.array(y_host[train_idx[:batch_size]], ctx=device)
        _preflight(nets[i], nets[i], loss_block, X_first, y_first, batch_size)
        fold_shapes = [p.shape for p in nets[i].collect_params().values()]
        if shapes not in (None, fold_shapes):
            raise ValueError(f"make_net() returned parameters of shapes {fold_shapes} for fold "
                             f"{i + 1} but {shapes} for fold 1; return the same architecture")
        shapes = fold_shapes
        if metric is log_rmse:  # bad labels: the same error as the first epoch's score gives
            log_rmse(labels_train[i], labels_train[i])
            log_rmse(labels_valid[i], labels_valid[i])
        states.append(np.random.get_state())
        order = np.arange(len(train_idx))
        for _ in range(num_epochs):  # advance numpy's RNG past this fold's epochs
            np.random.shuffle(order)
    model = _StackedFolds(nets, nd.array(X_host, ctx=device), nd.array(y_host, ctx=device),
                          np.stack(train_rows), np.stack(eval_rows),
                          learning_rate=learning_rate, batch_size=batch_size,
                          weight_decay=weight_decay, optimizer=optimizer, loss=loss_block)
    shufflers = []
    for state in states:
        shufflers.append(np.random.RandomState())
        shufflers[-1].set_state(state)
    labels_train = np.stack(labels_train).astype(np.float64)
    labels_valid = np.stack(labels_valid).astype(np.float64)
    n_train = labels_train.shape[1]
    name = "loss" if metric is None else getattr(metric, "__name__", "metric")
    histories = [History(metric=name) for _ in nets]
    orders = np.empty((len(nets), n_train), dtype=np.int64)
    for epoch in range(1, num_epochs + 1):
        for k, shuffler in enumerate(shufflers):
            orders[k] = np.arange(n_train)
            shuffler.shuffle(orders[k])
        last_losses = model.run_epoch(orders)
        preds = model.predict()
        train_scores = _fold_scores(preds[:, :n_train], labels_train, metric, loss_block._weight)
        valid_scores = _fold_scores(preds[:, n_train:], labels_valid, metric, loss_block._weight)
        for k, history in enumerate(histories):
            history.train.append(float(train_scores[k]))
            history.valid.append(float(valid_scores[k]))
            try:
                _check_epoch(epoch, num_epochs, float(last_losses[k]), history, learning_rate)
            except TrainingDiverged as err:
                raise TrainingDiverged(f"fold {k + 1} of {len(nets)}: {err}") from None
    model.write_back()
    for history in histories:
        history.warning = _got_worse(history, num_epochs, learning_rate)
    return histories


# ------------------------------------------------------------------------------- optimizers



def _chunks(items):
    for start in range(0, len(items), MAX_FUSED_TENSORS):
        yield items[start:start + MAX_FUSED_TENSORS]


class _FusedUpdater:
    """Trainer.step's arithmetic for one device, without its per-step Python bookkeeping.

    SGD: `multi_sgd_update`, the fused op Trainer's SGD uses too. Adam: `adam_update` per
    parameter, the op Trainer's Adam calls, with the same arguments, so the weights match the
    book's bit for bit. (The fused `multi_adamw_update` with eta=1, wd=0 computes the same
    formula, but its float rounding differs by ~1e-7; a BatchNorm network at a large learning
    rate amplified that to 2e-4 in 4 epochs, and it saved only ~10% here.)
    """

    def __init__(self, params, optimizer, learning_rate, weight_decay, batch_size):
        self.params = [p for p in params if p.grad_req != "null"]
        self.optimizer = optimizer
        self.lrs = [learning_rate * p.lr_mult for p in self.params]
        self.wds = [weight_decay * p.wd_mult for p in self.params]
        self.rescale = 1.0 / batch_size  # the configured size, also for the last small batch
        self.steps = 0
        self.groups = None  # bound on the first step, after deferred initialization

    def _bind(self):
        groups = []
        for chunk in _chunks(list(range(len(self.params)))):
            weights = [self.params[i].data() for i in chunk]
            group = {"weights": weights, "grads": [self.params[i].grad() for i in chunk],
                     "lrs": [self.lrs[i] for i in chunk], "wds": [self.wds[i] for i in chunk]}
            if self.optimizer == "sgd":
                group["arrays"] = _interleave(group["weights"], group["grads"])
            else:
                group["means"] = [nd.zeros_like(w) for w in weights]
                group["vars"] = [nd.zeros_like(w) for w in weights]
            groups.append(group)
        self.groups = groups

    def step(self):
        if not self.params:  # everything frozen: nothing to update
            return
        if self.groups is None:
            self._bind()
        self.steps += 1
        t = self.steps
        correction = math.sqrt(1. - BETA2 ** t) / (1. - BETA1 ** t)  # Adam's bias correction
        for g in self.groups:
            n = len(g["weights"])
            if self.optimizer == "sgd":
                nd.multi_sgd_update(*g["arrays"], out=g["weights"],
                                    num_weights=n, lrs=g["lrs"], wds=g["wds"],
                                    rescale_grad=self.rescale)
            else:  # adam: w -= lr_t * m / (sqrt(v) + eps), wd in the grad
                for w, grad, m, v, lr, wd in zip(g["weights"], g["grads"], g["means"],
                                                 g["vars"], g["lrs"], g["wds"]):
                    nd.adam_update(w, grad, m, v, out=w, lr=lr * correction, wd=wd,
                                   beta1=BETA1, beta2=BETA2, epsilon=EPSILON,
                                   rescale_grad=self.rescale)


def _interleave(*lists):
    return [a for group in zip(*lists) for a in group]


# ------------------------------------------------------------------------- training step

class _NetWithLoss(gluon.HybridBlock):
    """Network + loss summed over the batch: the graph each training step runs.

    The gradient of the sum is the gradient `loss(...).backward()` computes (its head
    gradient is ones), so the book's `trainer.step(batch_size)` scaling still applies.
    """

    def __init__(self, net, loss):
        super().__init__(prefix="train_")
        self.net, self.loss = net, loss

    def hybrid_forward(self, F, X, y):
        return self.loss(self.net(X), y).sum()


def _hybrid_view(net):
    """`net` as a HybridBlock if it can be compiled, else None.

    The book builds `nn.Sequential` (not hybridizable) of hybridizable layers: the same layers
    in a HybridSequential compute the same thing and share the parameters.
    """
    if isinstance(net, gluon.HybridBlock):
        return net
    if type(net) is nn.Sequential and all(isinstance(c, gluon.HybridBlock) for c in net):
        view = nn.HybridSequential(prefix=net.prefix)
        for child in net:
            view.add(child)
        return view
    return None


class _BoundEpoch:
    """An epoch's forward/backward steps as bound MXNet executors, one per batch position.

    Why not `autograd.record()` + `backward()`: autograd re-derives and plans the gradient graph
    on every call, most of a step's time for a small model; an executor plans it once, when
    bound. Each executor reads its batch from a fixed slice of one shuffled copy of the data,
    refilled by one `take` per epoch, so a step is just `forward()` + `backward()`. The
    executors use the Parameters' own data and gradient arrays, so Gluon sees every update.
    Binding costs about a millisecond per batch position, once per `train` call.
    """
    INPUTS = ("_batch_X", "_batch_y")

    def __init__(self, model, X, y, batch_size):
        self.X, self.y = nd.zeros_like(X), nd.zeros_like(y)
        symbol = mx.sym.make_loss(model(*map(mx.sym.var, self.INPUTS)))
        params = {p.name: p for p in model.collect_params().values()}
        args, grads, grad_req = {}, {}, dict.fromkeys(self.INPUTS, "null")
        for name in symbol.list_arguments():
            if name in self.INPUTS:
                continue
            args[name], grad_req[name] = params[name].data(), params[name].grad_req
            if params[name].grad_req != "null":
                grads[name] = params[name].grad()
        aux = {name: params[name].data() for name in symbol.list_auxiliary_states()}
        self.executors = []
        for start in range(0, len(X), batch_size):
            batch = dict(zip(self.INPUTS, (self.X[start:start + batch_size],
                                           self.y[start:start + batch_size])))
            self.executors.append(symbol.bind(
                X.context, dict(args, **batch), args_grad=grads, grad_req=grad_req,
                aux_states=aux, shared_exec=self.executors[0] if self.executors else None))

    def shuffle(self, X, y, index):
        nd.take(X, index, out=self.X)
        nd.take(y, index, out=self.y)


class _OneDeviceLoop:
    """The fast path: one shuffled `take` per epoch, bound executors, direct optimizer ops."""

    def __init__(self, net, loss, updater, batch_size):
        view = _hybrid_view(net)
        self.compiled = view is not None and isinstance(loss, gluon.HybridBlock)
        if self.compiled:
            self.net = view
            self.net.hybridize(static_alloc=True)  # compiled per-epoch predictions
            self.model = _NetWithLoss(view, loss)
            self.epoch = None  # bound once the first forward has initialized the parameters
        else:  # a Block with Python control flow, or a plain-function loss: run imperatively
            self.net = net
            self.model = lambda X, y: loss(net(X), y).sum()
        self.updater, self.batch_size = updater, batch_size

    def run_epoch(self, X, y, order):
        index = nd.array(order, ctx=X.context, dtype="int64")
        if not self.compiled:
            return self._run_imperative(X.take(index), y.take(index))
        if self.epoch is None:
            self.net(X[:self.batch_size])  # deferred initialization, as the book's 1st batch
            self.epoch = _BoundEpoch(self.model, X, y, self.batch_size)
        self.epoch.shuffle(X, y, index)
        for executor in self.epoch.executors:
            executor.forward(is_train=True)
            executor.backward()
            self.updater.step()
        return executor.outputs[0]

    def _run_imperative(self, X, y):
        for start in range(0, len(X), self.batch_size):
            with autograd.record():
                last = self.model(X[start:start + self.batch_size],
                                  y[start:start + self.batch_size])
            last.backward()
            self.updater.step()
        return last




# ------------------------------------------------------------------------------ train()

def _parameters_device(net, ctx=None):
    """The parameters of `net` and the one device they train on (moved to `ctx` if given)."""
    params = list(net.collect_params().values())
    if not params:
        raise ValueError("net has no parameters to train")
    try:
        contexts = params[0].list_ctx()
    except RuntimeError:
        raise ValueError("net is not initialized: call net.initialize() before "
                         "train()") from None
    if ctx is not None:
        wanted = _one_device(list(ctx) if isinstance(ctx, (list, tuple)) else [ctx], "ctx")
        if [wanted] != contexts:
            net.collect_params().reset_ctx(wanted)
        return params, wanted
    return params, _one_device(contexts, "the network's parameters live on a list that")


def _check_hyperparameters(num_epochs, learning_rate, batch_size, weight_decay, optimizer):
    _check_positive_int(num_epochs, "num_epochs", "train for at least one epoch")
    _check_positive_int(batch_size, "batch_size", "e.g. batch_size=64")
    if not (isinstance(learning_rate, numbers.Real) and math.isfinite(learning_rate)
            and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if not (isinstance(weight_decay, numbers.Real) and math.isfinite(weight_decay)
            and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    name = str(optimizer).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
    return name




def _one_device(contexts, what):
    """The one MXNet device to train on. Several devices are refused: the bound executors and
    fused updates keep one copy of each parameter (and no notebook here has two devices)."""
    if not contexts:
        raise ValueError(f"{what} is empty; pass a device, e.g. ctx=mx.cpu()")
    strange = [c for c in contexts if not isinstance(c, mx.Context)]
    if strange:
        raise ValueError(f"{what} holds {strange[0]!r}, not an MXNet device; pass mx.cpu() or "
                         f"mx.gpu(i)")
    if len(contexts) > 1:
        raise ValueError(f"{what} names {len(contexts)} devices "
                         f"({', '.join(map(str, contexts))}); training here runs on one: pass "
                         f"ctx=mx.cpu() or ctx=mx.gpu(0) (or initialize the network on one)")
    return contexts[0]

def _to_device(array, ctx, what):
    """`array` on `ctx` as training uses it, refused first if it holds NaN or inf."""
    values = _host_float32(array, what)
    _check_finite(array, what, values)
    if isinstance(array, nd.NDArray):
        return array.as_in_context(ctx)
    return nd.array(values, ctx=ctx)


def _check_shapes(X_train, y_train, X_valid, y_valid):
    if X_valid is not None and X_valid.shape[1:] != X_train.shape[1:]:
        raise ValueError(f"X_valid has shape {X_valid.shape} but X_train has {X_train.shape}; "
                         "validation rows need the training rows' columns (build both with "
                         "one preprocess() call)")
    if y_valid is not None and _per_row(y_valid.shape) != _per_row(y_train.shape):
        raise ValueError(f"y_valid has shape {y_valid.shape} but y_train has {y_train.shape}; "
                         "give both the same number of label columns")


def _first_dense(block):
    """The first layer of `block` if it is a Dense, else None (to explain a feature mismatch)."""
    while block._children:
        block = next(iter(block._children.values()))
    return block if isinstance(block, nn.Dense) else None


def _mxnet_reason(err):
    """The informative first line of an MXNetError, without its timestamp and C++ location."""
    line = next((l for l in str(err).splitlines() if l.strip()), "").strip()
    return re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", line).replace("MXNetError: ", "")


def _features_error(net, X, what, err):
    layer = _first_dense(net)
    expected = layer.weight.shape[1] if layer is not None else 0
    if expected and X.ndim == 2 and X.shape[1] != expected:
        return ValueError(
            f"X_{what} has {X.shape[1]} features (shape {X.shape}) but the network's first "
            f"layer {layer.name} takes {expected} (its weight has shape {layer.weight.shape}); "
            f"pass {expected} feature columns, or build a new network without in_units so "
            f"it takes its input size from the data")
    return ValueError(f"the network cannot take X_{what} of shape {X.shape}: "
                      f"{_mxnet_reason(err)}; check the features' shape against the network")


def _labels_error(y, preds, what, detail):
    output = (y.shape[0],) + preds.shape[1:]
    return ValueError(
        f"y_{what} has shape {y.shape} but the network predicts shape {preds.shape[1:]} per row "
        f"(output {output}): {detail}; give y_{what} one column per network output, "
        f"e.g. shape {(y.shape[0], _per_row(preds.shape))}")


def _not_finite_at_start(net, X, y, value, what):
    """The loss of the untrained network is NaN/inf: say why; this is not divergence."""
    for name, param in net.collect_params().items():
        try:
            finite = all(np.isfinite(d.asnumpy()).all() for d in param.list_data())
        except RuntimeError:  # not initialized (cannot happen after a forward); skip it
            continue
        if not finite:
            return ValueError(f"the untrained network already gives loss {value} on X_{what} "
                              f"because parameter {name} holds NaN or inf; re-initialize it "
                              f"(net.initialize(force_reinit=True)) before train()")
    return ValueError(
        f"the loss is already {value} before the first step (not a divergence): the largest "
        f"|feature| in X_{what} is {float(nd.abs(X).max().asscalar()):.3g} and the largest "
        f"|label| in y_{what} is {float(nd.abs(y).max().asscalar()):.3g}; scale them (e.g. "
        f"standardize features, train on log prices) or check the loss function")


def _preflight(net, predict, loss, X, y, batch_size):
    """Run the untrained network on the first batch: explain bad shapes, check a finite start.

    Shape mistakes otherwise surface as raw MXNetErrors deep inside the loop, and a loss that
    is NaN from the start would be reported as divergence. One forward pass of one batch, the
    shape the loop runs first (so nothing is planned twice); deferred initialization happens
    here with the same random draws. The validation data needs no pass: _check_shapes holds
    it to the training data's columns.
    """
    X_first, y_first = X[:batch_size], y[:batch_size]
    try:
        preds = predict(X_first)
    except (mx.MXNetError, ValueError) as err:
        raise _features_error(net, X, "train", err) from None
    try:
        losses = loss(preds, y_first)
    except (mx.MXNetError, ValueError) as err:
        raise _labels_error(y, preds, "train", _mxnet_reason(err)) from None
    if losses.size > max(preds.size, y_first.size):  # e.g. (n, 1) - (n,) broadcast to (n, n)
        raise _labels_error(y, preds, "train", f"on a batch of {len(X_first)} rows the loss "
                            f"broadcast predictions {preds.shape} and labels {y_first.shape} "
                            f"to {losses.shape}")
    start = float(losses.sum().asscalar())
    if not math.isfinite(start):
        raise _not_finite_at_start(net, X_first, y_first, start, "train")


def _got_worse(history, num_epochs, learning_rate):
    """The warning text when the training score ended far worse than it started, else None."""
    scores = history.train
    first, final, best = scores[0], scores[-1], min(scores)
    if final > WORSE_THAN_START * first:
        than = "it started"
        compared = f"{final / first:.1f}x its value after epoch 1 ({first:.4g})"
    elif final > WORSE_THAN_BEST * best:
        than = "its best epoch"
        compared = f"{final / best:.1f}x its best ({best:.4g}, epoch {scores.index(best) + 1})"
    else:
        return None
    return (f"training ended far worse than {than}: train {history.metric} {final:.4g} after "
            f"epoch {num_epochs} is {compared}; the steps are too large to settle: lower the "
            f"learning rate (now {learning_rate:g}), e.g. to {learning_rate / 10:g}")


def train(net, X_train, y_train, X_valid=None, y_valid=None, *, num_epochs, learning_rate,
          batch_size, weight_decay=0.0, optimizer="adam", loss=None, metric=log_rmse,
          ctx=None):
    """Train an initialized Gluon `net` with mini-batch `optimizer`; return per-epoch scores.

    Each epoch shuffles the rows (numpy's global RNG, as the book's DataLoader), steps once
    per batch of `batch_size` (the last batch may be smaller), then scores `metric(preds,
    labels)` on the training and the validation data (metric=None: the mean loss).
    ctx=None trains where the parameters live; ctx=device moves them there first.

    Before the first step: NaN/inf in the data and shapes the network cannot take are refused
    (ValueError naming the array, rows or both shapes), and so is a loss that is not finite
    on the untrained network. Raises TrainingDiverged when the loss becomes NaN or infinite
    later; warns TrainingGotWorse (and sets `History.warning`) when the final training score
    is far worse than after epoch 1 or than its best. Side effect: a network of hybridizable
    layers is left hybridized (compiled); what it computes does not change.
    """
    history = _fit(net, X_train, y_train, X_valid, y_valid, num_epochs=num_epochs,
                   learning_rate=learning_rate, batch_size=batch_size,
                   weight_decay=weight_decay, optimizer=optimizer, loss=loss, metric=metric,
                   ctx=ctx)
    if history.warning:
        warnings.warn(history.warning, TrainingGotWorse, stacklevel=2)
    return history


def _fit(net, X_train, y_train, X_valid=None, y_valid=None, *, num_epochs, learning_rate,
         batch_size, weight_decay=0.0, optimizer="adam", loss=None, metric=log_rmse,
         ctx=None):
    """`train` without the warning (k_fold warns once for all folds)."""
    n = _check_pair(X_train, y_train, "train")
    if (X_valid is None) != (y_valid is None):
        raise ValueError("pass both X_valid and y_valid, or neither")
    if X_valid is not None:
        _check_pair(X_valid, y_valid, "valid")
    optimizer = _check_hyperparameters(num_epochs, learning_rate, batch_size, weight_decay,
                                       optimizer)
    loss = gluon.loss.L2Loss() if loss is None else loss
    params, device = _parameters_device(net, ctx)
    X_train = _to_device(X_train, device, "X_train")
    y_train = _to_device(y_train, device, "y_train")
    if X_valid is not None:
        X_valid = _to_device(X_valid, device, "X_valid")
        y_valid = _to_device(y_valid, device, "y_valid")
    _check_shapes(X_train, y_train, X_valid, y_valid)

    updater = _FusedUpdater(params, optimizer, learning_rate, weight_decay, batch_size)
    loop = _OneDeviceLoop(net, loss, updater, batch_size)
    predict = loop.net
    _preflight(net, predict, loss, X_train, y_train, batch_size)

    def score(X, y):
        preds = predict(X)
        return loss(preds, y).mean().asscalar() if metric is None else metric(preds, y)

    metric_name = "loss" if metric is None else getattr(metric, "__name__", "metric")
    history = History(metric=metric_name)
    for epoch in range(1, num_epochs + 1):
        order = np.arange(n)
        np.random.shuffle(order)  # what DataLoader(shuffle=True)'s RandomSampler does
        last_loss = loop.run_epoch(X_train, y_train, order).asscalar()
        history.train.append(float(score(X_train, y_train)))
        if X_valid is not None:
            history.valid.append(float(score(X_valid, y_valid)))
        _check_epoch(epoch, num_epochs, last_loss, history, learning_rate)
    history.warning = _got_worse(history, num_epochs, learning_rate)
    return history


def _check_epoch(epoch, num_epochs, last_loss, history, learning_rate):
    """Stop at the first non-finite loss or score; the start was finite (see _preflight)."""
    scores = [history.train[-1]] + history.valid[-1:]
    if math.isfinite(last_loss) and all(math.isfinite(s) for s in scores):
        return
    if math.isfinite(last_loss):  # the last batch's loss is fine, the scores are not
        raise TrainingDiverged(
            f"training diverged in epoch {epoch} of {num_epochs}: {history.metric} became "
            f"{', '.join(map(str, scores))} (train{', valid' if history.valid else ''}) "
            f"although the last batch's loss was {last_loss:.4g}: some predictions "
            f"overflow. Lower the learning rate (now {learning_rate:g}), e.g. to "
            f"{learning_rate / 10:g}, or check the metric.")
    raise TrainingDiverged(
        f"training diverged in epoch {epoch} of {num_epochs}: the loss became {last_loss} "
        f"(train {history.metric} {history.train[-1]}) after starting finite. The step is too "
        f"large: lower the learning rate (now {learning_rate:g}), e.g. to "
        f"{learning_rate / 10:g}.")


# ------------------------------------------------------------------------- k-fold explorer

EXPLORER_DECAYS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
EXPLORER_BATCHES = (16, 32, 64, 128, 256, 512)


def plot_k_fold_curves(views, metric="log rmse"):
    """One panel per (title, KFoldResult): every fold's train (solid) and validation (dashed)
    curve, thin, and their means, thick, on log axes shared by all panels."""
    from matplotlib import pyplot as plt
    from matplotlib import ticker

    fig, axes = plt.subplots(1, len(views), figsize=(3.4 * len(views), 2.8), sharey=True,
                             squeeze=False)
    for ax, (title, result) in zip(axes[0], views):
        epochs = np.arange(1, len(result.folds[0].train) + 1)
        for part, style, color in (("train", "-", "C0"), ("valid", "--", "C1")):
            curves = np.array([getattr(fold, part) for fold in result.folds])
            ax.plot(epochs, curves.T, style, color=color, lw=0.6, alpha=0.45)
            ax.plot(epochs, curves.mean(axis=0), style, color=color, lw=1.8,
                    label=f"{part} (mean {curves[:, -1].mean():.4f})")
        ax.set(title=title, xlabel="epoch", xscale="log", yscale="log")
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))  # 0.1, 0.2, 0.5, 1, ...
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    axes[0][0].set_ylabel(f"{metric}, each fold and mean")
    fig.tight_layout()
    return fig


def explorer_view(make_net, X, y, *, reference, k=5, seed=0, **settings):
    """One view of the k-fold explorer: k-fold from `seed` at `settings` (learning_rate,
    num_epochs, weight_decay, batch_size), drawn beside `reference`, a (title, KFoldResult)
    pair. Returns (figure, result, seconds); on divergence (None, the TrainingDiverged, seconds).
    The explorer draws each change with it; a notebook draws its static default view with it."""
    seed_everything(seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingGotWorse)  # the curves show it
        try:
            result = k_fold(make_net, X, y, k, **settings)
        except TrainingDiverged as err:
            return None, err, time.perf_counter() - started
    seconds = time.perf_counter() - started
    title = (f"lr {settings['learning_rate']:.3g}, wd {settings['weight_decay']:g}, "
             f"batch {settings['batch_size']}")
    return plot_k_fold_curves([reference, (title, result)]), result, seconds


def k_fold_explorer(make_net, X, y, *, reference, k=5, num_epochs=100, learning_rate=5.0,
                    weight_decay=0.0, batch_size=64, seed=0, max_epochs=400,
                    static_display=None, first_view=None):
    """Sliders for learning rate, epochs, weight decay and batch size, redrawing the k-fold
    curves of the chosen settings beside `reference` (a (title, KFoldResult) pair, e.g. the
    book's settings).

    Each change re-runs `k_fold` from `seed` (all folds at once: a fraction of a second for
    the book's model at 100 epochs) and replaces the figure in an Output widget.
    `static_display` is the DisplayHandle of a static copy of the default view shown above for
    headless runs (drawn with `explorer_view`); once a live frontend shows the widget, that
    copy is blanked. `first_view`, that `explorer_view` result, is shown as the starting view
    instead of training the same folds again.
    """
    import ipywidgets as widgets
    from IPython.display import display
    from matplotlib import pyplot as plt

    from utils.plot import controls_box

    look = dict(style={"description_width": "initial"}, layout={"width": "330px"},
                continuous_update=False)
    controls = {
        "learning_rate": widgets.FloatLogSlider(value=learning_rate, base=10, min=-3, max=2,
                                                step=0.25, description="learning rate", **look),
        "num_epochs": widgets.IntSlider(value=num_epochs, min=10, max=max(max_epochs, num_epochs),
                                        step=10, description="epochs", **look),
        "weight_decay": widgets.SelectionSlider(
            options=sorted(set(EXPLORER_DECAYS) | {weight_decay}), value=weight_decay,
            description="weight decay", **look),
        "batch_size": widgets.SelectionSlider(
            options=sorted(set(EXPLORER_BATCHES) | {batch_size}), value=batch_size,
            description="batch size", **look),
    }
    out = widgets.Output()

    unused = [first_view] if first_view is not None else []

    def redraw(_change=None):
        settings = {name: c.value for name, c in controls.items()}
        fig, result, seconds = unused.pop() if unused else explorer_view(
            make_net, X, y, reference=reference, k=k, seed=seed, **settings)
        with out:
            out.clear_output(wait=True)
            if fig is None:
                print(f"{result}")
                return
            display(fig)
            plt.close(fig)  # shown once, inside the Output widget
            print(f"{k}-fold mean valid log rmse {result.mean_valid:.4f} "
                  f"(trained in {seconds:.2f} s)")

    return controls_box(controls, out, redraw, static_display, what="sliders")
