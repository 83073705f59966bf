"""House prices beyond the book: features, per-fold preprocessing, models.

The rule behind every function here: whatever is learned from data (which columns are skewed,
clipping bounds, means and standard deviations, neighborhood medians, the categories to
one-hot, which rows are outliers) is learned from the rows a model trains on. In k-fold
cross-validation those are the training folds, so no statistic has seen the validation fold.
That alone does not make the k-fold score an unbiased guess of the test score: a recipe whose
settings were picked because they scored best on these folds is flattered by that choice
(utils/selection.py measures by how much, with nested cross-validation).
(The Kaggle submission is written by utils/submission.py.)
"""
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np
import pandas as pd
from mxnet import nd
from mxnet.gluon import nn

from utils import train as training

LABEL = "SalePrice"

# Quality words as numbers: the order the one-hot columns cannot express. Missing means
# "no such thing" (no basement, no pool, ...), so it maps to 0, below the worst grade.
QUALITY = {"Ex": 5, "Gd": 4, "TA": 3, "Fa": 2, "Po": 1}
ORDINAL_COLUMNS = {
    **{c: QUALITY for c in ("ExterQual", "ExterCond", "BsmtQual", "BsmtCond", "HeatingQC",
                            "KitchenQual", "FireplaceQu", "GarageQual", "GarageCond",
                            "PoolQC")},
    "BsmtExposure": {"Gd": 4, "Av": 3, "Mn": 2, "No": 1},
    "BsmtFinType1": {"GLQ": 6, "ALQ": 5, "BLQ": 4, "Rec": 3, "LwQ": 2, "Unf": 1},
    "BsmtFinType2": {"GLQ": 6, "ALQ": 5, "BLQ": 4, "Rec": 3, "LwQ": 2, "Unf": 1},
    "GarageFinish": {"Fin": 3, "RFn": 2, "Unf": 1},
    "Functional": {"Typ": 7, "Min1": 6, "Min2": 5, "Mod": 4, "Maj1": 3, "Maj2": 2, "Sev": 1,
                   "Sal": 0},
}
# Numbers that are really codes: a class 60 house is not "twice" a class 30 one.
CODE_COLUMNS = ("MSSubClass", "MoSold", "YrSold")


def _sum(frame, columns):
    return sum(frame[c].fillna(0) for c in columns)


def add_features(features):
    """Row-wise engineered features: ordinal grades, totals, ages, flags, codes as categories.

    Uses nothing but each row's own values, so it can run on train and test rows together
    without leaking anything between them.
    """
    missing = [c for c in ("GrLivArea", "OverallQual", "YrSold", "YearBuilt", "Neighborhood")
               if c not in features.columns]
    if missing:
        raise KeyError(f"add_features needs the Kaggle columns {missing}; pass the 79 "
                       "feature columns of load_house_data()'s frames")
    f = features.copy()
    new = {}
    for column, scale in ORDINAL_COLUMNS.items():
        if column in f:
            new[f"{column}_grade"] = f[column].map(scale).fillna(0.0)
    basement = f["TotalBsmtSF"].fillna(0) if "TotalBsmtSF" in f else 0.0
    floors = _sum(f, [c for c in ("1stFlrSF", "2ndFlrSF") if c in f])
    new["TotalSF"] = basement + floors
    new["TotalBath"] = (_sum(f, [c for c in ("FullBath", "BsmtFullBath") if c in f])
                        + 0.5 * _sum(f, [c for c in ("HalfBath", "BsmtHalfBath") if c in f]))
    new["TotalPorch"] = _sum(f, [c for c in ("OpenPorchSF", "EnclosedPorch", "3SsnPorch",
                                             "ScreenPorch", "WoodDeckSF") if c in f])
    new["Age"] = (f["YrSold"] - f["YearBuilt"]).clip(lower=0)
    if "YearRemodAdd" in f:
        new["YearsSinceRemodel"] = (f["YrSold"] - f["YearRemodAdd"]).clip(lower=0)
    for flag, column in (("HasGarage", "GarageArea"), ("HasBasement", "TotalBsmtSF"),
                         ("HasSecondFloor", "2ndFlrSF"), ("HasFireplace", "Fireplaces"),
                         ("HasPool", "PoolArea")):
        if column in f:
            new[flag] = (f[column].fillna(0) > 0).astype(float)
    new["QualityTimesLivArea"] = f["OverallQual"] * f["GrLivArea"]
    new["QualityTimesTotalSF"] = f["OverallQual"] * new["TotalSF"]
    new["QualitySquared"] = f["OverallQual"].astype(float) ** 2
    for column in CODE_COLUMNS:
        if column in f:
            f[column] = f[column].map(lambda v: None if pd.isna(v) else f"{column}_{v}")
    return pd.concat([f, pd.DataFrame(new, index=f.index)], axis=1)


