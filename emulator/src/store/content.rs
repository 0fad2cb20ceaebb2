//! Where file content lives: files under the data folder (the default), or memory
//! ([`EmulatorConfig::in_memory`](crate::EmulatorConfig::in_memory)).
//!
//! In memory, content is kept as the chunks the request bodies arrived in ([`Chunks`]): an
//! append keeps its body's buffers, a flush appends them to the file's chunk list, and a read
//! streams slices of them. No byte is copied between the socket and the reader.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

/// Bytes as a list of shared buffers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunks {
    parts: Vec<Bytes>,
    len: u64,
}

impl Chunks {
    /// Adds a buffer at the end (empty ones are skipped).
    pub(crate) fn push(&mut self, part: Bytes) {
        if !part.is_empty() {
            self.len += part.len() as u64;
            self.parts.push(part);
        }
    }

    /// Adds every buffer of `other` at the end (shared, not copied).
    pub(crate) fn extend(&mut self, other: &Chunks) {
        self.parts.extend(other.parts.iter().cloned());
        self.len += other.len;
    }

    /// Total length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The buffers covering `[start, start + len)`, sliced (shared, not copied).
    pub(crate) fn slice(&self, start: u64, len: u64) -> Vec<Bytes> {
        let end = start.saturating_add(len).min(self.len);
        let mut out = Vec::new();
        let mut offset = 0u64;
        for part in &self.parts {
            let part_end = offset + part.len() as u64;
            if part_end > start && offset < end {
                let from = start.saturating_sub(offset) as usize;
                let to = (end.min(part_end) - offset) as usize;
                out.push(part.slice(from..to));
            }
            if part_end >= end {
                break;
            }
            offset = part_end;
        }
        out
    }
}

/// The data of one append, until a flush commits or drops it.
#[derive(Debug, Clone)]
pub(crate) enum Staged {
    /// In a staging file under the data folder.
    File(PathBuf),
    /// In memory.
    Memory(Arc<Chunks>),
}

impl Staged {
    /// The staging file, if the data is in one (to remove it once the data is committed or
    /// dropped).
    pub(crate) fn file(&self) -> Option<PathBuf> {
        match self {
            Staged::File(path) => Some(path.clone()),
            Staged::Memory(_) => None,
        }
    }
}

/// Committed content of a file, as a read sees it.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// The file's content file, cut at the file's committed length.
    File(PathBuf),
    /// The file's bytes in memory (a snapshot: later flushes do not change it).
    Memory(Arc<Chunks>),
}

/// Where an append's body goes while it arrives.
#[derive(Debug)]
pub(crate) enum StagingSink {
    /// A staging file being written.
    File {
        /// Its path.
        path: PathBuf,
        /// The open file.
        file: tokio::fs::File,
    },
    /// Memory: the body's own buffers.
    Memory(Chunks),
}

impl StagingSink {
    /// A sink writing to a new staging file at `path`.
    pub(crate) async fn file(path: PathBuf) -> io::Result<Self> {
        let file = tokio::fs::File::create(&path).await?;
        Ok(StagingSink::File { path, file })
    }

    /// Takes one chunk of the body.
    pub(crate) async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        match self {
            StagingSink::File { file, .. } => file.write_all(&chunk).await,
            StagingSink::Memory(chunks) => {
                chunks.push(chunk);
                Ok(())
            }
        }
    }

    /// The staged data, once the whole body is in.
    pub(crate) async fn finish(self) -> io::Result<Staged> {
        match self {
            StagingSink::File { path, mut file } => {
                file.flush().await?;
                Ok(Staged::File(path))
            }
            StagingSink::Memory(chunks) => Ok(Staged::Memory(Arc::new(chunks))),
        }
    }

    /// Throws away what was received (a failed append).
    pub(crate) async fn discard(self) {
        if let StagingSink::File { path, file } = self {
            drop(file);
            let _ = tokio::fs::remove_file(&path).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> Chunks {
        let mut c = Chunks::default();
        for p in parts {
            c.push(Bytes::from_static(p));
        }
        c
    }

    fn flat(parts: Vec<Bytes>) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn slices_cross_chunk_boundaries_without_copying() {
        let c = chunks(&[b"abc", b"", b"defg", b"h"]);
        assert_eq!(c.len(), 8);
        assert_eq!(flat(c.slice(0, 8)), b"abcdefgh");
        assert_eq!(flat(c.slice(2, 3)), b"cde");
        assert_eq!(flat(c.slice(3, 4)), b"defg");
        assert_eq!(flat(c.slice(7, 100)), b"h");
        assert!(c.slice(8, 1).is_empty());
        assert_eq!(c.slice(3, 4).len(), 1, "one whole chunk is one slice");
    }

    #[test]
    fn extend_shares_buffers() {
        let mut c = chunks(&[b"ab"]);
        c.extend(&chunks(&[b"cd", b"ef"]));
        assert_eq!((c.len(), flat(c.slice(0, 6))), (6, b"abcdef".to_vec()));
        assert_eq!(flat(c.slice(1, 4)), b"bcde");
    }
}
