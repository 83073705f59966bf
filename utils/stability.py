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
    grad_norm: list       # Frobenius norm of d(objective)/d(weight) of each layer


def layer_stats(net, X):
    """One forward and backward pass through `net` (a (Hybrid)Sequential of Dense layers), measured.

    The objective is the batch mean of the summed outputs. Its gradient with respect to the
    output is a constant, so the gradient sizes reflect only the network's own chain of
    Jacobians, not how far a loss happens to be from its target.
    """
    layers = list(net)
    if not layers or not all(isinstance(layer, nn.Dense) for layer in layers):
        raise TypeError("layer_stats needs an nn.(Hybrid)Sequential of nn.Dense layers "
                        "(build one with build_mlp)")
    outputs = []
    with autograd.record():
        h = X
        for layer in layers:
            h = layer(h)
            outputs.append(h)
        objective = h.sum() / X.shape[0]
    objective.backward()
    return LayerStats(
        activation_std=[_batch_std(o) for o in outputs],
        grad_norm=[float(nd.norm(layer.weight.grad()).asscalar()) for layer in layers],
    )


def stats_for(depth, width=256, activation="relu", initializer="default", gain=1.0,
              batch=256, seed=0):
    """Build a seeded network and a standard-normal input batch; return its LayerStats.

    Seeded inside, so the same settings always give the same picture (the explorer relies
    on that when the reader moves a control back).
    """
    mx_random.seed(seed)
    net = build_mlp(depth, width, activation, initializer, gain, in_units=width)
    X = nd.random.normal(0, 1, shape=(batch, width))
    return layer_stats(net, X)


def plot_layer_stats(stats, title=None, figsize=(7.5, 2.8)):
    """Two log-scale panels against layer index: activation std, weight-gradient norm.

    `stats` maps a legend label to a LayerStats. Values that overflowed (inf/nan) are left
    out of the curves, which then visibly stop.
    """
    from utils import plot  # import here: plot pulls in d2l, which tests of math need not

    if not stats:
        raise ValueError("plot_layer_stats needs at least one {label: LayerStats} entry")
    fig, (ax_act, ax_grad) = plot.new_figure(1, 2, figsize=figsize)
    labels = list(stats)
    for ax, field, ylabel in ((ax_act, "activation_std", "output std across batch"),
                              (ax_grad, "grad_norm", "norm of weight gradient")):
        ys = [_finite(getattr(stats[k], field)) for k in labels]
        xs = [list(range(1, len(y) + 1)) for y in ys]
        plot.plot_curves(xs, ys, xlabel="layer", ylabel=ylabel, legend=labels, ax=ax)
        _span_at_least(ax, MIN_DECADES)
    ax_grad.get_legend().remove()  # one legend is enough: both panels share the labels
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
    per_unit_var = values.asnumpy().astype(np.float64).var(axis=0)
    return float(np.sqrt(per_unit_var.mean()))


def _finite(values):
    return [v if np.isfinite(v) and v > 0 else np.nan for v in values]


def explorer(depth=30, activation="relu", initializer="he", gain=1.0, width=256, batch=256,
             seed=0, max_depth=60, static_display=None):
    """ipywidgets controls (depth, activation, initializer, weight scale) and a live plot.

    Every change redraws the per-layer plot inside an Output widget, replacing the previous
    figure. `static_display` is the DisplayHandle of a static copy of the default view
    shown above (for headless runs, which render no widgets); once a live frontend shows
    the controls, that copy is blanked so the reader sees a single figure.
    """
    import ipywidgets as widgets
    from IPython.display import Markdown, display
    from matplotlib import pyplot as plt

    look = dict(style={"description_width": "initial"}, layout={"width": "320px"})
    controls = {
        "depth": widgets.IntSlider(value=depth, min=1, max=max_depth, description="depth",
                                   **look),
        "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation,
                                       description="activation", **look),
        "initializer": widgets.Dropdown(options=[(LABELS[k], k) for k in INITIALIZERS],
                                        value=initializer, description="initializer", **look),
        "gain": widgets.FloatLogSlider(value=gain, base=2, min=-2, max=2, step=0.25,
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

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox(list(controls.values())[:2]),
                        widgets.HBox(list(controls.values())[2:]), out])
    if static_display is not None:
        def blank_static_copy(change):
            if change["new"]:
                static_display.update(Markdown("*Interactive view below; move the controls.*"))
        out._view_count = 0  # a live frontend counts its views here; headless runs do not
        out.observe(blank_static_copy, names="_view_count")
    box.controls = controls  # for tests and for readers who want to set values in code
    box.output = out
    return box
