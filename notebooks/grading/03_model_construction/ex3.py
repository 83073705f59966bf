"""Exercise 3: layers kept in a Python list, and the fix."""
import warnings

from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 3"
points = 2


@test_case(points=1, hidden=True,
           failure_message="ListNestMLP's listed layers should stay unregistered: "
                           "collect_params() finds 2 parameters and the forward pass fails")
def test_list(env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = env["ListNestMLP"]()
        net.initialize()
        assert len(net.collect_params().keys()) == 2
        try:
            net(env["X"])
        except RuntimeError:
            return
    raise AssertionError("the forward pass ran")


@test_case(points=1, hidden=True,
           failure_message="RegisteredListNestMLP should own all 6 parameters and give "
                           "an output of shape (2, 16)")
def test_registered(env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = env["RegisteredListNestMLP"]()
        net.initialize()
        assert len(net.collect_params().keys()) == 6
        assert net(env["X"]).shape == (2, 16)
