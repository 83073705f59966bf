"""Exercise 3: singular values and condition numbers of a product."""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 3"
points = 2


def matrices():
    rng = np.random.default_rng(12345)  # not the notebook's seed: an answer must hold for any
    return [rng.normal(size=(n, n)) for n in (3, 5, 6)] + [np.diag([4.0, 2.0, 0.5])]


@test_case(points=1, hidden=True,
           failure_message="sv(m) should return the singular values of m, largest first")
def test_sv(sv):
    for m in matrices():
        np.testing.assert_allclose(np.asarray(sv(m), dtype=float),
                                   np.linalg.svd(m, compute_uv=False), rtol=1e-6)


@test_case(points=1, hidden=True,
           failure_message="cond(m) should return the largest singular value of m divided "
                           "by the smallest")
def test_cond(cond):
    for m in matrices():
        s = np.linalg.svd(m, compute_uv=False)
        np.testing.assert_allclose(float(cond(m)), s[0] / s[-1], rtol=1e-6)
