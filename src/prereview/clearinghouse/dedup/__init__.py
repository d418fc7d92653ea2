"""Finding the same vulnerability reported twice: similarity, the shared index, relations.

:mod:`.finder` scores a new report against the stored ones (MinHash LSH over text and code
locations), :mod:`.index` keeps one finder per database for every intake, :mod:`.aliases` holds
the alias and upstream relations between vulnerability ids, and :mod:`.duplicates` is the use
cases on them (proposals, decisions, merges, stated relations).
"""
