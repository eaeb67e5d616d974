"""fmops local cloud: template.yaml deployed into moto, handlers run in warm worker processes.

See ARCHITECTURE.md, "The local cloud". Public API: LocalCloud, run_foreground, Invocation.
"""

from fmops_local.cloud import LocalCloud, run_foreground
from fmops_local.lambda_runtime import Invocation

__all__ = ["Invocation", "LocalCloud", "run_foreground"]
