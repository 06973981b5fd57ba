//! Each service's output, one file per service under the checkout's
//! folder, capped in size: when a file passes the cap it becomes
//! `SERVICE.log.1` (replacing the older one) and a new file starts. A
//! detached supervisor's own messages (`supervisor.log`) are kept the same
//! way, its stdout and stderr following the current file.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bytes a log file may reach before it is rotated.
pub const LOG_CAP: u64 = 4 * 1024 * 1024;

pub fn log_path(logs_dir: &Path, service: &str) -> PathBuf {
    logs_dir.join(format!("{service}.log"))
}

fn rotated(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

/// Appends lines to one service's log, rotating at [`LOG_CAP`].
pub struct LogWriter {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    cap: u64,
    /// Point this process's stdout and stderr at the current file.
    stdio: bool,
}

impl LogWriter {
    pub fn open(path: PathBuf) -> LogWriter {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .ok();
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        LogWriter {
            path,
            file,
            size,
            cap: LOG_CAP,
            stdio: false,
        }
    }

    /// Makes the file this process's stdout and stderr too, now and after
    /// every rotation, so that whatever else the process prints (a panic)
    /// lands in the current file and counts towards its cap.
    pub fn with_stdio(mut self) -> LogWriter {
        self.stdio = true;
        self.point_stdio();
        self
    }

    fn point_stdio(&self) {
        use std::os::fd::AsRawFd;
        if let (true, Some(f)) = (self.stdio, &self.file) {
            // SAFETY: dup2 onto the standard descriptors, which stay open.
            unsafe {
                nix::libc::dup2(f.as_raw_fd(), 1);
                nix::libc::dup2(f.as_raw_fd(), 2);
            }
        }
    }

    pub fn with_cap(mut self, cap: u64) -> LogWriter {
        self.cap = cap;
        self
    }

    /// Writes one line (a newline is added).
    pub fn line(&mut self, text: &str) {
        if self.stdio {
            // Others write to the file too (through stdout and stderr).
            if let Some(len) = self.file.as_ref().and_then(|f| f.metadata().ok()) {
                self.size = len.len();
            }
        }
        if self.size + text.len() as u64 + 1 > self.cap && self.size > 0 {
            let _ = fs::rename(&self.path, rotated(&self.path));
            self.file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&self.path)
                .ok();
            self.size = 0;
            self.point_stdio();
        }
        if let Some(f) = &mut self.file {
            if f.write_all(text.as_bytes())
                .and_then(|_| f.write_all(b"\n"))
                .is_ok()
            {
                self.size += text.len() as u64 + 1;
            }
        }
    }
}

/// The last `n` lines of a service's log (reading the rotated file too
/// when the current one is short).
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let read = |p: &Path| -> Vec<String> {
        fs::read(p)
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut lines = read(path);
    if lines.len() < n {
        let mut older = read(&rotated(path));
        older.append(&mut lines);
        lines = older;
    }
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

/// Follows several logs, calling `out(index, line)` for each new line,
/// until `out` returns false. Starts at the current end of each file and
/// notices rotation (the file got shorter or was replaced).
pub fn follow(paths: &[PathBuf], mut out: impl FnMut(usize, &str) -> bool) {
    struct Tailed {
        reader: Option<BufReader<File>>,
        ino: u64,
        pending: String,
    }
    use std::os::unix::fs::MetadataExt;
    let open_at_end = |p: &Path, end: bool| -> Option<(BufReader<File>, u64)> {
        let mut f = File::open(p).ok()?;
        let ino = f.metadata().ok()?.ino();
        if end {
            f.seek(SeekFrom::End(0)).ok()?;
        }
        Some((BufReader::new(f), ino))
    };
    let mut tails: Vec<Tailed> = paths
        .iter()
        .map(|p| match open_at_end(p, true) {
            Some((r, ino)) => Tailed {
                reader: Some(r),
                ino,
                pending: String::new(),
            },
            None => Tailed {
                reader: None,
                ino: 0,
                pending: String::new(),
            },
        })
        .collect();
    loop {
        let mut any = false;
        for (i, t) in tails.iter_mut().enumerate() {
            // Replaced by rotation (or created since): read the new file from its start.
            let now_ino = fs::metadata(&paths[i]).ok().map(|m| m.ino());
            if now_ino.is_some() && now_ino != Some(t.ino) {
                if let Some(r) = &mut t.reader {
                    let _ = r.read_to_string(&mut t.pending);
                }
                if let Some((r, ino)) = open_at_end(&paths[i], false) {
                    t.reader = Some(r);
                    t.ino = ino;
                }
            }
            let Some(r) = &mut t.reader else { continue };
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        t.pending.push_str(&line);
                        any = true;
                    }
                }
            }
            while let Some(nl) = t.pending.find('\n') {
                let line: String = t.pending.drain(..=nl).collect();
                if !out(i, line.trim_end_matches('\n')) {
                    return;
                }
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
