//! Length-prefixed frames over any byte stream.
