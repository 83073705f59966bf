"""Tests for utils/house.py on tiny frames, plus one check of the final recipe on real data."""
import numpy as np
import pandas as pd
import pytest
from mxnet import nd

from utils import data, house
from utils.train import k_fold_indices, log_rmse


def house_frame(n=40, seed=0, with_price=True):
    """A tiny frame with the columns add_features needs, prices driven by size and quality."""
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "Id": np.arange(1, n + 1),
        "GrLivArea": rng.randint(800, 3000, n),
        "TotalBsmtSF": rng.choice([0, 600, 900, 1200], n).astype(float),
        "1stFlrSF": rng.randint(600, 1500, n),
        "2ndFlrSF": rng.choice([0, 400, 800], n),
        "FullBath": rng.randint(1, 3, n),
        "HalfBath": rng.randint(0, 2, n),
        "OverallQual": rng.randint(3, 10, n),
        "YearBuilt": rng.randint(1920, 2008, n),
        "YrSold": rng.randint(2006, 2011, n),
        "MSSubClass": rng.choice([20, 60, 90], n),
        "KitchenQual": rng.choice(["Ex", "Gd", "TA", "Fa"], n).astype(object),
        "PoolQC": np.array([None] * n, dtype=object),
        "Neighborhood": rng.choice(["NAmes", "CollgCr", "OldTown"], n).astype(object),
        "LotArea": rng.lognormal(9, 0.6, n).round(),
    })
    if with_price:
        frame["SalePrice"] = np.round(np.exp(10.5 + 0.0004 * frame["GrLivArea"]
                                             + 0.08 * frame["OverallQual"]
                                             + rng.normal(0, 0.05, n)))
    return frame


class Spy:
    """A model that records the design matrix it was fitted on and predicts the mean."""

    def __init__(self):
        self.fitted_on = []

    def fit(self, X, y, seed):
        self.fitted_on.append(X.asnumpy().copy())
        mean = float(y.mean().asscalar())
        return lambda X_new: np.full(X_new.shape[0], mean)


# -------------------------------------------------------------------------- add_features

def test_add_features_grades_totals_and_codes():
    frame = house_frame(6)
    frame.loc[0, ["KitchenQual", "TotalBsmtSF", "1stFlrSF", "2ndFlrSF"]] = ["Ex", 500, 700, 300]
    frame.loc[0, ["YearBuilt", "YrSold", "MSSubClass"]] = [2000, 2008, 60]
    out = house.add_features(frame.drop(columns=["Id", "SalePrice"]))
    assert out.loc[0, "KitchenQual_grade"] == 5
    assert (out["PoolQC_grade"] == 0).all()  # missing pool: "no pool", below the worst grade
    assert out.loc[0, "TotalSF"] == 1500
    assert out.loc[0, "Age"] == 8
    assert out.loc[0, "MSSubClass"] == "MSSubClass_60"  # a code, one-hot later
    assert len(out) == 6 and out.index.equals(frame.index)


def test_add_features_says_which_columns_are_missing():
    with pytest.raises(KeyError, match="GrLivArea"):
        house.add_features(house_frame(5).drop(columns=["GrLivArea"]))


# ---------------------------------------------------------------------------- outliers

def test_outlier_mask_marks_big_cheap_houses_only():
    frame = house_frame(5)
    frame.loc[1, ["GrLivArea", "SalePrice"]] = [4500, 200000]   # outlier
    frame.loc[2, ["GrLivArea", "SalePrice"]] = [4500, 700000]   # big but expensive: kept
    frame.loc[3, ["GrLivArea", "SalePrice"]] = [3900, 100000]   # cheap but not big: kept
    assert house.outlier_mask(frame).tolist() == [False, True, False, False, False]
    with pytest.raises(KeyError, match="SalePrice"):
        house.outlier_mask(frame.drop(columns=["SalePrice"]))


def test_outliers_leave_training_folds_but_stay_in_validation_folds():
    frame = house_frame(40)
    frame.loc[[3, 25], ["GrLivArea", "SalePrice"]] = [[5000, 150000], [4800, 160000]]
    spy = Spy()
    result = house.cross_validate(house.Recipe(spy, drop_outliers=True), frame)
    folds = k_fold_indices(len(frame), 5)
    outlier_rows = {3, 25}
    for (train_idx, valid_idx), X in zip(folds, spy.fitted_on):
        assert X.shape[0] == len(train_idx) - len(outlier_rows & set(train_idx))
    assert np.isfinite(result.predictions).all()  # every validation row, outliers too, scored
    fold_of_3 = [i for i, (_, v) in enumerate(folds) if 3 in v][0]
    valid = folds[fold_of_3][1]
    expected = log_rmse(result.predictions[valid], frame["SalePrice"].to_numpy()[valid])
    assert result.scores[fold_of_3] == pytest.approx(expected)


