//! Waiting: polling an action until it finishes, or a droplet until it is active.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use crate::actions::{Action, ActionStatus};
use crate::client::Client;
use crate::droplets::{Droplet, DropletStatus};
use crate::error::Error;

/// The poll interval unless another is set.
pub const POLL_INTERVAL_DEFAULT: Duration = Duration::from_secs(2);

/// The deadline unless another is set.
pub const WAIT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);

/// The most polls one wait makes, whatever its interval and deadline.
pub const POLLS_MAX: u32 = 10_000;

/// What to wait for.
#[derive(Clone, Copy, Debug)]
enum Target {
    Action(u64),
    DropletActive(u64),
}

/// A wait in progress: `.await` it, after setting `.poll_interval(..)` or `.timeout(..)` if needed.
#[must_use = "a wait does nothing until it is awaited"]
pub struct Wait<'a, T> {
    client: &'a Client,
    target: Target,
    poll_interval: Duration,
    timeout: Duration,
    output: std::marker::PhantomData<fn() -> T>,
}

impl<'a, T> Wait<'a, T> {
    fn new(client: &'a Client, target: Target) -> Self {
        Wait {
            client,
            target,
            poll_interval: POLL_INTERVAL_DEFAULT,
            timeout: WAIT_TIMEOUT_DEFAULT,
            output: std::marker::PhantomData,
        }
    }

    /// Time between polls (default 2 s; at least 1 ms).
    pub fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval.max(Duration::from_millis(1));
        self
    }

    /// The overall deadline (default 10 min).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn what(&self) -> String {
        match self.target {
            Target::Action(id) => format!("action {id}"),
            Target::DropletActive(id) => format!("droplet {id} becoming active"),
        }
    }

    async fn poll_until<F, Fut, R>(self, mut poll: F) -> Result<R, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<R>, Error>>,
    {
        let what = self.what();
        let after = self.timeout;
        let interval = self.poll_interval;
        let polls = async {
            for _ in 0..POLLS_MAX {
                if let Some(done) = poll().await? {
                    return Ok(done);
                }
                tokio::time::sleep(interval).await;
            }
            Err(Error::WaitTimedOut {
                what: what.clone(),
                after,
            })
        };
        match tokio::time::timeout(after, polls).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::WaitTimedOut { what, after }),
        }
    }
}

impl<'a> IntoFuture for Wait<'a, Action> {
    type Output = Result<Action, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let client = self.client;
        let Target::Action(action_id) = self.target else {
            unreachable!("Wait<Action> is only built for actions")
        };
        Box::pin(self.poll_until(move || async move {
            let action = client.actions().get(action_id).await?;
            match action.status {
                ActionStatus::Completed => Ok(Some(action)),
                ActionStatus::Errored => Err(Error::ActionErrored(Box::new(action))),
                ActionStatus::InProgress | ActionStatus::Unknown => Ok(None),
            }
        }))
    }
}

impl<'a> IntoFuture for Wait<'a, Droplet> {
    type Output = Result<Droplet, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let client = self.client;
        let Target::DropletActive(droplet_id) = self.target else {
            unreachable!("Wait<Droplet> is only built for droplets")
        };
        Box::pin(self.poll_until(move || async move {
            let droplet = client.droplets().get(droplet_id).await?;
            Ok((droplet.status == DropletStatus::Active).then_some(droplet))
        }))
    }
}

impl Client {
    /// Polls `GET /v2/actions/{action_id}` until the action is `completed` (its final state is
    /// returned) or `errored` ([`Error::ActionErrored`]), or the deadline passes ([`Error::WaitTimedOut`]).
    pub fn wait_for_action(&self, action_id: u64) -> Wait<'_, Action> {
        Wait::new(self, Target::Action(action_id))
    }

    /// [`Client::wait_for_action`] on the action an `href` (`…/v2/actions/7515`) points to; the
    /// request goes to this client's base URL whatever host the href names.
    pub fn wait_for_action_href(&self, href: &str) -> Result<Wait<'_, Action>, Error> {
        let id = href
            .split(['?', '#'])
            .next()
            .and_then(|path| path.trim_end_matches('/').rsplit('/').next())
            .and_then(|segment| segment.parse().ok())
            .ok_or_else(|| Error::InvalidArgument(format!("{href:?} is not an action URL")))?;
        Ok(self.wait_for_action(id))
    }

    /// Polls `GET /v2/droplets/{droplet_id}` until its status is `active`.
    pub fn wait_for_droplet_active(&self, droplet_id: u64) -> Wait<'_, Droplet> {
        Wait::new(self, Target::DropletActive(droplet_id))
    }
}
