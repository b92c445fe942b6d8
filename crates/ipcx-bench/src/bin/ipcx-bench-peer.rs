//! The peer process of an `ipcx_bench::run` started from a program other than
//! `ipcx` (the library's own tests use it): runs [`ipcx_bench::child_main`].

fn main() {
    if let Err(e) = ipcx_bench::child_main() {
        eprintln!("ipcx-bench-peer: {e:#}");
        std::process::exit(1);
    }
}
