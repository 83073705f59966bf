"""Training loops for the notebooks: one fast `train`, k-fold cross-validation, and the metric.

`train` gives the same numbers as the book's loop (DataLoader + `gluon.Trainer`), several times
faster, because readers re-run k-fold after every hyperparameter change. The speed comes from
three things (see `python -m utils.course.bench kfold`):

1. one `take` of a shuffled index per epoch into a fixed buffer, instead of a DataLoader that
   indexes and stacks every sample;
2. network + loss as one graph, bound once per batch position as an MXNet executor on its
   slice of that buffer: a step is `forward()` + `backward()` with no per-step graph work
   (autograd would re-derive the backward graph at every step);
3. the optimizer's update ops called directly (fused multi-tensor ops for SGD and AdamW; for
   Adam the Trainer's own `adam_update`, bit-exact) instead of `Trainer.step`'s bookkeeping.

A network that cannot be hybridized (Python control flow) or a loss that is a plain function
keeps 1 and 3 and runs forward/backward imperatively under `autograd.record()`.

Exactness: batches come from `np.arange` + `np.random.shuffle` with numpy's global RNG, exactly
what the DataLoader's RandomSampler does; the last, smaller batch is kept and its gradient is
still divided by the configured batch size (the book calls `trainer.step(batch_size)`); Adam's
bias correction is folded into the learning rate as MXNet's optimizer does. With the same seed
the per-epoch curves match the book loop to ~1e-6.

A list of several contexts trains data-parallel with `split_and_load` and a plain
`gluon.Trainer` (the same batches and arithmetic, without the speed-ups): the executors and the
fused update assume one copy of each parameter, and Trainer's kvstore is what sums gradients
across devices and keeps the copies equal.
"""
import math
import numbers
import os
import random
import re
import warnings
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn

# Binding an executor logs "Subgraph backend MKLDNN is activated" once per bind: noise in a
# notebook that binds two per k-fold fold. Read when the first executor is bound.
os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")

OPTIMIZERS = ("sgd", "adam", "adamw")
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


def default_contexts():
    """All GPUs MXNet can see, else the CPU: the list to pass to `initialize(ctx=...)`."""
    try:
        gpus = mx.context.num_gpus()
    except mx.MXNetError:  # a CUDA build without a usable driver
        gpus = 0
    return [mx.gpu(i) for i in range(gpus)] or [mx.cpu()]


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
    figure: object = None  # the live plot's matplotlib figure when animate=True
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

    @property
    def mean_train(self):
        return float(np.mean(self.train_scores))

    @property
    def mean_valid(self):
        return float(np.mean(self.valid_scores))


def k_fold(make_net, X, y, k=5, *, shuffle=False, seed=None, **train_kwargs):
    """Train a fresh `make_net()` on each of k folds and validate on the held-out fold.

    `make_net()` must return an initialized network; `train_kwargs` go to `train`.
    NaN/inf in X or y is refused before any fold trains, with rows counted in X and y (not
    in a fold); folds that end far worse than they started (see `train`) are named in one
    warning.
    """
    n = _check_pair(X, y, "data")
    k = _check_k(k, n)
    _check_finite(X, "X")
    _check_finite(y, "y")
    folds = []
    for i in range(k):
        X_train, y_train, X_valid, y_valid = get_k_fold_data(k, i, X, y, shuffle, seed)
        folds.append(_fit(make_net(), X_train, y_train, X_valid, y_valid, **train_kwargs))
    worse = [i + 1 for i, h in enumerate(folds) if h.warning]
    if worse:
        first = folds[worse[0] - 1].warning
        warnings.warn(f"{len(worse)} of {k} folds ({', '.join(map(str, worse))}) got far "
                      f"worse while training; fold {worse[0]}: {first}",
                      TrainingGotWorse, stacklevel=2)
    return KFoldResult(folds, [h.final_train for h in folds], [h.final_valid for h in folds])


# ------------------------------------------------------------------------------- optimizers

