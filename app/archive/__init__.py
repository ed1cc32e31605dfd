"""The health archive beyond the basic sheet, its one-call view, access log, FHIR export and indicators."""
