"""Community review: validators, draws, votes, gold items, consensus, appeals, stakes, slashing."""
