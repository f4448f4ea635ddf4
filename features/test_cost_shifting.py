"""转嫁费用（COST-001, COST-002）: self-pay and drugs bought outside shifted onto the patient."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("cost_shifting.feature")
