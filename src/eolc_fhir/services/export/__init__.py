"""FHIR Bulk Data Access (v2) `$export`: kick-off, jobs, files, and the runner that writes them.

    kickoff.py   parse and authorize a kick-off request, store the job (202 + status URL)
    jobs.py      the status URL (poll, cancel) and the file downloads, for their owner only
    runner.py    the background task (lifespan) that leases jobs, runs them, removes expired ones
    writer.py    one job's NDJSON files, streamed from one snapshot of the database
    spec.py      what a job asks for, as stored in its row
"""
