"""Who learns of a report: an organisation's need to know (:mod:`.need_to_know`, the input of
every clearinghouse policy decision) and the product claims and vendor notifications that route
reports to organisations (:mod:`.routing`)."""
