"""The case read model: repair and objection cases with their steps, for the deciding agency,
the credit office and the applicant's progress page."""
