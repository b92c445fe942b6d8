//! Anonymous pipes: a one-way byte stream between related processes.
