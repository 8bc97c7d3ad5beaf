"""inception_v1 declared once as a `tf1shim.staging` migration (see
slim_port/staging/migration.py)."""

from slim_port.staging import migration

MIGRATION, NETWORK = migration.declare("inception_v1")
