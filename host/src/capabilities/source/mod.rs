//! The dataset source: a local CSV file (with its name, owners and column types from a
//! metadata file beside it) or a Domo DataSet. The guest may describe and open only the dataset its job names.

pub mod domo;
mod kept;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use wasmtime::component::{Resource, ResourceTable};

use crate::capabilities::bindings::errors::SourceError;
use crate::capabilities::bindings::source::{self, Column, DatasetInfo};
use crate::capabilities::bindings::types::{DatasetRef, Principal, SourceKind};
use crate::capabilities::http::body::{HeldBody, MemoryBudget};
use crate::capabilities::http::{HttpCapability, MemoryLimitReached};
use crate::capabilities::source::domo::{DomoClient, DomoUser};
use kept::Kept;

/// How long a read may wait for the source's next bytes before the run fails, unless the
/// job says otherwise (`[limits] stall_secs`).
const DEFAULT_STALL: Duration = Duration::from_secs(crate::job::DEFAULT_STALL_SECS);
/// The most a single read returns, whatever the guest asks.
const MAX_READ: usize = 16 << 20;

/// Where the job's dataset comes from.
pub enum SourceConfig {
    /// A CSV file; `dataset_id` is how the guest names it.
    LocalFile {
        /// The file.
        path: PathBuf,
        /// The ID the guest names it by.
        dataset_id: String,
    },
    /// A Domo DataSet.
    Domo {
        /// The Domo API client, with the job's credentials.
        client: Arc<DomoClient>,
        /// The DataSet ID.
        dataset_id: String,
    },
}

/// An open dataset export, as the guest's `reader` resource.
pub struct DatasetReader {
    stream: ReaderStream,
    /// What `read-kept` kept for `take`.
    kept: Kept,
}

enum ReaderStream {
    /// Read on the blocking pool straight into the buffer that is handed on: tokio's own
    /// file type would read into a buffer of its own and copy it out.
    File(Arc<std::fs::File>),
    Http {
        response: reqwest::Response,
        pending: Bytes,
    },
}

/// The source capability of one run.
pub struct SourceCapability {
    config: Option<SourceConfig>,
    table: ResourceTable,
    stall: Duration,
}

impl SourceCapability {
    /// Grants the dataset `config` names, and nothing else.
    pub fn new(config: SourceConfig) -> Self {
        SourceCapability {
            config: Some(config),
            table: ResourceTable::new(),
            stall: DEFAULT_STALL,
        }
    }

