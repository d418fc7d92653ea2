"""Private task packs: an agency's own Inspect tasks, encrypted in the vault under the owning
agency's data key, shared with the agencies it names, verified by hash before they run.

``archive`` reads and checks a pack file (its ``pack.toml`` manifest and its package),
``service`` holds the use cases (upload, list, read, download, share, unshare) and what the
evals use cases ask of packs (the stamp a result carries, the developer's view), ``runner``
verifies a downloaded pack and runs its tasks, ``redact`` the developer's copy of a pack's log.
"""
