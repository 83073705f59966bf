"""Exercise 8: halve each row until its norm is at most 1, with array operations."""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 8"
points = 2


@test_case(points=2, hidden=True,
           failure_message="RowwiseHalvingFancyMLP should halve each row until its own norm is "
                           "at most 1 (a row that needs no halving stays as it is)")
def test_rows(env):
    nd = env["nd"]
    env["seed_everything"](env["SEED"])
    net = env["RowwiseHalvingFancyMLP"]()
    net.initialize()
    X = env["X"]
    net(X)
    for scale in (0.0, 0.01, 1.0, 100.0, 1e4):
        inputs = X * nd.array([[scale], [1.0]])
        rows = net.dense(nd.relu(nd.dot(net.dense(inputs), net.rand_weight.data()) + 1))
        expected = 0.0
        for row in rows.asnumpy():
            while np.linalg.norm(row) > 1:
                row = row / 2
            expected += row.sum()
        np.testing.assert_allclose(net(inputs).asscalar(), expected, rtol=1e-4, atol=1e-6)
