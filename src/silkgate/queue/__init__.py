"""Truck e-queue: capacity caps, slot inventory, bookings, no-shows and deposits."""
