//! POSIX shared memory objects.
