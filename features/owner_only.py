"""Everything the product creates is its owner's alone: files 0600, folders 0700.

Snapshots, rejects, lists, reports, key files, the campaign database, MLflow's and BentoML's
stores all hold member data or secrets, and other local users have no business reading them. One
process-wide file-creation mask, set where a process starts (the ``memberscore`` command and the
service), covers every writer, ours and the libraries', instead of a chmod after each write.
Files and folders that existed before keep their mode: README.md, "Security", says how to tighten them.
"""

from __future__ import annotations

import os
from typing import Final

OWNER_ONLY_UMASK: Final = 0o077  # no bits for group or others: new files 0600, new folders 0700


def owner_only() -> int:
    """Make every file and folder this process creates from now on owner-only; returns the mask before."""
    return os.umask(OWNER_ONLY_UMASK)
