"""Run one script's `main` on many command lines in a single process, the way `python <script> ...` would, and
print {"exit": code, "stdout": text, "stderr": text} per command line as JSON. Importing torch once
instead of once per case keeps the bad-input tests fast.

    python tests/run_cases.py dcgan/train.py cases.json      # cases.json: [["--batch_size", "0"], ...]

Each case goes through the script's own `main_guard(main)`, exactly what its `if __name__ == "__main__"` runs;
the script's folder is first on sys.path, as when Python runs the file.
"""
import contextlib
import io
import json
import runpy
import sys
import traceback
from pathlib import Path


def run_case(namespace, script, argv):
    sys.argv = [script, *argv]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            namespace["main_guard"](namespace["main"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # an escaped exception is what a user would see as a traceback
            traceback.print_exc()
            code = 1
    return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main():
    script, cases = Path(sys.argv[1]).resolve(), json.loads(Path(sys.argv[2]).read_text())
    sys.path.insert(0, str(script.parent))
    namespace = runpy.run_path(str(script), run_name="cases")  # defines main/main_guard, runs no training
    results = [run_case(namespace, str(script), argv) for argv in cases]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
