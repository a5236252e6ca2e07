//! Projects: the default one every account has, the ones users create, and which resources
//! each holds.
//!
//! Droplets, volumes and domains are in the default project until assigned elsewhere; reserved
//! IPs and database clusters carry their own `project_id`, set at create. Moving a resource
//! takes effect at once for listings, but DigitalOcean relocates it asynchronously: until
//! `CloudConfig::project_move_ms` has passed, the project it left still counts it, and deleting
//! that project is refused with 412, as Terraform's provider sees it.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::msg;
use crate::{Cloud, DatabaseId, DropletId, Error, ErrorKind, SimTime, VolumeId};

/// The most projects one account may hold in dosim.
pub const PROJECTS_MAX: usize = 100;
/// The purposes DigitalOcean offers; any other is stored as `Other: <purpose>`.
pub const PROJECT_PURPOSES: [&str; 9] = [
    "Just trying out DigitalOcean",
    "Class project / Educational purposes",
    "Website or blog",
    "Web Application",
    "Service or API",
    "Mobile Application",
    "Machine learning / AI / Data processing",
    "IoT",
    "Operational / Developer tooling",
];
const ENVIRONMENTS: [&str; 3] = ["Development", "Staging", "Production"];

/// A project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// The id.
    pub id: Uuid,
    /// The name, unique on the account, at most 175 characters.
    pub name: String,
    /// A description, at most 255 characters.
    pub description: String,
    /// One of [`PROJECT_PURPOSES`], or `Other: …`.
    pub purpose: String,
    /// `Development`, `Staging` or `Production`, if set.
    pub environment: Option<String>,
    /// Whether it is the account's default.
    pub is_default: bool,
    /// When it was created.
    pub created_at: SimTime,
    /// When it last changed.
    pub updated_at: SimTime,
}

/// A project to create, or the fields of one to change (`None`: unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectEdit {
    /// The name; required on create.
    pub name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// The purpose; required on create.
    pub purpose: Option<String>,
    /// The environment.
    pub environment: Option<String>,
    /// `true` makes it the account's default; `false` on the default is refused.
    pub is_default: Option<bool>,
}

/// A resource in a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectResource {
    /// `do:droplet:<id>`, `do:volume:<uuid>`, `do:floatingip:<ip>`, `do:dbaas:<uuid>`, `do:domain:<name>`.
    pub urn: String,
    /// When it was assigned to the project (its creation, for resources never moved).
    pub assigned_at: SimTime,
    /// `ok`, or for a request's URN that names nothing, `not_found`.
    pub status: &'static str,
}

/// Where a moved resource is, and the project it is still leaving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Assignment {
    project: Uuid,
    assigned_at: SimTime,
    /// The project it left, which counts it until the time given.
    leaving: Option<(Uuid, SimTime)>,
}

/// The default project every account starts with.
pub(crate) fn default_project(id: Uuid) -> IndexMap<Uuid, Project> {
    let project = Project {
        id,
        name: "first-project".to_owned(),
        description: String::new(),
        purpose: PROJECT_PURPOSES[0].to_owned(),
        environment: Some("Development".to_owned()),
        is_default: true,
        created_at: SimTime::ZERO,
        updated_at: SimTime::ZERO,
    };
    IndexMap::from([(id, project)])
}

fn purpose(text: &str) -> String {
    if PROJECT_PURPOSES.contains(&text) || text.starts_with("Other: ") {
        text.to_owned()
    } else {
        format!("Other: {text}")
    }
}

fn check_edit(edit: &ProjectEdit) -> Result<(), Error> {
    if let Some(name) = &edit.name {
        if name.trim().is_empty() || name.chars().count() > 175 {
            return Err(Error::unprocessable("name: must be 1 to 175 characters"));
        }
    }
    for (field, value) in [
        ("description", &edit.description),
        ("purpose", &edit.purpose),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 255) {
            return Err(Error::unprocessable(format!(
                "{field}: may be at most 255 characters"
            )));
        }
    }
    if let Some(environment) = &edit.environment {
        if !ENVIRONMENTS.contains(&environment.as_str()) {
            return Err(Error::unprocessable(format!(
                "environment: {environment:?} is not one of Development, Staging, Production"
            )));
        }
    }
    Ok(())
}

