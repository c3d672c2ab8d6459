"""Checks, one module per concern. Importing this package registers them all."""
