//! The inventory behind `ipcx ls` / `ipcx rm`: what it finds, how it tells
//! live objects from stale ones, and how removal refuses in-use objects.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ipcx::creator::{ProcessId, CREATOR_XATTR};
use ipcx::inventory::{self, Filter, Kind, Object, Options, Target};
use ipcx::Error;

use crate::util::unique;

/// A file under /dev/shm removed on drop, also when the test fails.
struct ShmFile(PathBuf);

impl ShmFile {
    fn create(name: &str) -> (ShmFile, File) {
        let path = PathBuf::from(format!("/dev/shm/{name}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .unwrap();
        (ShmFile(path), file)
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A System V message queue removed on drop.
struct SysvQueue(i32);

impl Drop for SysvQueue {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID ignores the buffer, passed as null.
        unsafe { libc::msgctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

/// Writes a creator record the way `creator::record_creator` does, for a
/// process other than this one.
fn set_creator(path: &Path, id: ProcessId) {
    let value = format!("{}:{}", id.pid, id.start_time);
    rustix::fs::setxattr(
        path,
        CREATOR_XATTR,
        value.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
}

/// The identity of a process that has exited (and been reaped).
fn dead_process() -> ProcessId {
    let mut child = std::process::Command::new("sleep")
        .arg("0.2")
        .spawn()
        .unwrap();
    let id = ProcessId::of(child.id()).expect("child is running");
    child.wait().unwrap();
    id
}

fn only(kind: Kind, pattern: &str) -> Vec<Object> {
    only_in(kind, pattern, &Options::default())
}

fn only_in(kind: Kind, pattern: &str, opts: &Options) -> Vec<Object> {
    let filter = Filter {
        kinds: vec![kind],
        pattern: Some(pattern.to_owned()),
        ..Filter::default()
    };
    inventory::list_with(opts)
        .filtered(&filter)
        .into_iter()
        .cloned()
        .collect()
}

#[test]
fn shm_object_with_live_recorded_creator_is_alive() {
    let name = unique("ipcx-inv-live");
    let (_guard, file) = ShmFile::create(&name);
    ipcx::creator::record_creator(&file);
    drop(file);
    let found = only(Kind::Shm, &name);
    assert_eq!(found.len(), 1, "{found:?}");
    let o = &found[0];
    assert_eq!(o.name, format!("/{name}"));
    assert_eq!(o.mode, Some(0o600));
    let c = o.creator.as_ref().expect("creator recorded");
    assert_eq!(c.pid, std::process::id());
    assert_eq!(c.source, "xattr");
    assert!(c.alive && o.alive && !o.stale, "{o:?}");
    // Alive means in use: remove refuses without force.
    let err = inventory::remove(o, false).unwrap_err();
    assert!(matches!(err, Error::InUse { .. }), "{err:?}");
    assert!(err.to_string().contains("creator running"), "{err}");
    assert!(Path::new(&format!("/dev/shm/{name}")).exists());
}

#[test]
fn shm_object_with_dead_creator_and_no_user_is_stale_and_removable() {
    let name = unique("ipcx-inv-dead");
    let (guard, file) = ShmFile::create(&name);
    drop(file);
    set_creator(&guard.0, dead_process());
    let o = only(Kind::Shm, &name).pop().expect("listed");
    assert!(o.stale && !o.alive, "{o:?}");
    assert!(!o.creator.as_ref().unwrap().alive);
    let stale = Filter {
        stale_only: true,
        pattern: Some(name.clone()),
        ..Filter::default()
    };
    assert_eq!(inventory::list().filtered(&stale).len(), 1);
    inventory::remove(&o, false).unwrap();
    assert!(!guard.0.exists());
}

#[test]
fn reused_pid_is_not_mistaken_for_the_creator() {
    let name = unique("ipcx-inv-reuse");
    let (guard, file) = ShmFile::create(&name);
    drop(file);
    // Our pid, but a different start time: another process that had this pid.
    let me = ProcessId::current();
    set_creator(
        &guard.0,
        ProcessId {
            pid: me.pid,
            start_time: me.start_time + 7,
        },
    );
    let o = only(Kind::Shm, &name).pop().expect("listed");
    assert_eq!(o.creator.as_ref().unwrap().pid, me.pid);
    assert!(o.stale, "{o:?}");
}

#[test]
fn shm_object_mapped_by_this_process_is_alive_with_a_dead_creator() {
    let name = unique("ipcx-inv-mapped");
    let (guard, file) = ShmFile::create(&name);
    file.set_len(4096).unwrap();
    set_creator(&guard.0, dead_process());
    // SAFETY: a fresh 4096-byte shared mapping of a file that is 4096 bytes
    // long; unmapped below before the file goes away.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            4096,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED,
            &file,
            0,
        )
        .unwrap()
    };
    drop(file); // only the mapping holds it now
    let o = only(Kind::Shm, &name).pop().expect("listed");
    // SAFETY: ptr/4096 are exactly what mmap returned.
    unsafe { rustix::mm::munmap(ptr, 4096).unwrap() };
    assert!(o.alive, "{o:?}");
    assert_eq!(o.users, vec![std::process::id()]);
    assert_eq!(o.size, Some(4096));
    let err = inventory::remove(&o, false).unwrap_err();
    assert!(
        err.to_string().contains(&std::process::id().to_string()),
        "{err}"
    );
    inventory::remove(&o, true).unwrap();
    assert!(!guard.0.exists());
}

#[test]
fn named_semaphore_files_are_semaphores() {
    let name = unique("ipcx-inv-sem");
    let (_guard, _file) = ShmFile::create(&format!("sem.{name}"));
    let o = only(Kind::Sem, &name).pop().expect("listed as sem");
    assert_eq!(o.name, format!("/{name}"));
    assert_eq!(o.users, vec![std::process::id()]);
    assert!(only(Kind::Shm, &name).is_empty());
}

#[test]
fn sysv_queue_without_live_sender_is_stale_and_removed_by_id() {
    // SAFETY: msgget takes integers only.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    assert!(id >= 0);
    let guard = SysvQueue(id);
    let inv = inventory::list();
    let target: Target = format!("sysvmq:id={id}").parse().unwrap();
    let o = inventory::find(&inv, &target).unwrap();
    assert_eq!(o.kind, Kind::SysvMq);
    assert_eq!(o.name, "IPC_PRIVATE");
    assert_eq!(o.spec(), format!("sysvmq:id={id}"));
    assert_eq!(o.count, Some(0));
    assert_eq!(o.owner_uid, Some(rustix::process::getuid().as_raw()));
    assert!(o.stale, "no sender or receiver yet: {o:?}");
    inventory::remove(&o, false).unwrap();
    // SAFETY: IPC_STAT into a zeroed msqid_ds that outlives the call.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
    assert_eq!(r, -1, "queue still exists");
    std::mem::forget(guard);
}

#[test]
fn sysv_queue_last_sent_to_by_this_process_is_alive() {
    // SAFETY: msgget takes integers only.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    assert!(id >= 0);
    let _guard = SysvQueue(id);
    #[repr(C)]
    struct Msg {
        mtype: libc::c_long,
        text: [u8; 4],
    }
    let m = Msg {
        mtype: 1,
        text: *b"ping",
    };
    // SAFETY: m is a valid message of 4 bytes after its type.
    let r = unsafe { libc::msgsnd(id, (&m as *const Msg).cast(), 4, 0) };
    assert_eq!(r, 0);
    let inv = inventory::list();
    let o = inventory::find(
        &inv,
        &Target::SysvId {
            kind: Some(Kind::SysvMq),
            id,
        },
    )
    .unwrap();
    assert_eq!((o.count, o.size), (Some(1), Some(4)));
    assert!(o.alive, "{o:?}");
    assert_eq!(o.last_pids[0].pid, std::process::id());
    assert_eq!(o.last_pids[0].role, "msgsnd");
}

#[test]
fn missing_sysv_key_is_not_found() {
    // A key nobody uses: try a few until msgget says ENOENT.
    let inv = inventory::list();
    for k in 0x7a11_0000_i32..0x7a11_0100 {
        let t: Target = format!("sysvmq:0x{k:08x}").parse().unwrap();
        match inventory::find(&inv, &t) {
            Err(Error::NotFound { object, syscall }) => {
                assert!(object.contains(&format!("0x{k:08x}")), "{object}");
                assert_eq!(syscall, "msgget");
                return;
            }
            _ => continue,
        }
    }
    panic!("no free key found");
}

#[test]
fn unix_socket_bound_here_is_alive_and_its_left_over_file_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let opts = Options {
        scan_dirs: vec![dir.path().to_owned()],
    };
    let text = path.to_str().unwrap().to_owned();
    {
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let o = only_in(Kind::Unix, &text, &opts).pop().expect("listed");
        let s = o.socket.as_ref().unwrap();
        assert_eq!(
            (s.socket_type, s.state, s.bound),
            ("stream", "listening", true)
        );
        assert_eq!(o.users, vec![std::process::id()]);
        assert!(o.alive);
        let err = inventory::remove(&o, false).unwrap_err();
        assert!(matches!(err, Error::InUse { .. }), "{err:?}");
    }
    // The listener is closed; its file stays behind.
    let o = only_in(Kind::Unix, &text, &opts)
        .pop()
        .expect("file listed");
    assert!(o.stale && !o.socket.as_ref().unwrap().bound, "{o:?}");
    inventory::remove(&o, false).unwrap();
    assert!(!path.exists());
}

#[test]
fn fifo_held_open_is_alive_and_closed_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let text = path.to_str().unwrap().to_owned();
    let opts = Options {
        scan_dirs: vec![dir.path().to_owned()],
    };
    // O_RDWR on a FIFO does not block (Linux).
    let held = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    // Found through our descriptor even without scanning its directory.
    let o = only_in(Kind::Fifo, &text, &Options { scan_dirs: vec![] })
        .pop()
        .expect("found through /proc/self/fd");
    assert_eq!(o.users, vec![std::process::id()]);
    assert!(o.alive);
    drop(held);
    let o = only_in(Kind::Fifo, &text, &opts).pop().expect("listed");
    assert!(o.stale && o.users.is_empty(), "{o:?}");
    inventory::remove(&o, false).unwrap();
    assert!(!path.exists());
}

#[test]
fn object_specs_parse_and_bad_ones_list_the_accepted_forms() {
    let t: Target = "sysvmq:0x4100c04d".parse().unwrap();
    assert!(matches!(
        t,
        Target::SysvKey {
            kind: Kind::SysvMq,
            ..
        }
    ));
    assert_eq!(
        "sysvshm:id=32769".parse::<Target>().unwrap(),
        Target::SysvId {
            kind: Some(Kind::SysvShm),
            id: 32769
        }
    );
    assert_eq!(
        "32768".parse::<Target>().unwrap(),
        Target::SysvId {
            kind: None,
            id: 32768
        }
    );
    assert!(matches!(
        "shm:/x".parse::<Target>().unwrap(),
        Target::Named {
            kind: Kind::Shm,
            ..
        }
    ));
    assert!(matches!(
        "unix:@abs".parse::<Target>().unwrap(),
        Target::Named {
            kind: Kind::Unix,
            ..
        }
    ));
    for bad in ["bogus", "nope:/x", "shm:", "sysvmq:id=x", "sysvmq:zz"] {
        let err = bad.parse::<Target>().unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{bad}: {err:?}"
        );
    }
    let err = "bogus".parse::<Target>().unwrap_err().to_string();
    assert!(err.contains("bogus") && err.contains("shm:/NAME"), "{err}");
    assert!(matches!(
        "shm:noslash".parse::<Target>().unwrap_err(),
        Error::InvalidName { .. }
    ));
}

#[test]
fn ring_lists_its_producer_and_is_stale_once_everyone_is_gone() {
    let name = unique("ipcx-inv-ring");
    let guard = ShmFile(PathBuf::from(format!("/dev/shm/{name}")));
    let ring = ipcx::ring::Ring::builder(&format!("/{name}"))
        .capacity(4096)
        .create()
        .unwrap();
    let producer = ring.producer().unwrap();
    let o = only(Kind::Ring, &name).pop().expect("listed as a ring");
    assert_eq!(o.spec(), format!("ring:/{name}"));
    let r = o.ring.as_ref().unwrap();
    assert_eq!(r.capacity, 4096);
    assert_eq!(r.producer, Some(std::process::id()));
    assert!(r.producer_alive && r.consumer.is_none());
    assert!(o.alive, "{o:?}");
    assert!(matches!(
        inventory::remove(&o, false),
        Err(Error::InUse { .. })
    ));
    assert!(
        only(Kind::Shm, &name).is_empty(),
        "a ring is not listed twice"
    );

    // Left behind by a creator that has died.
    ring.keep();
    drop(producer);
    drop(ring);
    set_creator(&guard.0, dead_process());
    let o = only(Kind::Ring, &name).pop().expect("still there");
    assert_eq!(o.ring.as_ref().unwrap().producer, None);
    assert!(o.stale, "{o:?}");
    // `shm:/NAME` names a ring too.
    let t: Target = format!("shm:/{name}").parse().unwrap();
    let found = inventory::find(&inventory::list(), &t).unwrap();
    assert_eq!(found.kind, Kind::Ring);
    inventory::remove(&found, false).unwrap();
    assert!(!guard.0.exists());
}

#[test]
fn removal_never_follows_a_directory_swapped_for_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let fifo = real.join("f");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let opts = Options {
        scan_dirs: vec![dir.path().to_owned()],
    };
    let o = only_in(Kind::Fifo, fifo.to_str().unwrap(), &opts)
        .pop()
        .expect("listed");
    assert!(o.stale);
    // After the listing, the directory is replaced by a link to another one
    // holding a file of the same name.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::rename(&real, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &real).unwrap();
    let err = inventory::remove(&o, true).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { .. }) && err.to_string().contains("symbolic link"),
        "{err:?}"
    );
    assert!(elsewhere.join("f").exists(), "removed through the link");
}