/// What a URN names on the account.
enum Named {
    Droplet(DropletId),
    Volume(VolumeId),
    ReservedIp(std::net::Ipv4Addr),
    Database(DatabaseId),
    Domain(String),
}

impl Cloud {
    fn resolve_urn(&self, urn: &str) -> Option<Named> {
        let rest = urn.strip_prefix("do:")?;
        let (kind, id) = rest.split_once(':')?;
        match kind {
            "droplet" => id
                .parse()
                .ok()
                .map(DropletId)
                .filter(|d| self.droplets.contains_key(d))
                .map(Named::Droplet),
            "volume" => VolumeId::parse(id)
                .filter(|v| self.volumes.contains_key(v))
                .map(Named::Volume),
            "floatingip" | "reservedip" => id
                .parse()
                .ok()
                .filter(|ip| self.reserved_ips.contains_key(ip))
                .map(Named::ReservedIp),
            "dbaas" => DatabaseId::parse(id)
                .filter(|d| self.databases.contains_key(d))
                .map(Named::Database),
            "domain" => Some(id.to_ascii_lowercase())
                .filter(|d| self.domains.contains_key(d))
                .map(Named::Domain),
            _ => None,
        }
    }

    /// Every resource of the account with its project and assignment time.
    fn placements(&self) -> Vec<(String, Uuid, SimTime)> {
        let default = self.default_project_id;
        let moved = |urn: &str, created: SimTime| match self.project_assignments.get(urn) {
            Some(a) => (a.project, a.assigned_at),
            None => (default, created),
        };
        let mut all = Vec::new();
        for d in self.droplets.values() {
            let urn = format!("do:droplet:{}", d.id);
            let (p, at) = moved(&urn, d.created_at);
            all.push((urn, p, at));
        }
        for v in self.volumes.values() {
            let urn = format!("do:volume:{}", v.id);
            let (p, at) = moved(&urn, v.created_at);
            all.push((urn, p, at));
        }
        for r in self.reserved_ips.values() {
            let urn = format!("do:floatingip:{}", r.ip);
            let at = self
                .project_assignments
                .get(&urn)
                .map_or(r.created_at, |a| a.assigned_at);
            all.push((urn, r.project_id, at));
        }
        for d in self.databases.values() {
            let urn = format!("do:dbaas:{}", d.id);
            let at = self
                .project_assignments
                .get(&urn)
                .map_or(d.created_at, |a| a.assigned_at);
            all.push((urn, d.project_id, at));
        }
        for d in self.domains.values() {
            let urn = format!("do:domain:{}", d.name);
            let (p, at) = moved(&urn, SimTime::ZERO);
            all.push((urn, p, at));
        }
        all
    }

    /// `POST /v2/projects`.
    pub fn create_project(&mut self, now: SimTime, edit: ProjectEdit) -> Result<Project, Error> {
        self.enter(now, |cloud| {
            check_edit(&edit)?;
            let name = edit
                .name
                .clone()
                .ok_or_else(|| Error::unprocessable("name is required"))?;
            let purpose_text = edit
                .purpose
                .clone()
                .ok_or_else(|| Error::unprocessable("purpose is required"))?;
            if cloud.projects.values().any(|p| p.name == name) {
                return Err(Error::new(ErrorKind::Conflict, msg::PROJECT_NAME_TAKEN));
            }
            if cloud.projects.len() >= PROJECTS_MAX {
                return Err(Error::unprocessable(format!(
                    "the account may hold at most {PROJECTS_MAX} projects"
                )));
            }
            let project = Project {
                id: cloud.new_uuid(),
                name,
                description: edit.description.unwrap_or_default(),
                purpose: purpose(&purpose_text),
                environment: edit.environment,
                is_default: false,
                created_at: cloud.now,
                updated_at: cloud.now,
            };
            cloud.projects.insert(project.id, project.clone());
            if edit.is_default == Some(true) {
                cloud.make_default_project(project.id);
            }
            Ok(cloud.projects[&project.id].clone())
        })
    }

