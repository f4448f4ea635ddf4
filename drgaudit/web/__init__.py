"""The review service: server-rendered pages (FastAPI, Jinja2) for auditors, meetings, hospitals and insured regions."""
