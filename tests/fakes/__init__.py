"""Local HTTP stand-ins for provider APIs, speaking their wire formats."""
