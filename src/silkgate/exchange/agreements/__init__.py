"""Data-sharing agreements: per-field, per-purpose terms between a provider and consumers,
signed by both, with CEL conditions, ODRL export and the policy decision every read uses."""
