//! Field validation shared by the create calls, with messages that name the field.

use crate::Error;

/// The longest droplet name DigitalOcean accepts.
pub const DROPLET_NAME_LEN_MAX: usize = 255;
/// The longest tag name DigitalOcean accepts.
pub const TAG_LEN_MAX: usize = 255;
/// The most tags one resource may carry in dosim.
pub const TAGS_MAX: usize = 100;

/// Checks a droplet name against the spec's `^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$` and its 255-character limit.
pub(crate) fn check_droplet_name(name: &str) -> Result<(), Error> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= DROPLET_NAME_LEN_MAX
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-')
        && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    valid_or(valid, || {
        format!(
            "name: {name:?} is not a valid hostname; only a-z, A-Z, 0-9, '.' and '-' are allowed, it must end with a letter or digit, and it may be at most {DROPLET_NAME_LEN_MAX} characters"
        )
    })
}

/// Checks tag names: letters, digits, `:`, `-`, `_`, at most 255 each, at most `TAGS_MAX` of them.
pub(crate) fn check_tags(tags: &[String]) -> Result<(), Error> {
    if tags.len() > TAGS_MAX {
        return Err(Error::unprocessable(format!(
            "tags: at most {TAGS_MAX} tags may be given"
        )));
    }
    for tag in tags {
        let valid = !tag.is_empty()
            && tag.len() <= TAG_LEN_MAX
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'));
        if !valid {
            return Err(Error::unprocessable(format!(
                "tags: {tag:?} is not a valid tag name; only letters, numbers, ':', '-' and '_' are allowed, up to {TAG_LEN_MAX} characters"
            )));
        }
    }
    Ok(())
}

/// Checks a volume name: lowercase letters, digits and '-', starting with a letter, at most 64 characters.
pub(crate) fn check_volume_name(name: &str) -> Result<(), Error> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(is_lower_kebab);
    valid_or(valid, || {
        format!(
            "name: {name:?} is invalid; it must be lowercase and be composed only of numbers, letters and '-', up to a limit of 64 characters, and it must begin with a letter"
        )
    })
}

/// Checks a database cluster name: lowercase letters, digits and '-', starting with a letter, 3 to 63 characters.
pub(crate) fn check_database_name(name: &str) -> Result<(), Error> {
    let bytes = name.as_bytes();
    let valid = (3..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes.iter().all(is_lower_kebab);
    valid_or(valid, || {
        format!(
            "name: {name:?} is invalid; it must be 3 to 63 characters of lowercase letters, numbers and '-', begin with a letter and not end with '-'"
        )
    })
}

/// Checks the name of a database user, database or pool: letters, digits, '-' and '_', `min..=max` characters.
pub(crate) fn check_db_object_name(
    field: &str,
    name: &str,
    min: usize,
    max: usize,
) -> Result<(), Error> {
    let valid = (min..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    valid_or(valid, || {
        format!(
            "{field}: {name:?} is invalid; it must be {min} to {max} characters of letters, numbers, '-' and '_'"
        )
    })
}

/// A lowercase letter, a digit or '-': what volume and cluster names are made of.
fn is_lower_kebab(b: &u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-'
}

/// Nothing when `valid`, else a 422 with the message `message` writes.
fn valid_or(valid: bool, message: impl FnOnce() -> String) -> Result<(), Error> {
    if valid {
        Ok(())
    } else {
        Err(Error::unprocessable(message()))
    }
}

/// Parses an optional UUID field.
pub(crate) fn parse_uuid(field: &str, value: Option<&str>) -> Result<Option<uuid::Uuid>, Error> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => uuid::Uuid::try_parse(v)
            .map(Some)
            .map_err(|_| Error::unprocessable(format!("{field}: {v:?} is not a valid UUID"))),
    }
}
