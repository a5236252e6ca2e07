//! Cloud firewalls.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use dosim_cloud::{Cloud, DropletId, Firewall, FirewallRule, FirewallSpec, FirewallTarget};

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{droplet_id_list, missing, str_list, uuid_path, wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::list_edit;
use crate::pagination::paginate;

pub fn router() -> Router {
    Router::new()
        .route("/v2/firewalls", get(list).post(create))
        .route("/v2/firewalls/{id}", get(one).put(replace).delete(delete))
        .route("/v2/firewalls/{id}/droplets", list_edit::routes(droplets))
        .route(
            "/v2/firewalls/{id}/tags",
            list_edit::routes(list_edit::firewall_tags),
        )
        .route("/v2/firewalls/{id}/rules", list_edit::routes(edit_rules))
        .route("/v2/droplets/{droplet_id}/firewalls", get(of_droplet))
}

/// The firewall object, written straight out rather than built as a `Value` first; its changes
/// apply at once, so `status` is `succeeded` and nothing is pending. Every object's keys are in
/// sorted order, as a `Value` writes them, and a target lists only its non-empty lists.
#[derive(Serialize)]
struct Rendered<'a> {
    created_at: String,
    droplet_ids: &'a [u64],
    /// Written as its UUID's text, without a `String` of its own.
    id: Uuid,
    inbound_rules: Rules<'a>,
    name: &'a str,
    outbound_rules: Rules<'a>,
    pending_changes: [(); 0],
    status: &'static str,
    tags: &'a [String],
}

impl<'a> Rendered<'a> {
    fn of(firewall: &'a Firewall) -> Rendered<'a> {
        Rendered {
            created_at: firewall.created_at.rfc3339(),
            droplet_ids: &firewall.droplet_ids,
            id: firewall.id,
            inbound_rules: Rules {
                rules: &firewall.inbound_rules,
                key: "sources",
            },
            name: &firewall.name,
            outbound_rules: Rules {
                rules: &firewall.outbound_rules,
                key: "destinations",
            },
            pending_changes: [],
            status: "succeeded",
            tags: &firewall.tags,
        }
    }
}

/// A firewall's inbound or outbound rules, each with its target under `key`.
struct Rules<'a> {
    rules: &'a [FirewallRule],
    key: &'static str,
}

impl Serialize for Rules<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.rules.len()))?;
        for rule in self.rules {
            seq.serialize_element(&Rule {
                rule,
                key: self.key,
            })?;
        }
        return seq.end();

        struct Rule<'a> {
            rule: &'a FirewallRule,
            key: &'static str,
        }

        impl Serialize for Rule<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(3))?;
                let target = Target(&self.rule.target);
                if self.key < "ports" {
                    map.serialize_entry(self.key, &target)?;
                }
                map.serialize_entry("ports", &self.rule.ports)?;
                map.serialize_entry("protocol", &self.rule.protocol)?;
                if self.key > "protocol" {
                    map.serialize_entry(self.key, &target)?;
                }
                map.end()
            }
        }

        struct Target<'a>(&'a FirewallTarget);

        impl Serialize for Target<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let target = self.0;
                let mut map = serializer.serialize_map(None)?;
                if !target.addresses.is_empty() {
                    map.serialize_entry("addresses", &target.addresses)?;
                }
                if !target.droplet_ids.is_empty() {
                    map.serialize_entry("droplet_ids", &target.droplet_ids)?;
                }
                if !target.kubernetes_ids.is_empty() {
                    map.serialize_entry("kubernetes_ids", &target.kubernetes_ids)?;
                }
                if !target.load_balancer_uids.is_empty() {
                    map.serialize_entry("load_balancer_uids", &target.load_balancer_uids)?;
                }
                if !target.tags.is_empty() {
                    map.serialize_entry("tags", &target.tags)?;
                }
                map.end()
            }
        }
    }
}

