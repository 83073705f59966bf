"""Exercise 7: FancyMLP's loop and condition as operators, hybridized."""
import json

import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 7"
points = 3


def hybridized(env, cls):
    env["seed_everything"](env["SEED"])
    block = cls()
    block.initialize()
    block(env["X"])  # the first forward draws the Dense weights
    block.hybridize()
    return block


@test_case(points=2, hidden=True,
           failure_message="LoopFancyMLP, hybridized, should give FancyMLP's outputs "
                           "(same weights) for small and large inputs")
def test_outputs(env):
    assert issubclass(env["LoopFancyMLP"], env["HybridFancyMLP"])
    looped, X = hybridized(env, env["LoopFancyMLP"]), env["X"]
    env["seed_everything"](env["SEED"])
    fancy = env["FancyMLP"]()
    fancy.initialize()
    for scale in (0.01, 1.0, 100.0, 1e4):
        np.testing.assert_allclose(looped(X * scale).asscalar(), fancy(X * scale).asscalar(),
                                   rtol=1e-5)


@test_case(points=1, hidden=True,
           failure_message="LoopFancyMLP's graph should hold a while_loop and a cond operator")
def test_operators(env):
    import mxnet as mx

    graph = json.loads(hybridized(env, env["LoopFancyMLP"])(mx.sym.var("data")).tojson())
    ops = {node["op"] for node in graph["nodes"]}
    assert "_while_loop" in ops and "_cond" in ops, ops
