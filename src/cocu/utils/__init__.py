"""Small shared helpers: atomic files, progress bars, seeding, devices."""
