"""What every SARIF reader needs: find the rule a result refers to."""

from __future__ import annotations

from typing import Any


def rule_for(result: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The rule of a SARIF result: by ``ruleIndex`` when valid, else by ``ruleId``."""
    index = result.get("ruleIndex")
    if isinstance(index, int) and 0 <= index < len(rules):
        return rules[index]
    for rule in rules:
        if rule.get("id") == result.get("ruleId"):
            return rule
    return {}
