"""utils.stability: networks are built as asked, initializers draw what they claim, and the
per-layer measurements agree with values computed by hand."""
import numpy as np
import pytest
from mxnet import nd
from mxnet import random as mx_random
from mxnet.gluon import nn

from utils import stability


def weights_of(name, gain=1.0, shape=(300, 500), seed=0):
    """Draw one weight matrix (fan_out, fan_in) = shape with the named initializer."""
    mx_random.seed(seed)
    layer = nn.Dense(shape[0], in_units=shape[1])
    layer.initialize(stability.make_initializer(name, gain))
    return layer.weight.data().asnumpy().astype(np.float64), layer.bias.data().asnumpy()


@pytest.mark.parametrize("name, expected_std", [
    ("default", 0.07 / np.sqrt(3)),           # U(-a, a) has variance a^2 / 3
    ("normal", 0.01),
    ("xavier", np.sqrt(2 / (300 + 500))),     # uniform, variance 2 / (fan_in + fan_out)
    ("he", np.sqrt(2 / 500)),                 # normal, variance 2 / fan_in
])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_initializer_std_matches_its_formula(name, expected_std, gain):
    w, b = weights_of(name, gain)
    assert w.std() == pytest.approx(gain * expected_std, rel=0.01)  # 150k samples
    assert abs(w.mean()) < 0.01 * gain * expected_std
    assert not b.any(), "biases must start at zero whatever the weight initializer"


def test_uniform_initializers_respect_their_bounds():
    w, _ = weights_of("default")
    assert -0.07 <= w.min() < -0.0699 and 0.0699 < w.max() <= 0.07
    bound = np.sqrt(6 / 800)
    w, _ = weights_of("xavier")
    assert -bound - 1e-7 <= w.min() < -0.999 * bound and 0.999 * bound < w.max() <= bound + 1e-7


def test_he_matches_mxnet_msra_prelu_with_slope_zero():
    from mxnet import init
    mx_random.seed(3)
    layer = nn.Dense(300, in_units=500)
    layer.initialize(init.MSRAPrelu(factor_type="in", slope=0.0))
    msra = layer.weight.data().asnumpy()
    ours, _ = weights_of("he", seed=3)
    np.testing.assert_allclose(ours, msra, rtol=1e-6)


def test_bad_names_and_sizes_say_what_to_do():
    with pytest.raises(ValueError, match="choose one of default, normal, xavier, he"):
        stability.make_initializer("glorot")
    with pytest.raises(ValueError, match="positive"):
        stability.make_initializer("he", gain=0)
    with pytest.raises(ValueError, match="choose one of identity, relu"):
        stability.build_mlp(3, 8, activation="gelu")
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        stability.build_mlp(0, 8)
    with pytest.raises(ValueError, match="width"):
        stability.build_mlp(2, 2.5)
    with pytest.raises(TypeError, match="build_mlp"):
        net = nn.Sequential()
        net.add(nn.Dense(4), nn.Dropout(0.5))
        net.initialize()
        stability.layer_stats(net, nd.ones((2, 3)))


def test_build_mlp_has_the_requested_layers():
    net = stability.build_mlp(5, 16, activation="tanh", initializer="xavier", in_units=7,
                              out_units=3)
    layers = list(net)
    assert len(layers) == 6
    assert [l.weight.shape for l in layers] == [(16, 7)] + [(16, 16)] * 4 + [(3, 16)]
    assert all(l.act is not None for l in layers[:5]) and layers[5].act is None
    assert net(nd.ones((4, 7))).shape == (4, 3)
    identity = stability.build_mlp(2, 4, activation="identity", in_units=3)
    assert all(l.act is None for l in identity)


