"""Exercise 5: a factory of blocks."""
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 5"
points = 2


@test_case(points=1, hidden=True,
           failure_message="repeated(make_block, n) should return n separate blocks from make_block")
def test_separate(env):
    from mxnet.gluon import nn

    blocks = list(env["repeated"](lambda: nn.Dense(7), 3))
    assert len(blocks) == 3 and len({id(b) for b in blocks}) == 3
    assert all(isinstance(b, nn.Dense) for b in blocks)


@test_case(points=1, hidden=True,
           failure_message="the blocks of repeated(...) should each have their own parameters")
def test_parameters(env):
    from mxnet.gluon import nn

    net = nn.Sequential()
    net.add(*env["repeated"](lambda: nn.Dense(20, activation="relu"), 4))
    net.initialize()
    net(env["X"])
    assert sum(p.data().size for p in net.collect_params().values()) == 4 * (20 * 20 + 20)