    /// Fails a read that waits longer than `stall` for the source's next bytes.
    pub fn with_stall(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    /// Grants nothing.
    pub fn none() -> Self {
        SourceCapability {
            config: None,
            table: ResourceTable::new(),
            stall: DEFAULT_STALL,
        }
    }

    fn granted(&self, dataset: &DatasetRef) -> Result<&SourceConfig, SourceError> {
        let config = self.config.as_ref();
        let ok = match config {
            Some(SourceConfig::LocalFile { dataset_id, .. }) => {
                dataset.kind == SourceKind::LocalFile && &dataset.id == dataset_id
            }
            Some(SourceConfig::Domo { dataset_id, .. }) => {
                dataset.kind == SourceKind::Domo && &dataset.id == dataset_id
            }
            None => false,
        };
        match config {
            Some(config) if ok => Ok(config),
            _ => Err(SourceError::NotGranted(format!(
                "dataset `{}` is not the one this job names",
                dataset.id
            ))),
        }
    }
}

/// The metadata file beside a local CSV (`data.json` for `data.csv`), in the shape the
/// emulator's datasets folder uses.
#[derive(Deserialize)]
struct LocalMetadata {
    #[serde(default)]
    name: Option<String>,
    owner: Option<DomoUser>,
    #[serde(default, rename = "coOwners")]
    co_owners: Vec<DomoUser>,
    /// The columns' Domo types (`schema.columns [{name, type}]`), which type a Parquet
    /// output.
    #[serde(default)]
    schema: Option<domo::Schema>,
}

/// The columns of a Domo schema, as the contract has them.
fn columns_of(schema: Option<domo::Schema>) -> Vec<Column> {
    schema
        .map(|s| {
            s.columns
                .into_iter()
                .map(|c| Column {
                    name: c.name,
                    kind: c.kind,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn principal(user: &DomoUser) -> Principal {
    Principal {
        id: user.id_text(),
        name: user.name.clone(),
    }
}

async fn describe_local(path: &Path, dataset_id: &str) -> Result<DatasetInfo, SourceError> {
    if !path.is_file() {
        return Err(SourceError::NotFound(format!(
            "no such file `{}`",
            path.display()
        )));
    }
    let meta_path = path.with_extension("json");
    let meta = match tokio::fs::read(&meta_path).await {
        Ok(bytes) => Some(
            serde_json::from_slice::<LocalMetadata>(&bytes).map_err(|e| {
                SourceError::Unavailable(format!(
                    "metadata file `{}` is not valid: {e}",
                    meta_path.display()
                ))
            })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(SourceError::Unavailable(format!(
                "reading `{}`: {e}",
                meta_path.display()
            )));
        }
    };
    Ok(DatasetInfo {
        id: dataset_id.to_string(),
        name: meta
            .as_ref()
            .and_then(|m| m.name.clone())
            .unwrap_or_else(|| dataset_id.to_string()),
        owner: meta.as_ref().and_then(|m| m.owner.as_ref()).map(principal),
        co_owners: meta
            .as_ref()
            .map(|m| m.co_owners.iter().map(principal).collect())
            .unwrap_or_default(),
        requester: None,
        columns: columns_of(meta.and_then(|m| m.schema)),
        rows: None,
    })
}

async fn describe_domo(client: &DomoClient, dataset_id: &str) -> Result<DatasetInfo, SourceError> {
    let token = client.token().await?;
    let dataset = client.dataset(dataset_id).await?;
    let co_owners = client.co_owners(dataset_id).await?;
    Ok(DatasetInfo {
        id: dataset.id,
        name: dataset.name,
        owner: dataset.owner.as_ref().map(principal),
        co_owners: co_owners.iter().map(principal).collect(),
        requester: (!token.user_id.is_empty()).then(|| Principal {
            id: token.user_id.clone(),
            name: String::new(),
        }),
        columns: columns_of(dataset.schema),
        rows: dataset.rows,
    })
}

/// The source capability with the bodies it hands the guest (`reader.take`), for linking
/// the `source` interface.
pub struct SourceView<'a> {
    /// The granted dataset and its open readers.
    pub source: &'a mut SourceCapability,
    /// Where bodies are held, and the run's memory budget.
    pub http: &'a mut HttpCapability,
}

/// [`HasData`](wasmtime::component::HasData) for linking the `source` interface with a
/// [`SourceView`].
pub struct SourceData;

impl wasmtime::component::HasData for SourceData {
    type Data<'a> = SourceView<'a>;
}

impl source::Host for SourceView<'_> {
    async fn describe(&mut self, dataset: DatasetRef) -> Result<DatasetInfo, SourceError> {
        self.source.describe(dataset).await
    }

    async fn open(&mut self, dataset: DatasetRef) -> Result<Resource<DatasetReader>, SourceError> {
        self.source.open(dataset, self.http.budget()).await
    }
}

impl source::HostReader for SourceView<'_> {
    async fn read(
        &mut self,
        reader: Resource<DatasetReader>,
        max_bytes: u32,
    ) -> Result<Vec<u8>, SourceError> {
        self.source.read(reader, max_bytes).await
    }

    async fn read_kept(
        &mut self,
        reader: Resource<DatasetReader>,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, SourceError>> {
        let handle = Resource::<DatasetReader>::new_borrow(reader.rep());
        let data = match self.source.read(reader, max_bytes).await {
            Ok(data) => data,
            Err(e) => return Ok(Err(e)),
        };
        self.source
            .table
            .get_mut(&handle)?
            .kept
            .keep(&data)
            .map_err(|refusal| wasmtime::Error::new(MemoryLimitReached(refusal)))?;
        Ok(Ok(data))
    }

    async fn take(
        &mut self,
        reader: Resource<DatasetReader>,
        length: u64,
    ) -> wasmtime::Result<Resource<HeldBody>> {
        let kept = &mut self.source.table.get_mut(&reader)?.kept;
        let held = kept.len();
        let Some(bytes) = usize::try_from(length).ok().and_then(|n| kept.take(n)) else {
            wasmtime::bail!("the guest took {length} bytes of a reader that keeps {held}");
        };
        self.http.adopt_body(bytes)
    }

    async fn drop(&mut self, reader: Resource<DatasetReader>) -> wasmtime::Result<()> {
        self.source.drop_reader(reader)
    }
}

impl SourceCapability {
    /// Describes the granted dataset (`source.describe`).
    pub async fn describe(&mut self, dataset: DatasetRef) -> Result<DatasetInfo, SourceError> {
        match self.granted(&dataset)? {
            SourceConfig::LocalFile { path, dataset_id } => describe_local(path, dataset_id).await,
            SourceConfig::Domo { client, dataset_id } => describe_domo(client, dataset_id).await,
        }
    }

    /// Opens the granted dataset's export (`source.open`); what its reader keeps for the
    /// guest counts against `budget`.
    pub async fn open(
        &mut self,
        dataset: DatasetRef,
        budget: &Arc<MemoryBudget>,
    ) -> Result<Resource<DatasetReader>, SourceError> {
        let stream = match self.granted(&dataset)? {
            SourceConfig::LocalFile { path, .. } => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    SourceError::NotFound(format!("cannot open `{}`: {e}", path.display()))
                })?;
                ReaderStream::File(Arc::new(file.into_std().await))
            }
            SourceConfig::Domo { client, dataset_id } => {
                // A source that never starts answering is as stalled as one that stops.
                let response = tokio::time::timeout(self.stall, client.export(dataset_id))
                    .await
                    .map_err(|_| {
                        SourceError::Unavailable(format!(
                            "the source's export did not start within {} s (limits.stall_secs)",
                            self.stall.as_secs()
                        ))
                    })??;
                ReaderStream::Http {
                    response,
                    pending: Bytes::new(),
                }
            }
        };
        self.table
            .push(DatasetReader {
                stream,
                kept: Kept::new(budget.clone()),
            })
            .map_err(|e| SourceError::Unavailable(format!("too many open readers: {e}")))
    }

    /// Up to `max_bytes` more bytes of an open export (`reader.read`).
    pub async fn read(
        &mut self,
        reader: Resource<DatasetReader>,
        max_bytes: u32,
    ) -> Result<Vec<u8>, SourceError> {
        let reader = self
            .table
            .get_mut(&reader)
            .map_err(|e| SourceError::Unavailable(format!("unknown reader: {e}")))?;
        let max = (max_bytes as usize).clamp(1, MAX_READ);
        let read = reader.stream.read(max);
        match tokio::time::timeout(self.stall, read).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::Unavailable(format!(
                "the source sent nothing for {} s (limits.stall_secs)",
                self.stall.as_secs()
            ))),
        }
    }

    /// Closes an export (`reader` dropped).
    pub fn drop_reader(&mut self, reader: Resource<DatasetReader>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}

