"""Exercise 1: a block whose __init__ forgets the parent's."""
from otter.test_files import test_case

OK_FORMAT = False
name = "exercise 1"
points = 1


@test_case(points=1, hidden=True,
           failure_message="ForgetfulMLP() should stop with an AttributeError in its constructor")
def test_forgetful(env):
    from mxnet.gluon import nn

    cls = env["ForgetfulMLP"]
    assert issubclass(cls, nn.Block)
    try:
        cls()
    except AttributeError:
        return
    raise AssertionError("no AttributeError")