def outlier_mask(train_df):
    """The two known outliers: huge living area (> 4000 sq ft) sold cheaply (< 300000)."""
    for column in ("GrLivArea", LABEL):
        if column not in train_df.columns:
            raise KeyError(f"outlier_mask needs a {column} column; pass the training frame")
    return ((train_df["GrLivArea"] > 4000) & (train_df[LABEL] < 300000)).to_numpy()


class FoldPreprocessor:
    """Turns raw feature rows into a float32 design matrix, with all statistics from `fit`.

    Steps: (engineered features), log1p of skewed non-negative numeric columns, clipping to
    the fitted rows' [q, 1-q] quantiles (so a model never extrapolates beyond the sizes it
    has seen), standardization (标准化) with the fitted rows' mean and std, NaN -> the fitted
    mean, and one-hot columns (独热编码, plus a missing-value column) for the categories seen
    in the fitted rows; an unseen category becomes all zeros.

    Switches for experiments: standardize=False keeps raw units (missing values still become
    the fitted mean); missing_flags=True adds a 0/1 "was missing" column per numeric column
    that had missing values in the fitted rows; onehot=False gives each categorical column one
    integer code instead (sorted category index, -1 for missing or unseen), for tree models.
    """

    def __init__(self, engineered=False, log_skewed=False, skew_threshold=0.75,
                 clip_quantile=0.0, standardize=True, onehot=True, missing_flags=False):
        if not 0.0 <= clip_quantile < 0.5:
            raise ValueError(f"clip_quantile={clip_quantile}: use 0 (no clipping) up to < 0.5")
        self.engineered, self.log_skewed = engineered, log_skewed
        self.skew_threshold, self.clip_quantile = skew_threshold, clip_quantile
        self.standardize, self.onehot, self.missing_flags = standardize, onehot, missing_flags
        self.fitted = False

    def _frame(self, features, extended=None):
        if self.engineered:
            f = add_features(features) if extended is None else extended.copy()
        else:
            f = features.copy()
        if self.engineered:
            for name, (by_neighborhood, overall) in self.neighborhood_medians.items():
                f[name] = f["Neighborhood"].map(by_neighborhood).fillna(overall)
            f["NeighborhoodQualityTimesLogLivArea"] = (
                f["NeighborhoodQuality"] * np.log1p(f["GrLivArea"]))
        return f

    def fit(self, features):
        """Learn every statistic from these rows only (the training folds)."""
        if len(features) < 2:
            raise ValueError("fit needs at least 2 rows to estimate means and spreads")
        if self.engineered:
            extended = add_features(features)
            self.neighborhood_medians = {  # typical quality and size of each neighborhood
                name: (extended.groupby("Neighborhood")[column].median(),
                       extended[column].median())
                for name, column in (("NeighborhoodQuality", "OverallQual"),
                                     ("NeighborhoodTotalSF", "TotalSF"))}
        f = self._frame(features, extended if self.engineered else None)
        self.numeric = [c for c in f.columns if pd.api.types.is_numeric_dtype(f[c])
                        and not pd.api.types.is_bool_dtype(f[c])]
        self.categorical = [c for c in f.columns if c not in self.numeric]
        values = f[self.numeric].astype(np.float64)
        self.skewed = []
        if self.log_skewed:
            skew = values.skew().abs()
            self.skewed = [c for c in self.numeric
                           if skew[c] > self.skew_threshold and values[c].min() >= 0]
            values[self.skewed] = np.log1p(values[self.skewed])
        q = self.clip_quantile
        self.low = values.quantile(q) if q else None
        self.high = values.quantile(1 - q) if q else None
        if q:
            values = pd.DataFrame(self._clip(values.to_numpy()), index=values.index,
                                  columns=values.columns)
        self.mean = values.mean()
        std = values.std()
        self.std = std.where(std > 0, 1.0).fillna(1.0)
        if not self.standardize:
            self.std[:] = 1.0
        self.flagged = [c for c in self.numeric if values[c].isna().any()] \
            if self.missing_flags else []
        self.categories = {c: sorted(f[c].dropna().astype(str).unique()) for c in
                           self.categorical}
        self.fitted = True
        return self

    def transform(self, features):
        """The design matrix for any rows, using only what `fit` learned."""
        if not self.fitted:
            raise RuntimeError("call fit(training rows) before transform")
        f = self._frame(features)
        absent = [c for c in self.numeric + self.categorical if c not in f.columns]
        if absent:
            raise KeyError(f"rows lack columns the preprocessor was fitted on: {absent[:5]}")
        values = f[self.numeric].to_numpy(np.float64)  # numpy: k-fold calls this often
        if self.skewed:
            where = [self.numeric.index(c) for c in self.skewed]
            values[:, where] = np.log1p(np.maximum(values[:, where], 0))
        if self.clip_quantile:
            values = self._clip(values)
        flags = np.isnan(values[:, [self.numeric.index(c) for c in self.flagged]])
        if self.standardize:
            values = (values - self.mean.to_numpy()) / self.std.to_numpy()
            values = np.nan_to_num(values, nan=0.0)
        else:
            values = np.where(np.isnan(values), self.mean.to_numpy(), values)
        blocks, names = [values, flags], self.numeric + [f"{c}_was_missing" for c in self.flagged]
        for c in self.categorical:
            missing = f[c].isna().to_numpy()
            text = f[c].astype(str).to_numpy()
            seen = self.categories[c]
            onehot = (text[:, None] == np.array(seen, dtype=object)[None, :]) & ~missing[:, None]
            if self.onehot:
                blocks.append(np.column_stack([onehot, missing]))
                names += [f"{c}_{v}" for v in seen] + [f"{c}_nan"]
            else:
                codes = onehot.argmax(axis=1) if seen else np.zeros(len(f), dtype=int)
                blocks.append(np.where(onehot.any(axis=1), codes, -1)[:, None])
                names.append(c)
        return pd.DataFrame(np.hstack(blocks).astype(np.float32), index=f.index, columns=names)

    def _clip(self, values):
        """Clip each column to [low, high]; NaN stays NaN (filled with the mean later)."""
        return np.clip(values, self.low.to_numpy(), self.high.to_numpy())

    def fit_transform(self, features):
        return self.fit(features).transform(features)


