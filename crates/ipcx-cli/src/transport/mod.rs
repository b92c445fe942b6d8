//! `ipcx send` / `ipcx recv` for each mechanism family, one module each.

pub mod fifo;
pub mod mq;
pub mod ring;
pub mod socket;
pub mod sysvshm;
