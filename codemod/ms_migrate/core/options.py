"""What a run asks of the engine: one picklable value handed to every file (and worker).

The command line and the configuration file both fill an `Options`; the engine and the rules
read it (`ctx.options`). A new run-wide setting is a field here, with its default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    annotate: bool = False  # write `# ms-migrate: CODE message` above flagged statements
    # which MindSpore optimizer API to write: "nn" (mindspore.nn and per-step lr lists),
    # "experimental" (mindspore.experimental.optim, torch's structure kept), or "auto" (nn where
    # it is exact, experimental where nn cannot be)
    target: str = "auto"


TARGETS = ("auto", "nn", "experimental")


DEFAULT = Options()
