"""Exercise 4: a parallel block."""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 4"
points = 2


def built(env):
    from mxnet.gluon import nn

    net1, net2 = nn.Dense(3), nn.Dense(4, activation="relu")
    block = env["Parallel"](net1, net2)
    block.initialize()
    return block, net1, net2


@test_case(points=1, hidden=True,
           failure_message="Parallel(net1, net2)(X) should be net1(X) and net2(X) side by side "
                           "(one row per example)")
def test_concat(env):
    block, net1, net2 = built(env)
    X = env["X"]
    out = block(X).asnumpy()
    np.testing.assert_allclose(out, np.concatenate([net1(X).asnumpy(), net2(X).asnumpy()], 1))


@test_case(points=1, hidden=True,
           failure_message="Parallel should register its branches, so that collect_params() "
                           "finds their parameters")
def test_registered(env):
    block, net1, net2 = built(env)
    block(env["X"])
    assert len(block.collect_params().keys()) == 4
