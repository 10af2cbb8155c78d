"""The stack config's sections outside the platform: each a settings dataclass, its reader
and the checks within it. Rules across sections are in `stacks/checks.py`."""
