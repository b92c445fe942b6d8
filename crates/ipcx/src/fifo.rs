//! Named pipes (FIFOs): a one-way byte stream between unrelated processes.
