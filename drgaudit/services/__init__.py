"""Application services: the operations the CLI, the web pages and the API call.

They sit above the engine, the casebook and the reports, and combine them (screen a stored batch and
file its hits and review cases, explain a stored claim, …). Nothing below imports this package.
"""
