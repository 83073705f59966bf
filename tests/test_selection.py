"""Tests for utils/selection.py: nested cross-validation keeps each scoring fold out of every
choice, fits are shared between outer and inner loops, paired changes are what they say."""
from dataclasses import dataclass

import numpy as np
import pytest

from test_house import house_frame
from utils import data, selection
from utils.train import k_fold_indices


@dataclass
class MeanModel:
    """A stand-in MLP: predicts the training mean plus a shift (fast, deterministic)."""
    shift: float = 0.0

    def fit(self, X, y, seed):
        mean = float(y.mean().asscalar()) + self.shift
        return lambda X_new: np.full(X_new.shape[0], mean)


def small_grid(**kw):
    settings = dict(clips=[0.0, 0.05], alphas=[0.001, 0.05], weights=[0.0, 0.5, 1.0],
                    mlps={"mean": MeanModel(), "shifted": MeanModel(0.2)}, seeds=1)
    settings.update(kw)
    return selection.Grid(**settings)


def fold_fits(frame, k=4):
    return selection.FoldFits(frame, [v for _, v in k_fold_indices(len(frame), k)])


def test_paired_change_is_mean_and_standard_error_of_differences():
    change, error = selection.paired_change([0.12, 0.10, 0.14], [0.13, 0.12, 0.14])
    d = np.array([-0.01, -0.02, 0.0])
    assert change == pytest.approx(d.mean())
    assert error == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    with pytest.raises(ValueError, match="at least 2 folds"):
        selection.paired_change([0.1], [0.2])


def test_a_choice_never_sees_the_fold_it_is_scored_on():
    frame = house_frame(60)
    changed = frame.copy()
    first_fold = k_fold_indices(len(frame), 4)[0][1]
    changed.loc[first_fold, "SalePrice"] *= np.linspace(0.3, 3.0, len(first_fold))
    grid = small_grid()
    outer_0 = [selection.choose(fold_fits(f), [1, 2, 3], grid) for f in (frame, changed)]
    assert outer_0[0] == outer_0[1]  # fold 0's prices played no part in its choice
    on_all = [selection.choose(fold_fits(f), range(4), grid) for f in (frame, changed)]
    assert on_all[0].score != on_all[1].score  # while choosing on all folds uses them


def test_nested_cv_scores_out_of_fold_predictions_and_shares_fits():
    frame = house_frame(60)
    fits = fold_fits(frame, k=4)
    grid = small_grid(clips=[0.0], mlps={"mean": MeanModel()})
    biased = selection.selected_on_all_folds(fits, grid)
    nested = selection.nested_cv(fits, grid)
    k, pairs = 4, 4 * 3 // 2
    # one L1 path and one MLP per training set: k outer sets plus one per pair of folds
    assert fits.model_fits == 2 * (k + pairs)
    assert len(nested.choices) == k and len(biased.choices) == 1
    assert np.isfinite(nested.log_predictions).all()
    for i, rows in enumerate(fits.folds):
        truth = np.log(frame["SalePrice"].to_numpy()[rows])
        assert nested.scores[i] == pytest.approx(
            selection.rmse(nested.log_predictions[rows], truth))
    # the selection-biased score is the very score the choice minimized
    assert biased.mean == pytest.approx(biased.choices[0].score)


def test_fold_fits_refuse_bad_input():
    frame = house_frame(40)
    with pytest.raises(KeyError, match="SalePrice"):
        selection.FoldFits(frame.drop(columns=["SalePrice"]), [np.arange(10)])
    fits = fold_fits(frame)
    with pytest.raises(ValueError, match="subset of 0..3"):
        fits.design([7], 0.0)
    with pytest.raises(ValueError, match="at least 2 folds"):
        selection.choose(fits, [0], small_grid())


def test_real_data_nested_cv_of_the_l1_recipe_scores_as_measured(house_dir):
    """The nested CV (5 outer folds) on the real data with a one-point grid: the L1 recipe
    alone (weight 1.0 on the linear model). That a choice never sees its scoring fold is
    tested above, on small frames."""
    train_df, _ = data.load_house_data(house_dir, download=False)
    fits = fold_fits(train_df, k=5)
    grid = small_grid(clips=[0.005], alphas=[0.0007], mlps={"mean": MeanModel()},
                      weights=[1.0])
    nested = selection.nested_cv(fits, grid)
    assert 0.10 < nested.mean < 0.13, nested.mean  # the L1 recipe: measured 0.118
