"""`python -m utils run ...` executes the notebooks (utils/course/run.py); `python -m utils check`
checks the environment (utils/check.py)."""
import sys

COMMANDS = ("run", "check")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m utils {{{','.join(COMMANDS)}}} [args]; "
              "e.g. python -m utils run --help", file=sys.stderr)
        return 2
    try:
        if argv[0] == "check":
            from utils.check import main as command
        else:
            from utils.course.run import main as command  # imported lazily: it needs Jupyter packages
        return command(argv[1:])
    except KeyboardInterrupt:  # Ctrl-C while importing, before the command could handle it
        print(f"\ninterrupted (SIGINT): python -m utils {argv[0]} stopped before it changed "
              "anything", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
