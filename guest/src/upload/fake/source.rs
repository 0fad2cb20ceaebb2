//! The fake host's dataset reader, keeping what `read_kept` read as the real host does.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::model::SourceError;
use crate::upload::Source;

/// The dataset, read as the host would serve it.
pub(super) struct FakeSource {
    pub(super) data: Vec<u8>,
    pub(super) at: usize,
    pub(super) read_size: usize,
    pub(super) fails_at: Option<usize>,
    /// What `read_kept` kept and `take` has not taken, as the host keeps it.
    pub(super) kept: VecDeque<u8>,
}

impl Source<Rc<Vec<u8>>> for FakeSource {
    fn read_kept(&mut self, max_bytes: u32) -> Result<Vec<u8>, SourceError> {
        let data = self.read(max_bytes)?;
        self.kept.extend(&data);
        Ok(data)
    }

    fn take(&mut self, len: u64) -> Rc<Vec<u8>> {
        let len = len as usize;
        assert!(
            len <= self.kept.len(),
            "the guest took {len} bytes, {} are kept (the real host traps)",
            self.kept.len()
        );
        Rc::new(self.kept.drain(..len).collect())
    }

    fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, SourceError> {
        if self.fails_at.is_some_and(|f| self.at >= f) {
            return Err(SourceError::Unavailable("export stalled".into()));
        }
        let n = self
            .read_size
            .min(max_bytes as usize)
            .min(self.data.len() - self.at);
        let out = self.data[self.at..self.at + n].to_vec();
        self.at += n;
        Ok(out)
    }
}
