"""The severity levels of policy rules, from most to least serious.

`check --fail-on S` fails on S and on everything more serious.
"""

SEVERITIES = ("high", "medium", "low")
