"""The disclosure log: who received which fields of another organization's records, and the
count of persons whose personal data crossed a border per agreement and year."""
