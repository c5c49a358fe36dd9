//! A 1 GiB artifact streams in and out in bounded memory. Alone in its
//! test binary, so that the process's peak RSS is this test's own.

use std::io::{self, Read, Write};

use runlog::{Db, Durability};

const SIZE: u64 = 1 << 30;

/// `len` pseudo-random bytes, made as they are read (no copy in memory).
struct Noise {
    state: u64,
    left: u64,
}

impl Noise {
    fn new(len: u64) -> Noise {
        Noise {
            state: 0x2545_F491_4F6C_DD1D,
            left: len,
        }
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left as usize) / 8 * 8;
        let n = if n == 0 {
            buf.len().min(self.left as usize)
        } else {
            n
        };
        for word in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            word.copy_from_slice(&self.state.to_le_bytes()[..word.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Compares what is written with a fresh `Noise` stream.
struct SameAs {
    expected: Noise,
    buf: Vec<u8>,
    seen: u64,
}

impl Write for SameAs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.resize(bytes.len(), 0);
        self.expected.read_exact(&mut self.buf)?;
        if self.buf != bytes {
            return Err(io::Error::other(format!("differs near byte {}", self.seen)));
        }
        self.seen += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn peak_rss_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given,
    // which points at memory of that type.
    #[allow(unsafe_code)]
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    usage.ru_maxrss as u64 * 1024 // kilobytes on Linux
}

#[test]
fn a_one_gib_artifact_streams_through_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db.create_run("big", "checkpoint").unwrap();
    let before = peak_rss_bytes();
    let artifact = db
        .put_artifact_from(run, "model/ckpt.pt", &mut Noise::new(SIZE), None)
        .unwrap();
    assert_eq!(artifact.size, SIZE);
    let mut reader = db.open_artifact(run, "model/ckpt.pt").unwrap();
    assert_eq!(reader.len(), SIZE);
    let mut check = SameAs {
        expected: Noise::new(SIZE),
        buf: Vec::new(),
        seen: 0,
    };
    assert_eq!(io::copy(&mut reader, &mut check).unwrap(), SIZE);
    assert_eq!(check.seen, SIZE);
    let grew = peak_rss_bytes().saturating_sub(before);
    assert!(
        grew < 64 << 20,
        "peak RSS grew by {} MiB for a 1 GiB artifact",
        grew >> 20
    );
    // Stored as is: noise does not compress.
    let stored: u64 = walk(&dir.path().join("blobs"));
    assert!((SIZE..SIZE + 4096).contains(&stored), "{stored}");
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                path.metadata().unwrap().len()
            }
        })
        .sum()
}
