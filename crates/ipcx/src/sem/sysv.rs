//! System V semaphore sets.
