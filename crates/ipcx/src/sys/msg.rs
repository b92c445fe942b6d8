//! System V message queues: `msgget(2)`, `msgsnd(2)`, `msgrcv(2)`, `msgctl(2)`.
//!
//! rustix does not cover System V IPC, so these go through libc. The kernel
//! wants a message as one contiguous `struct msgbuf { long mtype; char
//! mtext[]; }`; a per-thread scratch buffer (grown to the largest message seen,
//! never shrunk) holds it so that steady-state sends and receives allocate
//! nothing.

use std::cell::RefCell;
use std::io;
use std::mem::size_of;

/// Bytes of the `long mtype` header in front of every message.
pub(crate) const HEADER: usize = size_of::<libc::c_long>();

thread_local! {
    /// `long`-aligned scratch space for one `struct msgbuf`.
    static SCRATCH: RefCell<Vec<libc::c_long>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a `long`-aligned scratch buffer of at least `bytes` bytes.
fn with_scratch<R>(bytes: usize, f: impl FnOnce(&mut [libc::c_long]) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut v = cell.borrow_mut();
        let words = bytes.div_ceil(HEADER);
        if v.len() < words {
            v.resize(words, 0);
        }
        f(&mut v[..words])
    })
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// The fields of `struct msqid_ds` ipcx reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MsqidDs {
    pub(crate) key: i32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) cuid: u32,
    pub(crate) cgid: u32,
    pub(crate) mode: u32,
    pub(crate) stime: i64,
    pub(crate) rtime: i64,
    pub(crate) ctime: i64,
    pub(crate) cbytes: u64,
    pub(crate) qnum: u64,
    pub(crate) qbytes: u64,
    pub(crate) lspid: i32,
    pub(crate) lrpid: i32,
}

/// `msgget(key, flags)`: the queue id.
pub(crate) fn msgget(key: i32, flags: i32) -> io::Result<i32> {
    // SAFETY: msgget takes two integers and touches no memory of ours.
    let id = unsafe { libc::msgget(key, flags) };
    if id < 0 {
        Err(last_error())
    } else {
        Ok(id)
    }
}

/// `msgsnd(id, {mtype, data}, len, flags)`, copying into the per-thread
/// scratch buffer. One attempt; `EINTR` is returned.
pub(crate) fn msgsnd(id: i32, mtype: i64, data: &[u8], flags: i32) -> io::Result<()> {
    with_scratch(HEADER + data.len(), |buf| {
        buf[0] = mtype as libc::c_long;
        bytes_mut(buf)[HEADER..HEADER + data.len()].copy_from_slice(data);
        msgsnd_raw(id, buf, data.len(), flags)
    })
}

/// `msgsnd` of a ready `struct msgbuf`: `msg[0]` is the type, `len` body
/// bytes follow. One attempt; `EINTR` is returned.
pub(crate) fn msgsnd_raw(id: i32, msg: &[libc::c_long], len: usize, flags: i32) -> io::Result<()> {
    if HEADER + len > std::mem::size_of_val(msg) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: msg is a live, long-aligned `struct msgbuf` of at least
    // HEADER + len bytes (checked above); msgsnd reads exactly that many.
    let r = unsafe { libc::msgsnd(id, msg.as_ptr().cast(), len, flags) };
    if r < 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}

/// `msgrcv(id, buf, out.len(), msgtyp, flags)` through the per-thread scratch
/// buffer: copies the message text into `out` and returns its length and
/// type. One attempt; `EINTR` is returned.
pub(crate) fn msgrcv(id: i32, out: &mut [u8], msgtyp: i64, flags: i32) -> io::Result<(usize, i64)> {
    with_scratch(HEADER + out.len(), |buf| {
        let (n, mtype) = msgrcv_raw(id, buf, out.len(), msgtyp, flags)?;
        out[..n].copy_from_slice(&bytes_mut(buf)[HEADER..HEADER + n]);
        Ok((n, mtype))
    })
}

/// `msgrcv` straight into a `struct msgbuf` with room for `cap` body bytes;
/// returns the body length and the type (also left in `msg[0]`). One
/// attempt; `EINTR` is returned.
pub(crate) fn msgrcv_raw(
    id: i32,
    msg: &mut [libc::c_long],
    cap: usize,
    msgtyp: i64,
    flags: i32,
) -> io::Result<(usize, i64)> {
    if HEADER + cap > std::mem::size_of_val(msg) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: msg is a live, long-aligned buffer of at least HEADER + cap
    // bytes (checked above); msgrcv writes at most the header plus cap bytes
    // of text into it.
    let n = unsafe {
        libc::msgrcv(
            id,
            msg.as_mut_ptr().cast(),
            cap,
            msgtyp as libc::c_long,
            flags,
        )
    };
    if n < 0 {
        return Err(last_error());
    }
    // c_long is i32 on 32-bit targets, where this converts.
    #[allow(clippy::useless_conversion)]
    let mtype = i64::from(msg[0]);
    Ok((n as usize, mtype))
}

/// Views `long`s as bytes.
pub(crate) fn bytes(words: &[libc::c_long]) -> &[u8] {
    let len = std::mem::size_of_val(words);
    // SAFETY: any initialised `long` is valid as bytes, u8 has alignment 1,
    // and the byte slice covers exactly the words' memory for the same
    // shared borrow.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), len) }
}

/// Views `long`s as mutable bytes.
pub(crate) fn bytes_mut(words: &mut [libc::c_long]) -> &mut [u8] {
    let len = std::mem::size_of_val(words);
    // SAFETY: any initialised `long` is valid as bytes and any bytes are a
    // valid `long`; u8 has alignment 1; the byte slice covers exactly the
    // words' memory, borrowed mutably for the same lifetime (no aliasing).
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) }
}

/// `msgctl(id, IPC_STAT)`.
pub(crate) fn msgctl_stat(id: i32) -> io::Result<MsqidDs> {
    // SAFETY: msqid_ds is plain old data; all-zero bytes are a valid value.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a live msqid_ds that IPC_STAT fills in.
    let r = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
    if r < 0 {
        return Err(last_error());
    }
    Ok(MsqidDs {
        key: ds.msg_perm.__key,
        uid: ds.msg_perm.uid,
        gid: ds.msg_perm.gid,
        cuid: ds.msg_perm.cuid,
        cgid: ds.msg_perm.cgid,
        mode: u32::from(ds.msg_perm.mode) & 0o777,
        stime: ds.msg_stime,
        rtime: ds.msg_rtime,
        ctime: ds.msg_ctime,
        cbytes: ds.__msg_cbytes,
        qnum: ds.msg_qnum,
        qbytes: ds.msg_qbytes,
        lspid: ds.msg_lspid,
        lrpid: ds.msg_lrpid,
    })
}

/// `msgctl(id, IPC_SET)` changing only `msg_qbytes` (read with `IPC_STAT`
/// first so owner and mode stay as they are).
pub(crate) fn msgctl_set_qbytes(id: i32, qbytes: u64) -> io::Result<()> {
    // SAFETY: as in msgctl_stat.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a live msqid_ds that IPC_STAT fills in.
    if unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) } < 0 {
        return Err(last_error());
    }
    ds.msg_qbytes = qbytes as libc::msglen_t;
    // SAFETY: ds is a live, fully initialised msqid_ds that IPC_SET reads.
    if unsafe { libc::msgctl(id, libc::IPC_SET, &mut ds) } < 0 {
        return Err(last_error());
    }
    Ok(())
}

/// `msgctl(id, IPC_RMID)`.
pub(crate) fn msgctl_rmid(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID ignores the buffer argument, so null is allowed.
    let r = unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    if r < 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}
