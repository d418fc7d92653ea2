"""The chain cases of ``realworld_chain``, one module per chain of real CVEs."""
