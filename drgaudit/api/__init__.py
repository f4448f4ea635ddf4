"""The pre-settlement screening API (`/api/v1`), mounted on the review service (drgaudit.web.app)."""
