"""docflow's runtime library: the domain logic every Lambda function shares, and the thin
adapters that reach AWS. Shipped inside each function's bundle, so it stays lean."""
