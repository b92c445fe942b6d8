//! One small error type per channel operation (crossbeam style): a failed
//! send hands the message back.

use std::fmt;

use crate::Error;

macro_rules! send_error_common {
    ($ty:ident { $($variant:ident),* }) => {
        impl<T> $ty<T> {
            /// The message that was not sent.
            pub fn into_inner(self) -> T {
                match self {
                    $($ty::$variant(m) => m,)*
                    $ty::Other(m, _) => m,
                }
            }

            /// Whether the receiving side is gone.
            pub fn is_disconnected(&self) -> bool {
                matches!(self, $ty::Disconnected(_))
            }
        }

        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($ty::$variant(_) => write!(f, "{}::{}(..)", stringify!($ty), stringify!($variant)),)*
                    $ty::Other(_, e) => write!(f, "{}::Other(.., {e:?})", stringify!($ty)),
                }
            }
        }

        impl<T> std::error::Error for $ty<T> {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $ty::Other(_, e) => Some(e),
                    _ => None,
                }
            }
        }
    };
}

/// [`Sender::send`](super::Sender::send) failed; the message is inside.
pub enum SendError<T> {
    /// The receiver is gone (closed or its process died).
    Disconnected(T),
    /// Anything else: too large for the transport, corrupted peer, I/O error.
    Other(T, Error),
}
send_error_common!(SendError { Disconnected });

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
            SendError::Other(_, e) => write!(f, "send failed: {e}"),
        }
    }
}

/// [`Sender::try_send`](super::Sender::try_send) failed; the message is inside.
pub enum TrySendError<T> {
    /// The channel is full now.
    Full(T),
    /// The receiver is gone.
    Disconnected(T),
    /// Anything else: too large for the transport, corrupted peer, I/O error.
    Other(T, Error),
}
send_error_common!(TrySendError { Full, Disconnected });

impl<T> TrySendError<T> {
    /// Whether the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
            TrySendError::Other(_, e) => write!(f, "send failed: {e}"),
        }
    }
}

/// [`Sender::send_timeout`](super::Sender::send_timeout) failed; the message is inside.
pub enum SendTimeoutError<T> {
    /// No room came free in time.
    Timeout(T),
    /// The receiver is gone.
    Disconnected(T),
    /// Anything else: too large for the transport, corrupted peer, I/O error.
    Other(T, Error),
}
send_error_common!(SendTimeoutError {
    Timeout,
    Disconnected
});

impl<T> SendTimeoutError<T> {
    /// Whether the timeout passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out sending on a full channel"),
            SendTimeoutError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
            SendTimeoutError::Other(_, e) => write!(f, "send failed: {e}"),
        }
    }
}

/// [`Receiver::recv`](super::Receiver::recv) failed.
#[derive(Debug)]
pub enum RecvError {
    /// The sender is gone and everything it sent has been received.
    Disconnected,
    /// Anything else: an undecodable message, corrupted peer, I/O error.
    Other(Error),
}

/// [`Receiver::try_recv`](super::Receiver::try_recv) failed.
#[derive(Debug)]
pub enum TryRecvError {
    /// No message now.
    Empty,
    /// The sender is gone and everything it sent has been received.
    Disconnected,
    /// Anything else: an undecodable message, corrupted peer, I/O error.
    Other(Error),
}

/// [`Receiver::recv_timeout`](super::Receiver::recv_timeout) failed.
#[derive(Debug)]
pub enum RecvTimeoutError {
    /// No message came in time.
    Timeout,
    /// The sender is gone and everything it sent has been received.
    Disconnected,
    /// Anything else: an undecodable message, corrupted peer, I/O error.
    Other(Error),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
            RecvError::Other(e) => write!(f, "receive failed: {e}"),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
            TryRecvError::Other(e) => write!(f, "receive failed: {e}"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out receiving on an empty channel"),
            RecvTimeoutError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
            RecvTimeoutError::Other(e) => write!(f, "receive failed: {e}"),
        }
    }
}

macro_rules! recv_error_source {
    ($($ty:ident),*) => {$(
        impl std::error::Error for $ty {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $ty::Other(e) => Some(e),
                    _ => None,
                }
            }
        }
    )*};
}
recv_error_source!(RecvError, TryRecvError, RecvTimeoutError);

const OBJECT: &str = "channel";

fn disconnected(which: &str) -> Error {
    Error::Disconnected {
        object: OBJECT.into(),
        reason: format!("the {which} is gone"),
    }
}

impl<T> From<SendError<T>> for Error {
    /// Drops the message and keeps the cause.
    fn from(e: SendError<T>) -> Error {
        match e {
            SendError::Disconnected(_) => disconnected("receiver"),
            SendError::Other(_, e) => e,
        }
    }
}

impl<T> From<TrySendError<T>> for Error {
    /// Drops the message and keeps the cause.
    fn from(e: TrySendError<T>) -> Error {
        match e {
            TrySendError::Full(_) => Error::Full {
                object: OBJECT.into(),
            },
            TrySendError::Disconnected(_) => disconnected("receiver"),
            TrySendError::Other(_, e) => e,
        }
    }
}

impl<T> From<SendTimeoutError<T>> for Error {
    /// Drops the message and keeps the cause (a timeout becomes
    /// [`Error::TimedOut`] without its duration, which the error did not keep).
    fn from(e: SendTimeoutError<T>) -> Error {
        match e {
            SendTimeoutError::Timeout(_) => Error::TimedOut {
                object: OBJECT.into(),
                waiting_for: "room to send".into(),
                timeout: std::time::Duration::ZERO,
            },
            SendTimeoutError::Disconnected(_) => disconnected("receiver"),
            SendTimeoutError::Other(_, e) => e,
        }
    }
}

impl From<RecvError> for Error {
    fn from(e: RecvError) -> Error {
        match e {
            RecvError::Disconnected => disconnected("sender"),
            RecvError::Other(e) => e,
        }
    }
}

impl From<TryRecvError> for Error {
    fn from(e: TryRecvError) -> Error {
        match e {
            TryRecvError::Empty => Error::Empty {
                object: OBJECT.into(),
            },
            TryRecvError::Disconnected => disconnected("sender"),
            TryRecvError::Other(e) => e,
        }
    }
}

impl From<RecvTimeoutError> for Error {
    fn from(e: RecvTimeoutError) -> Error {
        match e {
            RecvTimeoutError::Timeout => Error::TimedOut {
                object: OBJECT.into(),
                waiting_for: "a message".into(),
                timeout: std::time::Duration::ZERO,
            },
            RecvTimeoutError::Disconnected => disconnected("sender"),
            RecvTimeoutError::Other(e) => e,
        }
    }
}
