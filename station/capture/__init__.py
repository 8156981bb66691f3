"""A capture and its verdict: the procedure, the checks, DAW pairs, the report, the folder."""
