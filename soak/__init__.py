"""The reliability suite (`make soak`): what an outside fault probe does, kept in the repo.

Concurrent writers with version checks (lost updates counted), kill -9 of the server
mid-burst (every acknowledged write present, audit rows matching), kill -9 of a worker
mid-batch (every reminder fires exactly once), and the database cut and restored (the
answers during the outage counted by status, the time to recover measured). Runs on
SQLite, and on PostgreSQL when it answers; loopback only; bounded in time and count.
Not part of `make test`: it kills processes and takes a few minutes.
"""
