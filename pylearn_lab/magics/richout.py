"""What a ``%%pylearn`` cell displays, recorded so a cache hit can show it again.

While a cell runs, every ``display()`` (DataFrame HTML, images, Markdown ...)
goes through the shell's display publisher: :class:`DisplayRecorder` passes
each one on and keeps a copy. Matplotlib figures the cell leaves open are
rendered to PNG at the end of the cell (the inline backend would only draw them
after the magic returned, out of reach), shown, and closed so they are not
drawn twice. A widget cannot be replayed without its live model: its
``text/plain`` / ``text/html`` fallbacks are stored instead. On a hit,
:func:`replay` publishes the stored outputs in their order.

Examples
--------
>>> strip_widgets({"application/vnd.jupyter.widget-view+json": {"model_id": "1"},
...                "text/plain": "IntSlider(value=3)"})
{'text/plain': 'IntSlider(value=3)'}
"""

from __future__ import annotations

import base64
import sys
from typing import Any

__all__ = ["DisplayRecorder", "replay", "strip_widgets", "figure_outputs", "formatted"]

_WIDGET = "application/vnd.jupyter.widget-view+json"
Output = tuple[dict[str, Any], dict[str, Any]]


def strip_widgets(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the live-widget mimetype (its fallbacks stay)."""
    return {k: v for k, v in data.items() if k != _WIDGET}


class DisplayRecorder:
    """Context manager: record what the shell publishes, passing everything through."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.outputs: list[Output] = []
        self._before: set[int] = set()

    def __enter__(self) -> DisplayRecorder:
        pub = getattr(self.shell, "display_pub", None)
        if pub is not None:
            original = pub.publish

            def publish(data: dict[str, Any], metadata: dict[str, Any] | None = None,
                        *args: Any, **kwargs: Any) -> Any:
                kept = strip_widgets(dict(data))
                if kept:
                    self.outputs.append((kept, dict(metadata or {})))
                return original(data, metadata, *args, **kwargs)

            pub.publish = publish  # an instance attribute: removed again on exit
        self._before = _open_figures()
        return self

    def __exit__(self, *exc: Any) -> None:
        pub = getattr(self.shell, "display_pub", None)
        if exc[0] is None:
            for data, md in figure_outputs(self._before):
                _publish(data, md)  # recorded through the wrapper
        if pub is not None and "publish" in vars(pub):
            del pub.publish


def _open_figures() -> set[int]:
    plt = sys.modules.get("matplotlib.pyplot")
    return set(plt.get_fignums()) if plt is not None else set()


def figure_outputs(before: set[int]) -> list[Output]:
    """PNG outputs of the matplotlib figures opened since ``before`` (then closed)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    from IPython.core.pylabtools import print_figure

    out: list[Output] = []
    for num in plt.get_fignums():
        if num in before:
            continue
        fig = plt.figure(num)
        png = print_figure(fig, "png")
        if png:
            out.append(({"image/png": base64.b64encode(png).decode("ascii"),
                         "text/plain": repr(fig)}, {}))
        plt.close(fig)
    return out


def formatted(shell: Any, value: Any) -> Output | None:
    """The rich representation of ``value`` (for a result that cannot be pickled)."""
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None:
        return None
    data, md = formatter.format(value)
    data = strip_widgets(dict(data))
    return (data, dict(md)) if data else None


def _publish(data: dict[str, Any], metadata: dict[str, Any]) -> None:
    from IPython.display import publish_display_data

    publish_display_data(data, metadata)


def replay(outputs: list[Output]) -> None:
    """Show stored outputs again, in order."""
    for data, md in outputs:
        _publish(dict(data), dict(md))