# ------------------------------------------------------------------------------- models
# Each model has fit(X, y, seed) -> predict, where X is an NDArray design matrix, y an (n, 1)
# NDArray of targets and predict(X) returns a numpy vector. Targets are centred first, so a
# bias starting at 0 need not travel to log(price) ~ 12 (or price ~ 180000).

def _centred(y):
    mean = float(y.mean().asscalar())
    return y - mean, mean


def _predictor(net, mean):
    return lambda X: net(X).asnumpy().ravel() + mean


def spare_biases(net):
    """Exempt every bias of `net` from a Trainer's `wd` (Gluon decays biases too by default:
    wd_mult is 1.0 for every parameter). Shrinking a bias towards 0 does not fight
    overfitting; it only pulls predictions towards 0."""
    net.collect_params(".*bias").setattr("wd_mult", 0.0)
    return net


@dataclass
class GluonRegressor:
    """Dense(1) (linear) or a one-hidden-layer MLP with dropout (丢弃法), trained by Adam.

    weight_decay (权重衰减) acts on weights only (`spare_biases`).
    batch_size=None trains full-batch (every step sees all training rows).
    """
    hidden: int = 0
    dropout: float = 0.0
    weight_decay: float = 0.0
    num_epochs: int = 100
    learning_rate: float = 0.01
    batch_size: int = None

    def fit(self, X, y, seed):
        training.seed_everything(seed)
        net = nn.Sequential()
        if self.hidden:
            net.add(nn.Dense(self.hidden, activation="relu"), nn.Dropout(self.dropout))
        net.add(nn.Dense(1))
        net.initialize(mx.init.Xavier() if self.hidden else mx.init.Uniform())
        spare_biases(net)
        y, mean = _centred(y)
        training.train(net, X, y, num_epochs=self.num_epochs, learning_rate=self.learning_rate,
                       batch_size=self.batch_size or X.shape[0],
                       weight_decay=self.weight_decay, metric=None)
        return _predictor(net, mean)


