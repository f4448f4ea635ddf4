"""高编高套（UPC-001, UPC-002）: MCC without evidence, and severity the codes do not support."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("upcoding.feature")
