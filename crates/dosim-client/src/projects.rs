//! Projects and the resources assigned to them.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::collection::Collection;
use crate::common::null_default;
use crate::error::Error;
use crate::time::Timestamp;

/// A project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// The id (a UUID).
    pub id: String,
    /// The name, unique on the account.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// A description.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// The purpose.
    #[serde(default, deserialize_with = "null_default")]
    pub purpose: String,
    /// `Development`, `Staging` or `Production`, if set.
    #[serde(default)]
    pub environment: Option<String>,
    /// Whether it is the account's default.
    #[serde(default)]
    pub is_default: bool,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it last changed.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

/// A resource in a project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectResource {
    /// `do:droplet:<id>`, `do:volume:<uuid>`, `do:floatingip:<ip>`, `do:dbaas:<uuid>`, `do:domain:<name>`.
    pub urn: String,
    /// When it was assigned.
    #[serde(default)]
    pub assigned_at: Option<Timestamp>,
    /// `ok`, `not_found`, `assigned`, `already_assigned` or `service_down`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
}

/// A project to create, or the fields of one to change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProjectEdit {
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `true` makes it the account's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
}

impl ProjectEdit {
    /// A project named `name` for `purpose`.
    pub fn new(name: &str, purpose: &str) -> ProjectEdit {
        ProjectEdit {
            name: Some(name.into()),
            purpose: Some(purpose.into()),
            ..ProjectEdit::default()
        }
    }
}

#[derive(Serialize)]
struct AssignBody<'a> {
    resources: &'a [String],
}

/// `client.projects()` on `/v2/projects`; `"default"` names the default project wherever an id goes.
pub struct ProjectsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> ProjectsService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/projects", "project", "projects")
    }

    /// Creates a project.
    pub async fn create(&self, project: &ProjectEdit) -> Result<Project, Error> {
        self.collection().create(project).await
    }

    /// A project by id, or `"default"`.
    pub async fn get(&self, id: &str) -> Result<Project, Error> {
        self.collection().get(id).await
    }

    /// `GET /v2/projects`.
    pub fn list(&self) -> List<'a, Project> {
        self.collection().list()
    }

    /// Changes the fields given (`PATCH`).
    pub async fn update(&self, id: &str, edit: &ProjectEdit) -> Result<Project, Error> {
        self.collection().send(Method::PATCH, id, edit).await
    }

    /// Deletes an empty project; 412 while it holds, or is still relocating, resources.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        self.collection().delete(id).await
    }

    /// The project's resources.
    pub fn resources(&self, id: &str) -> List<'a, ProjectResource> {
        List::new(
            self.client,
            format!("{}/resources", self.collection().item(id)),
            "resources",
        )
    }

    /// Moves the resources the URNs name into the project; answers the project's resources,
    /// with `not_found` for URNs that name nothing.
    pub async fn assign(&self, id: &str, urns: &[String]) -> Result<Vec<ProjectResource>, Error> {
        self.client
            .send_json(
                Method::POST,
                &format!("{}/resources", self.collection().item(id)),
                &AssignBody { resources: urns },
                "resources",
            )
            .await
    }
}
