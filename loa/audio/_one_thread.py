"""Loaded first in clip-making workers: one BLAS thread each.

Clips are made in parallel by processes; OpenBLAS's own threads on top of them spin on
the same cores (measured on 2 cores: twice the CPU time for the same clips, no faster).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # an operator's own setting wins
