//! Small I/O helpers shared by the subcommands.

use std::io;

/// Whether the error (or a cause) is a broken pipe on our own stdout, which
/// exits quietly like `cat` does.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe && e.get_ref().is_none())
    })
}