#[test]
fn a_file_made_after_the_listing_under_the_same_name_is_not_removed() {
    // tmpfs hands a freed inode number to the next file at once, so the
    // number alone cannot tell the listed file from its successor.
    let name = unique("ipcx-inv-successor");
    let (guard, file) = ShmFile::create(&name);
    drop(file);
    set_creator(&guard.0, dead_process());
    let listed = only(Kind::Shm, &name).pop().expect("listed");
    assert!(listed.stale);
    std::fs::remove_file(&guard.0).unwrap();
    std::fs::write(&guard.0, b"successor").unwrap();
    let err = inventory::remove(&listed, true).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(std::fs::read(&guard.0).unwrap(), b"successor");

    // The same for a FIFO removed by path.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let mode = rustix::fs::Mode::from_raw_mode(0o600);
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, mode).unwrap();
    let opts = Options {
        scan_dirs: vec![dir.path().to_owned()],
    };
    let listed = only_in(Kind::Fifo, path.to_str().unwrap(), &opts)
        .pop()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, mode).unwrap();
    assert!(inventory::remove(&listed, true).is_err());
    assert!(path.exists());
}

/// A file under /dev/shm with a name that is not UTF-8, removed on drop.
struct RawShmFile(PathBuf);

impl RawShmFile {
    fn create(name: &[u8]) -> RawShmFile {
        use std::os::unix::ffi::OsStrExt;
        let mut path = b"/dev/shm/".to_vec();
        path.extend_from_slice(name);
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&path));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .unwrap();
        RawShmFile(path)
    }
}

