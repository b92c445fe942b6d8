//! Anonymous shared memory from memfd_create.