@mx.optimizer.register
class AdamW(mx.optimizer.Optimizer):
    """Adam with decoupled weight decay, for `gluon.Trainer` (MXNet 1.9.1 ships only the op).

    w -= lr * (m / (sqrt(v) + eps) * bias_correction + wd * w): the decay shrinks weights
    directly instead of entering the gradient (and so the Adam averages).
    """

    def __init__(self, learning_rate=0.001, beta1=BETA1, beta2=BETA2, epsilon=EPSILON, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def create_state(self, index, weight):
        return (nd.zeros(weight.shape, weight.context, dtype=weight.dtype),
                nd.zeros(weight.shape, weight.context, dtype=weight.dtype))

    def update(self, index, weight, grad, state):
        self._update_count(index)
        t = self._index_update_count[index]
        correction = math.sqrt(1. - self.beta2 ** t) / (1. - self.beta1 ** t)
        mean, var = state
        nd.contrib.adamw_update(weight, grad, mean, var, rescale_grad=self.rescale_grad,
                                lr=correction, eta=self._get_lr(index), wd=self._get_wd(index),
                                beta1=self.beta1, beta2=self.beta2, epsilon=self.epsilon,
                                clip_gradient=self.clip_gradient or -1, out=weight)


def _chunks(items):
    for start in range(0, len(items), MAX_FUSED_TENSORS):
        yield items[start:start + MAX_FUSED_TENSORS]


class _FusedUpdater:
    """Trainer.step's arithmetic for one device, without its per-step Python bookkeeping.

    SGD: `multi_sgd_update`, the fused op Trainer's SGD uses too. Adam: `adam_update` per
    parameter, the op Trainer's Adam calls, with the same arguments, so the weights match the
    book's bit for bit. (The fused `multi_adamw_update` with eta=1, wd=0 computes the same
    formula, but its float rounding differs by ~1e-7; a BatchNorm network at a large learning
    rate amplified that to 2e-4 in 4 epochs, and it saved only ~10% here.) AdamW:
    `multi_adamw_update`, matching `AdamW` above.
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
        ctx = self.params[0].list_ctx()[0]
        self.rescale_nd = nd.array([self.rescale], ctx=ctx)
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
                group["arrays"] = _interleave(group["weights"], group["grads"],
                                              group["means"], group["vars"]) + [self.rescale_nd]
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
            elif self.optimizer == "adam":  # w -= lr_t * m / (sqrt(v) + eps), wd in the grad
                for w, grad, m, v, lr, wd in zip(g["weights"], g["grads"], g["means"],
                                                 g["vars"], g["lrs"], g["wds"]):
                    nd.adam_update(w, grad, m, v, out=w, lr=lr * correction, wd=wd,
                                   beta1=BETA1, beta2=BETA2, epsilon=EPSILON,
                                   rescale_grad=self.rescale)
            else:  # adamw: w -= lr * (correction * m / (sqrt(v) + eps) + wd * w)
                nd._internal._multi_adamw_update(  # the public wrapper re-creates rescale_nd
                    *g["arrays"], out=g["weights"], num_weights=n, lrs=[correction] * n,
                    wds=g["wds"], etas=g["lrs"], beta1=BETA1, beta2=BETA2, epsilon=EPSILON)


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


class _DataParallelLoop:
    """Several devices: split each batch with `split_and_load`, let gluon.Trainer sum grads."""

    def __init__(self, net, loss, contexts, optimizer, learning_rate, weight_decay,
                 batch_size):
        self.net, self.loss, self.contexts, self.batch_size = net, loss, contexts, batch_size
        self.trainer = gluon.Trainer(net.collect_params(), optimizer,
                                     {"learning_rate": learning_rate, "wd": weight_decay})

    def run_epoch(self, X, y, order):
        index = nd.array(order, ctx=X.context, dtype="int64")
        X, y = X.take(index), y.take(index)
        total = None
        for start in range(0, len(order), self.batch_size):
            X_batch, y_batch = X[start:start + self.batch_size], y[start:start + self.batch_size]
            used = self.contexts[:len(X_batch)]  # a 1-row last batch cannot feed 2 devices
            X_parts = gluon.utils.split_and_load(X_batch, used, even_split=False)
            y_parts = gluon.utils.split_and_load(y_batch, used, even_split=False)
            with autograd.record():
                losses = [self.loss(self.net(Xp), yp).sum() for Xp, yp in zip(X_parts, y_parts)]
            autograd.backward(losses)
            self._zero_unused_grads(len(used))
            self.trainer.step(self.batch_size)
            total = losses[0]
        return total

    def _zero_unused_grads(self, n_used):
        """Devices that got no rows contribute a zero gradient (not last step's stale one)."""
        for param in self.net.collect_params().values():
            if param.grad_req == "null":
                continue
            for grad, data in zip(param.list_grad()[n_used:], param.list_data()[n_used:]):
                grad[:] = 0
                data._fresh_grad = True


# ------------------------------------------------------------------------------ train()

def _parameters_contexts(net):
    params = list(net.collect_params().values())
    if not params:
        raise ValueError("net has no parameters to train")
    try:
        return params, params[0].list_ctx()
    except RuntimeError:
        raise ValueError("net is not initialized: call net.initialize() (optionally with "
                         "ctx=default_contexts()) before train()") from None


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


class _Display:
    """tqdm bar and/or d2l Animator, only when asked (tests and scripts stay quiet)."""

    def __init__(self, num_epochs, metric_name, has_valid, progress, animate):
        self.bar = self.animator = None
        if progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=num_epochs, desc="epochs", unit="epoch")
        if animate:
            from d2l import mxnet as d2l
            self.animator = d2l.Animator(
                xlabel="epoch", ylabel=metric_name, xlim=[1, num_epochs], yscale="log",
                legend=["train", "valid"] if has_valid else ["train"])

    def update(self, epoch, train_score, valid_score):
        scores = (train_score,) if valid_score is None else (train_score, valid_score)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({name: f"{s:.4g}" for name, s in zip(("train", "valid"),
                                                                        scores)})
        if self.animator is not None:
            self.animator.add(epoch, scores)

    def close(self):
        if self.bar is not None:
            self.bar.close()
        return None if self.animator is None else self.animator.fig


def _check_contexts(contexts, what):
    """Devices to train on: MXNet contexts, at least one, each once. The same device twice
    would leave one copy's gradients never updated (MXNet raises about that mid-step)."""
    if not contexts:
        raise ValueError(f"{what} is empty; pass a device, e.g. ctx=mx.cpu()")
    strange = [c for c in contexts if not isinstance(c, mx.Context)]
    if strange:
        raise ValueError(f"{what} holds {strange[0]!r}, not an MXNet device; pass mx.cpu() or "
                         f"mx.gpu(i) (or a list of them)")
    twice = sorted({str(c) for c in contexts if contexts.count(c) > 1})
    if twice:
        raise ValueError(f"{what} names {', '.join(twice)} more than once; give each device "
                         f"once (ctx=[mx.cpu()] on one CPU, [mx.gpu(0), mx.gpu(1)] on two GPUs)")
    return contexts


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
          ctx=None, progress=False, animate=False):
    """Train an initialized Gluon `net` with mini-batch `optimizer`; return per-epoch scores.

    Each epoch shuffles the rows (numpy's global RNG, as the book's DataLoader), steps once
    per batch of `batch_size` (the last batch may be smaller), then scores `metric(preds,
    labels)` on the training and the validation data (metric=None: the mean loss).
    ctx=None trains where the parameters live; a list of contexts trains data-parallel.

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
                   ctx=ctx, progress=progress, animate=animate)
    if history.warning:
        warnings.warn(history.warning, TrainingGotWorse, stacklevel=2)
    return history


def _fit(net, X_train, y_train, X_valid=None, y_valid=None, *, num_epochs, learning_rate,
         batch_size, weight_decay=0.0, optimizer="adam", loss=None, metric=log_rmse,
         ctx=None, progress=False, animate=False):
    """`train` without the warning (k_fold warns once for all folds)."""
    n = _check_pair(X_train, y_train, "train")
    if (X_valid is None) != (y_valid is None):
        raise ValueError("pass both X_valid and y_valid, or neither")
    if X_valid is not None:
        _check_pair(X_valid, y_valid, "valid")
    optimizer = _check_hyperparameters(num_epochs, learning_rate, batch_size, weight_decay,
                                       optimizer)
    loss = gluon.loss.L2Loss() if loss is None else loss
    params, contexts = _parameters_contexts(net)
    if ctx is not None:
        wanted = _check_contexts(list(ctx) if isinstance(ctx, (list, tuple)) else [ctx], "ctx")
        if wanted != contexts:
            net.collect_params().reset_ctx(wanted)
            contexts = wanted
    _check_contexts(contexts, "the network's parameters live on a list that")
    device = contexts[0]
    X_train = _to_device(X_train, device, "X_train")
    y_train = _to_device(y_train, device, "y_train")
    if X_valid is not None:
        X_valid = _to_device(X_valid, device, "X_valid")
        y_valid = _to_device(y_valid, device, "y_valid")
    _check_shapes(X_train, y_train, X_valid, y_valid)

    if len(contexts) == 1:
        updater = _FusedUpdater(params, optimizer, learning_rate, weight_decay, batch_size)
        loop = _OneDeviceLoop(net, loss, updater, batch_size)
        predict = loop.net
    else:
        loop = _DataParallelLoop(net, loss, contexts, optimizer, learning_rate, weight_decay,
                                 batch_size)
        predict = net
    _preflight(net, predict, loss, X_train, y_train, batch_size)

    def score(X, y):
        preds = predict(X)
        return loss(preds, y).mean().asscalar() if metric is None else metric(preds, y)

    metric_name = "loss" if metric is None else getattr(metric, "__name__", "metric")
    history = History(metric=metric_name)
    display = _Display(num_epochs, metric_name, X_valid is not None, progress, animate)
    try:
        for epoch in range(1, num_epochs + 1):
            order = np.arange(n)
            np.random.shuffle(order)  # what DataLoader(shuffle=True)'s RandomSampler does
            last_loss = loop.run_epoch(X_train, y_train, order).asscalar()
            history.train.append(float(score(X_train, y_train)))
            if X_valid is not None:
                history.valid.append(float(score(X_valid, y_valid)))
            _check_epoch(epoch, num_epochs, last_loss, history, learning_rate)
            display.update(epoch, history.train[-1], history.valid[-1] if history.valid else None)
    finally:
        history.figure = display.close()
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
