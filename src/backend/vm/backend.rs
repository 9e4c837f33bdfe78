//! The `vm` engine behind the [`Backend`] trait, so the executor drives it
//! like any other engine. The kind it reports is given at construction
//! ([`Kind::Vm`] in [`crate::backend::Backends::connect`]).

use std::collections::BTreeMap;

use super::{VmEngine, VmSpec};
use crate::backend::{
    Backend, BackendError, HostMount, Kind, LogRequest, LogSink, Observed, Progress,
};
use crate::plan::launch::Launch;

pub struct VmBackend {
    pub engine: VmEngine,
    kind: Kind,
}

impl VmBackend {
    pub fn new(engine: VmEngine, kind: Kind) -> VmBackend {
        VmBackend { engine, kind }
    }
}

#[async_trait::async_trait]
impl Backend for VmBackend {
    fn kind(&self) -> Kind {
        self.kind
    }

    async fn inspect(&self) -> Result<Observed, BackendError> {
        self.engine.observe(self.kind)
    }

    async fn prepare(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        self.engine.prepare(image, tag, progress).await
    }

    async fn create(
        &self,
        name: &str,
        launch: &Launch,
        mounts: &[HostMount],
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        let spec = VmSpec::from_launch(launch, mounts, launch.cpus.unwrap_or(1));
        self.engine.create(name, &spec, labels).await
    }

    async fn retire(&self, id: &str) -> Result<(), BackendError> {
        self.engine.retire(id)
    }

    async fn start(&self, id: &str) -> Result<(), BackendError> {
        self.engine.start(id).await
    }

    async fn stop(&self, id: &str, timeout: u32) -> Result<(), BackendError> {
        self.engine.stop(id, timeout).await
    }

    async fn remove(&self, id: &str) -> Result<(), BackendError> {
        self.engine.remove(id).await
    }

    async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError> {
        self.engine.rename(id, name).await
    }

    async fn running(&self, id: &str) -> Result<bool, BackendError> {
        self.engine.running(id).await
    }

    async fn revive(&self) -> Vec<(String, BackendError)> {
        match self.engine.revive().await {
            Ok(started) => started
                .into_iter()
                .filter_map(|(name, r)| r.err().map(|e| (name, e)))
                .collect(),
            Err(e) => vec![(String::new(), e)],
        }
    }

    async fn logs(
        &self,
        id: &str,
        request: &LogRequest,
        sink: LogSink<'_>,
    ) -> Result<(), BackendError> {
        self.engine.logs(id, request, sink).await
    }
}
