"""The platform's cost ledger service, budget guard and serving-mode advice."""
