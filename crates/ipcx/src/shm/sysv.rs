//! System V shared memory segments.
