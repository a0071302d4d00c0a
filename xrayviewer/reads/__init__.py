"""The reader's own reads and the audit trail around them (no Qt, no TensorFlow).

:mod:`.log` keeps an append-only SQLite log of every read (P/N/U) and of the events that say
which model produced which number when (model switches, training runs, exports, calibrations);
:mod:`.export` writes it as CSV, a file ``evaluate``/``calibrate --labels`` accept as labels.
Nothing here stores pixels or DICOM patient identifiers: a case is its file's SHA-256 and name.
"""

from .log import (EVENT_KINDS, READ_CODES, ReadRecord, ReadsLog, ReadsLogError, default_log_path, file_sha256,
                  reader_default)

__all__ = ["EVENT_KINDS", "READ_CODES", "ReadRecord", "ReadsLog", "ReadsLogError", "default_log_path",
           "file_sha256", "reader_default"]
