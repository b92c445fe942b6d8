//! Typed channels, `Sender<T>` and `Receiver<T>`, over any [`Endpoint`](crate::Endpoint).