# ----------------------------------------------------------------------- preprocessing

def test_training_fold_statistics_never_see_validation_rows():
    frame = house_frame(40)
    changed = frame.copy()
    first_valid = k_fold_indices(len(frame), 5)[0][1]
    changed.loc[first_valid, "LotArea"] = 1e7            # absurd values in fold 1 only
    changed.loc[first_valid, "Neighborhood"] = "Nowhere"  # and a category only it has
    recipe = dict(engineered=True, log_skewed=True, clip_quantile=0.05)
    spies = Spy(), Spy()
    house.cross_validate(house.Recipe(spies[0], **recipe), frame)
    house.cross_validate(house.Recipe(spies[1], **recipe), changed)
    # fold 1's training matrix is identical: nothing about its validation rows got in
    np.testing.assert_array_equal(spies[0].fitted_on[0], spies[1].fitted_on[0])
    # while every other fold trains on the changed rows, so its matrix differs
    assert not np.array_equal(spies[0].fitted_on[1], spies[1].fitted_on[1])


def test_stats_from_all_uses_test_rows_and_needs_them():
    frame = house_frame(40)
    with pytest.raises(ValueError, match="pass test_df"):
        house.cross_validate(house.Recipe(Spy(), stats_from="all"), frame)
    test = house_frame(10, seed=1, with_price=False)
    test["Id"] += 100
    result = house.cross_validate(house.Recipe(house.Ridge(0.1), stats_from="all"), frame, test)
    assert len(result.scores) == 5 and np.isfinite(result.scores).all()
    with pytest.raises(ValueError, match="stats_from"):
        house.cross_validate(house.Recipe(Spy(), stats_from="valid"), frame)


def test_preprocessor_uses_only_fitted_statistics():
    train_rows = house_frame(30).drop(columns=["Id", "SalePrice"])
    new_rows = house_frame(5, seed=3).drop(columns=["Id", "SalePrice"])
    new_rows.loc[0, "Neighborhood"] = "Unseen"
    new_rows.loc[1, "Neighborhood"] = None
    new_rows.loc[2, "GrLivArea"] = 50000  # far outside the fitted range
    prep = house.FoldPreprocessor(log_skewed=True, clip_quantile=0.05).fit(train_rows)
    fitted = prep.transform(train_rows)
    out = prep.transform(new_rows)
    assert list(out.columns) == list(fitted.columns) and out.dtypes.eq(np.float32).all()
    hood = [c for c in out.columns if c.startswith("Neighborhood_")]
    assert out.loc[0, hood].sum() == 0                 # unseen category: all zeros
    assert out.loc[1, "Neighborhood_nan"] == 1         # missing: its own column
    assert out.loc[2, "GrLivArea"] == pytest.approx(fitted["GrLivArea"].max())  # clipped
    assert "LotArea" in prep.skewed or abs(train_rows["LotArea"].skew()) <= 0.75
    # standardized with the fitted rows' statistics: mean 0 there
    assert abs(fitted["YearBuilt"].mean()) < 1e-5


def test_preprocessor_errors_are_clear():
    rows = house_frame(10).drop(columns=["Id", "SalePrice"])
    with pytest.raises(RuntimeError, match="fit"):
        house.FoldPreprocessor().transform(rows)
    with pytest.raises(ValueError, match="clip_quantile"):
        house.FoldPreprocessor(clip_quantile=0.5)
    with pytest.raises(ValueError, match="at least 2 rows"):
        house.FoldPreprocessor().fit(rows.iloc[:1])
    prep = house.FoldPreprocessor().fit(rows)
    with pytest.raises(KeyError, match="GrLivArea"):
        prep.transform(rows.drop(columns=["GrLivArea"]))


def test_constant_column_does_not_divide_by_zero():
    rows = house_frame(10).drop(columns=["Id", "SalePrice"])
    rows["Constant"] = 7.0
    out = house.FoldPreprocessor().fit_transform(rows)
    assert (out["Constant"] == 0).all()


