"""Exercise 3 (first list): the linear model without standardization."""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 3"
points = 2


@test_case(points=1, hidden=True,
           failure_message="raw_units and standardized should be the K-fold results of "
                           "house.cross_validate (a score per fold)")
def test_results(raw_units, standardized, K):
    for result in (raw_units, standardized):
        assert len(result.scores) == K and np.isfinite(result.mean)


@test_case(points=1, hidden=True,
           failure_message="in raw units the linear model should end far worse (mean log RMSE "
                           "more than 0.1 higher) than on standardized features")
def test_worse(raw_units, standardized):
    assert raw_units.mean > standardized.mean + 0.1
