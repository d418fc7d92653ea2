"""Finding the same vulnerability reported twice: evidence, similarity, the shared index.

:mod:`.evidence` is what a report states that can join it to another or keep them apart (ids,
affected ranges, fix commits), :mod:`.finder` proposes pairs on their own evidence (MinHash LSH
over text and code locations beside it), :mod:`.index` keeps one finder per database for every
intake, :mod:`.aliases` holds the alias and upstream relations between vulnerability ids, and
:mod:`.duplicates` is the use cases on them (proposals, decisions, merges, stated relations).
:mod:`.labelled` (synthetic rewrites) and :mod:`.realset` (real PyPA duplicates) are the
labelled sets the tests and benchmarks score the finder on.
"""