fn target(value: Option<&Value>, field: &str) -> Result<FirewallTarget, ApiError> {
    let object = match value {
        Some(Value::Object(object)) => object,
        Some(_) => return Err(wrong_type(field, "an object")),
        None => return Err(missing(field)),
    };
    Ok(FirewallTarget {
        addresses: str_list(object.get("addresses"), &format!("{field}.addresses"))?,
        droplet_ids: droplet_id_list(object.get("droplet_ids"), &format!("{field}.droplet_ids"))?,
        load_balancer_uids: str_list(
            object.get("load_balancer_uids"),
            &format!("{field}.load_balancer_uids"),
        )?,
        kubernetes_ids: str_list(
            object.get("kubernetes_ids"),
            &format!("{field}.kubernetes_ids"),
        )?,
        tags: str_list(object.get("tags"), &format!("{field}.tags"))?,
    })
}

fn rules(body: &JsonBody, field: &str, key: &str) -> Result<Vec<FirewallRule>, ApiError> {
    let Some(items) = body.opt_list(field)? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|rule| {
            let text = |name: &str| match rule.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                // The ports may come as a number.
                Some(Value::Number(n)) if name == "ports" => Ok(n.to_string()),
                Some(_) => Err(wrong_type(&format!("{field}[].{name}"), "a string")),
                None => Err(missing(&format!("{field}[].{name}"))),
            };
            if !rule.is_object() {
                return Err(wrong_type(&format!("{field}[]"), "an object"));
            }
            let protocol = text("protocol")?;
            // ICMP rules may leave the ports out.
            let ports = if protocol == "icmp" && rule.get("ports").is_none() {
                "0".to_owned()
            } else {
                text("ports")?
            };
            Ok(FirewallRule {
                protocol,
                ports,
                target: target(rule.get(key), &format!("{field}[].{key}"))?,
            })
        })
        .collect()
}

fn spec(body: &[u8]) -> Result<FirewallSpec, ApiError> {
    let body = JsonBody::parse(body)?;
    Ok(FirewallSpec {
        name: body.req_str("name")?,
        inbound_rules: rules(&body, "inbound_rules", "sources")?,
        outbound_rules: rules(&body, "outbound_rules", "destinations")?,
        droplet_ids: droplet_id_list(body.get("droplet_ids"), "droplet_ids")?,
        tags: str_list(body.get("tags"), "tags")?,
    })
}

/// A firewall id from a path; anything but a UUID is a 404, as for an unknown id.
async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let spec = spec(&body)?;
    let firewall = ctx.cloud(|cloud, now| cloud.create_firewall(now, spec))?;
    ctx.summary(format!("firewall {}", firewall.id));
    Ok(json_wrapped(
        StatusCode::ACCEPTED,
        "firewall",
        Rendered::of(&firewall),
    ))
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let firewalls = ctx.cloud(|cloud, now| cloud.firewalls(now));
    paginate(firewalls, &params, &ctx.base_url, "/v2/firewalls")
        .render_response("firewalls", Rendered::of)
}

async fn one(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    let firewall = ctx.cloud(|cloud, now| cloud.firewall(now, id))?;
    Ok(json_wrapped(
        StatusCode::OK,
        "firewall",
        Rendered::of(&firewall),
    ))
}

async fn replace(ctx: Ctx, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    let spec = spec(&body)?;
    let firewall = ctx.cloud(|cloud, now| cloud.replace_firewall(now, id, spec))?;
    ctx.summary(format!(
        "firewall {} droplets {:?}",
        firewall.id, firewall.droplet_ids
    ));
    Ok(json_wrapped(
        StatusCode::OK,
        "firewall",
        Rendered::of(&firewall),
    ))
}

async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    ctx.cloud(|cloud, now| cloud.delete_firewall(now, id))?;
    ctx.summary(format!("firewall {id} deleted"));
    Ok(no_content())
}

fn droplets(ctx: &Ctx, id: &str, body: &[u8], add: bool) -> Result<Response, ApiError> {
    list_edit::droplets(ctx, "firewall", id, body, Cloud::firewall_droplets, add)
}

