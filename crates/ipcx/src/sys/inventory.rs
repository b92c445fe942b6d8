//! Raw calls used by the inventory (`ipcx ls` / `ipcx rm`): System V lookups
//! and `IPC_RMID`, `semctl(GETPID)`, `mq_unlink`, `sysconf`.
//!
//! # References
//! [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html),
//! [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html),
//! [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html),
//! [mq_unlink(3)](https://man7.org/linux/man-pages/man3/mq_unlink.3.html),
//! [sysconf(3)](https://man7.org/linux/man-pages/man3/sysconf.3.html)

use std::ffi::CString;
use std::io;

/// Which System V table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SysvTable {
    Msg,
    Shm,
    Sem,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `msgget`/`shmget`/`semget` of an existing object: the id for `key`.
/// Asks for no permission bits, so it succeeds for any existing key.
pub(crate) fn sysv_lookup(table: SysvTable, key: i32) -> io::Result<i32> {
    // SAFETY: the get calls take plain integers and touch no memory of ours;
    // flags 0 only look up an existing object (no IPC_CREAT).
    let ret = unsafe {
        match table {
            SysvTable::Msg => libc::msgget(key, 0),
            SysvTable::Shm => libc::shmget(key, 0, 0),
            SysvTable::Sem => libc::semget(key, 0, 0),
        }
    };
    check(ret)
}

/// `IPC_RMID` on the object with `id`.
pub(crate) fn sysv_rmid(table: SysvTable, id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID ignores the buffer argument, for which we pass null
    // (msgctl/shmctl) or nothing (semctl's variadic fourth argument is not
    // read for IPC_RMID).
    let ret = unsafe {
        match table {
            SysvTable::Msg => libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            SysvTable::Shm => libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            SysvTable::Sem => libc::semctl(id, 0, libc::IPC_RMID),
        }
    };
    check(ret).map(drop)
}

/// `semctl(GETPID)`: the pid of the last process that operated on semaphore
/// `num` of set `id` (0 if none).
pub(crate) fn sem_getpid(id: i32, num: i32) -> io::Result<i32> {
    // SAFETY: GETPID takes no fourth argument and returns an integer.
    check(unsafe { libc::semctl(id, num, libc::GETPID) })
}

/// `mq_unlink`—removes a POSIX message queue name.
pub(crate) fn mq_unlink(name: &str) -> io::Result<()> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    check(unsafe { libc::mq_unlink(c.as_ptr()) }).map(drop)
}

/// `sysconf(_SC_SEM_VALUE_MAX)`: the largest value of a POSIX semaphore.
pub(crate) fn sem_value_max() -> Option<u64> {
    // SAFETY: sysconf takes an integer and reads no memory of ours.
    let v = unsafe { libc::sysconf(libc::_SC_SEM_VALUE_MAX) };
    u64::try_from(v).ok()
}
