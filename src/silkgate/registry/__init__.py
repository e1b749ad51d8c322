"""Member states, organizations, their API and signing keys, and the border crossings."""
