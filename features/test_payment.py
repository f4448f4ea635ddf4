"""支付测算: the payment a claim earns under its treatment region's DRG/DIP rules."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("payment.feature")