@dataclass
class Ridge:
    """Linear model with weight decay, solved exactly instead of by many Adam steps.

    Minimizes mean(0.5 * (Xw + b - y)^2) + weight_decay / 2 * |w|^2, the objective a Gluon
    Dense(1) with L2Loss and `wd=weight_decay` on its weight (not its bias) descends, so the
    same number means the same penalty. Setting the gradient to 0 gives
    (A^T A / m + weight_decay I) w = A^T y / m for centred A; a Cholesky factorization
    (mx.nd.linalg) solves it in milliseconds.
    """
    weight_decay: float = 0.01

    def fit(self, X, y, seed=None):
        if not self.weight_decay > 0:
            raise ValueError("Ridge needs weight_decay > 0 (without it A^T A may be singular: "
                             "one-hot columns of one feature sum to a constant)")
        y, mean = _centred(y)
        x_mean = X.mean(axis=0, keepdims=True)
        A = X - x_mean
        m, d = A.shape
        system = nd.dot(A, A, transpose_a=True) / m + self.weight_decay * nd.eye(d)
        lower = nd.linalg.potrf(system)
        w = nd.linalg.trsm(lower, nd.dot(A, y, transpose_a=True) / m)
        w = nd.linalg.trsm(lower, w, transpose=True)
        return _predictor(_dense_with(w, x_mean), mean)


def _dense_with(w, x_mean):
    """A Gluon Dense(1) computing (x - x_mean) . w, so it predicts from raw design rows."""
    net = nn.Dense(1, in_units=w.shape[0])
    net.initialize()
    net.weight.set_data(w.reshape((1, -1)))
    net.bias.set_data(-nd.dot(x_mean, w).reshape((1,)))
    return net


@dataclass
class Lasso:
    """Linear model with an L1 penalty alpha*|w|_1 on the mean squared error / 2.

    L1 sets many weights exactly to 0: with ~400 mostly one-hot columns and ~1200 rows it
    keeps the useful ones. Solved by proximal gradient with Nesterov momentum (FISTA) on
    the Gram matrix, in MXNet; the result is a Gluon Dense(1) with those weights.
    """
    alpha: float = 0.0007
    num_steps: int = 500

    def fit(self, X, y, seed=None):
        (predict,), weights = lasso_path(X, y, [self.alpha], self.num_steps)
        self.weights = weights[:, 0]  # to count the columns L1 kept
        return predict


