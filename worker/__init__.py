"""The thin Celery shell: the app, the lean worker process, the tasks, the job runner (claim,
lease, run, record) and trajectory shards. What an episode is lives in ``manip``."""
