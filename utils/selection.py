"""Nested cross-validation of the blended house-price recipe, and paired changes.

Picking a setting because it gave the best k-fold score makes that score optimistic: among
several candidates, the winner is partly the one whose errors happened to be small on these
folds. Nested cross-validation (嵌套交叉验证) removes that bias for the choices it re-makes:
for each outer fold i, the clip quantile, the L1 strength alpha, the MLP configuration and the
blend weight are chosen again by an inner k-fold on the other folds only, and fold i then
scores the recipe so chosen. Choices fixed beforehand on the same folds (features, outlier
rule, MLP settings, which steps to keep) are not re-made, so their bias remains.

The inner folds are the outer folds minus fold i, so an inner model trains on all folds but
{i, j}. That model serves outer fold i (inner fold j) and outer fold j (inner fold i) alike;
`FoldFits` memoizes every fit by the set of folds it trained on, and nested k-fold costs
k(k-1)/2 extra fits per setting instead of k(k-1).
"""
from dataclasses import dataclass, field

import numpy as np
from mxnet import nd

from utils import house


def rmse(log_predictions, log_truth):
    """Root-mean-squared error of log prices: Kaggle's score for predictions in log space."""
    return float(np.sqrt(np.mean((np.asarray(log_predictions) - np.asarray(log_truth)) ** 2)))


def paired_change(new_scores, old_scores):
    """(mean, standard error) of the per-fold differences new - old on the same folds.

    Pairing removes what both recipes share (a fold with hard houses is hard for both), so a
    change can be told from noise far better than by comparing the two means.
    """
    d = np.asarray(new_scores, dtype=float) - np.asarray(old_scores, dtype=float)
    if d.size < 2:
        raise ValueError("paired_change needs scores on at least 2 folds")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


class FoldFits:
    """Log-price predictions for every row from models trained on a union of folds, memoized.

    Preprocessing follows house.Recipe with engineered features and log1p of skewed columns;
    `drop_outliers` drops the two known outliers from training rows only. Each
    (training folds, clip quantile) design matrix and each (training folds, clip, model, seed)
    fit is computed once.
    """

    def __init__(self, train_df, folds, drop_outliers=True):
        if house.LABEL not in train_df.columns:
            raise KeyError(f"train_df has no {house.LABEL} column; pass the training frame")
        self.df = train_df
        self.folds = [np.asarray(valid) for valid in folds]
        self.k = len(self.folds)
        self.drop_outliers = drop_outliers
        self.log_prices = np.log(train_df[house.LABEL].to_numpy(np.float64))
        self._designs, self._predictions = {}, {}
        self.model_fits = 0  # how many models were trained (the cost of a search)

    def _key(self, train_folds):
        folds = frozenset(int(j) for j in train_folds)
        if not folds or not folds <= set(range(self.k)):
            raise ValueError(f"training folds {sorted(folds)} must be a non-empty subset of "
                             f"0..{self.k - 1}")
        return folds

    def design(self, train_folds, clip):
        """(X for every row, positions of the rows the model trains on)."""
        key = (self._key(train_folds), clip)
        if key not in self._designs:
            rows = np.concatenate([self.folds[j] for j in sorted(key[0])])
            train_rows = self.df.iloc[rows]
            if self.drop_outliers:
                train_rows = train_rows[~house.outlier_mask(train_rows)]
            prep = house.FoldPreprocessor(engineered=True, log_skewed=True, clip_quantile=clip)
            prep.fit(house._features(train_rows))
            X = nd.array(prep.transform(house._features(self.df)).to_numpy())
            self._designs[key] = X, self.df.index.get_indexer(train_rows.index)
        return self._designs[key]

    def _fit(self, train_folds, clip, model, seed):
        X, rows = self.design(train_folds, clip)
        take = nd.array(rows, dtype="int64")
        y = nd.array(self.log_prices[rows].reshape(-1, 1))
        self.model_fits += 1
        return model.fit(X.take(take), y, seed), X

    def predict(self, train_folds, clip, model, seed=0):
        """Log prices for every row from `model` fitted on the rows of `train_folds`."""
        key = (self._key(train_folds), clip, repr(model), seed)
        if key not in self._predictions:
            predict, X = self._fit(train_folds, clip, model, seed)
            self._predictions[key] = np.asarray(predict(X), dtype=np.float64)
        return self._predictions[key]

    def lasso(self, train_folds, clip, alphas):
        """{alpha: log prices for every row} of the L1 model, all alphas in one FISTA run."""
        keys = {a: (self._key(train_folds), clip, repr(house.Lasso(a)), 0) for a in alphas}
        missing = [a for a in alphas if keys[a] not in self._predictions]
        if missing:
            X, rows = self.design(train_folds, clip)
            y = nd.array(self.log_prices[rows].reshape(-1, 1))
            predictors, _ = house.lasso_path(X.take(nd.array(rows, dtype="int64")), y, missing)
            self.model_fits += 1
            for a, predict in zip(missing, predictors):
                self._predictions[keys[a]] = np.asarray(predict(X), dtype=np.float64)
        return {a: self._predictions[keys[a]] for a in alphas}

    def score(self, log_predictions, fold):
        """Log RMSE of predictions (for every row) on the rows of one fold."""
        rows = self.folds[fold]
        return rmse(log_predictions[rows], self.log_prices[rows])