impl ReaderStream {
    async fn read(&mut self, max: usize) -> Result<Vec<u8>, SourceError> {
        match self {
            ReaderStream::File(file) => {
                let file = file.clone();
                let read = tokio::task::spawn_blocking(move || {
                    // Into spare capacity, so nothing is zeroed first; `take` stops it at `max`.
                    // A regular file (`describe` refuses anything else): it fills every read.
                    let mut buf = Vec::with_capacity(max);
                    (&*file).take(max as u64).read_to_end(&mut buf)?;
                    Ok::<_, std::io::Error>(buf)
                });
                read.await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
                    .map_err(|e| SourceError::Unavailable(format!("reading the file: {e}")))
            }
            ReaderStream::Http { response, pending } => {
                if pending.is_empty() {
                    match response.chunk().await {
                        Ok(Some(chunk)) => *pending = chunk,
                        Ok(None) => return Ok(Vec::new()),
                        Err(e) => {
                            return Err(SourceError::Unavailable(format!(
                                "the export stream broke: {e}"
                            )));
                        }
                    }
                }
                let n = max.min(pending.len());
                Ok(pending.split_to(n).to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &Path) -> SourceCapability {
        SourceCapability::new(SourceConfig::LocalFile {
            path: dir.join("sales.csv"),
            dataset_id: "sales".into(),
        })
    }

    fn dataset(kind: SourceKind, id: &str) -> DatasetRef {
        DatasetRef {
            kind,
            id: id.into(),
        }
    }

    #[tokio::test]
    async fn local_file_is_read_to_the_end_and_only_that_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sales.csv"), "a,b\n1,2\n").unwrap();
        let mut cap = local(dir.path());
        let budget = MemoryBudget::new(usize::MAX);
        let reader = cap
            .open(dataset(SourceKind::LocalFile, "sales"), &budget)
            .await
            .unwrap();
        let mut chunks = Vec::new();
        loop {
            let rep = Resource::<DatasetReader>::new_borrow(reader.rep());
            let chunk = cap.read(rep, 3).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }
        assert_eq!(
            chunks,
            [&b"a,b"[..], b"\n1,", b"2\n"],
            "every read but the last is full"
        );
        for other in [
            dataset(SourceKind::LocalFile, "other"),
            dataset(SourceKind::Domo, "sales"),
        ] {
            assert!(matches!(
                cap.open(other, &budget).await,
                Err(SourceError::NotGranted(_))
            ));
        }
    }

    #[tokio::test]
    async fn kept_bytes_are_taken_as_bodies_within_the_memory_budget() {
        use crate::capabilities::bindings::http::HostBody as _;
        use source::HostReader as _;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sales.csv"), "a,b\n1,2\n3,4\n").unwrap();
        let mut cap = local(dir.path());
        let budget = MemoryBudget::new(10);
        let mut http = HttpCapability::none().with_budget(budget.clone());
        let mut view = SourceView {
            source: &mut cap,
            http: &mut http,
        };
        let reader = view
            .source
            .open(dataset(SourceKind::LocalFile, "sales"), &budget)
            .await
            .unwrap();
        let borrow = || Resource::<DatasetReader>::new_borrow(reader.rep());
        let read = view.read_kept(borrow(), 8).await.unwrap().unwrap();
        assert_eq!(read, b"a,b\n1,2\n");
        assert_eq!(budget.held(), 8, "kept bytes count");
        let header = view.take(borrow(), 4).await.unwrap();
        let row = view.take(borrow(), 4).await.unwrap();
        assert_eq!(&view.http.body(&header).unwrap().bytes[..], b"a,b\n");
        assert_eq!(&view.http.body(&row).unwrap().bytes[..], b"1,2\n");
        let past = view.take(borrow(), 1).await.unwrap_err();
        assert!(past.to_string().contains("keeps 0"), "{past}");
        // 8 held: 4 more would pass the limit of 10, and the run stops there, in words.
        let refused = view.read_kept(borrow(), 4).await.unwrap_err();
        assert!(
            refused.downcast_ref::<MemoryLimitReached>().is_some(),
            "{refused}"
        );
        view.http.drop(header).await.unwrap();
        assert_eq!(budget.held(), 4, "a dropped body releases its bytes");
    }

    #[tokio::test]
    async fn owners_come_from_the_metadata_file_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sales.csv"), "a\n").unwrap();
        let mut cap = local(dir.path());
        let info = cap
            .describe(dataset(SourceKind::LocalFile, "sales"))
            .await
            .unwrap();
        assert!(info.owner.is_none() && info.co_owners.is_empty());
        std::fs::write(
            dir.path().join("sales.json"),
            r#"{"name":"Sales","owner":{"id":27,"name":"Dana"},"coOwners":[{"id":"31","name":"Sam"}]}"#,
        )
        .unwrap();
        let info = cap
            .describe(dataset(SourceKind::LocalFile, "sales"))
            .await
            .unwrap();
        assert_eq!(info.name, "Sales");
        assert_eq!(info.owner.unwrap().id, "27");
        assert_eq!(info.co_owners[0].id, "31");
        assert!(info.columns.is_empty());
        std::fs::write(
            dir.path().join("sales.json"),
            r#"{"schema":{"columns":[{"name":"a","type":"LONG"}]}}"#,
        )
        .unwrap();
        let info = cap
            .describe(dataset(SourceKind::LocalFile, "sales"))
            .await
            .unwrap();
        let columns: Vec<(&str, &str)> = info
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.kind.as_str()))
            .collect();
        assert_eq!(columns, [("a", "LONG")]);
    }
}
