"""Privacy: forgetting a person everywhere this system stored them (`gdp person forget`)."""
