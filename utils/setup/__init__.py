"""Setting up a machine, not lesson code: installer, Python finder, venv link, MXNet's numpy names
on Python 3.12+, Colab's first cell (docs/install-and-pythons.md, docs/colab.md)."""
