//! Waking a tracker when what it follows changes: watches on workloads, ReplicaSets, pods
//! and events of the namespaces it follows, instead of polling on a timer. When a watch
//! cannot be opened (an API proxy that does not stream, say), it polls instead.

use std::pin::Pin;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::stream::{SelectAll, Stream, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Client;
use kube::api::{Api, WatchEvent, WatchParams};
use kube::core::NamespaceResourceScope;
use serde::de::DeserializeOwned;

/// One item of a merged watch: `true` for an event, `false` when a watch broke.
type Ticks = SelectAll<Pin<Box<dyn Stream<Item = bool> + Send>>>;

/// How long a watch may stay quiet before the tracker reads everything again anyway.
const RESYNC: Duration = Duration::from_secs(10);

/// The watches of one tracking run.
pub(crate) struct Changes {
    client: Client,
    namespaces: Vec<String>,
    ticks: Option<Ticks>,
    /// The watches were just opened and have delivered nothing yet.
    fresh: bool,
    /// Polling only: a watch could not be opened, or failed before its first event.
    polling: bool,
    interval: Duration,
}

async fn watch<K>(
    client: &Client,
    ns: &str,
) -> Result<Pin<Box<dyn Stream<Item = bool> + Send>>, kube::Error>
where
    K: kube::Resource<Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let params = WatchParams::default().timeout(290);
    let s = Api::<K>::namespaced(client.clone(), ns)
        .watch(&params, "0")
        .await?;
    Ok(Box::pin(s.map(|e| {
        matches!(
            e,
            Ok(WatchEvent::Added(_)
                | WatchEvent::Modified(_)
                | WatchEvent::Deleted(_)
                | WatchEvent::Bookmark(_))
        )
    })))
}

impl Changes {
    /// Prepares watches on `namespaces`; `interval` is the polling period when watching
    /// is not possible.
    pub(crate) fn new(client: &Client, namespaces: Vec<String>, interval: Duration) -> Changes {
        Changes {
            client: client.clone(),
            namespaces,
            ticks: None,
            fresh: false,
            polling: false,
            interval,
        }
    }

    async fn open(&self) -> Result<Ticks, kube::Error> {
        let mut all = SelectAll::new();
        for ns in &self.namespaces {
            all.push(watch::<Deployment>(&self.client, ns).await?);
            all.push(watch::<ReplicaSet>(&self.client, ns).await?);
            all.push(watch::<StatefulSet>(&self.client, ns).await?);
            all.push(watch::<DaemonSet>(&self.client, ns).await?);
            all.push(watch::<Job>(&self.client, ns).await?);
            all.push(watch::<Pod>(&self.client, ns).await?);
            all.push(watch::<Event>(&self.client, ns).await?);
        }
        Ok(all)
    }

    /// Waits until something in the namespaces changes, or `limit` passes (at most the
    /// resync period). Events that arrive together wake it once.
    pub(crate) async fn wait(&mut self, limit: Duration) {
        if self.ticks.is_none() && !self.polling {
            match self.open().await {
                Ok(t) => {
                    self.ticks = Some(t);
                    self.fresh = true;
                }
                Err(_) => self.polling = true,
            }
        }
        let Some(ticks) = self.ticks.as_mut() else {
            tokio::time::sleep(self.interval.min(limit)).await;
            return;
        };
        match tokio::time::timeout(RESYNC.min(limit), ticks.next()).await {
            Ok(Some(true)) => {
                self.fresh = false;
                // Let a burst (a rollout writes several objects at once) settle, then take it
                // all as one change.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while let Some(Some(ok)) = ticks.next().now_or_never() {
                    if !ok {
                        self.ticks = None;
                        break;
                    }
                }
            }
            // A watch that fails before its first event means the server does not watch:
            // poll from now on.
            Ok(Some(false)) if self.fresh => {
                self.ticks = None;
                self.polling = true;
                tokio::time::sleep(self.interval.min(limit)).await;
            }
            // A watch broke or the server closed it: open them again next time.
            Ok(Some(false) | None) => {
                self.ticks = None;
                tokio::time::sleep(Duration::from_millis(200).min(limit)).await;
            }
            Err(_) => {}
        }
    }
}
