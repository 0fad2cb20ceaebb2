//! Appends in flight: each block started once it is hashed, and landed in the order the
//! host's pipeline answers, a refused credential renewed and the append sent again.

use std::collections::BTreeMap;

use super::{Host, Run};
use crate::model::{Algorithm, Generation, HttpError, JobError, Request, UpdateMode};
use crate::upload::{Body as _, MAX_TOKEN_RESENDS};

/// An append in flight.
pub(super) struct InFlight<B> {
    request: Request,
    body: B,
    rows: u64,
    /// The credential's generation when it was submitted.
    generation: Generation,
    /// Times it was sent again after the service refused its credential.
    resends: u32,
}

impl<H: Host> Run<'_, H> {
    /// Once fewer than `output.concurrency` appends are in flight (landing the first ones to
    /// answer until then), adds `body`, a block of `rows` rows, to the file's digests and
    /// starts its append at `position`; returns the position after it.
    pub(super) fn start_append(
        &mut self,
        pipeline: &H::Pipeline,
        flight: &mut BTreeMap<u64, InFlight<H::Body>>,
        path: &str,
        position: u64,
        body: H::Body,
        rows: u64,
    ) -> Result<u64, JobError> {
        while flight.len() >= self.job.output.concurrency.max(1) as usize {
            self.land_one(pipeline, flight)?;
        }
        self.authorize()?;
        let len = body.len();
        // The service checks each block: DFS by its CRC-64, Blob by its Content-MD5.
        let algorithm = match self.blob {
            Some(_) => Algorithm::Md5,
            None => Algorithm::Crc64,
        };
        let block_digest = self.host.digest(algorithm, &body);
        self.host.hash(&self.written.md5, &body);
        self.host.hash(&self.written.sha256, &body);
        if let Some((md5, sha256)) = &self.written.also {
            self.host.hash(md5, &body);
            self.host.hash(sha256, &body);
        }
        self.written.rows += rows;
        self.written.bytes += len;
        self.written.blocks += 1;
        // Only an append checks its last block after a lost flush answer; a replace checks
        // the MD5, so it does not keep a block alive past its upload.
        if self.job.output.update == UpdateMode::Append {
            self.written.last_block = Some((position, body.clone()));
        }
        let request = match &mut self.blob {
            Some(blob) => {
                let id = blob.block_id(position);
                self.written.block_ids.push(id.clone());
                blob.put_block(path, &id, &block_digest)
            }
            None => self.dfs.append(path, position, &block_digest),
        };
        let ticket = self.host.submit(pipeline, &request, &body);
        flight.insert(
            ticket,
            InFlight {
                request,
                body,
                rows,
                generation: self.generation,
                resends: 0,
            },
        );
        Ok(position + len)
    }

    /// Waits for the next append to finish and checks it; an append whose credential the
    /// service refused is sent again once the host has renewed it.
    pub(super) fn land_one(
        &mut self,
        pipeline: &H::Pipeline,
        flight: &mut BTreeMap<u64, InFlight<H::Body>>,
    ) -> Result<(), JobError> {
        // Through Blob the block goes by Put Block: errors name what the service saw.
        let operation = if self.blob.is_some() {
            "put block"
        } else {
            "append"
        };
        let Some((ticket, outcome)) = self.host.next(pipeline) else {
            return Err(HttpError::InvalidRequest(format!(
                "the host's pipeline has no request in flight, but {} are unanswered",
                flight.len()
            ))
            .into());
        };
        let Some(mut sent) = flight.remove(&ticket) else {
            return Err(HttpError::InvalidRequest(format!(
                "the host's pipeline answered ticket {ticket}, which is not in flight"
            ))
            .into());
        };
        let response = outcome?;
        if self.dfs.token_refused(&response) {
            if sent.resends >= MAX_TOKEN_RESENDS {
                return Err(self.refused_again(&response, operation));
            }
            // The host renews only if no other refused append already did since this one
            // was sent.
            self.refresh(sent.generation)?;
            sent.generation = self.generation;
            sent.resends += 1;
            let ticket = self.host.submit(pipeline, &sent.request, &sent.body);
            flight.insert(ticket, sent);
            return Ok(());
        }
        self.dfs.check(&response, operation)?;
        self.written.landed.0 += sent.rows;
        self.written.landed.1 += sent.body.len();
        self.host
            .progress(self.written.landed.0, self.written.landed.1);
        Ok(())
    }

    /// Waits for every append in flight.
    pub(super) fn land_all(
        &mut self,
        pipeline: &H::Pipeline,
        flight: &mut BTreeMap<u64, InFlight<H::Body>>,
    ) -> Result<(), JobError> {
        while !flight.is_empty() {
            self.land_one(pipeline, flight)?;
        }
        Ok(())
    }
}
