//! The clusters API: [`Clusters::list`] page by page, [`Clusters::get`].
//!
//! Listing uses `GET /api/2.1/clusters/list`, which pages with `page_size` (at most 100) and
//! `page_token`. [`ClusterPager`] holds one page at a time, so memory stays flat however many
//! clusters a workspace has. `next_page_token` is optional: a server that answers with everything
//! at once (like `/api/2.0/clusters/list`) simply yields one page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Result;
use crate::WorkspaceClient;

/// The clusters API of a workspace; from [`WorkspaceClient::clusters`].
#[derive(Debug, Clone)]
pub struct Clusters {
    client: WorkspaceClient,
}

/// Filters, sorting and page size for [`Clusters::list`]. `Default` lists everything with the
/// server's default page size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Clusters per page (the API allows at most 100; the server's default is 20).
    pub page_size: Option<u32>,
    /// Only clusters in these states (`RUNNING`, `TERMINATED`, …): `filter_by.cluster_states`.
    pub filter_by_states: Vec<String>,
    /// Only clusters from these sources (`UI`, `API`, `JOB`, …): `filter_by.cluster_sources`.
    pub filter_by_sources: Vec<String>,
    /// Only pinned (or unpinned) clusters: `filter_by.is_pinned`.
    pub filter_by_is_pinned: Option<bool>,
    /// Only clusters of this policy: `filter_by.policy_id`.
    pub filter_by_policy_id: Option<String>,
    /// Sort field (`CLUSTER_NAME`, `DEFAULT`): `sort_by.field`.
    pub sort_by_field: Option<String>,
    /// Sort direction (`ASC`, `DESC`): `sort_by.direction`.
    pub sort_by_direction: Option<String>,
}

impl ListOptions {
    /// The query parameters these options stand for (without `page_token`).
    pub fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        let mut push = |k: &str, v: String| q.push((k.to_owned(), v));
        if let Some(n) = self.page_size {
            push("page_size", n.to_string());
        }
        for s in &self.filter_by_states {
            push("filter_by.cluster_states", s.clone());
        }
        for s in &self.filter_by_sources {
            push("filter_by.cluster_sources", s.clone());
        }
        if let Some(p) = self.filter_by_is_pinned {
            push("filter_by.is_pinned", p.to_string());
        }
        if let Some(p) = &self.filter_by_policy_id {
            push("filter_by.policy_id", p.clone());
        }
        if let Some(f) = &self.sort_by_field {
            push("sort_by.field", f.clone());
        }
        if let Some(d) = &self.sort_by_direction {
            push("sort_by.direction", d.clone());
        }
        q
    }
}

impl Clusters {
    pub(crate) fn new(client: WorkspaceClient) -> Self {
        Clusters { client }
    }

    /// A pager over the workspace's clusters; nothing is requested until
    /// [`ClusterPager::next_page`].
    pub fn list(&self, options: ListOptions) -> ClusterPager {
        ClusterPager::new(self.client.clone(), "/api/2.1/clusters/list", options.query())
    }

    /// A pager over another listing endpoint with the same answer shape (`{"clusters": [...],
    /// "next_page_token": "…"}`), such as `/api/2.0/clusters/list`.
    pub fn list_at(&self, path: &str, query: Vec<(String, String)>) -> ClusterPager {
        ClusterPager::new(self.client.clone(), path, query)
    }

    /// One cluster, by id (`GET /api/2.1/clusters/get?cluster_id=`).
    pub async fn get(&self, cluster_id: &str) -> Result<ClusterDetails> {
        self.client.get("/api/2.1/clusters/get", &[("cluster_id".to_owned(), cluster_id.to_owned())]).await
    }
}

/// Pages of a cluster listing, fetched one at a time.
#[derive(Debug)]
pub struct ClusterPager {
    client: WorkspaceClient,
    path: String,
    query: Vec<(String, String)>,
    next_token: Option<String>,
    done: bool,
    pages: u32,
}

#[derive(Deserialize)]
struct ListPage<C> {
    #[serde(default = "Vec::new")]
    clusters: Vec<C>,
    #[serde(default)]
    next_page_token: Option<String>,
}

impl ClusterPager {
    fn new(client: WorkspaceClient, path: &str, query: Vec<(String, String)>) -> Self {
        ClusterPager { client, path: path.to_owned(), query, next_token: None, done: false, pages: 0 }
    }

