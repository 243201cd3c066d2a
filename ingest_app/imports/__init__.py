"""Rows an operator brings in from the terminal: lead CSVs and sales pipeline moves."""