def test_layer_stats_match_a_hand_computed_linear_network():
    """Identity activations: every quantity has a closed form to compare against."""
    mx_random.seed(1)
    net = stability.build_mlp(2, 4, activation="identity", initializer="normal", gain=50,
                              in_units=3, out_units=1)
    X = nd.random.normal(shape=(10, 3))
    stats = stability.layer_stats(net, X)
    W1, W2, W3 = (l.weight.data().asnumpy().astype(np.float64) for l in net)
    x = X.asnumpy().astype(np.float64)
    h1, h2 = x @ W1.T, x @ W1.T @ W2.T
    out = h2 @ W3.T
    expected_std = [np.sqrt(h.var(axis=0).mean()) for h in (h1, h2, out)]
    np.testing.assert_allclose(stats.activation_std, expected_std, rtol=1e-5)
    # one example's output o = W3 W2 W1 x: d o / d W1 = (W3 W2)^T x^T, d o / d W2 = W3^T h1^T,
    # d o / d W3 = h2^T; their norms per example, then the root mean square over examples
    inputs = {0: x, 1: h1, 2: h2}
    deltas = {0: W3 @ W2, 1: W3, 2: np.ones((1, 1))}  # d o / d z of each layer, same for all
    per_example = [[np.linalg.norm(np.outer(deltas[l], inputs[l][i])) for l in range(3)]
                   for i in range(10)]
    np.testing.assert_allclose(stability.per_example_grad_norms(net, X), per_example,
                               rtol=1e-4)
    np.testing.assert_allclose(stats.grad_norm, np.sqrt(np.mean(np.square(per_example), 0)),
                               rtol=1e-4)
    # the batch-mean objective: gradient = the mean of the per-example gradients
    batch_mean = [np.linalg.norm(np.outer(deltas[l], inputs[l].mean(axis=0))) for l in range(3)]
    np.testing.assert_allclose(stats.batch_grad_norm, batch_mean, rtol=1e-4)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_per_example_norms_equal_one_backward_pass_per_example(activation):
    """The one-pass shortcut against the obvious way: backward on each example alone."""
    from mxnet import autograd
    mx_random.seed(2)
    net = stability.build_mlp(4, 12, activation=activation, initializer="he", in_units=5)
    X = nd.random.normal(shape=(6, 5))
    one_by_one = []
    for i in range(6):
        with autograd.record():
            out = net(X[i:i + 1]).sum()
        out.backward()
        one_by_one.append([nd.norm(l.weight.grad()).asscalar() for l in net])
    np.testing.assert_allclose(stability.per_example_grad_norms(net, X), one_by_one,
                               rtol=1e-4)


def test_per_example_statistic_does_not_shrink_with_the_batch():
    """The batch-mean gradient's lower layers cancel more in bigger batches; ours do not."""
    small = stability.stats_for(12, width=64, activation="relu", initializer="he", batch=16)
    large = stability.stats_for(12, width=64, activation="relu", initializer="he", batch=512)
    ratio = lambda values: values[0] / values[-1]
    assert ratio(large.batch_grad_norm) < 0.5 * ratio(small.batch_grad_norm)
    assert ratio(large.grad_norm) == pytest.approx(ratio(small.grad_norm), rel=0.3)


def test_float64_computes_the_same_network():
    f32 = stability.stats_for(6, width=32, activation="sigmoid", initializer="he", batch=32)
    f64 = stability.stats_for(6, width=32, activation="sigmoid", initializer="he", batch=32,
                              dtype="float64")
    np.testing.assert_allclose(f64.activation_std[:3], f32.activation_std[:3], rtol=1e-3)
    np.testing.assert_allclose(f64.grad_norm, f32.grad_norm, rtol=1e-3)


def test_stats_for_is_repeatable_and_shows_sigmoid_vanishing():
    a = stability.stats_for(12, width=32, activation="sigmoid", initializer="he", batch=64)
    b = stability.stats_for(12, width=32, activation="sigmoid", initializer="he", batch=64)
    assert a == b
    assert len(a.activation_std) == len(a.grad_norm) == 13
    relu = stability.stats_for(12, width=32, activation="relu", initializer="he", batch=64)
    first_to_last = lambda s: s.grad_norm[0] / s.grad_norm[-1]
    assert first_to_last(a) < 1e-4 < 0.01 < first_to_last(relu)


