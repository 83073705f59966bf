"""Exercise 2: linear and softmax regression from all weights equal."""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 2"
points = 3


@test_case(points=1, hidden=True,
           failure_message="linear_error should map the starts 0.0 and 0.5 to the largest "
                           "error of the learned weights, below 0.05 for both")
def test_linear(linear_error):
    assert {0.0, 0.5} <= set(linear_error)
    assert all(0 <= float(linear_error[s]) < 0.05 for s in (0.0, 0.5))


@test_case(points=1, hidden=True,
           failure_message="accuracy should map the starts 0.0 and 0.5 to the softmax "
                           "regression's training accuracy, above 0.9 for both")
def test_accuracy(accuracy):
    assert {0.0, 0.5} <= set(accuracy)
    assert all(0.9 < float(accuracy[s]) <= 1 for s in (0.0, 0.5))


@test_case(points=1, hidden=True,
           failure_message="shift (the softmax weights from 0.5 minus those from 0) should be "
                           "0.5 in every entry")
def test_shift(shift):
    shift = np.asarray(shift, dtype=float)
    assert shift.size >= 3 and np.abs(shift - 0.5).max() < 1e-4
