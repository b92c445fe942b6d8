//! Ancillary data: passing file descriptors (SCM_RIGHTS) and credentials.
