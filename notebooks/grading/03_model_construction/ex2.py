"""Exercise 2: the loop condition without asscalar(), and with one norm per example."""
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 2"
points = 2


def output(env, cls):
    # a new block of class cls, with the weights the seed draws, on the notebook's X
    env["seed_everything"](env["SEED"])
    block = cls()
    block.initialize()
    return block(env["X"])


@test_case(points=1, hidden=True,
           failure_message="NoScalarFancyMLP should give FancyMLP's output with the same weights")
def test_no_scalar(env):
    assert issubclass(env["NoScalarFancyMLP"], env["FancyMLP"])
    expected = output(env, env["FancyMLP"]).asscalar()
    assert output(env, env["NoScalarFancyMLP"]).asscalar() == expected


@test_case(points=1, hidden=True,
           failure_message="RowwiseFancyMLP on two rows should stop with a ValueError")
def test_rowwise(env):
    assert issubclass(env["RowwiseFancyMLP"], env["FancyMLP"])
    try:
        output(env, env["RowwiseFancyMLP"])
    except ValueError:
        return
    raise AssertionError("no ValueError")
