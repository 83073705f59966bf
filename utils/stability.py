"""Deep MLPs and per-layer signal sizes, for the numerical-stability notebook.

The notebook asks one question many times, for networks that differ in depth, width,
activation and initializer: how big are the values at each layer going forward, and how big
are the gradients each layer's weights receive going backward? This module builds those
networks and measures both, so every experiment (and the interactive explorer) reads the
same numbers the same way.
"""
from dataclasses import dataclass

import numpy as np
from mxnet import autograd, init, nd
from mxnet import random as mx_random
from mxnet.gluon import nn

ACTIVATIONS = ("identity", "relu", "sigmoid", "tanh")
INITIALIZERS = ("default", "normal", "xavier", "he")
MIN_DECADES = 4  # smallest y range of the per-layer plots, in powers of ten
LABELS = {
    "default": "default U(-0.07, 0.07)",
    "normal": "Normal(0, 0.01)",
    "xavier": "Xavier",
    "he": "He (MSRA)",
}


def make_initializer(name, gain=1.0):
    """The MXNet initializer called `name`, its weight scale (std) multiplied by `gain`.

    default: what `net.initialize()` uses, U(-0.07, 0.07); normal: N(0, 0.01^2);
    xavier: `init.Xavier()` (uniform, fan average, magnitude 3); he: N(0, 2/fan_in), which is
    what `init.MSRAPrelu(factor_type="in", slope=0)` draws, spelled as Xavier so that `gain`
    can scale it too.
    """
    if not gain > 0:
        raise ValueError(f"gain must be a positive number, got {gain!r}")
    if name == "default":
        return init.Uniform(0.07 * gain)
    if name == "normal":
        return init.Normal(0.01 * gain)
    if name == "xavier":
        return init.Xavier(magnitude=3 * gain ** 2)
    if name == "he":
        return init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2 * gain ** 2)
    raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}")


def build_mlp(depth, width, activation="relu", initializer="default", gain=1.0,
              in_units=None, out_units=1, ctx=None):
    """An initialized MLP: `depth` hidden Dense layers of `width` units, then `out_units` outputs.

    Biases start at zero whatever the initializer (Gluon's Dense default), so only the
    weights differ between experiments. `in_units=None` defers shapes to the first call.
    """
    if not (isinstance(depth, (int, np.integer)) and depth >= 1):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    if not (isinstance(width, (int, np.integer)) and width >= 1):
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    weight_init = make_initializer(initializer, gain)  # validates the name before any work
    act = None if activation == "identity" else activation
    net = nn.HybridSequential()  # call net.hybridize() to train faster; stats work either way
    units_in = in_units or 0
    for _ in range(depth):
        net.add(nn.Dense(width, activation=act, in_units=units_in))
        units_in = width
    net.add(nn.Dense(out_units, in_units=units_in))
    net.initialize(weight_init, ctx=ctx)
    return net


@dataclass
class LayerStats:
    """Per-layer sizes, index 0 = first layer, last = output layer."""
    activation_std: list  # per layer: how much its output varies across the batch (RMS over
                          # units of the per-unit std), i.e. how much input signal survives
    grad_norm: list       # per layer: root mean square over the examples of the norm of
                          # d(output for one example)/d(weight); does not depend on batch size
    batch_grad_norm: list = None  # per layer: norm of d(batch mean of the outputs)/d(weight),
                                  # where examples cancel: shrinks as the batch grows


def per_example_grad_norms(net, X):
    """Array (examples, layers): the norm of d net(x_i).sum() / d W for every example x_i
    and every layer's weight W, from one forward and backward pass.

    For a Dense layer z = W h + b, one example's weight gradient is the outer product
    delta h^T (delta = d output / d z), whose norm is |delta| |h|. A zero "probe" added to
    every z receives exactly delta for each example as its gradient, because examples do not
    interact in an MLP. A loop with one backward pass per example gives the same numbers,
    batch-size times slower (tests/test_stability.py compares the two).
    """
    return _forward_backward(net, X)[1]


def layer_stats(net, X):
    """One forward and backward pass through `net` (a (Hybrid)Sequential of Dense layers), measured.

    The quantity differentiated is the network's (summed) output itself, not a loss, so the
    gradient sizes reflect only the chain of Jacobians, not how far a prediction happens to
    be from a target. `grad_norm` is per example (root mean square over the batch);
    `batch_grad_norm` is what a training step sees for the batch mean, for comparison.
    """
    outputs, per_example, batch_grads = _forward_backward(net, X)
    return LayerStats(
        activation_std=[_batch_std(o) for o in outputs],
        grad_norm=[float(v) for v in np.sqrt((per_example ** 2).mean(axis=0))],
        batch_grad_norm=batch_grads,
    )


def _forward_backward(net, X):
    """Layer outputs, per-example weight-gradient norms, batch-mean weight-gradient norms."""
    layers = list(net)
    if not layers or not all(isinstance(layer, nn.Dense) for layer in layers):
        raise TypeError("layer_stats needs an nn.(Hybrid)Sequential of nn.Dense layers "
                        "(build one with build_mlp)")
    n = X.shape[0]
    outputs, inputs, probes = [], [], []
    with autograd.record():
        h = X
        for layer in layers:
            weight, bias = layer.weight.data(), layer.bias.data()
            probe = nd.zeros((n, weight.shape[0]), ctx=X.context, dtype=X.dtype)
            probe.attach_grad()
            z = nd.FullyConnected(h, weight, bias, num_hidden=weight.shape[0]) + probe
            inputs.append(h)
            probes.append(probe)
            h = z if layer.act is None else layer.act(z)  # what Dense.hybrid_forward does
            outputs.append(h)
        objective = h.sum()  # each example's own output: its gradients are per example
    objective.backward()
    with np.errstate(invalid="ignore", over="ignore"):  # after an overflow: inf * 0 = nan
        per_example = np.stack(
            [_row_norms(p.grad) * _row_norms(x) for p, x in zip(probes, inputs)], axis=1)
    # the gradient of the sum divided by n is the gradient of the batch mean
    batch_grads = [float(nd.norm(layer.weight.grad()).asscalar()) / n for layer in layers]
    return outputs, per_example, batch_grads


