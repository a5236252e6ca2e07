//! Field validation shared by the create calls, with messages that name the field.

use crate::Error;

/// The longest droplet name DigitalOcean accepts.
pub const DROPLET_NAME_LEN_MAX: usize = 255;
/// The longest tag name DigitalOcean accepts.
pub const TAG_LEN_MAX: usize = 255;
/// The most tags one resource may carry in dosim.
pub const TAGS_MAX: usize = 100;

/// Why `name` is not a valid droplet name (the spec's `^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$`, at most 255), or `None`.
pub(crate) fn droplet_name_error(name: &str) -> Option<Error> {
    todo!("{name}")
}

/// Checks tag names: letters, digits, `:`, `-`, `_`, at most 255 each, at most `TAGS_MAX` of them.
pub(crate) fn check_tags(tags: &[String]) -> Result<(), Error> {
    todo!("{tags:?}")
}
