"""Training studies: a plan of configs x seeds, the runner that executes and resumes it, and
the table of per-seed results and verdicts."""
