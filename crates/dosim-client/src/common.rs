//! Wire types shared by every resource: pages, links, meta, action links, regions and sizes.

use serde::{Deserialize, Deserializer, Serialize};

/// Deserializes `null` as the type's default, so `"tags": null` reads as no tags.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The body that adds droplets to, or removes them from, a firewall or a load balancer.
#[derive(Serialize)]
pub(crate) struct DropletIds<'a> {
    pub(crate) droplet_ids: &'a [u64],
}

/// A link to an action, as returned by creates: `{"id": 7515, "rel": "create", "href": "…/v2/actions/7515"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLink {
    /// The action's id.
    #[serde(default)]
    pub id: u64,
    /// What the action is (`create`, `assign_ip`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub rel: String,
    /// The action's URL.
    #[serde(default, deserialize_with = "null_default")]
    pub href: String,
}

/// A link to a droplet, as returned by a reserved IP created for a droplet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropletLink {
    /// The droplet's id.
    #[serde(default)]
    pub id: u64,
    /// Always `droplet`.
    #[serde(default, deserialize_with = "null_default")]
    pub rel: String,
    /// The droplet's URL.
    #[serde(default, deserialize_with = "null_default")]
    pub href: String,
}

/// `links` on a response. DigitalOcean omits it, sends `{}`, or sends `{"pages": {}}` when there is
/// one page; all read the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// Page links, on lists.
    #[serde(default, deserialize_with = "null_default")]
    pub pages: Pages,
    /// Action links, on creates.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub actions: Vec<ActionLink>,
    /// Droplet links, on a reserved IP created for a droplet.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub droplets: Vec<DropletLink>,
}

/// `links.pages`: absolute URLs; only the ones that make sense are present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pages {
    /// The first page (absent on page 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// The previous page (absent on page 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// The next page (absent on the last page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The last page (absent on the last page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

impl Pages {
    /// The `page` query parameter of `next`, the way godo reads it; `None` on the last page.
    pub fn next_page(&self) -> Option<u32> {
        page_param(self.next.as_deref()?)
    }
}

/// Reads the `page` query parameter of a URL.
pub(crate) fn page_param(url: &str) -> Option<u32> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("page=")?.parse().ok())
}

/// `meta` on a list response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The number of objects across all pages.
    #[serde(default)]
    pub total: Option<u64>,
}

/// One page of a list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page<T> {
    /// The objects on this page.
    pub items: Vec<T>,
    /// The page links.
    pub links: Links,
    /// The total count.
    pub meta: Meta,
}

impl<T> Page<T> {
    /// The next page's number, when there is one.
    pub fn next_page(&self) -> Option<u32> {
        self.links.pages.next_page()
    }
}

/// A region object: `{"name": "New York 3", "slug": "nyc3", …}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// The display name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// The slug (`nyc3`).
    #[serde(default, deserialize_with = "null_default")]
    pub slug: String,
    /// Features available in the region.
    #[serde(default, deserialize_with = "null_default")]
    pub features: Vec<String>,
    /// Whether new resources can be created here.
    #[serde(default)]
    pub available: bool,
    /// Size slugs available in the region.
    #[serde(default, deserialize_with = "null_default")]
    pub sizes: Vec<String>,
}

/// A droplet size: `{"slug": "s-1vcpu-1gb", "memory": 1024, …}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Size {
    /// The slug.
    #[serde(default, deserialize_with = "null_default")]
    pub slug: String,
    /// Memory in MB.
    #[serde(default)]
    pub memory: u64,
    /// Virtual CPUs.
    #[serde(default)]
    pub vcpus: u32,
    /// Disk in GB.
    #[serde(default)]
    pub disk: u64,
    /// Transfer allowance in TB.
    #[serde(default)]
    pub transfer: f64,
    /// Monthly price in USD.
    #[serde(default)]
    pub price_monthly: f64,
    /// Hourly price in USD.
    #[serde(default)]
    pub price_hourly: f64,
    /// Regions where the size is available.
    #[serde(default, deserialize_with = "null_default")]
    pub regions: Vec<String>,
    /// Whether droplets of this size can be created.
    #[serde(default)]
    pub available: bool,
    /// A description (`Basic`, `General Purpose`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// The disks.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub disk_info: Vec<DiskInfo>,
    /// GPU details, on GPU sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_info: Option<serde_json::Value>,
}

/// One disk of a size or droplet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskInfo {
    /// `local` or `scratch`.
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub r#type: String,
    /// The disk's size.
    #[serde(default)]
    pub size: DiskSize,
}

/// A disk's size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskSize {
    /// The amount of `unit`.
    #[serde(default)]
    pub amount: u64,
    /// `gib` or `tib`.
    #[serde(default, deserialize_with = "null_default")]
    pub unit: String,
}

#[cfg(test)]
mod tests;
