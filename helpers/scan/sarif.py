"""What every SARIF reader needs: find the rule a result refers to, and skip non-findings."""

from __future__ import annotations

from typing import Any

#: SARIF 2.1.0 result kinds that say "this is not a problem" (the default kind is "fail").
_NOT_A_PROBLEM = frozenset({"pass", "notApplicable", "informational"})


def rule_for(result: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The rule of a SARIF result: by ``ruleIndex`` when valid, else by ``ruleId``."""
    index = result.get("ruleIndex")
    if isinstance(index, int) and 0 <= index < len(rules):
        rule = rules[index]
        if not result.get("ruleId") or rule.get("id") == result.get("ruleId"):
            return rule
    for rule in rules:
        if rule.get("id") == result.get("ruleId"):
            return rule
    return {}


def is_problem(result: dict[str, Any]) -> bool:
    """False for results whose ``kind`` says they passed or do not apply.

    Suppressions are not looked at: Grype marks every result with an "external" suppression,
    and the tools count those results in their own summaries.
    """
    return str(result.get("kind") or "fail") not in _NOT_A_PROBLEM


def rule_tags(rule: dict[str, Any]) -> list[str]:
    """The rule's ``properties.tags``, lower-cased (``["vulnerability", "security", "high"]``)."""
    return [str(tag).lower() for tag in (rule.get("properties") or {}).get("tags") or []]