def lasso_path(X, y, alphas, num_steps=500):
    """One FISTA run for several alphas at once (one weight column each): a grid search over
    alpha costs about as much as a single fit. Returns ([predict per alpha], weights (d, a)).
    """
    alphas = [float(a) for a in alphas]
    if not alphas or min(alphas) < 0:
        raise ValueError(f"alphas={alphas}: give at least one alpha >= 0")
    y, mean = _centred(y)
    x_mean = X.mean(axis=0, keepdims=True)
    A = X - x_mean
    m = A.shape[0]
    gram = nd.dot(A, A, transpose_a=True) / m
    corr = nd.dot(A, y, transpose_a=True) / m
    step = 1.0 / _largest_eigenvalue(gram)
    threshold = nd.array([alphas]) * step  # (1, a): each column its own penalty
    w = nd.zeros((corr.shape[0], len(alphas)))
    z, t = w, 1.0
    for _ in range(num_steps):
        moved = z - step * (nd.dot(gram, z) - corr)
        w_next = nd.sign(moved) * nd.relu(nd.broadcast_sub(nd.abs(moved), threshold))
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = w_next + ((t - 1) / t_next) * (w_next - w)
        w, t = w_next, t_next
    predictors = [_predictor(_dense_with(w[:, a:a + 1], x_mean), mean)
                  for a in range(len(alphas))]
    return predictors, w.asnumpy()


def _largest_eigenvalue(gram, iterations=100):
    """Power iteration: the gradient step 1/L that keeps proximal gradient stable."""
    v = nd.ones((gram.shape[0], 1)) / np.sqrt(gram.shape[0])
    for _ in range(iterations):
        v = nd.dot(gram, v)
        v = v / nd.norm(v)
    return nd.dot(v, nd.dot(gram, v), transpose_a=True).asnumpy().item() * 1.01


@dataclass
class Average:
    """Weighted average of several models' predictions (of log prices: a geometric mean).

    Each member is (weight, model, number of seeds): a stochastic model is fitted that many
    times, from consecutive seeds (different initializations and dropout masks), and its fits
    are averaged first; different models (linear plus MLP) err differently, so averaging helps.
    """
    members: list  # of (weight, model, number of seeds)

    def fit(self, X, y, seed):
        total = sum(w for w, _, _ in self.members)
        predictors = []
        for weight, model, n_seeds in self.members:
            fits = [model.fit(X, y, seed + s) for s in range(n_seeds)]
            predictors.append((weight / total, fits))
        return lambda Xv: sum(w * np.mean([p(Xv) for p in fits], axis=0)
                              for w, fits in predictors)


@dataclass
class GradientBoosting:
    """scikit-learn's HistGradientBoostingRegressor: what a practitioner reaches for on tables.

    Gradient-boosted trees need no scaling, find interactions and thresholds by themselves and
    are not hurt by skew. The hyperparameters are scikit-learn's defaults, so no choice of ours
    was tuned on the rows it is scored on. Pair it with Recipe(onehot=False): one integer code
    per categorical column (trees split on codes; a few hundred one-hot columns are slower).
    """
    max_iter: int = 100
    learning_rate: float = 0.1

    threads: int = 1  # OpenMP threads; more only pay on an idle machine with many cores

    def fit(self, X, y, seed):
        from sklearn.ensemble import HistGradientBoostingRegressor  # only this model needs it
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
        model = HistGradientBoostingRegressor(max_iter=self.max_iter,
                                              learning_rate=self.learning_rate,
                                              early_stopping=False, random_state=seed)
        with threadpool_limits(self.threads):
            model.fit(_host(X), _host(y).ravel())

        def predict(X_new):
            with threadpool_limits(self.threads):
                return model.predict(_host(X_new))
        return predict


def _host(array):
    return array.asnumpy() if isinstance(array, nd.NDArray) else np.asarray(array)


# ------------------------------------------------------------------------------ recipes

@dataclass
class Recipe:
    """Everything that turns the raw frames into predictions; k-fold scores a whole recipe."""
    model: object
    log_target: bool = True
    engineered: bool = False
    log_skewed: bool = False
    clip_quantile: float = 0.0
    stats_from: str = "fold"  # "fold": training rows only; "all": train+test rows (the book)
    drop_outliers: bool = False
    standardize: bool = True
    missing_flags: bool = False
    onehot: bool = True

    def preprocessor(self):
        return FoldPreprocessor(self.engineered, self.log_skewed, clip_quantile=self.clip_quantile,
                                standardize=self.standardize, onehot=self.onehot,
                                missing_flags=self.missing_flags)

    def preprocessing_key(self):
        """What the design matrix depends on: recipes that share it can share the matrices."""
        return (self.engineered, self.log_skewed, self.clip_quantile, self.stats_from,
                self.drop_outliers, self.standardize, self.missing_flags, self.onehot)


