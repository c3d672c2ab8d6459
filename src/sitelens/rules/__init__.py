"""The rule catalog (RULES.md) and one page per rule, shared by `sitelens rules`/`explain`,
the SARIF rule metadata and docs/rules/."""

from .catalog import RULES, Rule, all_rules, get_rule, rule_page

__all__ = ["RULES", "Rule", "all_rules", "get_rule", "rule_page"]