def _row_norms(values):
    return np.linalg.norm(values.asnumpy().astype(np.float64), axis=1)


def stats_for(depth, width=256, activation="relu", initializer="default", gain=1.0,
              batch=256, seed=0, dtype="float32"):
    """Build a seeded network and a standard-normal input batch; return its LayerStats.

    Seeded inside, so the same settings always give the same picture (the explorer relies
    on that when the reader moves a control back). dtype="float64" computes the very same
    network and batch in double precision, to tell signal from float32 rounding.
    """
    mx_random.seed(seed)
    net = build_mlp(depth, width, activation, initializer, gain, in_units=width)
    X = nd.random.normal(0, 1, shape=(batch, width))
    if dtype != "float32":
        net.cast(dtype)
        X = X.astype(dtype)
    return layer_stats(net, X)


def plot_layer_stats(stats, title=None, figsize=(7.5, 3.0)):
    """Two log-scale panels against layer index: activation spread, per-example weight
    gradient. `stats` maps a legend label to a LayerStats; one legend, below the panels, so
    it never covers a curve. Each panel names its quantity in its title, not in a y label,
    so the right panel's label cannot crowd the left panel's curves. Values that overflowed
    (inf/nan) are left out of the curves, which then visibly stop.
    """
    from utils import plot  # import here: plot pulls in d2l, which tests of math need not

    if not stats:
        raise ValueError("plot_layer_stats needs at least one {label: LayerStats} entry")
    fig, (ax_act, ax_grad) = plot.new_figure(1, 2, figsize=figsize)
    labels = list(stats)
    for ax, field, panel in ((ax_act, "activation_std", "output std across the batch"),
                             (ax_grad, "grad_norm", "weight gradient norm, per example")):
        ys = [_finite(getattr(stats[k], field)) for k in labels]
        xs = [list(range(1, len(y) + 1)) for y in ys]
        plot.plot_curves(xs, ys, xlabel="layer", ylabel="", legend=labels, ax=ax)
        ax.set_title(panel, fontsize=9)
        ax.get_legend().remove()
        _span_at_least(ax, MIN_DECADES)
    fig.legend(ax_act.lines[:len(labels)], labels, loc="outside lower center",
               ncol=min(len(labels), 4), frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _span_at_least(ax, decades):
    """Widen a log axis to `decades` orders of magnitude, so that nearly flat curves look
    flat instead of being stretched over the whole panel by autoscaling."""
    low, high = ax.get_ylim()
    if 0 < low < high < np.inf and high / low < 10 ** decades:
        middle = np.sqrt(low * high)
        ax.set_ylim(middle / 10 ** (decades / 2), middle * 10 ** (decades / 2))


def _batch_std(values):
    with np.errstate(invalid="ignore", over="ignore"):  # inf in, nan out: the plot skips it
        per_unit_var = values.asnumpy().astype(np.float64).var(axis=0)
    return float(np.sqrt(per_unit_var.mean()))


def _finite(values):
    return [v if np.isfinite(v) and v > 0 else np.nan for v in values]


def explorer(depth=30, activation="relu", initializer="he", gain=1.0, width=256, batch=256,
             seed=0, max_depth=60, static_display=None):
    """ipywidgets controls (depth, activation, initializer, weight scale) and a live plot.

    The weight scale runs from x1/8 to x16 of the initializer's own scale: wide enough to
    see ReLU explode and vanish, and to find where a sigmoid network stops vanishing.

    Every change redraws the per-layer plot inside an Output widget, replacing the previous
    figure. `static_display` is the DisplayHandle of a static copy of the default view
    shown above (for headless runs, which render no widgets); once a live frontend shows
    the controls, that copy is blanked so the reader sees a single figure.
    """
    import ipywidgets as widgets
    from IPython.display import display
    from matplotlib import pyplot as plt

    look = dict(style={"description_width": "initial"}, layout={"width": "320px"})
    controls = {
        "depth": widgets.IntSlider(value=depth, min=1, max=max_depth, description="depth",
                                   **look),
        "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation,
                                       description="activation", **look),
        "initializer": widgets.Dropdown(options=[(LABELS[k], k) for k in INITIALIZERS],
                                        value=initializer, description="initializer", **look),
        "gain": widgets.FloatLogSlider(value=gain, base=2, min=-3, max=4, step=0.25,
                                       description="weight scale", **look),
    }
    out = widgets.Output()

    def redraw(_change=None):
        s = {k: c.value for k, c in controls.items()}
        stats = stats_for(s["depth"], width, s["activation"], s["initializer"], s["gain"],
                          batch, seed)
        label = f"{LABELS[s['initializer']]} x{s['gain']:g}, {s['activation']}"
        fig = plot_layer_stats({label: stats}, title=f"depth {s['depth']}, width {width}")
        with out:
            out.clear_output(wait=True)
            display(fig)
        plt.close(fig)  # shown once, inside the Output widget

    from utils.plot import controls_box

    return controls_box(controls, out, redraw, static_display, what="controls")
