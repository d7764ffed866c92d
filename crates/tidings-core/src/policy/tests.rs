use super::*;

fn chain() -> Vec<ChainEntry> {
    crate::lifecycle::chain_of(&[
        ("development", EnvironmentType::Development),
        ("staging", EnvironmentType::Staging),
        ("production", EnvironmentType::Production),
    ])
}

fn member(id: &str, grants: Grants) -> MemberState {
    MemberState { id: id.to_owned(), grants, live_tokens: 1 }
}

#[test]
fn an_admin_kept_out_of_production_cannot_let_themself_in() {
    let mut limited = Grants::role(Role::Admin);
    limited.environments.insert("production".to_owned(), None);
    let members = vec![member("mem_a", limited.clone()), member("mem_o", Grants::role(Role::Owner))];
    let subject = Subject { id: "mem_a", grants: &limited, break_glass: false };
    let mut widened = limited.clone();
    widened.environments.clear();
    widened.personal_data.insert("production".to_owned());
    let update = ControlAction::UpdateMember { member: "mem_a", after: &widened };
    assert_eq!(decide(subject, &members, &chain(), update), Decision::Deny(Denial::OwnGrants));
    // Nor through a new admin, nor a token for someone who holds production.
    let fresh = Grants::role(Role::Admin);
    let create = ControlAction::CreateMember { grants: &fresh };
    assert!(matches!(decide(subject, &members, &chain(), create), Decision::Deny(Denial::Forbidden(_))));
    let developer = member("mem_d", Grants::role(Role::Developer));
    let with_developer = [members.clone(), vec![developer]].concat();
    let token = ControlAction::IssueToken { member: "mem_d" };
    assert!(matches!(decide(subject, &with_developer, &chain(), token), Decision::Deny(Denial::Forbidden(_))));
    // A member like themself is fine.
    let create = ControlAction::CreateMember { grants: &limited };
    assert_eq!(decide(subject, &members, &chain(), create), Decision::Allow);
    // Deleting production is hidden from them.
    let delete = ControlAction::DeleteEnvironment { environment: "production" };
    assert_eq!(
        decide(subject, &members, &chain(), delete),
        Decision::Deny(Denial::EnvironmentHidden("production".to_owned()))
    );
}

#[test]
fn an_environment_goes_only_between_environments_its_creator_configures() {
    let mut kept_out = Grants::role(Role::Admin);
    kept_out.environments.insert("staging".to_owned(), None);
    let subject = Subject { id: "mem_a", grants: &kept_out, break_glass: false };
    let place = |after| decide(subject, &[], &chain(), ControlAction::PlaceEnvironment { after });
    // Before production (after staging, by default), or after development: next to staging.
    assert!(matches!(place(None), Decision::Deny(Denial::Forbidden(_))));
    assert!(matches!(place(Some("development")), Decision::Deny(Denial::Forbidden(_))));
    // Naming staging is naming an environment they cannot see.
    assert_eq!(place(Some("staging")), Decision::Deny(Denial::EnvironmentHidden("staging".to_owned())));
    // What cannot be placed at all is left to the lifecycle's typed refusal.
    assert_eq!(place(Some("production")), Decision::Allow);
    let admin = Grants::role(Role::Admin);
    let subject = Subject { id: "mem_b", grants: &admin, break_glass: false };
    assert_eq!(decide(subject, &[], &chain(), ControlAction::PlaceEnvironment { after: None }), Decision::Allow);
    let developer = Grants::role(Role::Developer);
    let subject = Subject { id: "mem_d", grants: &developer, break_glass: false };
    let placed = decide(subject, &[], &chain(), ControlAction::PlaceEnvironment { after: Some("development") });
    assert!(matches!(placed, Decision::Deny(Denial::Forbidden(_))));
}

#[test]
fn staging_cannot_be_skipped_by_hiding_it() {
    let mut grants = Grants::role(Role::Developer);
    grants.environments.insert("staging".to_owned(), None);
    grants.promote_into.insert("production".to_owned());
    let subject = Subject { id: "mem_d", grants: &grants, break_glass: false };
    let promote = ControlAction::Promote { from: "development", to: "production" };
    assert_eq!(
        decide(subject, &[], &chain(), promote),
        Decision::Deny(Denial::NotAdjacent { from: "development".to_owned(), to: "production".to_owned(), next: None })
    );
}

#[test]
fn the_last_owner_stays() {
    let owner = Grants::role(Role::Owner);
    let members = vec![member("mem_o", owner.clone()), member("mem_v", Grants::role(Role::Viewer))];
    let subject = Subject { id: "mem_o", grants: &owner, break_glass: false };
    for action in [
        ControlAction::RemoveMember { member: "mem_o" },
        ControlAction::RevokeToken { member: "mem_o" },
        ControlAction::UpdateMember { member: "mem_o", after: &Grants::role(Role::Admin) },
    ] {
        let decision = decide(subject, &members, &chain(), action);
        assert!(matches!(decision, Decision::Deny(Denial::LastOwner | Denial::OwnGrants)), "{action:?}: {decision:?}");
    }
    let admin_token = Subject { id: "admin", grants: &owner, break_glass: true };
    let remove = ControlAction::RemoveMember { member: "mem_o" };
    assert_eq!(decide(admin_token, &members, &chain(), remove), Decision::Deny(Denial::LastOwner));
    let second = [members.clone(), vec![member("mem_p", owner.clone())]].concat();
    assert_eq!(decide(subject, &second, &chain(), remove), Decision::Allow);
}

#[test]
fn production_content_is_read_only_first() {
    let grants = Grants::role(Role::Viewer);
    let subject = Subject { id: "mem_v", grants: &grants, break_glass: false };
    let edit = ControlAction::InEnvironment { environment: "production", action: Action::EditContent };
    assert_eq!(decide(subject, &[], &chain(), edit), Decision::Deny(Denial::ReadOnly("production".to_owned())));
}

/// A change to a member's grants, in a test.
type Change = fn(&mut Grants);

#[test]
fn grants_widen_by_any_new_right_and_only_then() {
    let base = Grants {
        role: Role::Developer,
        environments: [("production".to_owned(), None), ("staging".to_owned(), Some(Role::Viewer))].into(),
        promote_into: BTreeSet::new(),
        personal_data: BTreeSet::new(),
    };
    let with = |change: Change| {
        let mut grants = base.clone();
        change(&mut grants);
        grants
    };
    assert!(!widens(&base, &base));
    let wider: [(&str, Change); 7] = [
        ("a higher role", |g| g.role = Role::Admin),
        ("a visible environment", |g| {
            g.environments.remove("production");
        }),
        ("a role in one environment", |g| {
            g.environments.insert("staging".to_owned(), Some(Role::Admin));
        }),
        ("a sideways role", |g| {
            g.environments.insert("staging".to_owned(), Some(Role::Support));
        }),
        ("an override dropped", |g| {
            g.environments.remove("staging");
        }),
        ("a promotion", |g| {
            g.promote_into.insert("production".to_owned());
        }),
        ("personal data", |g| {
            g.personal_data.insert("staging".to_owned());
        }),
    ];
    for (what, change) in wider {
        assert!(widens(&base, &with(change)), "{what}");
    }
    let narrower: [(&str, Change); 3] = [
        ("a lower role", |g| g.role = Role::Viewer),
        ("an environment hidden", |g| {
            g.environments.insert("development".to_owned(), None);
        }),
        ("a lower role in one environment", |g| {
            g.environments.insert("development".to_owned(), Some(Role::Viewer));
        }),
    ];
    for (what, change) in narrower {
        assert!(!widens(&base, &with(change)), "{what}");
    }
}
