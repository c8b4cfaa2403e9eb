"""Loaded once by the fork server of a restore from a team's store, before it forks helpers.

Each helper of such a restore fetches the packs it writes, through a client of its own:
importing boto3 and reading the S3 API's description took each one 0.4–0.7 s of CPU at the
start of the restore. Done here, while the command is still unlocking the store, every
helper forked afterwards inherits them and makes its client in 40 ms.
"""

import boto3

# Made and dropped: what stays is the default session's loaded description of S3. With
# credentials of its own it looks for none: helpers sign with their parent's
# (`bucket_objects.objects_at`), and a search here could wait on a metadata server.
boto3.client(
    "s3",
    region_name="us-east-1",
    aws_access_key_id="warm-up",
    aws_secret_access_key="warm-up",
)