impl Drop for RawShmFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn removing_a_non_utf8_name_removes_that_file_and_not_its_lossy_twin() {
    // "/NAME\xff" is listed as "/NAME\u{FFFD}": removing the listed object
    // must unlink the listed file, never a file really named "NAME\u{FFFD}".
    let base = unique("ipcx-inv-lossy");
    let mut raw = base.clone().into_bytes();
    raw.push(0xff);
    let listed_file = RawShmFile::create(&raw);
    set_creator(&listed_file.0, dead_process());
    let (twin, _twin_fd) = ShmFile::create(&format!("{base}\u{FFFD}"));
    let listed = inventory::list()
        .objects
        .into_iter()
        .find(|o| o.path.as_deref() == Some(listed_file.0.as_path()))
        .expect("the non-UTF-8 file is listed");
    assert_eq!(listed.name, format!("/{base}\u{FFFD}"));
    inventory::remove(&listed, true).unwrap();
    assert!(!listed_file.0.exists(), "the listed file was removed");
    assert!(twin.0.exists(), "the file it was not listed as survives");
}

#[test]
fn a_name_shared_by_two_files_after_utf8_replacement_is_ambiguous() {
    let base = unique("ipcx-inv-twins");
    let mut raw = base.clone().into_bytes();
    raw.push(0xff);
    let _a = RawShmFile::create(&raw);
    let (_b, _fd) = ShmFile::create(&format!("{base}\u{FFFD}"));
    let target: Target = format!("shm:/{base}\u{FFFD}").parse().unwrap();
    let err = inventory::find(&inventory::list(), &target).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("2 files have this name"), "{err}");
}

