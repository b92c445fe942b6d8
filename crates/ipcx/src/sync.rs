//! Process-shared, robust locks in shared memory.