fn edit_rules(ctx: &Ctx, id: &str, body: &[u8], add: bool) -> Result<Response, ApiError> {
    let read = |body: &JsonBody| {
        let inbound = rules(body, "inbound_rules", "sources")?;
        let outbound = rules(body, "outbound_rules", "destinations")?;
        let named = format!("{} rules", inbound.len() + outbound.len());
        Ok(((inbound, outbound), named))
    };
    let commit = |cloud: &mut Cloud, now, id, (inbound, outbound)| {
        cloud.firewall_rules(now, id, inbound, outbound, add)
    };
    list_edit::edit(ctx, "firewall", id, body, read, commit, add)
}

async fn of_droplet(
    ctx: Ctx,
    Path(droplet_id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let droplet = droplet_id
        .parse()
        .map(DropletId)
        .map_err(|_| ApiError::not_found())?;
    let firewalls = ctx.cloud(|cloud, now| cloud.droplet_firewalls(now, droplet))?;
    let path = format!("/v2/droplets/{droplet_id}/firewalls");
    Ok(paginate(firewalls, &params, &ctx.base_url, &path)
        .render_response("firewalls", Rendered::of))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use dosim_cloud::{CloudConfig, SimTime};
    use serde_json::json;

    /// The firewall object as it was built before, through a `Value`.
    fn render(firewall: &Firewall) -> Value {
        json!({
            "id": firewall.id.to_string(),
            "name": firewall.name,
            "status": "succeeded",
            "created_at": render::time(firewall.created_at),
            "pending_changes": [],
            "inbound_rules": render_rules(&firewall.inbound_rules, "sources"),
            "outbound_rules": render_rules(&firewall.outbound_rules, "destinations"),
            "droplet_ids": firewall.droplet_ids,
            "tags": firewall.tags,
        })
    }

    fn render_rules(rules: &[FirewallRule], key: &str) -> Value {
        rules
            .iter()
            .map(|rule| json!({ "protocol": rule.protocol, "ports": rule.ports, key: render_target(&rule.target) }))
            .collect()
    }

    fn render_target(target: &FirewallTarget) -> Value {
        let mut object = serde_json::Map::new();
        if !target.addresses.is_empty() {
            object.insert("addresses".into(), json!(target.addresses));
        }
        if !target.droplet_ids.is_empty() {
            object.insert("droplet_ids".into(), json!(target.droplet_ids));
        }
        if !target.load_balancer_uids.is_empty() {
            object.insert(
                "load_balancer_uids".into(),
                json!(target.load_balancer_uids),
            );
        }
        if !target.kubernetes_ids.is_empty() {
            object.insert("kubernetes_ids".into(), json!(target.kubernetes_ids));
        }
        if !target.tags.is_empty() {
            object.insert("tags".into(), json!(target.tags));
        }
        Value::Object(object)
    }

    /// A firewall written straight out has the bytes of its `Value`: keys sorted, targets with
    /// only their non-empty lists, rules with their targets under `sources` or `destinations`.
    #[test]
    fn a_rendered_firewall_has_the_bytes_of_its_value() {
        let mut cloud = Cloud::new(CloudConfig::default(), 11);
        let target = |addresses: &[&str], tags: &[&str]| FirewallTarget {
            addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..FirewallTarget::default()
        };
        let rule = |protocol: &str, ports: &str, target| FirewallRule {
            protocol: protocol.to_owned(),
            ports: ports.to_owned(),
            target,
        };
        let specs = [
            FirewallSpec {
                name: "empty".into(),
                ..FirewallSpec::default()
            },
            FirewallSpec {
                name: "web".into(),
                inbound_rules: vec![
                    rule("tcp", "443", target(&["0.0.0.0/0", "::/0"], &[])),
                    rule("tcp", "22", target(&[], &["bastion"])),
                ],
                outbound_rules: vec![rule("udp", "53", target(&["0.0.0.0/0"], &["dns"]))],
                tags: vec!["web".into()],
                ..FirewallSpec::default()
            },
        ];
        for spec in specs {
            let firewall = cloud.create_firewall(SimTime::ZERO, spec).unwrap();
            let direct = serde_json::to_string(&Rendered::of(&firewall)).unwrap();
            let value = serde_json::to_string(&render(&firewall)).unwrap();
            assert_eq!(direct, value);
        }
    }
}
