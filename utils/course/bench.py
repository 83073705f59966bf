"""Benchmark: the book's k-fold loop against `utils.train.k_fold` and a numpy floor.

    python -m utils.course.bench kfold                  # the book's configuration, real data
    python -m utils.course.bench kfold --epochs 2 --rounds 3 --synthetic   # a quick smoke run

The three loops, how they are timed and what is printed: docs/benchmark.md.
"""
import argparse
import json
import statistics
import sys
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn

from utils import data
from utils import train as fast
from utils.course.exports import replace_text

# ------------------------------------------------------------------- the book's loop (reference)

square_loss = gluon.loss.L2Loss()


def book_net(hidden=0):
    """Dense(1) as in the book; hidden > 0 puts one ReLU layer of that width before it."""
    net = nn.Sequential()
    if hidden:
        net.add(nn.Dense(hidden, activation="relu"))
    net.add(nn.Dense(1))
    net.initialize()
    return net


def book_log_rmse(net, features, labels):
    clipped = nd.clip(net(features), 1, float("inf"))
    return nd.sqrt(2 * square_loss(nd.log(clipped), nd.log(labels)).mean()).asscalar()


def book_train(net, train_features, train_labels, valid_features, valid_labels,
               num_epochs, learning_rate, weight_decay, batch_size, optimizer="adam"):
    train_scores, valid_scores = [], []
    batches = gluon.data.DataLoader(gluon.data.ArrayDataset(train_features, train_labels),
                                    batch_size, shuffle=True)
    trainer = gluon.Trainer(net.collect_params(), optimizer,
                            {"learning_rate": learning_rate, "wd": weight_decay})
    for _ in range(num_epochs):
        for X, y in batches:
            with autograd.record():
                loss = square_loss(net(X), y)
            loss.backward()
            trainer.step(batch_size)
        train_scores.append(book_log_rmse(net, train_features, train_labels))
        valid_scores.append(book_log_rmse(net, valid_features, valid_labels))
    return train_scores, valid_scores


def book_k_fold_data(k, i, X, y):
    fold_size = X.shape[0] // k
    X_train = y_train = None
    for j in range(k):
        part = slice(j * fold_size, (j + 1) * fold_size)
        if j == i:
            X_valid, y_valid = X[part], y[part]
        elif X_train is None:
            X_train, y_train = X[part], y[part]
        else:
            X_train = nd.concat(X_train, X[part], dim=0)
            y_train = nd.concat(y_train, y[part], dim=0)
    return X_train, y_train, X_valid, y_valid


def book_k_fold(k, X, y, num_epochs, learning_rate, weight_decay, batch_size,
                optimizer="adam", hidden=0):
    """Per-fold (train_scores, valid_scores) curves of the book's loop."""
    return [book_train(book_net(hidden), *book_k_fold_data(k, i, X, y), num_epochs,
                       learning_rate, weight_decay, batch_size, optimizer)
            for i in range(k)]


# ---------------------------------------------------------------------------- the project's loop

def project_k_fold(k, X, y, num_epochs, learning_rate, weight_decay, batch_size,
                   optimizer="adam", hidden=0):
    result = fast.k_fold(lambda: book_net(hidden), X, y, k, num_epochs=num_epochs,
                         learning_rate=learning_rate, weight_decay=weight_decay,
                         batch_size=batch_size, optimizer=optimizer)
    return [(h.train, h.valid) for h in result.folds]


# ------------------------------------------------------------------ the floor: numpy only

