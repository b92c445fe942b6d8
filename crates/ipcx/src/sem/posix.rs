//! POSIX semaphores, named and unnamed.
