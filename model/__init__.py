"""The contracts every layer shares: inventory, site, value types and the config reader.

Nothing here imports from `components/`, `stacks/` or the program: they import from here.
"""