def test_plot_layer_stats_draws_one_curve_per_label_and_skips_overflow():
    good = stability.LayerStats([1.0, 0.1, 0.01], [1.0, 2.0, 3.0])
    overflow = stability.LayerStats([1.0, float("inf"), float("nan")], [1.0, float("inf"), 0.0])
    fig = stability.plot_layer_stats({"good": good, "overflow": overflow}, title="t")
    ax_act, ax_grad = fig.axes
    assert ax_act.get_yscale() == ax_grad.get_yscale() == "log"
    assert ax_act.get_xlabel() == ax_grad.get_xlabel() == "layer"
    # the quantities are named above the panels: no y label beside the left panel's curves
    assert ax_act.get_ylabel() == ax_grad.get_ylabel() == ""
    assert "std" in ax_act.get_title() and "gradient" in ax_grad.get_title()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["good", "overflow"]
    assert ax_act.get_legend() is None and ax_grad.get_legend() is None  # one legend, below
    ys = ax_grad.lines[1].get_ydata()
    assert ys[0] == 1.0 and np.isnan(ys[1]) and np.isnan(ys[2])
    with pytest.raises(ValueError, match="at least one"):
        stability.plot_layer_stats({})


def test_nearly_flat_curves_are_not_stretched_over_the_panel():
    flat = stability.LayerStats([1.0, 1.1, 0.9], [2.0, 2.1, 2.2])
    for ax in stability.plot_layer_stats({"flat": flat}).axes:
        low, high = ax.get_ylim()
        assert high / low == pytest.approx(10 ** stability.MIN_DECADES, rel=1e-6)
        assert low < 0.9 and high > 2.2
    wide = stability.LayerStats([1.0, 1e-8, 1e-16], [1.0, 1e-8, 1e-16])
    low, high = stability.plot_layer_stats({"wide": wide}).axes[0].get_ylim()
    assert high / low > 1e16  # already wide: autoscaling left alone


def test_explorer_redraws_inside_its_output_widget(monkeypatch):
    import IPython.display
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))

    class Handle:  # stands in for the DisplayHandle of the static copy
        updates = []

        def update(self, obj):
            self.updates.append(obj)

    box = stability.explorer(depth=3, width=8, batch=16, initializer="xavier",
                             static_display=Handle())
    controls = box.controls
    assert controls["depth"].description == "depth"
    assert controls["gain"].min <= -3 and controls["gain"].max >= 4  # x1/8 .. x16: sigmoid x8
    assert [f._suptitle.get_text() for f in shown] == ["depth 3, width 8"]
    controls["depth"].value = 5
    controls["activation"].value = "sigmoid"
    titles = [f._suptitle.get_text() for f in shown]
    assert titles == ["depth 3, width 8", "depth 5, width 8", "depth 5, width 8"]
    assert "sigmoid" in shown[-1].legends[0].get_texts()[0].get_text()
    assert len(shown[-1].axes[0].lines[0].get_xdata()) == 6  # 5 hidden layers + output
    assert Handle.updates == []  # headless: no frontend has shown the widget
    box.output._view_count = 1   # what a live frontend does when it renders the widget
    assert len(Handle.updates) == 1


def test_overflow_is_reported_as_missing_values_without_warnings():
    """The explorer reaches x16 weights: overflowing layers must give gaps, not warnings in
    the widget's output area."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        stats = stability.stats_for(40, width=32, activation="relu", initializer="he", gain=16,
                                    batch=8)
    assert np.isfinite(stats.activation_std[0]) and np.isfinite(stats.grad_norm[-1])
    assert not np.all(np.isfinite(stats.activation_std))
