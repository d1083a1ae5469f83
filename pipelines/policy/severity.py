"""The severity levels of policy rules, from most to least serious.

`check --fail-on S` fails on S and on everything more serious.
"""

SEVERITIES = ("high", "medium", "low")


def most_serious_first(column: str = "severity") -> str:
    """An SQL expression that orders `column` most serious first (for `order by`)."""
    ranks = " ".join(f"when '{level}' then {rank}" for rank, level in enumerate(SEVERITIES))
    return f"case {column} {ranks} end"
