"""Automatic pre-screening: stages, the verdict policy, and the workers that run them."""
