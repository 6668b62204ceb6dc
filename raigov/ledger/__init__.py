"""The tamper-evident record: the hash chain (:mod:`raigov.ledger.chain`), signed
checkpoints (:mod:`raigov.ledger.checkpoints`) and verification
(:mod:`raigov.ledger.verify`).

Importing any part of the ledger registers the checkpoint writer with the catalog
(:func:`raigov.store.catalog.on_ledger_moved`), so every process that can append an
event also checkpoints it."""

from raigov.ledger import checkpoints as _checkpoints  # noqa: F401  (registers the writer)
