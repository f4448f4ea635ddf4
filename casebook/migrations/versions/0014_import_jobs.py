"""import jobs: an upload on the batches page is imported in the background, as a job beside the screens

Revision ID: 0014_import_jobs
Revises: 0013_api_key_expiry
Create Date: 2026-12-07

`screen_job` holds both kinds of background job of the batches page: `kind` is `screen` (every job
made before) or `import`. An import's job has no batch until the file is imported (`batch_id` may be
NULL); it names the uploaded file (`file_name`), the rows read so far (`rows`), and the private folder
holding the upload (`work_dir`), removed when the job ends or is found interrupted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014_import_jobs"
down_revision: str | None = "0013_api_key_expiry"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("screen_job") as batch:
        batch.add_column(sa.Column("kind", sa.String(), nullable=False, server_default="screen"))
        batch.add_column(sa.Column("file_name", sa.String(), nullable=True))
        batch.add_column(sa.Column("rows", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("work_dir", sa.String(), nullable=True))
        batch.alter_column("batch_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # An import's job without a batch has no place in the table as it was.
    op.execute("DELETE FROM screen_job WHERE batch_id IS NULL")
    with op.batch_alter_table("screen_job") as batch:
        batch.alter_column("batch_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("work_dir")
        batch.drop_column("rows")
        batch.drop_column("file_name")
        batch.drop_column("kind")