@dataclass
class Grid:
    """The candidates among which the blended recipe's settings are chosen."""
    clips: list
    alphas: list
    mlps: dict  # name -> house.GluonRegressor
    weights: list  # weight of the L1 linear model in the average of log prices
    seeds: int = 1  # MLP copies averaged, each with its own seed


@dataclass
class Choice:
    """The settings one selection made, and the inner CV score that made it."""
    clip: float
    alpha: float
    mlp: str
    weight: float
    score: float


def choose(fits, folds, grid, seed=0):
    """Make every choice of the blended recipe by k-fold CV over `folds` only.

    Fold j of `folds` is validated on models trained on the other folds of `folds`; rows of
    folds outside `folds` play no part. First clip and alpha by the L1 model's score, then the
    MLP configuration and the blend weight by the blend's score.
    """
    folds = sorted(int(j) for j in folds)
    if len(folds) < 2:
        raise ValueError("choose needs at least 2 folds to cross-validate over")
    inner = {j: [f for f in folds if f != j] for j in folds}

    def cv(predictions):  # predictions[j]: log prices from the model that did not see fold j
        return float(np.mean([fits.score(predictions[j], j) for j in folds]))

    linear = {q: {j: fits.lasso(inner[j], q, grid.alphas) for j in folds} for q in grid.clips}
    clip, alpha = min(((q, a) for q in grid.clips for a in grid.alphas),
                      key=lambda qa: cv({j: linear[qa[0]][j][qa[1]] for j in folds}))
    lin = {j: linear[clip][j][alpha] for j in folds}
    best = None
    for name, model in grid.mlps.items():
        mlp = {j: np.mean([fits.predict(inner[j], clip, model, seed + s)
                           for s in range(grid.seeds)], axis=0) for j in folds}
        for w in grid.weights:
            score = cv({j: w * lin[j] + (1 - w) * mlp[j] for j in folds})
            if best is None or score < best.score:
                best = Choice(clip, alpha, name, float(w), score)
    return best


def predict_choice(fits, train_folds, choice, grid, seed=0):
    """Log prices for every row from the chosen recipe trained on `train_folds`."""
    lin = fits.lasso(train_folds, choice.clip, [choice.alpha])[choice.alpha]
    mlp = np.mean([fits.predict(train_folds, choice.clip, grid.mlps[choice.mlp], seed + s)
                   for s in range(grid.seeds)], axis=0)
    return choice.weight * lin + (1 - choice.weight) * mlp


@dataclass
class SelectionResult:
    """Per-fold scores of a chosen recipe, the choices, and out-of-fold log predictions."""
    scores: list
    choices: list  # one Choice per outer fold (nested) or the single Choice (selected on all)
    log_predictions: np.ndarray = field(repr=False)

    @property
    def mean(self):
        return float(np.mean(self.scores))


def selected_on_all_folds(fits, grid, seed=0):
    """Choose on all k folds, then report those same folds' scores: selection-biased."""
    everything = range(fits.k)
    choice = choose(fits, everything, grid, seed)
    oof = np.full(len(fits.log_prices), np.nan)
    scores = []
    for i in everything:
        pred = predict_choice(fits, [j for j in everything if j != i], choice, grid, seed)
        oof[fits.folds[i]] = pred[fits.folds[i]]
        scores.append(fits.score(pred, i))
    return SelectionResult(scores, [choice], oof)


def nested_cv(fits, grid, seed=0):
    """Outer fold i scores a recipe whose grid choices (clip, alpha, MLP, weight) were made
    without fold i: free of the bias of those choices, not of choices fixed before the grid."""
    oof = np.full(len(fits.log_prices), np.nan)
    scores, choices = [], []
    for i in range(fits.k):
        others = [j for j in range(fits.k) if j != i]
        choice = choose(fits, others, grid, seed)
        pred = predict_choice(fits, others, choice, grid, seed)
        oof[fits.folds[i]] = pred[fits.folds[i]]
        scores.append(fits.score(pred, i))
        choices.append(choice)
    return SelectionResult(scores, choices, oof)
