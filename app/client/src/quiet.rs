//! Keeping the embedded runtime's stdout noise out of a tool's own output (the keeper's demo, the
//! fuzzer).
//!
//! When the program runs natively, `msg!` (and Anchor's "Instruction: …" and error lines) print
//! to stdout with `println!`; on chain they go to the transaction log, where the keeper reads
//! them. [`story_stdout`] duplicates the real stdout for the caller's own output and points file
//! descriptor 1 at /dev/null for everything else.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};

/// A writer to the real stdout; after this call, anything else printed to stdout is discarded.
pub fn story_stdout() -> io::Result<Box<dyn Write>> {
    io::stdout().flush()?;
    // SAFETY: dup/dup2 on valid descriptors; the duplicated descriptor is owned by the File.
    let story = unsafe {
        let fd = libc::dup(1);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        File::from_raw_fd(fd)
    };
    let null = OpenOptions::new().write(true).open("/dev/null")?;
    if unsafe { libc::dup2(null.as_raw_fd(), 1) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Box::new(io::LineWriter::new(story)))
}
