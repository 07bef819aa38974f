"""Run `mobiledeploy ARGS` as a host unlike this one, for the lab's tests only (the product reads nothing of it):

    python tests/lab/patched.py [--version V] [--without-tensorflow] -- ARGS...

--version V: mobiledeploy.version.__version__ is V in this process (a host on another release);
--without-tensorflow: `import tensorflow` fails here, as on a host that has only the runtime (a Pi, a phone hub).
"""
import sys


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: patched.py [--version V] [--without-tensorflow] -- ARGS...")
    cut = argv.index("--")
    opts, args = argv[:cut], argv[cut + 1:]
    if "--version" in opts:
        import mobiledeploy.version

        mobiledeploy.version.__version__ = opts[opts.index("--version") + 1]
    if "--without-tensorflow" in opts:
        for name in ("tensorflow", "keras", "tf_keras"):
            sys.modules[name] = None     # find_spec says absent; an import raises ImportError
    sys.argv = ["mobiledeploy", *args]
    from mobiledeploy.cli.main import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
