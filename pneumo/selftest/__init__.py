"""``pneumo self-test``: checks that an installation can do its job.

:mod:`pneumo.selftest.films` holds the small DICOM films (one per supported
transfer syntax) and their reference pixels; :mod:`pneumo.selftest.checks`
the checks themselves. Nothing here imports Qt: the window check runs the app
in a child process.
"""