def numpy_k_fold(k, X, y, num_epochs, learning_rate, weight_decay, batch_size,
                 optimizer="adam", hidden=0):
    """The same arithmetic in numpy alone, all folds stacked: what the hardware needs."""
    X, y = X.asnumpy(), y.asnumpy().reshape(len(X), -1)
    splits = fast.k_fold_indices(len(X), k)
    layers = []  # per fold: [(W (in, out), b (out,)), ...]
    for train_idx, _ in splits:
        net = book_net(hidden)
        net(nd.array(X[train_idx[:1]]))  # deferred initialization, as the first batch does
        layers.append([(d.weight.data().asnumpy().T, d.bias.data().asnumpy()) for d in net])
    Ws = [np.stack([fold[l][0] for fold in layers]) for l in range(len(layers[0]))]
    Bs = [np.stack([fold[l][1] for fold in layers])[:, None, :] for l in range(len(layers[0]))]
    params = Ws + Bs
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    train_rows = np.stack([t for t, _ in splits])  # (k, n): rows of X, as the project keeps them
    valid_rows = np.stack([v for _, v in splits])
    n = train_rows.shape[1]
    # the fold-after-fold loop's shuffles, fold by fold (permutation: arange, then shuffle)
    orders = [[np.random.permutation(n) for _ in range(num_epochs)] for _ in splits]
    folds = np.arange(k)[:, None]

    def forward(A):
        outs = [A]
        for l, (W, B) in enumerate(zip(Ws, Bs)):
            z = outs[-1] @ W + B
            outs.append(np.maximum(z, 0) if l < len(Ws) - 1 else z)
        return outs

    def scores(P, rows):
        p = np.maximum(np.take_along_axis(P, rows[:, :, None], axis=1).astype(np.float64), 1)
        labels = y[rows]
        return np.sqrt(np.mean((np.log(p) - np.log(labels)).reshape(k, -1) ** 2, axis=1))

    history = []  # per epoch: every fold's (train scores, valid scores)
    step = 0
    for epoch in range(num_epochs):
        order = np.stack([orders[i][epoch] for i in range(k)])
        for start in range(0, n, batch_size):
            rows = train_rows[folds, order[:, start:start + batch_size]]
            outs = forward(X[rows])
            delta = outs[-1] - y[rows]
            grads_W, grads_B = [None] * len(Ws), [None] * len(Ws)
            for l in reversed(range(len(Ws))):
                if l < len(Ws) - 1:
                    delta = delta * (outs[l + 1] > 0)
                grads_W[l] = outs[l].transpose(0, 2, 1) @ delta
                grads_B[l] = delta.sum(axis=1, keepdims=True)
                if l:
                    delta = delta @ Ws[l].transpose(0, 2, 1)
            step += 1
            lr = learning_rate
            if optimizer == "adam":
                lr *= np.sqrt(1 - fast.BETA2 ** step) / (1 - fast.BETA1 ** step)
            for p, g, (m, v) in zip(params, grads_W + grads_B, moments):
                g = g / batch_size + weight_decay * p
                if optimizer == "adam":
                    m *= fast.BETA1
                    m += (1 - fast.BETA1) * g
                    v *= fast.BETA2
                    v += (1 - fast.BETA2) * g * g
                    p -= lr * m / (np.sqrt(v) + fast.EPSILON)
                else:
                    p -= lr * g
        P = forward(X[None])[-1]  # (k, rows, m): every fold's predictions on all the data
        history.append((scores(P, train_rows), scores(P, valid_rows)))
    return [(train.tolist(), valid.tolist()) for train, valid in np.transpose(history, (2, 1, 0))]


# -------------------------------------------------------------------------------------- bench

def load_features(synthetic, data_dir=None):
    """(X, y) NDArrays of the training rows, preprocessed as the book does."""
    if synthetic:
        train_df, test_df = data.synthetic_house_frames(n_train=200, n_test=20, seed=0)
    else:
        train_df, test_df = data.load_house_data(data_dir)
    X_train_df, X_test_df = data.preprocess(train_df, test_df)
    X, y, _ = data.to_ndarrays(X_train_df, train_df[data.LABEL], X_test_df)
    return X, y


def cv_summary(curves):
    """Mean over folds of the final-epoch train and valid scores (the book's printout)."""
    return (float(np.mean([train[-1] for train, _ in curves])),
            float(np.mean([valid[-1] for _, valid in curves])))


def max_abs_difference(curves_a, curves_b):
    """The largest difference between two runs' per-epoch scores, fold by fold."""
    return float(np.max(np.abs(np.array(curves_a, np.float64) - np.array(curves_b, np.float64))))


def timed(function, seed, **config):
    fast.seed_everything(seed)
    start = time.perf_counter()
    curves = function(**config)
    return time.perf_counter() - start, curves


