"""推诿重症与强制出院（SEV-001）: severe cases that leave early against advice or are transferred out."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("shifting_severe.feature")
