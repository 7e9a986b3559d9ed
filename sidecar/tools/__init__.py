"""tools: the commands a publisher runs on the files: verify, preflight, compare, export, status, recover, list, batch.

Each reads checkpoints, the ledger or source folders through store and makes rows through rows;
none of them drives the engine or the service.
May import: errors, inputs, settings, rows, store.
"""