#[test]
fn control_characters_in_names_are_escaped_in_descriptions() {
    let name = format!("{}\n\u{1b}[31m", unique("ipcx-inv-ctl"));
    let (_guard, _fd) = ShmFile::create(&name);
    let o = only(Kind::Shm, &name).pop().expect("listed");
    assert_eq!(o.name, format!("/{name}"), "the name itself is kept");
    for text in [o.describe(), o.spec()] {
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.contains("\\n\\u{1b}[31m"), "{text:?}");
    }
}

#[test]
fn posix_queue_age_is_not_reset_by_listing_it() {
    let name = format!("/{}", unique("ipcx-inv-mqage"));
    // Reading /dev/mqueue/NAME (as listing does) sets its change time to
    // now; a second later, a second listing must still show the creation.
    let q = ipcx::mq::posix::MessageQueue::builder(&name)
        .create()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let first = only(Kind::Mq, &name).pop().expect("listed");
    let again = only(Kind::Mq, &name).pop().expect("listed");
    assert_eq!(first.created, again.created, "listing changed the age");
    drop(q);
}

#[test]
fn a_bound_sockets_path_swapped_for_another_file_is_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let opts = Options {
        scan_dirs: vec![dir.path().to_owned()],
    };
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let listed = only_in(Kind::Unix, path.to_str().unwrap(), &opts)
        .pop()
        .expect("listed");
    assert!(listed.socket.as_ref().unwrap().bound);
    // After the listing, the socket file is replaced by a regular file.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"not the socket").unwrap();
    let err = inventory::remove(&listed, true).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not the socket");
}