    /// The next page of clusters, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ClusterDetails>>> {
        self.fetch().await
    }

    /// The next page with each cluster as the server's JSON text, unparsed: for printing the
    /// clusters as they came (`clusters list -o json`), which then costs one validating pass per
    /// byte instead of a parse into typed fields and a serialisation back.
    pub async fn next_page_raw(&mut self) -> Result<Option<Vec<Box<serde_json::value::RawValue>>>> {
        self.fetch().await
    }

    async fn fetch<C: serde::de::DeserializeOwned>(&mut self) -> Result<Option<Vec<C>>> {
        if self.done {
            return Ok(None);
        }
        let mut query = self.query.clone();
        if let Some(t) = &self.next_token {
            query.push(("page_token".to_owned(), t.clone()));
        }
        let page: ListPage<C> = self.client.get(&self.path, &query).await?;
        self.pages += 1;
        match page.next_page_token.filter(|t| !t.is_empty()) {
            // A server that hands back the token it was given would loop forever.
            Some(t) if self.next_token.as_deref() == Some(t.as_str()) => {
                tracing::warn!(page = self.pages, "the server repeated the page token; stopping the listing");
                self.done = true;
            }
            Some(t) => self.next_token = Some(t),
            None => self.done = true,
        }
        Ok(Some(page.clusters))
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Every remaining cluster in one vector (memory grows with the workspace: prefer
    /// [`ClusterPager::next_page`] for large ones).
    pub async fn collect_all(mut self) -> Result<Vec<ClusterDetails>> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

/// Autoscaling bounds of a cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Autoscale {
    /// Fewest workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_workers: Option<u32>,
    /// Most workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<u32>,
}

/// A cluster as the clusters API describes it. The common fields are typed; every other field
/// is kept in [`ClusterDetails::extra`] and serialised back, so nothing the server sent is lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterDetails {
    /// Cluster id (`1125-101010-abcd1234`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// `PENDING`, `RUNNING`, `RESTARTING`, `RESIZING`, `TERMINATING`, `TERMINATED`, `ERROR`, `UNKNOWN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why the cluster is in its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    /// Databricks runtime (`15.4.x-scala2.12`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_version: Option<String>,
    /// Worker VM type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type_id: Option<String>,
    /// Driver VM type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_node_type_id: Option<String>,
    /// Fixed worker count (absent for autoscaling clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_workers: Option<u32>,
    /// Autoscaling bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<Autoscale>,
    /// Who created the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_user_name: Option<String>,
    /// `UI`, `API`, `JOB`, `PIPELINE`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_source: Option<String>,
    /// Minutes of inactivity before the cluster terminates (0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autotermination_minutes: Option<u64>,
    /// Start time, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// Termination time, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated_time: Option<i64>,
    /// Last restart time, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restarted_time: Option<i64>,
    /// User tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_tags: Option<BTreeMap<String, String>>,
    /// `SINGLE_USER`, `USER_ISOLATION`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_security_mode: Option<String>,
    /// The user of a single-user cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_user_name: Option<String>,
    /// `STANDARD` or `PHOTON`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_engine: Option<String>,
    /// Cluster policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClusterDetails {
    /// Workers as a person reads them: `2`, or `2-8 (autoscale)`.
    pub fn workers(&self) -> String {
        match (self.autoscale, self.num_workers) {
            (Some(Autoscale { min_workers: Some(lo), max_workers: Some(hi) }), _) => format!("{lo}-{hi} (autoscale)"),
            (_, Some(n)) => n.to_string(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_round_trip() {
        let raw = serde_json::json!({
            "cluster_id": "1", "cluster_name": "x", "num_workers": 2, "state": "RUNNING",
            "autoscale": {"min_workers": 2, "max_workers": 8},
            "custom_tags": {"team": "a"},
            "brand_new_field": {"nested": [1, 2.5, "three"]}, "cluster_cores": 12.0,
        });
        let c: ClusterDetails = serde_json::from_value(raw.clone()).expect("parses");
        assert_eq!(c.extra["brand_new_field"]["nested"][2], "three");
        assert_eq!(c.workers(), "2-8 (autoscale)");
        assert_eq!(serde_json::to_value(&c).expect("serialises"), raw);
    }

    #[test]
    fn query_keys() {
        let o = ListOptions {
            page_size: Some(100),
            filter_by_states: vec!["RUNNING".into(), "PENDING".into()],
            filter_by_is_pinned: Some(true),
            sort_by_field: Some("CLUSTER_NAME".into()),
            ..ListOptions::default()
        };
        let keys: Vec<String> = o.query().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            keys,
            [
                "page_size=100",
                "filter_by.cluster_states=RUNNING",
                "filter_by.cluster_states=PENDING",
                "filter_by.is_pinned=true",
                "sort_by.field=CLUSTER_NAME"
            ]
        );
    }
}
