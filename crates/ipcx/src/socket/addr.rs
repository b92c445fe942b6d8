//! Unix socket addresses: file-system paths and abstract names.
