"""Exercise 9: MySequential on HybridBlock."""
import json

import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 9"
points = 2


def two_dense(env, container):
    from mxnet.gluon import nn

    env["seed_everything"](env["SEED"])
    container.add(nn.Dense(8, activation="relu"))
    container.add(nn.Dense(3))
    container.initialize()
    container(env["X"])
    container.hybridize()
    return container


@test_case(points=1, hidden=True,
           failure_message="MyHybridSequential, hybridized, should give nn.HybridSequential's "
                           "output with the same layers")
def test_output(env):
    from mxnet.gluon import nn

    mine, theirs = two_dense(env, env["MyHybridSequential"]()), two_dense(env, nn.HybridSequential())
    assert isinstance(mine, nn.HybridBlock)
    np.testing.assert_allclose(mine(env["X"]).asnumpy(), theirs(env["X"]).asnumpy(), rtol=1e-6)


@test_case(points=1, hidden=True,
           failure_message="MyHybridSequential's graph should be its children's operators in order")
def test_graph(env):
    import mxnet as mx

    graph = json.loads(two_dense(env, env["MyHybridSequential"]())(mx.sym.var("data")).tojson())
    ops = [node["op"] for node in graph["nodes"] if node["op"] != "null"]
    assert ops == ["FullyConnected", "Activation", "FullyConnected"], ops
