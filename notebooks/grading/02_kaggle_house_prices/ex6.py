"""Exercise 6 (Going further): is filling in the mean always right?"""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 6"
points = 2


@test_case(points=1, hidden=True,
           failure_message="medians should be the median SalePrice of the houses without "
                           "(False) and with (True) a recorded LotFrontage")
def test_medians(medians, train_data):
    recorded = train_data["LotFrontage"].notna()
    for key in (False, True):
        assert float(medians[key]) == float(train_data.loc[recorded == key, "SalePrice"].median())


@test_case(points=1, hidden=True,
           failure_message="flagged should be the K-fold result of the recipe with missing flags, "
                           "and change its paired change against engineered")
def test_change(flagged, change, engineered, selection, K):
    assert len(flagged.scores) == K
    expected, _ = selection.paired_change(flagged.scores, engineered.scores)
    assert np.isclose(float(change), expected)
