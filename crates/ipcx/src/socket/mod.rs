//! Sockets: Unix (stream, datagram, seqpacket), TCP and UDP.

pub mod addr;
pub mod ancillary;
pub mod tcp;
pub mod udp;
pub mod unix;