def test_synthetic_frames_run_through_a_recipe():
    train_df, test_df = data.synthetic_house_frames(n_train=40, n_test=10)
    result = house.cross_validate(house.Recipe(house.Ridge(0.1), log_skewed=True), train_df)
    assert np.isfinite(result.predictions).all() and result.mean < 0.3
    prices = house.fit_predict(house.Recipe(house.Ridge(0.1)), train_df, test_df)
    assert prices.shape == (10,) and (prices > 0).all()


# ------------------------------------------------------------------------------ models

def regression_problem(n=200, d=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    w = np.zeros(d)
    w[:3] = [2.0, -1.0, 0.5]
    y = X @ w + 3.0 + rng.normal(0, 0.01, n)
    return X, y, w


def test_ridge_matches_the_normal_equations():
    X, y, _ = regression_problem()
    wd = 0.1
    predict = house.Ridge(wd).fit(nd.array(X), nd.array(y.reshape(-1, 1)))
    A = X - X.mean(0)
    w = np.linalg.solve(A.T @ A / len(y) + wd * np.eye(X.shape[1]), A.T @ (y - y.mean()) / len(y))
    expected = (X - X.mean(0)) @ w + y.mean()
    np.testing.assert_allclose(predict(nd.array(X)), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="weight_decay > 0"):
        house.Ridge(0.0).fit(nd.array(X), nd.array(y.reshape(-1, 1)))


def test_lasso_zeroes_irrelevant_weights():
    X, y, w = regression_problem()
    model = house.Lasso(alpha=0.05)
    predict = model.fit(nd.array(X), nd.array(y.reshape(-1, 1)))
    assert (model.weights[3:] == 0).all()
    assert (np.abs(model.weights[:3]) > 0.3).all()
    assert np.sqrt(np.mean((predict(nd.array(X)) - y) ** 2)) < 0.2


def test_gluon_regressor_learns_and_repeats_with_a_seed():
    X, y, _ = regression_problem(n=100, d=4)
    args = nd.array(X), nd.array(y.reshape(-1, 1))
    model = house.GluonRegressor(hidden=16, dropout=0.1, num_epochs=150, learning_rate=0.02)
    first = model.fit(*args, seed=1)(args[0])
    second = model.fit(*args, seed=1)(args[0])
    np.testing.assert_array_equal(first, second)
    assert np.sqrt(np.mean((first - y) ** 2)) < 0.5 * y.std()


def test_average_weights_members_and_their_seeds():
    class Constant:
        def __init__(self, value):
            self.value, self.seeds = value, []

        def fit(self, X, y, seed):
            self.seeds.append(seed)
            return lambda X_new: np.full(X_new.shape[0], self.value + seed)

    low, high = Constant(0.0), Constant(10.0)
    X, y = nd.ones((3, 2)), nd.ones((3, 1))
    predict = house.Average([(3, low, 2), (1, high, 1)]).fit(X, y, seed=0)
    # low averages seeds 0 and 1 -> 0.5; high -> 10; weights 3:1
    np.testing.assert_allclose(predict(X), 0.75 * 0.5 + 0.25 * 10.0)
    assert low.seeds == [0, 1] and high.seeds == [0]


# ------------------------------------------------------------------------------ real data

def test_final_linear_model_on_the_first_fold_of_real_data(house_dir):
    """The L1 model of the final recipe, fold 1 only (the notebook runs all five)."""
    train_df, _ = data.load_house_data(house_dir, download=False)
    train_idx, valid_idx = k_fold_indices(len(train_df), 5)[0]
    recipe = house.Recipe(house.Lasso(0.0007), engineered=True, log_skewed=True,
                          clip_quantile=0.005, drop_outliers=True)
    valid = train_df.iloc[valid_idx]
    prices = house.fit_predict(recipe, train_df.iloc[train_idx], valid)
    score = log_rmse(prices, valid["SalePrice"].to_numpy())
    book_like = house.fit_predict(house.Recipe(house.Ridge(1e-4), log_target=False),
                                  train_df.iloc[train_idx], valid)
    assert score < 0.115, score  # measured 0.105 on this fold
    assert score < log_rmse(book_like, valid["SalePrice"].to_numpy()) - 0.03


# ------------------------------------------------------------- options added for notebook 2

def test_lasso_path_matches_separate_fits():
    X, y, _ = regression_problem()
    args = nd.array(X), nd.array(y.reshape(-1, 1))
    predictors, weights = house.lasso_path(*args, [0.01, 0.05])
    for column, alpha in enumerate((0.01, 0.05)):
        model = house.Lasso(alpha)
        predict = model.fit(*args)
        np.testing.assert_allclose(weights[:, column], model.weights, atol=1e-6)
        np.testing.assert_allclose(predictors[column](args[0]), predict(args[0]), atol=1e-5)
    assert (weights[:, 1] == 0).sum() >= (weights[:, 0] == 0).sum()  # more alpha, fewer kept
    with pytest.raises(ValueError, match="alpha"):
        house.lasso_path(*args, [])


def test_standardize_off_keeps_raw_units_and_fills_the_mean():
    rows = house_frame(20).drop(columns=["Id", "SalePrice"])
    rows.loc[3, "GrLivArea"] = np.nan
    out = house.FoldPreprocessor(standardize=False).fit_transform(rows)
    np.testing.assert_allclose(out.loc[0, "GrLivArea"], rows.loc[0, "GrLivArea"])
    assert out.loc[3, "GrLivArea"] == pytest.approx(rows["GrLivArea"].mean())


def test_missing_flags_mark_the_rows_that_were_missing():
    rows = house_frame(20).drop(columns=["Id", "SalePrice"])
    rows.loc[[2, 5], "LotArea"] = np.nan
    prep = house.FoldPreprocessor(missing_flags=True).fit(rows)
    out = prep.transform(rows)
    assert out["LotArea_was_missing"].tolist() == [float(i in (2, 5)) for i in range(20)]
    assert "GrLivArea_was_missing" not in out  # never missing in the fitted rows: no flag
    assert "LotArea_was_missing" not in house.FoldPreprocessor().fit_transform(rows)


def test_onehot_off_gives_one_code_per_category():
    train_rows = house_frame(20).drop(columns=["Id", "SalePrice"])
    new_rows = house_frame(3, seed=4).drop(columns=["Id", "SalePrice"])
    new_rows.loc[0, "Neighborhood"], new_rows.loc[1, "Neighborhood"] = "Unseen", None
    prep = house.FoldPreprocessor(onehot=False).fit(train_rows)
    out = prep.transform(new_rows)
    assert not any(c.startswith("Neighborhood_") for c in out.columns)
    assert out.loc[0, "Neighborhood"] == -1 and out.loc[1, "Neighborhood"] == -1
    seen = prep.categories["Neighborhood"]
    assert out.loc[2, "Neighborhood"] == seen.index(new_rows.loc[2, "Neighborhood"])


def test_cross_validate_takes_folds_and_shares_designs():
    frame = house_frame(40)
    recipe = house.Recipe(house.Ridge(0.1), log_skewed=True)
    plain = house.cross_validate(recipe, frame)
    designs = {}
    cached = house.cross_validate(recipe, frame, designs=designs)
    again = house.cross_validate(house.Recipe(house.Ridge(0.1), log_skewed=True), frame,
                                 designs=designs)
    assert plain.scores == cached.scores == again.scores and len(designs) == 5
    shuffled = house.cross_validate(recipe, frame,
                                    folds=k_fold_indices(40, 5, shuffle=True, seed=1))
    assert shuffled.scores != plain.scores and np.isfinite(shuffled.predictions).all()


def test_gradient_boosting_learns_a_table():
    pytest.importorskip("sklearn")
    X, y, _ = regression_problem(n=300, d=4)
    predict = house.GradientBoosting().fit(nd.array(X), nd.array(y.reshape(-1, 1)), seed=0)
    assert np.sqrt(np.mean((predict(nd.array(X)) - y) ** 2)) < 0.5 * y.std()


def test_spare_biases_keeps_trainer_wd_off_the_bias_only():
    from mxnet import autograd, gluon
    from mxnet.gluon import nn

    def one_zero_gradient_step(spare):
        net = nn.Sequential()
        net.add(nn.Dense(3, in_units=2), nn.Dense(1, in_units=3))
        net.initialize()
        for param in net.collect_params().values():
            param.set_data(nd.ones(param.shape) * 10)
        if spare:
            house.spare_biases(net)
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "wd": 0.5})
        with autograd.record():
            loss = 0 * net(nd.ones((1, 2))).sum()  # the gradient is zero: only wd moves anything
        loss.backward()
        trainer.step(1)
        return [(name, param.data().asnumpy()) for name, param in net.collect_params().items()]

    decayed, spared = one_zero_gradient_step(False), one_zero_gradient_step(True)
    assert len(decayed) == 4
    for (name, before), (_, after) in zip(decayed, spared):
        assert np.allclose(before, 9.5)  # Gluon's default: wd_mult 1.0, biases too
        assert np.allclose(after, 10.0 if name.endswith("bias") else 9.5), name
