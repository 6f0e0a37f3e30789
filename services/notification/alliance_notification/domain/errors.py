"""The notification service's errors, as types (mapped to HTTP answers by the shared app)."""

from __future__ import annotations

from alliance_shared.errors import Conflict, Invalid, NotFound


class TemplateInvalid(Invalid):
    code = "template_invalid"


class UnknownTemplate(NotFound):
    code = "unknown_template"


class UnknownRule(NotFound):
    code = "unknown_rule"


class UnknownDelivery(NotFound):
    code = "unknown_delivery"


class RuleInvalid(Invalid):
    code = "rule_invalid"


class StaleEdit(Conflict):
    code = "stale_version"


class BudgetInvalid(Invalid):
    code = "budget_invalid"
