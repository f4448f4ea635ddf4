"""pytest-bdd scenarios in Chinese Gherkin: the audit policy of the bundled rule pack, run as tests."""
