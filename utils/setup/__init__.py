"""Setting up a machine, not lesson code: the installer (`python3 utils/setup/install.py`), the
finder of a supported Python, the venv link and the numpy names MXNet 1.9.1 needs on Python 3.12+.
install.py and find_python.py run under any Python 3 before anything is installed, so they import
their siblings as plain modules."""
