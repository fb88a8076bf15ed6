"""Settlement: epochs of cumulative entitlements posted on chain, and claims."""
