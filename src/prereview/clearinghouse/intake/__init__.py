"""Taking reports in: parsing every accepted format (:mod:`.formats`) and storing what was
accepted, whole and in short transactions (:mod:`.store`)."""
