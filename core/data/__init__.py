"""Data a network trains on: the Dataset and how it is made (dataset), CSV files (csv_file)
and the seeded built-in generators (generators)."""
