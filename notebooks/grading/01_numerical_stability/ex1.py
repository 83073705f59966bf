"""Exercise 1: an all-zero start, measured for ReLU, tanh and the sigmoid."""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 1"
points = 4
ACTIVATIONS = ("relu", "tanh", "sigmoid")


@test_case(points=1, hidden=True,
           failure_message="zero_start should map 'relu', 'tanh' and 'sigmoid' to a dict with "
                           "hidden_output, moving and identical")
def test_keys(zero_start):
    assert set(ACTIVATIONS) <= set(zero_start)
    for activation in ACTIVATIONS:
        assert {"hidden_output", "moving", "identical"} <= set(zero_start[activation])


@test_case(points=1, hidden=True,
           failure_message="hidden_output: from an all-zero start every hidden unit outputs "
                           "phi(0): 0 for ReLU and tanh, 0.5 for the sigmoid")
def test_hidden_output(zero_start):
    for activation, value in zip(ACTIVATIONS, (0.0, 0.0, 0.5)):
        np.testing.assert_allclose(np.unique(np.asarray(zero_start[activation]["hidden_output"],
                                                        dtype=float)), [value])


@test_case(points=1, hidden=True,
           failure_message="moving: with phi(0) = 0 only the output bias gets a gradient; with "
                           "the sigmoid the output weight and the output bias")
def test_moving(zero_start):
    expected = {"relu": {"output bias"}, "tanh": {"output bias"},
                "sigmoid": {"output weight", "output bias"}}
    for activation in ACTIVATIONS:
        assert set(zero_start[activation]["moving"]) == expected[activation]


@test_case(points=1, hidden=True,
           failure_message="identical: after training from the all-zero start the hidden "
                           "weight rows are still identical, for every activation")
def test_identical(zero_start):
    assert all(bool(zero_start[a]["identical"]) is True for a in ACTIVATIONS)
