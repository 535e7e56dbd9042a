"""The seed document's four PyTorch examples as whole scripts, for the equivalence tests.

Each is its golden fixture input (fixtures/seed/<name>.in.py, the seed's own text) after a
preamble with the imports, the Net class of example 1 and `net = Net()`, which examples 2-4 use
without defining. The harness replaces Net by its twin network (which has a 'conv' layer), so
the equivalence tests and the fixtures migrate the very same seed code.
"""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "seed"

PREAMBLE = '''from torch import optim
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv = nn.Conv2d(3, 64, 3)
        self.bn = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
    def forward(self, x):
        x = self.conv(x)
        x = self.bn(x)
        x = self.relu(x)
        return x

net = Net()
'''

SEEDS = {
    "seed_1_sgd": "sgd_parameters",  # "Default function interface"
    "seed_2_named_parameters": "named_parameters_filter",  # "User-defined input parameters"
    "seed_3_exponential_lr": "exponential_lr",  # "dynamic learning rate": 5 epochs x 1 batch
    "seed_4_param_groups": "param_groups",  # "Groups of parameters", with 'nesterov' in one group
}


def seed(name: str) -> str:
    """`seed_3_exponential_lr` (or with `.py`) -> the whole torch script."""
    fixture = SEEDS[name[:-3] if name.endswith(".py") else name]
    return PREAMBLE + (FIXTURES / f"{fixture}.in.py").read_text(encoding="utf-8")
