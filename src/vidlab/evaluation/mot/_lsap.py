"""SciPy's `linear_sum_assignment` without importing all of `scipy.optimize`.

`import scipy.optimize` pulls in most of SciPy (linalg, sparse, special, docstring processing of
every optimiser): 0.5 to 1 s on the project machines, more than the metrics themselves need for
the 7 MOT17 training sequences. The Hungarian solver is one small compiled module,
`scipy.optimize._lsap`, and `scipy.optimize.linear_sum_assignment` *is* that module's function.
When `scipy.optimize` is not loaded yet, this module loads `_lsap` alone (registered under its
own name, so a later `import scipy.optimize` reuses it) and so gives the very same function,
with identical results, for a fraction of the start-up time. On any other SciPy layout it falls
back to the public import.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import sys
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

_MODULE = "scipy.optimize._lsap"


def _load_private_module() -> Callable:
    """Load `scipy.optimize._lsap` from its file without running `scipy/optimize/__init__.py`."""
    import scipy

    module = sys.modules.get(_MODULE)
    if module is None:
        folder = Path(scipy.__file__).parent / "optimize"
        paths = [folder / f"_lsap{s}" for s in importlib.machinery.EXTENSION_SUFFIXES]
        path = next(p for p in paths if p.is_file())  # StopIteration: not this layout
        spec = importlib.util.spec_from_file_location(_MODULE, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[_MODULE] = module
    solver = module.linear_sum_assignment
    if not callable(solver):
        raise ImportError(f"{_MODULE}.linear_sum_assignment is not callable")
    return solver


def _resolve() -> Callable:
    loaded = sys.modules.get("scipy.optimize")
    if loaded is not None:
        return loaded.linear_sum_assignment
    try:
        return _load_private_module()
    except (ImportError, OSError, AttributeError, StopIteration) as err:
        logger.debug("loading %s alone failed (%s); importing scipy.optimize", _MODULE, err)
        from scipy.optimize import linear_sum_assignment

        return linear_sum_assignment


linear_sum_assignment = _resolve()
