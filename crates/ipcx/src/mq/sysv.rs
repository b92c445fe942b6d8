//! System V message queues.