#[test]
fn sockets_bound_at_paths_with_newlines_spaces_or_non_utf8_bytes_are_alive() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixListener;
    // /proc/net/unix prints the path byte for byte: a newline splits the
    // record, and bytes that are not UTF-8 made the whole file unreadable
    // as text, so every socket file looked left behind.
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        scan_dirs: vec![dir.path().to_owned()],
    };
    let _a = UnixListener::bind(dir.path().join("a\nb  c")).unwrap();
    let _b = UnixListener::bind(dir.path().join(std::ffi::OsStr::from_bytes(b"d\xff"))).unwrap();
    let objects = only_in(Kind::Unix, dir.path().to_str().unwrap(), &opts);
    assert_eq!(objects.len(), 2, "{objects:?}");
    for o in &objects {
        assert!(o.alive && o.socket.as_ref().unwrap().bound, "{o:?}");
    }
}

#[test]
fn shm_objects_with_odd_names_mapped_or_open_here_are_alive() {
    // /proc/PID/maps writes a newline as \012 and keeps spaces; a name that
    // is not UTF-8 used to make the whole maps file (or fd link) unreadable
    // as text, so the objects looked stale.
    let base = unique("ipcx-inv-oddmap");
    let mut raw = base.clone().into_bytes();
    raw.extend_from_slice(b"  \xff");
    let (newline, nl_file) = ShmFile::create(&format!("{base}\nx"));
    let not_utf8 = RawShmFile::create(&raw);
    let held = File::open(&not_utf8.0).unwrap();
    nl_file.set_len(4096).unwrap();
    // SAFETY: a fresh 4096-byte shared mapping of a file that is 4096 bytes
    // long; unmapped below before the file goes away.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            4096,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED,
            &nl_file,
            0,
        )
        .unwrap()
    };
    drop(nl_file); // only the mapping holds it now
    let objects = only(Kind::Shm, &base);
    // SAFETY: ptr/4096 are exactly what mmap returned.
    unsafe { rustix::mm::munmap(ptr, 4096).unwrap() };
    drop(held);
    assert_eq!(objects.len(), 2, "{objects:?}");
    for o in &objects {
        assert!(o.alive, "{o:?}");
        assert_eq!(o.users, vec![std::process::id()], "{o:?}");
    }
    drop(newline);
}
