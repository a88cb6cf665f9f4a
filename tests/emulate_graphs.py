"""tests/run_cases.py with --cuda_graphs emulated on the CPU, so that CI (no GPU) tests what CUDA graphs change in
each train loop: CUDAGraphStep's own logic (3 warm-ups, when to record, static inputs, the recording kept across
epochs) runs for real; only its three CUDA calls are replaced. A recording keeps the step function it recorded
(as a graph replays the kernels of the step it captured, not a later one), a replay runs that function on the
static inputs and writes the results into the static output tensors (as a real replay overwrites them: whoever
keeps a reference to an output sees it change at the next replay), and the CUDA-only check is skipped.

    python tests/emulate_graphs.py cyclegan/train.py cases.json
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common.cuda_graphs
import common.run
import run_cases


def overwrite(static, new):
    """Copy `new` into the tensors of `static` (same nesting of dicts, tuples, lists), in place."""
    if torch.is_tensor(static):
        static.copy_(new.detach())
    elif isinstance(static, dict):
        for key in static:
            overwrite(static[key], new[key])
    else:
        for s, n in zip(static, new):
            overwrite(s, n)


class EmulatedGraphStep(common.cuda_graphs.CUDAGraphStep):
    def eager(self, *inputs):
        return self.step(*inputs)

    def record(self):
        self.graph = self.step  # what a replay will run; a capture itself runs nothing

    def replay(self):
        out = self.graph(*self.static_in)
        if self.static_out is None:  # the first replay: these tensors are now the "graph's" outputs
            self.static_out = out
        else:
            with torch.no_grad():
                overwrite(self.static_out, out)


common.cuda_graphs.CUDAGraphStep = EmulatedGraphStep  # what Run.graphed (common/run.py) imports
common.run.check_cuda_graphs = lambda *args: None

if __name__ == "__main__":
    run_cases.main()
