//! Named pipes: creation and ownership, refusing what is not a FIFO, timed
//! opens that name the missing side, and telling "no writer yet" from "the
//! writer hung up".

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use ipcx::fifo::{CreationMode, Fifo, FifoReader, FifoWriter, WriterState};
use ipcx::Error;

const SHORT: Duration = Duration::from_millis(100);
const LONG: Duration = Duration::from_secs(30);

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn create_makes_a_fifo_with_mode_0600_and_drop_removes_it() {
    let d = dir();
    let path = d.path().join("f");
    let fifo = Fifo::builder(&path).create().unwrap();
    assert!(fifo.is_owner());
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    drop(fifo);
    assert!(!path.exists());
}

#[test]
fn mode_is_set_exactly_whatever_the_umask() {
    let d = dir();
    let path = d.path().join("f");
    let _fifo = Fifo::builder(&path).mode(0o666).create().unwrap();
    let mode = std::fs::symlink_metadata(&path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o666);
    assert!(matches!(
        Fifo::builder(d.path().join("g")).mode(0o1777).create(),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn kept_fifo_stays_and_openers_never_remove() {
    let d = dir();
    let path = d.path().join("f");
    let fifo = Fifo::builder(&path).keep(true).create().unwrap();
    drop(fifo);
    assert!(is_fifo(&path));
    let opened = Fifo::builder(&path).open().unwrap();
    assert!(!opened.is_owner());
    drop(opened);
    assert!(is_fifo(&path));
    let again = Fifo::builder(&path).open_or_create().unwrap();
    assert!(!again.is_owner());
    drop(again);
    assert!(is_fifo(&path));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn creation_modes_create_open_and_open_or_create() {
    let d = dir();
    let path = d.path().join("f");
    assert!(matches!(
        Fifo::builder(&path).build(CreationMode::Open),
        Err(Error::NotFound { .. })
    ));
    let made = Fifo::builder(&path)
        .build(CreationMode::OpenOrCreate)
        .unwrap();
    assert!(made.is_owner());
    let err = Fifo::builder(&path).create().unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    drop(made);
    assert!(!path.exists());
}

#[test]
fn a_regular_file_is_refused_and_left_alone() {
    let d = dir();
    let path = d.path().join("plain");
    std::fs::write(&path, b"data").unwrap();
    for result in [
        Fifo::builder(&path).open(),
        Fifo::builder(&path).open_or_create(),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("regular file"), "{text}");
    }
    assert!(matches!(
        Fifo::builder(&path).create(),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        FifoReader::try_open(&path),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        FifoWriter::open(&path, Some(SHORT)),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), b"data");
}

#[test]
fn a_symlink_to_a_fifo_is_not_followed() {
    let d = dir();
    let target = d.path().join("real");
    let link = d.path().join("link");
    let _fifo = Fifo::builder(&target).create().unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for result in [
        Fifo::builder(&link).open(),
        Fifo::builder(&link).open_or_create(),
    ] {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
    assert!(matches!(
        FifoReader::try_open(&link),
        Err(Error::InvalidArgument { .. })
    ));
    // A dangling symlink is not replaced either.
    let dangling = d.path().join("dangling");
    std::os::unix::fs::symlink(d.path().join("nowhere"), &dangling).unwrap();
    assert!(Fifo::builder(&dangling).open_or_create().is_err());
    assert!(!d.path().join("nowhere").exists());
}

#[test]
fn missing_parent_directory_is_not_found_naming_it() {
    let d = dir();
    let path = d.path().join("no-such-dir").join("f");
    let err = Fifo::builder(&path).create().unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&d.path().join("no-such-dir").display().to_string()),
        "{text}"
    );
    assert!(text.contains(&path.display().to_string()), "{text}");
    let err = FifoReader::open(&path, Some(SHORT)).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn path_of_path_max_bytes_or_more_is_path_too_long() {
    let long = format!("/tmp/{}", "x".repeat(5000));
    let err = Fifo::builder(&long).create().unwrap_err();
    match &err {
        Error::PathTooLong {
            len, max, limit, ..
        } => {
            assert_eq!((*len, *max, *limit), (5005, 4095, "PATH_MAX"));
        }
        other => panic!("expected PathTooLong, got {other:?}"),
    }
    assert!(err.to_string().lines().count() == 1);
    assert!(matches!(
        FifoWriter::open(&long, Some(SHORT)),
        Err(Error::PathTooLong { .. })
    ));
    assert!(matches!(
        Fifo::builder("").create(),
        Err(Error::InvalidName { .. })
    ));
}

#[test]
fn writer_open_times_out_saying_a_reader_is_missing() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let err = fifo.open_writer(Some(SHORT)).unwrap_err();
    match &err {
        Error::TimedOut {
            waiting_for,
            timeout,
            ..
        } => {
            assert_eq!(waiting_for, "a reader to open the FIFO");
            assert_eq!(*timeout, SHORT);
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(err
        .to_string()
        .contains("waiting for a reader to open the FIFO"));
    assert!(matches!(
        fifo.try_open_writer(),
        Err(Error::Disconnected { .. })
    ));
}

#[test]
fn reader_open_times_out_saying_a_writer_is_missing() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let err = fifo.open_reader(Some(SHORT)).unwrap_err();
    match &err {
        Error::TimedOut { waiting_for, .. } => {
            assert_eq!(waiting_for, "a writer to open the FIFO")
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
}

#[test]
fn reader_tells_no_writer_yet_from_writer_hung_up() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let mut reader = fifo.try_open_reader().unwrap();
    assert_eq!(reader.writer_state(), WriterState::NotYetConnected);
    let mut buf = [0u8; 64];
    // No writer yet: not end-of-file, but "empty" / "no writer" timeouts.
    assert!(matches!(
        reader.try_read(&mut buf),
        Err(Error::Empty { .. })
    ));
    assert_eq!(reader.writer_state(), WriterState::NotYetConnected);
    match reader.read_timeout(&mut buf, SHORT) {
        Err(Error::TimedOut { waiting_for, .. }) => {
            assert_eq!(waiting_for, "a writer to open the FIFO")
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }

    let writer = fifo.open_writer(Some(LONG)).unwrap();
    writer.write_message(b"hi").unwrap();
    assert_eq!(reader.read_timeout(&mut buf, LONG).unwrap(), 2);
    assert_eq!(reader.writer_state(), WriterState::Connected);
    // Connected but silent: the timeout says it waited for data.
    match reader.read_timeout(&mut buf, SHORT) {
        Err(Error::TimedOut { waiting_for, .. }) => {
            assert_eq!(waiting_for, "data from the writer")
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(matches!(
        reader.try_read(&mut buf),
        Err(Error::Empty { .. })
    ));
    assert_eq!(reader.writer_state(), WriterState::Connected);

    drop(writer);
    assert_eq!(reader.read_timeout(&mut buf, LONG).unwrap(), 0);
    assert_eq!(reader.writer_state(), WriterState::HungUp);
    assert_eq!(reader.try_read(&mut buf).unwrap(), 0);
}

#[test]
fn a_writer_that_opens_and_closes_counts_as_hung_up() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let mut reader = fifo.try_open_reader().unwrap();
    drop(fifo.open_writer(Some(LONG)).unwrap());
    let mut buf = [0u8; 8];
    assert_eq!(reader.read_timeout(&mut buf, LONG).unwrap(), 0);
    assert_eq!(reader.writer_state(), WriterState::HungUp);
}

#[test]
fn fifo_ends_are_close_on_exec() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let reader = fifo.try_open_reader().unwrap();
    let writer = fifo.try_open_writer().unwrap();
    for fd in [reader.as_fd(), writer.as_fd()] {
        assert!(rustix::io::fcntl_getfd(fd)
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC));
    }
}

#[test]
fn bytes_round_trip_between_threads_and_ends_outlive_the_name() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let path = fifo.path().to_path_buf();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let expected = data.clone();
    let writer = std::thread::spawn(move || {
        let mut w = FifoWriter::open(&path, Some(LONG)).unwrap();
        w.write_all(&data).unwrap();
    });
    let mut reader = fifo.open_reader(Some(LONG)).unwrap();
    fifo.remove().unwrap();
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert_eq!(got, expected);
}

#[test]
fn write_after_the_reader_closed_is_disconnected() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let reader = fifo.try_open_reader().unwrap();
    let writer = fifo.open_writer(Some(LONG)).unwrap();
    drop(reader);
    assert!(matches!(
        writer.write_message(b"x"),
        Err(Error::Disconnected { .. })
    ));
    let err = (&writer).write(b"x").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
}

#[test]
fn atomic_fifo_message_over_pipe_buf_is_refused() {
    let d = dir();
    let fifo = Fifo::builder(d.path().join("f")).create().unwrap();
    let _reader = fifo.try_open_reader().unwrap();
    let writer = fifo.open_writer(Some(LONG)).unwrap();
    let err = writer.write_message(&[0u8; 4097]).unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { max: 4096, .. }),
        "{err:?}"
    );
}

#[test]
fn drop_leaves_a_path_that_now_names_another_file() {
    let d = dir();
    let path = d.path().join("f");
    let fifo = Fifo::builder(&path).create().unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"someone else's").unwrap();
    drop(fifo);
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
    std::fs::remove_file(&path).unwrap();
    let fifo = Fifo::builder(&path).create().unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"again").unwrap();
    assert!(matches!(fifo.remove(), Err(Error::InvalidArgument { .. })));
    assert_eq!(std::fs::read(&path).unwrap(), b"again");
}
