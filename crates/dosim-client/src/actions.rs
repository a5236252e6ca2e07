//! Actions: the record of every asynchronous operation, and the account-wide actions service.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::common::{null_default, Region};
use crate::error::Error;
use crate::time::Timestamp;

/// An action's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionStatus {
    /// Still running.
    #[default]
    #[serde(rename = "in-progress")]
    InProgress,
    /// Finished successfully.
    #[serde(rename = "completed")]
    Completed,
    /// Finished with an error; terminal.
    #[serde(rename = "errored")]
    Errored,
    /// A status this client does not know.
    #[serde(other)]
    Unknown,
}

impl ActionStatus {
    /// Whether the action has finished, well or badly.
    pub fn is_done(self) -> bool {
        matches!(self, ActionStatus::Completed | ActionStatus::Errored)
    }
}

/// An action: `create`, `power_off`, `attach_volume`, `assign_ip`, ….
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The action's id.
    pub id: u64,
    /// `in-progress`, `completed` or `errored`.
    #[serde(default)]
    pub status: ActionStatus,
    /// What the action does (`create`, `attach_volume`, `assign_ip`, …).
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub r#type: String,
    /// When it started .
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// When it finished; `null` while in progress.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// The resource's id: a droplet id, or for an IP the IPv4 address as a big-endian integer.
    /// May be absent for volume actions.
    #[serde(default)]
    pub resource_id: Option<u64>,
    /// `droplet`, `volume`, `backend`, `reserved_ip`, `floating_ip`, `image`, ….
    #[serde(default, deserialize_with = "null_default")]
    pub resource_type: String,
    /// The region, shared with every resource the client read the same region object for.
    #[serde(default, deserialize_with = "crate::catalogue::remembered")]
    pub region: Option<Arc<Region>>,
    /// The region's slug.
    #[serde(default)]
    pub region_slug: Option<String>,
    /// The project, on reserved and floating IP actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

/// `client.actions()`: every action on the account.
pub struct ActionsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> ActionsService<'a> {
    /// `GET /v2/actions/{action_id}`.
    pub async fn get(&self, action_id: u64) -> Result<Action, Error> {
        self.client
            .get(&format!("/v2/actions/{action_id}"), "action")
            .await
    }

    /// `GET /v2/actions`: every action, newest first.
    pub fn list(&self) -> List<'a, Action> {
        List::new(self.client, "/v2/actions".to_owned(), "actions")
    }
}
