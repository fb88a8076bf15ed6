"""Identity: wallets as participants, SIWE sign-in and sessions, EIP-712 signatures, rate limits."""
