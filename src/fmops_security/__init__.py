"""Security checks of fmops: the template's IAM, environment and APIs, checkov and the secrets scan.

Each check is a plain function that returns findings (an empty list means it passes), so the
tests run it on template.yaml and on mutated copies that it must catch. `python -m fmops_security`
(`make scan`) runs them all and prints a report.
"""