    fn make_default_project(&mut self, id: Uuid) {
        // Resources never moved follow the default: pin them where they are first.
        let old = self.default_project_id;
        if old == id {
            return;
        }
        for (urn, project, at) in self.placements() {
            if project == old && !self.project_assignments.contains_key(&urn) {
                self.project_assignments.insert(
                    urn,
                    Assignment {
                        project: old,
                        assigned_at: at,
                        leaving: None,
                    },
                );
            }
        }
        for project in self.projects.values_mut() {
            project.is_default = project.id == id;
        }
        self.default_project_id = id;
    }

    /// `GET /v2/projects`, oldest first.
    pub fn projects(&mut self, now: SimTime) -> Vec<Project> {
        self.enter(now, |cloud| cloud.projects.values().cloned().collect())
    }

    /// `GET /v2/projects/{id}`.
    pub fn project(&mut self, now: SimTime, id: Uuid) -> Result<Project, Error> {
        self.enter(now, |cloud| {
            cloud
                .projects
                .get(&id)
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// `PUT` or `PATCH /v2/projects/{id}`.
    pub fn update_project(
        &mut self,
        now: SimTime,
        id: Uuid,
        edit: ProjectEdit,
    ) -> Result<Project, Error> {
        self.enter(now, |cloud| {
            let current = cloud.projects.get(&id).ok_or_else(Error::not_found)?;
            check_edit(&edit)?;
            if edit.is_default == Some(false) && current.is_default {
                return Err(Error::unprocessable(msg::PROJECT_DEFAULT_UNSET));
            }
            if let Some(name) = &edit.name {
                if cloud
                    .projects
                    .values()
                    .any(|p| p.id != id && p.name == *name)
                {
                    return Err(Error::new(ErrorKind::Conflict, msg::PROJECT_NAME_TAKEN));
                }
            }
            if edit.is_default == Some(true) {
                cloud.make_default_project(id);
            }
            let now = cloud.now;
            let project = cloud.projects.get_mut(&id).expect("checked above");
            if let Some(name) = edit.name {
                project.name = name;
            }
            if let Some(description) = edit.description {
                project.description = description;
            }
            if let Some(text) = edit.purpose {
                project.purpose = purpose(&text);
            }
            if let Some(environment) = edit.environment {
                project.environment = Some(environment);
            }
            project.updated_at = now;
            Ok(project.clone())
        })
    }

    /// `DELETE /v2/projects/{id}`: only an empty project that is not the default, and not while
    /// a resource moved out of it is still being relocated.
    pub fn delete_project(&mut self, now: SimTime, id: Uuid) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let project = cloud.projects.get(&id).ok_or_else(Error::not_found)?;
            if project.is_default {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    msg::PROJECT_DEFAULT_DELETE,
                ));
            }
            let holds = cloud.placements().iter().any(|(_, p, _)| *p == id);
            let existing: Vec<String> = cloud
                .placements()
                .into_iter()
                .map(|(urn, ..)| urn)
                .collect();
            let relocating = cloud.project_assignments.iter().any(|(urn, a)| {
                existing.contains(urn)
                    && a.leaving
                        .is_some_and(|(from, until)| from == id && cloud.now < until)
            });
            if holds || relocating {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    msg::PROJECT_NOT_EMPTY,
                ));
            }
            cloud.projects.shift_remove(&id);
            Ok(())
        })
    }

    /// `GET /v2/projects/{id}/resources`, in the order listed by kind, then age.
    pub fn project_resources(
        &mut self,
        now: SimTime,
        id: Uuid,
    ) -> Result<Vec<ProjectResource>, Error> {
        self.enter(now, |cloud| {
            if !cloud.projects.contains_key(&id) {
                return Err(Error::not_found());
            }
            Ok(cloud.resources_of(id))
        })
    }

    fn resources_of(&self, id: Uuid) -> Vec<ProjectResource> {
        self.placements()
            .into_iter()
            .filter(|(_, p, _)| *p == id)
            .map(|(urn, _, assigned_at)| ProjectResource {
                urn,
                assigned_at,
                status: "ok",
            })
            .collect()
    }

    /// `POST /v2/projects/{id}/resources`: moves each resource the URNs name into the project;
    /// a URN that names nothing is answered `not_found` and changes nothing. Returns the
    /// project's resources, then the URNs not found.
    pub fn assign_project_resources(
        &mut self,
        now: SimTime,
        id: Uuid,
        urns: &[String],
    ) -> Result<Vec<ProjectResource>, Error> {
        self.enter(now, |cloud| {
            if !cloud.projects.contains_key(&id) {
                return Err(Error::not_found());
            }
            if urns.len() > PROJECT_ASSIGN_MAX {
                return Err(Error::unprocessable(format!(
                    "resources: at most {PROJECT_ASSIGN_MAX} may be given"
                )));
            }
            // The answer's URNs must be URNs (the spec's pattern), so a malformed one refuses
            // the whole request rather than coming back `not_found`.
            if let Some(bad) = urns.iter().find(|urn| !urn_well_formed(urn)) {
                return Err(Error::bad_request(format!(
                    "invalid resource URN {bad:?}: expected do:<kind>:<id>, with kind one of {}",
                    URN_KINDS.join(", ")
                )));
            }
            let placements: BTreeMap<String, (Uuid, SimTime)> = cloud
                .placements()
                .into_iter()
                .map(|(urn, p, at)| (urn, (p, at)))
                .collect();
            let relocation = cloud.config.project_move_ms;
            let now = cloud.now;
            let mut missing = Vec::new();
            for urn in urns {
                let Some(named) = cloud.resolve_urn(urn) else {
                    missing.push(ProjectResource {
                        urn: urn.clone(),
                        assigned_at: now,
                        status: "not_found",
                    });
                    continue;
                };
                // The URN as listings write it (`do:floatingip:` for `do:reservedip:`, lowercase domains).
                let canonical = match &named {
                    Named::Droplet(d) => format!("do:droplet:{d}"),
                    Named::Volume(v) => format!("do:volume:{v}"),
                    Named::ReservedIp(ip) => format!("do:floatingip:{ip}"),
                    Named::Database(d) => format!("do:dbaas:{d}"),
                    Named::Domain(name) => format!("do:domain:{name}"),
                };
                let (from, _) = placements[&canonical];
                if from == id {
                    continue;
                }
                match named {
                    Named::ReservedIp(ip) => {
                        cloud
                            .reserved_ips
                            .get_mut(&ip)
                            .expect("resolved")
                            .project_id = id;
                    }
                    Named::Database(d) => {
                        cloud.databases.get_mut(&d).expect("resolved").project_id = id;
                    }
                    Named::Droplet(_) | Named::Volume(_) | Named::Domain(_) => {}
                }
                cloud.project_assignments.insert(
                    canonical,
                    Assignment {
                        project: id,
                        assigned_at: now,
                        leaving: Some((from, now.plus_ms(relocation))),
                    },
                );
            }
            // Forget assignments of resources that no longer exist.
            let existing: Vec<String> = cloud
                .placements()
                .into_iter()
                .map(|(urn, ..)| urn)
                .collect();
            cloud
                .project_assignments
                .retain(|urn, _| existing.contains(urn));
            let mut listed = cloud.resources_of(id);
            listed.extend(missing);
            Ok(listed)
        })
    }

    /// Each moved resource's project, for the invariants.
    pub(crate) fn project_assignment_targets(&self) -> Vec<(&str, Uuid)> {
        self.project_assignments
            .iter()
            .map(|(urn, a)| (urn.as_str(), a.project))
            .collect()
    }

    /// The account's default project.
    pub fn default_project(&mut self, now: SimTime) -> Project {
        self.enter(now, |cloud| {
            cloud.projects[&cloud.default_project_id].clone()
        })
    }
}

/// The most URNs one assign request may name.
pub const PROJECT_ASSIGN_MAX: usize = 1000;

/// The kinds a resource URN may name: the spec's, and `reservedip` for `floatingip`.
const URN_KINDS: [&str; 10] = [
    "dbaas",
    "domain",
    "droplet",
    "floatingip",
    "reservedip",
    "loadbalancer",
    "space",
    "volume",
    "kubernetes",
    "vpc",
];

/// Whether `urn` is `do:<kind>:<id>` with a kind of [`URN_KINDS`] and a non-empty id.
fn urn_well_formed(urn: &str) -> bool {
    let mut parts = urn.splitn(3, ':');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("do"), Some(kind), Some(id)) if URN_KINDS.contains(&kind) && !id.is_empty()
    )
}
