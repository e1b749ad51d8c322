"""Goods declarations shaped on the WCO Data Model, and pre-arrival information from them."""