def bench_kfold(X, y, *, rounds=3, seed=0, **config):
    """Alternate reference, project and numpy floor `rounds` times; return the summary."""
    loops = (book_k_fold, project_k_fold, numpy_k_fold)
    for function in loops:  # untimed warm-up: first-call costs
        timed(function, seed, X=X, y=y, **dict(config, num_epochs=1, k=2))
    times = []
    for r in range(1, rounds + 1):
        (t_ref, ref_curves), (t_new, new_curves), (t_np, np_curves) = (
            timed(function, seed, X=X, y=y, **config) for function in loops)
        times.append((t_ref, t_new, t_np))
        print(f"round {r}: reference {t_ref:.3f} s, project {t_new:.3f} s, numpy floor "
              f"{t_np:.3f} s; ratio {t_ref / t_new:.2f}x, project / floor {t_new / t_np:.2f}x")
    ratios, floor_ratios = [a / b for a, b, _ in times], [b / c for _, b, c in times]
    summary = {"config": config, "rounds": rounds, "times": times, "ratios": ratios,
               "median_ratio": statistics.median(ratios), "floor_ratios": floor_ratios,
               "median_floor_ratio": statistics.median(floor_ratios),
               "reference_cv": list(cv_summary(ref_curves)),
               "project_cv": list(cv_summary(new_curves)),
               "max_abs_difference": max_abs_difference(ref_curves, new_curves),
               "floor_max_abs_difference": max_abs_difference(ref_curves, np_curves)}
    print(f"median ratio {summary['median_ratio']:.2f}x "
          f"(spread {min(ratios):.2f}x .. {max(ratios):.2f}x over {rounds} rounds)")
    print(f"median project / numpy floor {summary['median_floor_ratio']:.2f}x "
          f"(the book's loop / floor {statistics.median([a / c for a, _, c in times]):.2f}x)")
    for name, (train, valid) in (("reference", summary["reference_cv"]),
                                 ("project  ", summary["project_cv"])):
        print(f"{name} CV: train log rmse {train:.6f}, valid log rmse {valid:.6f}")
    print(f"max abs difference over all per-epoch scores: {summary['max_abs_difference']:.3g} "
          f"(numpy floor: {summary['floor_max_abs_difference']:.3g})")
    return summary


NUMBERS = [  # (option, type, default, help) of the numbers `kfold` takes
    ("--epochs", int, 100, "epochs per fold (default: %(default)s, the book's)"),
    ("--batch-size", int, 64, "examples per minibatch (default: %(default)s)"),
    ("--folds", int, 5, "k of k-fold cross-validation, >= 2 (default: %(default)s)"),
    ("--lr", float, 5.0, "learning rate, > 0 (default: %(default)s, the book's for Adam)"),
    ("--wd", float, 0.0, "weight decay, >= 0 (default: %(default)s)"),
    ("--hidden", int, 0, "0: the book's Dense(1); N: one ReLU layer of N units first"),
    ("--rounds", int, 3, "rounds timed, each all three loops once (default: %(default)s)"),
    ("--seed", int, 0, "seed for initialization and batch order (default: %(default)s)"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.course.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    kf = sub.add_parser("kfold", help="book k-fold loop vs utils.train.k_fold vs numpy")
    for option, kind, default, text in NUMBERS:
        kf.add_argument(option, type=kind, default=default, help=text)
    kf.add_argument("--optimizer", choices=["sgd", "adam"], default="adam",
                    help="the book's Trainer knows these two (default: %(default)s)")
    kf.add_argument("--synthetic", action="store_true",
                    help="small fake data from utils.data (no CSVs needed)")
    kf.add_argument("--data-dir", default=None,
                    help="folder with the Kaggle CSVs (default: $KAGGLE_HOUSE_DIR, then data/)")
    kf.add_argument("--json", default=None, help="also write the summary to this JSON file")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.epochs < 1 or args.batch_size < 1 or args.folds < 2:
        parser.error("need --rounds >= 1, --epochs >= 1, --batch-size >= 1, --folds >= 2")
    if not args.lr > 0 or not args.wd >= 0 or args.hidden < 0:
        parser.error("need --lr > 0, --wd >= 0, --hidden >= 0")
    try:
        return run_kfold(args)
    except (data.DataError, fast.TrainingDiverged) as err:  # missing CSVs, too large a --lr
        print(f"error: {err}", file=sys.stderr)
        return 1


def run_kfold(args):
    X, y = load_features(args.synthetic, args.data_dir)
    if args.folds > X.shape[0]:
        raise data.DataError(f"--folds {args.folds} needs at least that many rows, but the "
                             f"data has {X.shape[0]}; use fewer folds")
    print(f"data: {'synthetic' if args.synthetic else 'Kaggle'} {X.shape[0]} rows x "
          f"{X.shape[1]} features; {args.folds} folds x {args.epochs} epochs, batch "
          f"{args.batch_size}, {args.optimizer} lr {args.lr:g} wd {args.wd:g}, "
          f"{'Dense(1)' if not args.hidden else f'Dense({args.hidden}, relu) + Dense(1)'}; "
          f"MXNet {mx.__version__}")
    summary = bench_kfold(X, y, rounds=args.rounds, seed=args.seed, k=args.folds,
                          num_epochs=args.epochs, learning_rate=args.lr, weight_decay=args.wd,
                          batch_size=args.batch_size, optimizer=args.optimizer,
                          hidden=args.hidden)
    if args.json:
        try:  # written aside and renamed: never half a file
            replace_text(args.json, json.dumps(summary, indent=2))
        except OSError as err:
            print(f"error: could not write {args.json} ({err.strerror or err}); the summary "
                  f"is printed above, pick a writable --json path next time", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
