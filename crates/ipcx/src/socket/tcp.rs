//! TCP streams and listeners.