def _features(df):
    return df.drop(columns=[c for c in ("Id", LABEL) if c in df.columns])


def _design(recipe, train_rows, predict_rows, all_features):
    """(X, X_new, training rows used): the recipe's design matrices as NDArrays."""
    if recipe.stats_from not in ("fold", "all"):
        raise ValueError(f"stats_from={recipe.stats_from!r}; use 'fold' or 'all'")
    if recipe.drop_outliers:
        train_rows = train_rows[~outlier_mask(train_rows)]
    prep = recipe.preprocessor()
    prep.fit(all_features if recipe.stats_from == "all" else _features(train_rows))
    X = nd.array(prep.transform(_features(train_rows)).to_numpy())
    X_new = nd.array(prep.transform(_features(predict_rows)).to_numpy())
    return X, X_new, train_rows


def _fit_and_predict(recipe, train_rows, predict_rows, all_features, seed, design=None):
    """Fit the recipe on train_rows (a frame with SalePrice), predict prices for predict_rows."""
    X, X_new, train_rows = design or _design(recipe, train_rows, predict_rows, all_features)
    prices = train_rows[LABEL].to_numpy(np.float64)
    target = np.log(prices) if recipe.log_target else prices
    predict = recipe.model.fit(X, nd.array(target.reshape(-1, 1)), seed)
    out = predict(X_new).astype(np.float64)
    return np.exp(out) if recipe.log_target else out


@dataclass
class CVResult:
    """Per-fold validation log RMSE of one recipe for one seed, and out-of-fold predictions."""
    scores: list
    predictions: np.ndarray = field(repr=False)

    @property
    def mean(self):
        return float(np.mean(self.scores))


def cross_validate(recipe, train_df, test_df=None, k=5, seed=0, folds=None, designs=None):
    """k-fold CV (the book's contiguous folds unless `folds` lists (train_idx, valid_idx)).

    Outliers are dropped from the training folds only (when the recipe says so) and every
    statistic is fitted per fold, so no statistic has seen its validation fold. The mean score
    is still selection-biased if the recipe's settings were picked by this same score.
    test_df is needed only for stats_from="all" (the book's way of standardizing).
    designs: a dict to reuse design matrices across recipes with equal preprocessing
    (the caller owns it; keep one per train_df).
    """
    if LABEL not in train_df.columns:
        raise KeyError(f"train_df has no {LABEL} column; pass the training frame")
    all_features = None
    if recipe.stats_from == "all":
        if test_df is None:
            raise ValueError("stats_from='all' fits statistics on train and test rows: "
                             "pass test_df")
        all_features = pd.concat([_features(train_df), _features(test_df)], ignore_index=True)
    folds = training.k_fold_indices(len(train_df), k) if folds is None else folds
    predictions = np.full(len(train_df), np.nan)
    scores = []
    for train_idx, valid_idx in folds:
        valid = train_df.iloc[valid_idx]
        design = None
        if designs is not None:
            key = (recipe.preprocessing_key(), np.asarray(train_idx).tobytes(),
                   np.asarray(valid_idx).tobytes())
            if key not in designs:
                designs[key] = _design(recipe, train_df.iloc[train_idx], valid, all_features)
            design = designs[key]
        pred = _fit_and_predict(recipe, train_df.iloc[train_idx], valid, all_features, seed,
                                design)
        predictions[valid_idx] = pred
        scores.append(training.log_rmse(pred, valid[LABEL].to_numpy()))
    return CVResult(scores, predictions)


def fit_predict(recipe, train_df, test_df, seed=0):
    """Train the recipe on all training rows; predicted prices for test_df's rows."""
    all_features = pd.concat([_features(train_df), _features(test_df)], ignore_index=True)
    return _fit_and_predict(recipe, train_df, test_df, all_features, seed)
