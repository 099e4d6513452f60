"""Third-party platforms: the catalogue, accounts (stream key or OAuth), metadata templates."""
