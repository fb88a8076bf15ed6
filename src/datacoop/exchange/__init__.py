"""The exchange: listings, orders, compliant delivery and royalties."""
