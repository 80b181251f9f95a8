"""No float touches money: the labour and payments code never calls float() and stores
no amount in a FloatField (money is integer minor units + an ISO currency)."""

import ast
import re
from pathlib import Path

from django.apps import apps
from django.db import models

ROOT = Path(__file__).resolve().parents[2]
MONEY_CODE = [ROOT / "payments", ROOT / "tester_platform" / "labour", ROOT / "tester_platform" / "finance"]
MONEY_FIELD = re.compile(r"(amount|minor|rate|balance|bounty|bonus|fee|floor|earn|paid|payout|price|licence|topup)")


def _python_files():
    for folder in MONEY_CODE:
        yield from (p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_money_code_never_calls_float_or_declares_a_float_field():
    offenders = []
    for path in _python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in ("float", "FloatField", "DecimalField") or (
                isinstance(node, ast.Constant) and isinstance(node.value, float)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name or node.value!r}")
    assert offenders == []
    # The scan sees the code it means to see.
    assert any(p.name == "ledger.py" for p in _python_files())


def test_no_model_stores_an_amount_as_a_float():
    offenders = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, (models.FloatField, models.DecimalField)) and MONEY_FIELD.search(field.name):
                offenders.append(f"{model._meta.label}.{field.name}")
    assert offenders == []
    for label in ("payments.LedgerEntry", "payments.RateCard", "labour.PayFloorAssessment"):
        model = apps.get_model(label)
        amounts = [f for f in model._meta.fields if f.name.endswith("_minor")]
        assert amounts and all(isinstance(f, (models.IntegerField, models.BigIntegerField)) for f in amounts), label
