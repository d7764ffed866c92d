//! Members as the control plane receives them: names and emails checked,
//! grants read from a request (`POST /v1/members`) or applied from a patch
//! (`PATCH /v1/members/{id}`). Who may make the change is the policy's
//! business ([`crate::policy`]); this module only says what the change is.

use crate::access::{Grants, Role};
use crate::environment::EnvironmentName;
use crate::wire::{MemberInput, MemberPatch};

/// Why a member request is invalid, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MemberError {
    /// The request field at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> MemberError {
    MemberError { field: field.into(), message: message.into() }
}

/// Checks a member's name (1 to 100 characters) and email.
pub fn validate(name: &str, email: &str) -> Result<(), MemberError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(invalid("name", "name must be 1 to 100 characters"));
    }
    let valid_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !valid_email {
        return Err(invalid("email", "email must be an address like ada@example.com"));
    }
    Ok(())
}

/// The grants a new member asks for.
pub fn grants_of(input: &MemberInput) -> Result<Grants, MemberError> {
    let mut grants = Grants::role(parse_role("role", &input.role)?);
    for (name, granted) in &input.environments {
        grants.environments.insert(environment(name)?, parse_access(name, granted)?);
    }
    for name in &input.promote_into {
        grants.promote_into.insert(environment(name)?);
    }
    for name in &input.personal_data_in {
        grants.personal_data.insert(environment(name)?);
    }
    Ok(grants)
}

/// The grants after `patch`: what it names changes, the rest stays.
pub fn patched(before: &Grants, patch: &MemberPatch) -> Result<Grants, MemberError> {
    let mut grants = before.clone();
    if let Some(role) = &patch.role {
        grants.role = parse_role("role", role)?;
    }
    for (name, granted) in patch.environments.iter().flatten() {
        let name = environment(name)?;
        match granted {
            Some(granted) => grants.environments.insert(name.clone(), parse_access(&name, granted)?),
            None => grants.environments.remove(&name),
        };
    }
    if let Some(names) = &patch.promote_into {
        grants.promote_into = names.iter().map(|name| environment(name)).collect::<Result<_, _>>()?;
    }
    if let Some(names) = &patch.personal_data_in {
        grants.personal_data = names.iter().map(|name| environment(name)).collect::<Result<_, _>>()?;
    }
    Ok(grants)
}

fn parse_role(field: &str, text: &str) -> Result<Role, MemberError> {
    Role::parse(text).ok_or_else(|| invalid(field, "role must be owner, admin, developer, viewer or support"))
}

fn parse_access(environment: &str, text: &str) -> Result<Option<Role>, MemberError> {
    if text == "none" {
        Ok(None)
    } else {
        parse_role(&format!("environments.{environment}"), text).map(Some)
    }
}

fn environment(name: &str) -> Result<String, MemberError> {
    EnvironmentName::parse(name)
        .map(|name| name.to_string())
        .map_err(|error| invalid("environments", error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(role: &str) -> MemberInput {
        MemberInput {
            name: "Ada".to_owned(),
            email: "ada@example.com".to_owned(),
            role: role.to_owned(),
            environments: [("production".to_owned(), "none".to_owned())].into(),
            promote_into: vec!["staging".to_owned()],
            personal_data_in: vec![],
        }
    }

    #[test]
    fn reads_grants_and_names_the_bad_field() {
        let grants = grants_of(&input("developer")).unwrap();
        assert_eq!(grants.role_in("production"), None);
        assert!(grants.promote_into.contains("staging"));
        assert_eq!(grants_of(&input("root")).unwrap_err().field, "role");
        let mut bad = input("viewer");
        bad.environments.insert("staging".to_owned(), "god".to_owned());
        assert_eq!(grants_of(&bad).unwrap_err().field, "environments.staging");
        assert_eq!(validate("", "ada@example.com").unwrap_err().field, "name");
        assert_eq!(validate("Ada", "ada").unwrap_err().field, "email");
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let before = grants_of(&input("developer")).unwrap();
        assert_eq!(patched(&before, &MemberPatch::default()).unwrap(), before);
        let lift =
            MemberPatch { environments: Some([("production".to_owned(), None)].into()), ..MemberPatch::default() };
        assert_eq!(patched(&before, &lift).unwrap().role_in("production"), Some(Role::Developer));
    }
}
