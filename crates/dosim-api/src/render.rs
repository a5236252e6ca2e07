//! Wire JSON for the objects several resources share: regions, sizes, images and actions.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::value::RawValue;
use serde_json::{json, Value};

use dosim_cloud::catalog;
use dosim_cloud::{Action, ResourceType, SimTime};

use crate::error::ApiError;

pub fn time(t: SimTime) -> Value {
    Value::String(t.rfc3339())
}

pub fn region(slug: &str) -> Value {
    match catalog::region(slug) {
        Some(region) => region_object(region),
        // A region the catalogue does not know cannot be stored, but render something valid anyway.
        None => {
            json!({ "name": slug, "slug": slug, "sizes": [], "features": [], "available": false })
        }
    }
}

pub fn region_object(region: &catalog::Region) -> Value {
    json!({
        "name": region.name,
        "slug": region.slug,
        "sizes": region.sizes,
        "features": region.features,
        "available": region.available,
    })
}

pub fn size_object(size: &catalog::Size) -> Value {
    json!({
        "slug": size.slug,
        "memory": size.memory,
        "vcpus": size.vcpus,
        "disk": size.disk,
        "transfer": size.transfer,
        "price_monthly": size.price_monthly,
        "price_hourly": size.price_hourly,
        "regions": size.regions,
        "available": size.available,
        "description": size.description,
    })
}

pub fn image_object(image: &catalog::Image) -> Value {
    json!({
        "id": image.id,
        "name": image.name,
        "type": image.image_type,
        "distribution": image.distribution,
        "slug": image.slug,
        "public": image.public,
        "regions": image.regions,
        "created_at": image.created_at,
        "min_disk_size": image.min_disk_size,
        "size_gigabytes": image.size_gigabytes,
        "description": image.description,
        "tags": [],
        "status": image.status,
        "error_message": "",
    })
}

/// The catalogue's region, size and image objects, each serialized once per process. They never
/// change, and a droplet carries all three whole (a region lists every size it offers, a size
/// every region): building them anew for each droplet in each response was most of what
/// answering a droplet cost.
struct Serialized {
    regions: Vec<(&'static str, Box<RawValue>)>,
    sizes: Vec<(&'static str, Box<RawValue>)>,
    images: Vec<(u64, Box<RawValue>)>,
}

fn serialized() -> &'static Serialized {
    static SERIALIZED: OnceLock<Serialized> = OnceLock::new();
    SERIALIZED.get_or_init(|| {
        let raw = |value: Value| {
            serde_json::value::to_raw_value(&value).expect("a JSON value always serializes")
        };
        Serialized {
            regions: (catalog::regions().iter())
                .map(|region| (region.slug, raw(region_object(region))))
                .collect(),
            sizes: (catalog::sizes().iter())
                .map(|size| (size.slug, raw(size_object(size))))
                .collect(),
            images: (catalog::images().iter())
                .map(|image| (image.id, raw(image_object(image))))
                .collect(),
        }
    })
}

/// [`region_object`] of the catalogue's region `slug`, already serialized.
pub fn region_json(slug: &str) -> Option<&'static RawValue> {
    let regions = &serialized().regions;
    regions
        .iter()
        .find(|(s, _)| *s == slug)
        .map(|(_, raw)| &**raw)
}

/// [`region`] as JSON: already serialized for a catalogue region, serialized now for any other.
pub fn region_json_or_unknown(slug: &str) -> Cow<'static, RawValue> {
    match region_json(slug) {
        Some(raw) => Cow::Borrowed(raw),
        None => Cow::Owned(
            serde_json::value::to_raw_value(&region(slug)).expect("a JSON value always serializes"),
        ),
    }
}

/// [`size_object`] of the catalogue's size `slug`, already serialized.
pub fn size_json(slug: &str) -> Option<&'static RawValue> {
    let sizes = &serialized().sizes;
    sizes
        .iter()
        .find(|(s, _)| *s == slug)
        .map(|(_, raw)| &**raw)
}

/// [`image_object`] of the catalogue's image `id`, already serialized.
pub fn image_json(id: u64) -> Option<&'static RawValue> {
    let images = &serialized().images;
    images.iter().find(|(i, _)| *i == id).map(|(_, raw)| &**raw)
}

/// How an action names reserved IPs: the legacy floating-IP paths keep the old name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpNoun {
    Reserved,
    Floating,
}

pub fn action(action: &Action, noun: IpNoun) -> Value {
    let resource_type = match (action.resource_type, noun) {
        (ResourceType::ReservedIp, IpNoun::Floating) => "floating_ip",
        (other, _) => other.as_str(),
    };
    let mut object = json!({
        "id": action.id.0,
        "status": action.status.as_str(),
        "type": action.action_type,
        "started_at": time(action.started_at),
        "completed_at": action.completed_at.map(time),
        "resource_id": action.resource_id,
        "resource_type": resource_type,
        "region_slug": action.region_slug,
    });
    // The spec types `region` as an object, so an action without one leaves it out rather than sending null.
    if let Some(slug) = action.region_slug.as_deref() {
        object["region"] = region(slug);
    }
    if let Some(project_id) = action.project_id {
        object["project_id"] = Value::String(project_id.to_string());
    }
    object
}

/// An action id from a path; anything but a positive integer is a 404, as for an unknown id.
pub fn parse_action_id(raw: &str) -> Result<dosim_cloud::ActionId, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|&id| id >= 1)
        .map(dosim_cloud::ActionId)
        .ok_or_else(ApiError::not_found)
}

/// An action link as `links.actions` carries it.
pub fn action_link(base_url: &str, id: dosim_cloud::ActionId, rel: &str) -> Value {
    json!({ "id": id.0, "rel": rel, "href": format!("{base_url}/v2/actions/{}", id.0) })
}
